/**
 * The zombie processor: a `ctflow processor` child frozen (SIGSTOP, as a long GC pause or a VM freeze) for
 * longer than its session timeout is dropped from the group; the in-process processor takes its partitions
 * and restores them from the changelog. Thawed (SIGCONT), the zombie finishes what it had in flight (batches
 * fetched before the freeze) before it learns it lost its partitions. Then both stop and a fresh processor
 * restores every partition from the changelog, so a restore reads whatever the zombie wrote late.
 * Nothing is lost, every repeated record is a copy of the same record (same deltas, no stale state exported
 * again), and the repeats are no more than the processors counted as possible duplicates.
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
    child.child.kill('SIGCONT');
    child.child.kill('SIGKILL');
    await child.exited;
  }
  child = undefined;
  await harness?.close();
  harness = undefined;
});

/** A counter of the child's last "processor stopped" log line (its stats at a graceful stop). */
function childStat(output: string, field: string): number {
  let value = 0;
  for (const line of output.split('\n')) {
    if (!line.includes('processor stopped')) continue;
    try {
      const v = (JSON.parse(line) as Record<string, unknown>)[field];
      if (typeof v === 'number') value = v;
    } catch {}
  }
  return value;
}

/** Collected records that repeat an earlier one (same flow and record index) with other counters. */
function conflictingRepeats(
  records: ReadonlyArray<{
    domain: number;
    identity: string;
    conntrackId: number;
    recordIndex: number;
    delta: object;
  }>,
): string[] {
  const first = new Map<string, string>();
  const out: string[] = [];
  for (const r of records) {
    const k = `${r.domain}|${r.identity}|${r.conntrackId}|${r.recordIndex}`;
    const d = JSON.stringify(r.delta);
    const seen = first.get(k);
    if (seen === undefined) first.set(k, d);
    else if (seen !== d) out.push(`${k}: ${seen} then ${d}`);
  }
  return out;
}

test('zombie processor (SIGSTOP past its session timeout, then SIGCONT): changelog intact, nothing lost, duplicates counted', async () => {
  const partitions = 4;
  harness = await ProcessorHarness.started(partitions);
  const h = harness;
  const topic = h.topics.observations;
  const workload = new Workload({
    nodes: 2,
    flowsPerNode: 120,
    steps: 60,
  });

  // The zombie-to-be (session timeout 6 s, the broker's minimum) and the survivor share the partitions.
  child = spawnProcessor(h);
  const zombie = child;
  await workload.write(h.producer, topic, partitions, 0, 14, 20);
  await waitFor('the child processor to export records', () => h.collector.records.length > 20, 60_000);
  const survivor = await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 14, 18, 100);
  await waitFor(
    'both processors to own partitions',
    () => survivor.processor.partitions().length > 0,
    30_000,
  );
  expect(survivor.processor.partitions().length).toBeLessThan(partitions);

  // Steady input while the child is frozen past its session timeout: the survivor takes everything.
  const writing = workload.write(h.producer, topic, partitions, 18, 44, 400);
  await new Promise((r) => setTimeout(r, 700));
  zombie.child.kill('SIGSTOP');
  await waitFor(
    'the survivor to own every partition',
    () => survivor.processor.partitions().length === partitions,
    30_000,
  );
  // The survivor works on the zombie's partitions for a while before the zombie wakes up.
  await new Promise((r) => setTimeout(r, 2500));
  const restoresBeforeThaw = survivor.processor.stats().restores;
  zombie.child.kill('SIGCONT');
  // The zombie rejoins; partitions are shared again and worked on.
  await waitFor(
    'a rebalance after the zombie rejoined',
    () => survivor.processor.partitions().length < partitions,
    40_000,
  );
  await writing;

  // Both stop; a fresh processor restores every partition from the changelog the zombie wrote to.
  zombie.child.kill('SIGTERM');
  expect(await zombie.exited).toBe(0);
  const survivorStats = survivor.processor.stats();
  await survivor.stop();
  const fresh = await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 44, 60, 20);
  await h.producer.send(topic, workload.finalMessages(partitions));
  await waitFor(
    'every flow at the collector',
    () => compareTotals(workload.truth(), h.collector.dedupedTotals()).length === 0,
    90_000,
  ).catch(() => {});

  const freshStats = fresh.processor.stats();
  const counted =
    childStat(zombie.output(), 'possibleDuplicates') +
    survivorStats.possibleDuplicates +
    freshStats.possibleDuplicates;
  process.stderr.write(
    `zombie: ${h.collector.records.length} records, ${h.collector.duplicates()} repeated at the collector, ${counted} counted as possible duplicates (zombie ${childStat(zombie.output(), 'possibleDuplicates')}, survivor ${survivorStats.possibleDuplicates}, fresh ${freshStats.possibleDuplicates}); survivor restores ${restoresBeforeThaw}/${survivorStats.restores}, fresh restores ${freshStats.restores}, stale changelog records ignored ${freshStats.staleChangelogRecords ?? 0}\n`,
  );
  // A repeat is a copy, never a delta re-derived from stale state (which the deduplicated totals would hide).
  expect(conflictingRepeats(h.collector.records)).toEqual([]);
  // No byte lost, and with repeated records counted once nothing is counted twice.
  expect(compareTotals(workload.truth(), h.collector.dedupedTotals())).toEqual([]);
  expect(h.collector.duplicates()).toBeLessThanOrEqual(counted);
  expect(survivorStats.restores).toBeGreaterThanOrEqual(partitions);
  expect(freshStats.restores).toBe(partitions);
});
