/**
 * kill -9 of a processor (a `ctflow processor` child process) mid-stream, while the agent keeps writing; a
 * second processor takes over from the changelog. Nothing is lost; records that reach the collector twice
 * are only the ones re-derived from the dead processor's uncommitted interval, and they are counted.
 */
import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../kafka/helpers.js';
import { type ProcessorChild, spawnProcessor } from './child.js';
import { compareTotals } from './collector.js';
import { ProcessorHarness } from './harness.js';
import { Workload } from './workload.js';

let harness: ProcessorHarness | undefined;
let child: ProcessorChild | undefined;

afterEach(async () => {
  if (child && child.child.exitCode === null && child.child.signalCode === null) {
    child.child.kill('SIGKILL');
    await child.exited;
  }
  child = undefined;
  await harness?.close();
  harness = undefined;
});

test('kill -9 mid-stream: nothing lost, duplicates only from the uncommitted interval and counted', async () => {
  const partitions = 4;
  harness = await ProcessorHarness.started(partitions);
  const h = harness;
  const topic = h.topics.observations;
  const workload = new Workload({
    nodes: 2,
    flowsPerNode: 80,
    steps: 40,
  });

  child = spawnProcessor(h);
  const dead = child;
  await workload.write(h.producer, topic, partitions, 0, 14);
  await waitFor('the child processor to export records', () => h.collector.records.length > 20, 60_000);
  // Keep writing while the kill happens, so it lands in the middle of batches.
  const writing = workload.write(h.producer, topic, partitions, 14, 40, 25);
  await new Promise((r) => setTimeout(r, 300));
  const before = h.collector.records.length;
  dead.child.kill('SIGKILL');
  expect(await dead.exited).toBe('SIGKILL');
  expect(before).toBeGreaterThan(20);

  const survivor = await h.startProcessor();
  await writing;
  await h.producer.send(topic, workload.finalMessages(partitions));
  await waitFor(
    'every flow at the collector',
    () => compareTotals(workload.truth(), h.collector.dedupedTotals()).length === 0,
    90_000,
  ).catch(() => {});

  // No byte lost, and with repeated records counted once nothing is counted twice.
  expect(compareTotals(workload.truth(), h.collector.dedupedTotals())).toEqual([]);
  // What did repeat is bounded by what the survivor counted as possible duplicates (re-derived from the
  // input after the dead processor's last "exporting" marker).
  const stats = survivor.processor.stats();
  expect(h.collector.duplicates()).toBeLessThanOrEqual(stats.possibleDuplicates);
  expect(stats.restores).toBeGreaterThanOrEqual(partitions);
  process.stderr.write(
    `kill -9: ${h.collector.duplicates()} records repeated at the collector, ${stats.possibleDuplicates} counted as possible duplicates, ${stats.skippedCovered} input messages skipped as covered\n`,
  );
});
