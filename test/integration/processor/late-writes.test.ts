/**
 * The zombie's late changelog writes, made deterministic: after processor B took over from A (claimed and
 * restored every partition, then processed more input), records are written to the changelog under A's
 * claim as a thawed A would: flow states from A's time (older than what B exported since) and an
 * "exported" marker with A's progress. Then B stops and C restores from that changelog. C must leave the
 * late records out (else it would export again deltas B exported: bytes counted twice), write the good
 * values again, and the collector's totals must equal the truth with no record repeated.
 */
import { afterEach, expect, test } from 'vitest';
import { fetchCommittedOffsets, fetchEndOffsets } from '../../../src/kafka/offsets.js';
import type { OutgoingMessage } from '../../../src/kafka/producer.js';
import { createRecordRangeReader } from '../../../src/kafka/record-range-reader.js';
import { OWNER_HEADER, OWNER_KEY } from '../../../src/processor/fence.js';
import { MARKER_KEY } from '../../../src/processor/marker.js';
import { waitFor } from '../kafka/helpers.js';
import { ProcessorHarness } from './harness.js';
import { Workload } from './workload.js';

let harness: ProcessorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** A copied changelog record. */
interface Copied {
  offset: number;
  key: string;
  value: Buffer | null;
  owner: string | null;
}

async function readChangelog(h: ProcessorHarness, partition: number): Promise<Copied[]> {
  const end = (await fetchEndOffsets(h.client, h.topics.flowState)).find((e) => e.partition === partition);
  const reader = createRecordRangeReader(h.client, { topic: h.topics.flowState });
  const out: Copied[] = [];
  try {
    await reader.readRecords({
      partition,
      fromOffset: end?.low ?? 0,
      toOffset: end?.high ?? 0,
      idleTimeoutMs: 10_000,
      onRecord: (r) => {
        const value = r.value();
        out.push({
          offset: r.offset,
          key: r.keyString() ?? '',
          value: value === null ? null : Buffer.from(value),
          owner: r.header(OWNER_HEADER)?.toString() ?? null,
        });
      },
    });
  } finally {
    await reader.close();
  }
  return out;
}

/** Waits until the harness group's committed offsets reach the end of every input partition. */
async function committedToEnd(h: ProcessorHarness, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ends = await fetchEndOffsets(h.client, h.topics.observations);
    const committed = await fetchCommittedOffsets(h.client, h.groupId, h.topics.observations);
    const behind = ends.filter(
      (e) => (committed.find((c) => c.partition === e.partition)?.offset ?? -1) < e.high,
    );
    if (behind.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for B to commit all input: ${JSON.stringify({ ends, committed })} stats ${describe()}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('late changelog writes of an older owner never win at a later restore', async () => {
  const partitions = 2;
  harness = await ProcessorHarness.started(partitions);
  const h = harness;
  const topic = h.topics.observations;
  const workload = new Workload({
    nodes: 2,
    flowsPerNode: 60,
    steps: 40,
  });

  // A processes the first half, then stops: its claim and states are in the changelog.
  const a = await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 0, 14, 20);
  await waitFor('A to export records', () => h.collector.records.length > 20, 60_000);
  await new Promise((r) => setTimeout(r, 1500));
  await a.stop();
  const aLog = await Promise.all([0, 1].map((p) => readChangelog(h, p)));

  // B takes over and goes on: newer states, newer markers.
  const b = await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 14, 26, 20);
  // B committed all of it, on both partitions (its states and markers are in the changelog). Not a count of
  // commits: how often B commits depends on how its input arrives (one fetch per partition may hold it all).
  await committedToEnd(h, 60_000, () => JSON.stringify(b.processor.stats()));
  await new Promise((r) => setTimeout(r, 1500));

  // The thawed A writes late: its old states and an old "exported" marker, under its claim.
  let late = 0;
  for (const p of [0, 1]) {
    const log = aLog[p]!;
    const claim = log.filter((r) => r.key === OWNER_KEY).at(-1)?.owner;
    expect(claim).toBeTypeOf('string');
    const firstValue = new Map<string, Buffer>();
    for (const r of log)
      if (r.value !== null && r.key.includes('|') && !firstValue.has(r.key)) firstValue.set(r.key, r.value);
    const messages: OutgoingMessage[] = [...firstValue].map(([key, value]) => ({
      key,
      value,
      partition: p,
      headers: { [OWNER_HEADER]: claim! },
    }));
    const marker = log.find(
      (r) => r.key === MARKER_KEY && r.owner === claim && r.value?.toString().includes('"exported"'),
    );
    expect(marker?.value).toBeTruthy();
    messages.push({
      key: MARKER_KEY,
      value: marker!.value!,
      partition: p,
      headers: { [OWNER_HEADER]: claim! },
    });
    late += messages.length;
    await h.producer.send(h.topics.flowState, messages, { atomic: true });
  }
  expect(late).toBeGreaterThan(40);

  // B stops; C restores from the changelog with the late writes in it, and finishes the workload.
  await b.stop();
  const c = await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 26, 40, 10);
  await h.producer.send(topic, workload.finalMessages(partitions));
  const problems = await h.settle(workload, 90_000);

  const stats = c.processor.stats();
  process.stderr.write(
    `late writes: ${late} written under A's claim after B's; C left out ${stats.staleChangelogRecords}, wrote ${stats.changelogRepairs} again; ${h.collector.records.length} records, ${h.collector.duplicates()} repeated\n`,
  );
  expect(problems).toEqual([]);
  expect(h.collector.duplicates()).toBe(0);
  expect(stats.staleChangelogRecords).toBe(late);
  expect(stats.changelogRepairs).toBeGreaterThan(0);
  expect(stats.restores).toBe(partitions);
});
