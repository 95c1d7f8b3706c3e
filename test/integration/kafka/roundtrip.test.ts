/**
 * The Kafka round trip on a real broker: a topic made with the admin wrapper, keyed messages from the
 * idempotent producer, a consumer group that reads them all, and every key in the partition that Apache
 * Kafka's own Java client picks for it (fixture computed by the Java client: scripts/kafka/murmur2-fixture.sh).
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTopics, deleteGroups, deleteTopics, topicPartitionCounts } from '../../../src/kafka/admin.js';
import { createGroupConsumer, type GroupConsumer } from '../../../src/kafka/consumer.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { createProducer, type Producer } from '../../../src/kafka/producer.js';
import { testKafka, uniqueName, waitFor } from './helpers.js';

interface JavaCase {
  keyHex: string;
  partitions: Record<string, number>;
}
const javaCases = JSON.parse(
  readFileSync(new URL('../../fixtures/kafka/murmur2-java.json', import.meta.url), 'utf8'),
) as JavaCase[];

const PARTITIONS = 6;
const kafka = testKafka();
const topics: string[] = [];
const groups: string[] = [];
let producer: Producer | undefined;
let consumer: GroupConsumer | undefined;

afterEach(async () => {
  await consumer?.disconnect();
  await producer?.disconnect();
  consumer = undefined;
  producer = undefined;
  await deleteGroups(kafka, groups.splice(0));
  await deleteTopics(kafka, topics.splice(0));
});

describe('kafka round trip', () => {
  it('keyed messages land in the partition the Java client picks, and a group consumes them all', async () => {
    const topic = uniqueName('rt');
    const groupId = uniqueName('rt-group');
    topics.push(topic);
    groups.push(groupId);
    expect(await createTopics(kafka, [{ topic, numPartitions: PARTITIONS }])).toEqual([topic]);
    expect((await topicPartitionCounts(kafka, [topic])).get(topic)).toBe(PARTITIONS);

    // Every fixture key, twice (a flow's observations stay together and in order), plus explicit partitions.
    const cases = javaCases.filter((c) => c.keyHex.length > 0);
    producer = await createProducer(kafka, { lingerMs: 2 });
    const sends: Array<Promise<void>> = [];
    for (let round = 0; round < 2; round++) {
      for (const [i, c] of cases.entries()) {
        sends.push(producer.send(topic, [{ key: Buffer.from(c.keyHex, 'hex'), value: `${round}:${i}` }]));
      }
    }
    sends.push(producer.send(topic, [{ key: 'pinned', value: 'to-5', partition: 5 }]));
    await Promise.all(sends);

    const received: ConsumedMessage[] = [];
    consumer = await createGroupConsumer(kafka, { groupId, topics: [topic], fromBeginning: true });
    const assigned: number[][] = [];
    consumer.onAssignment((a) => assigned.push(a.flatMap((t) => t.partitions)));
    const expected = cases.length * 2 + 1;
    const c = consumer;
    await c.run(async (batch) => {
      received.push(...batch.messages);
      const last = batch.messages.at(-1);
      if (last) await c.commit([{ topic, partition: batch.partition, offset: last.offset + 1 }]);
    });
    await waitFor(`${expected} messages`, () => received.length >= expected);

    expect(received).toHaveLength(expected);
    expect(assigned.at(-1)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const m of received) {
      const hex = m.key?.toString('hex') ?? '';
      if (m.value?.toString() === 'to-5') {
        expect(m.partition).toBe(5);
        continue;
      }
      const javaCase = cases.find((x) => x.keyHex === hex);
      expect(javaCase, `key ${hex}`).toBeDefined();
      expect(m.partition, `partition of key ${hex}`).toBe(javaCase?.partitions[String(PARTITIONS)]);
    }
    // Per key, round 0 before round 1 (one partition keeps order).
    for (const [i, k] of cases.entries()) {
      const values = received
        .filter((m) => m.key?.toString('hex') === k.keyHex)
        .map((m) => m.value?.toString());
      expect(values).toEqual([`0:${i}`, `1:${i}`]);
    }
    // The fixture spreads over every partition, so this checks more than one hash bucket.
    expect(new Set(received.map((m) => m.partition)).size).toBe(PARTITIONS);
  });
});
