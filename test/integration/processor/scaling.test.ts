/**
 * Graceful scaling of processors, 1 → 3 → 1 twice while the synthetic agent writes: every flow's deltas at
 * the collector add up exactly to its final counters (no byte lost, none counted twice).
 */
import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../kafka/helpers.js';
import { ProcessorHarness } from './harness.js';
import { Workload } from './workload.js';

let harness: ProcessorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

test('scaling 1 → 3 → 1 twice: collector totals equal the truth, no record twice', async () => {
  const partitions = 6;
  harness = await ProcessorHarness.started(partitions);
  const h = harness;
  const workload = new Workload({
    nodes: 3,
    flowsPerNode: 50,
    steps: 48,
  });
  const topic = h.topics.observations;

  const first = await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 0, 8, 40);
  for (let round = 0; round < 2; round++) {
    const extra = [await h.startProcessor(), await h.startProcessor()];
    await workload.write(h.producer, topic, partitions, 8 + round * 20, 18 + round * 20, 60);
    // All three members got partitions and worked on them.
    await waitFor(
      'three processors sharing the partitions',
      () => h.processors.every((p) => p.processor.partitions().length > 0),
      30_000,
    );
    expect(first.processor.partitions().length).toBeLessThan(partitions);
    const writing = workload.write(h.producer, topic, partitions, 18 + round * 20, 28 + round * 20, 60);
    for (const p of extra) await p.stop();
    await writing;
  }
  await h.producer.send(topic, workload.finalMessages(partitions));

  const problems = await h.settle(workload);
  if (problems.length > 0) {
    for (const pr of problems.slice(0, 3)) {
      const id = pr.split(':')[0];
      process.stderr.write(
        `${pr}\n${JSON.stringify(
          h.collector.records.filter((r) => r.identity === id),
          null,
          0,
        )}\n`,
      );
    }
    process.stderr.write(`${JSON.stringify(first.processor.stats())}\n`);
  }
  expect(problems).toEqual([]);
  expect(h.collector.duplicates()).toBe(0);
  const stats = first.processor.stats();
  expect(stats.possibleDuplicates).toBe(0);
  expect(stats.deadLettered).toBe(0);
  // The survivor restored partitions handed back by the stopped processors, and kept (without a restore)
  // the ones it owned before and after each eager rebalance.
  expect(stats.restores).toBeGreaterThan(partitions);
  expect(stats.keptAfterRebalance).toBeGreaterThan(0);
  expect(stats.rebalances).toBeGreaterThanOrEqual(5);
});
