/**
 * The group consumer wrapper on a real broker: manual commits are what the group resumes from, a paused
 * partition delivers nothing until resumed, and seek re-reads from an offset.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTopics, deleteGroups, deleteTopics } from '../../../src/kafka/admin.js';
import { createGroupConsumer, type GroupConsumer } from '../../../src/kafka/consumer.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { fetchCommittedOffsets, fetchEndOffsets } from '../../../src/kafka/offsets.js';
import { createProducer } from '../../../src/kafka/producer.js';
import { testKafka, uniqueName, waitFor } from './helpers.js';

const kafka = testKafka();
const topics: string[] = [];
const groups: string[] = [];
const consumers: GroupConsumer[] = [];

afterEach(async () => {
  for (const c of consumers.splice(0)) await c.disconnect();
  await deleteGroups(kafka, groups.splice(0));
  await deleteTopics(kafka, topics.splice(0));
});

async function topicWith(perPartition: number): Promise<string> {
  const topic = uniqueName('cons');
  topics.push(topic);
  await createTopics(kafka, [{ topic, numPartitions: 2 }]);
  const producer = await createProducer(kafka);
  try {
    for (const partition of [0, 1]) {
      await producer.send(
        topic,
        Array.from({ length: perPartition }, (_, i) => ({
          key: `k${i}`,
          value: `p${partition}-${i}`,
          partition,
        })),
      );
    }
  } finally {
    await producer.disconnect();
  }
  return topic;
}

async function member(groupId: string, topic: string): Promise<GroupConsumer> {
  const c = await createGroupConsumer(kafka, {
    groupId,
    topics: [topic],
    fromBeginning: true,
    maxWaitTimeMs: 100,
  });
  consumers.push(c);
  return c;
}

describe('group consumer', () => {
  it('commits what the caller says, and a new member of the group resumes there', async () => {
    const topic = await topicWith(10);
    const groupId = uniqueName('cons-group');
    groups.push(groupId);
    const first = await member(groupId, topic);
    const seen: ConsumedMessage[] = [];
    await first.run(async (batch) => {
      seen.push(...batch.messages);
      // Commit only up to offset 5 (next to read: 6) of partition 0; nothing of partition 1.
      if (batch.partition === 0 && batch.messages.some((m) => m.offset >= 5)) {
        await first.commit([{ topic, partition: 0, offset: 6 }]);
      }
    });
    await waitFor('20 messages', () => seen.length >= 20);
    expect(await fetchCommittedOffsets(kafka, groupId, topic)).toEqual([
      { partition: 0, offset: 6 },
      { partition: 1, offset: -1 },
    ]);
    await first.disconnect();
    consumers.splice(consumers.indexOf(first), 1);

    const second = await member(groupId, topic);
    const again: ConsumedMessage[] = [];
    await second.run(async (batch) => {
      again.push(...batch.messages);
    });
    await waitFor('14 messages', () => again.length >= 14);
    expect(again.filter((m) => m.partition === 0).map((m) => m.offset)).toEqual([6, 7, 8, 9]);
    expect(again.filter((m) => m.partition === 1)).toHaveLength(10);
  });

  it('pauses and resumes a partition, seeks back, and reports its assignment', async () => {
    const topic = await topicWith(5);
    const groupId = uniqueName('cons-pause');
    groups.push(groupId);
    const c = await member(groupId, topic);
    const assignments: number[][] = [];
    c.onAssignment((a) => {
      assignments.push(a.flatMap((t) => t.partitions));
      c.pause(topic, [1]);
    });
    const seen: ConsumedMessage[] = [];
    await c.run(async (batch) => {
      seen.push(...batch.messages);
    });
    await waitFor('partition 0', () => seen.length >= 5);
    // Give partition 1 time to (wrongly) arrive while paused.
    await new Promise((r) => setTimeout(r, 1000));
    expect(seen.every((m) => m.partition === 0)).toBe(true);
    expect(c.paused()).toEqual([{ topic, partitions: [1] }]);
    expect(assignments.at(-1)).toEqual([0, 1]);

    c.resume(topic, [1]);
    await waitFor('partition 1', () => seen.length >= 10);
    c.seek({ topic, partition: 0, offset: 3 });
    await waitFor('partition 0 from offset 3 again', () => seen.length >= 12);
    expect(seen.slice(10).map((m) => [m.partition, m.offset])).toEqual([
      [0, 3],
      [0, 4],
    ]);
    expect((await fetchEndOffsets(kafka, topic)).map((p) => p.high)).toEqual([5, 5]);
  });
});
