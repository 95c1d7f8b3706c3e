/**
 * Reading a partition between two offsets (changelog restore, replay) on a real broker, with a compacted
 * topic like the flow-state changelog: only the asked partition and range arrive, in order, and the read
 * ends at the end offset taken before it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { deleteTopics } from '../../../src/kafka/admin.js';
import { fetchEndOffsets } from '../../../src/kafka/offsets.js';
import { createProducer } from '../../../src/kafka/producer.js';
import { createPartitionRangeReader, readPartitionRange } from '../../../src/kafka/range-reader.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { ensureTopics } from '../../../src/kafka/topics.js';
import { testKafka, uniqueName } from './helpers.js';

const kafka = testKafka();
const topics: string[] = [];

afterEach(async () => {
  await deleteTopics(kafka, topics.splice(0));
});

async function makeChangelog(perPartition: number): Promise<string> {
  const names = {
    observations: uniqueName('rr-obs'),
    flowState: uniqueName('rr-state'),
    deadLetter: uniqueName('rr-dlq'),
  };
  topics.push(names.observations, names.flowState, names.deadLetter);
  await ensureTopics(kafka, { topics: names, partitions: 3 });
  const producer = await createProducer(kafka);
  try {
    for (let p = 0; p < 3; p++) {
      await producer.send(
        names.flowState,
        Array.from({ length: perPartition }, (_, i) => ({
          key: `k${p}-${i}`,
          value: `v${p}-${i}`,
          partition: p,
        })),
      );
    }
  } finally {
    await producer.disconnect();
  }
  return names.flowState;
}

describe('partition range reader', () => {
  it('reads exactly [from, to) of the asked partitions, and reads several partitions with one join', async () => {
    const topic = await makeChangelog(50);
    const ends = await fetchEndOffsets(kafka, topic);
    expect(ends.map((e) => e.high)).toEqual([50, 50, 50]);

    const reader = await createPartitionRangeReader(kafka, { topic });
    try {
      const got: ConsumedMessage[] = [];
      const r1 = await reader.read({
        partition: 1,
        fromOffset: 10,
        toOffset: 30,
        onBatch: (b) => void got.push(...b.messages),
      });
      expect(r1).toEqual({ partition: 1, records: 20, lastOffset: 29, complete: true });
      expect(got.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => 10 + i));
      expect(got.every((m) => m.partition === 1)).toBe(true);
      expect(got[0]?.value?.toString()).toBe('v1-10');

      // Two partitions at once, each to its end offset.
      const byPartition = new Map<number, string[]>();
      const collect = (b: { partition: number; messages: ConsumedMessage[] }) => {
        const list = byPartition.get(b.partition) ?? [];
        list.push(...b.messages.map((m) => m.key?.toString() ?? ''));
        byPartition.set(b.partition, list);
      };
      const [r0, r2] = await Promise.all([
        reader.read({ partition: 0, fromOffset: 0, toOffset: 50, onBatch: collect }),
        reader.read({ partition: 2, fromOffset: 45, toOffset: 50, onBatch: collect }),
      ]);
      expect(r0.records).toBe(50);
      expect(r2.records).toBe(5);
      expect(byPartition.get(0)).toEqual(Array.from({ length: 50 }, (_, i) => `k0-${i}`));
      expect(byPartition.get(2)).toEqual(['k2-45', 'k2-46', 'k2-47', 'k2-48', 'k2-49']);

      // An empty range completes at once; re-reading a partition works after its first read.
      expect(await reader.read({ partition: 0, fromOffset: 50, toOffset: 50, onBatch: () => {} })).toEqual({
        partition: 0,
        records: 0,
        lastOffset: -1,
        complete: true,
      });
      const again = await reader.read({ partition: 1, fromOffset: 0, toOffset: 5, onBatch: () => {} });
      expect(again.records).toBe(5);
    } finally {
      await reader.close();
    }
  });

  it('gives up on a range whose end never arrives when an idle timeout is set', async () => {
    const topic = await makeChangelog(3);
    const result = await readPartitionRange(kafka, topic, {
      partition: 0,
      fromOffset: 0,
      toOffset: 10,
      idleTimeoutMs: 1500,
      onBatch: () => {},
    });
    expect(result).toEqual({ partition: 0, records: 3, lastOffset: 2, complete: false });
  });
});
