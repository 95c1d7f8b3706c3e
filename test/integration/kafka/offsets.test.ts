/** Offset look-ups on a real broker: end offsets, offsets for a time (replay start), committed offsets. */
import { afterEach, describe, expect, it } from 'vitest';
import { createTopics, deleteTopics } from '../../../src/kafka/admin.js';
import { fetchCommittedOffsets, fetchEndOffsets, fetchOffsetsForTime } from '../../../src/kafka/offsets.js';
import { createProducer } from '../../../src/kafka/producer.js';
import { testKafka, uniqueName } from './helpers.js';

const kafka = testKafka();
const topics: string[] = [];

afterEach(async () => {
  await deleteTopics(kafka, topics.splice(0));
});

describe('offsets', () => {
  it('finds the first offset at or after a record time in each partition, the end offset when none', async () => {
    const topic = uniqueName('offsets');
    topics.push(topic);
    await createTopics(kafka, [{ topic, numPartitions: 2 }]);
    const t0 = Date.UTC(2026, 0, 1);
    const producer = await createProducer(kafka);
    try {
      // Partition 0: records at t0, t0+10 s, t0+20 s; partition 1: one record at t0.
      await producer.send(
        topic,
        [0, 10_000, 20_000].map((d, i) => ({ value: `v${i}`, partition: 0, timestampMs: t0 + d })),
      );
      await producer.send(topic, [{ value: 'w', partition: 1, timestampMs: t0 }]);
    } finally {
      await producer.disconnect();
    }
    expect(await fetchEndOffsets(kafka, topic)).toEqual([
      { partition: 0, low: 0, high: 3 },
      { partition: 1, low: 0, high: 1 },
    ]);
    expect(await fetchOffsetsForTime(kafka, topic, t0 + 5_000)).toEqual([
      { partition: 0, offset: 1 },
      { partition: 1, offset: 1 },
    ]);
    expect(await fetchOffsetsForTime(kafka, topic, t0)).toEqual([
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
    expect(await fetchOffsetsForTime(kafka, topic, t0 + 60_000)).toEqual([
      { partition: 0, offset: 3 },
      { partition: 1, offset: 1 },
    ]);
    expect(await fetchCommittedOffsets(kafka, uniqueName('never-committed'), topic)).toEqual([
      { partition: 0, offset: -1 },
      { partition: 1, offset: -1 },
    ]);
  });
});
