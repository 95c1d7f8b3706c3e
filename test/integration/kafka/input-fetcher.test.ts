/**
 * The processor's wire input on a real broker: records as ConsumedMessages (offsets, keys, values, record
 * times) from gzip and uncompressed batches, the end of the log, what needs kafkajs (SASL); and the group
 * consumer in own-fetching mode: kafkajs keeps its partitions paused, and awaits the member's barrier before
 * it rejoins at a rebalance.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTopics, deleteGroups, deleteTopics } from '../../../src/kafka/admin.js';
import { createKafka, parseBrokers } from '../../../src/kafka/client.js';
import { createGroupConsumer, type GroupConsumer } from '../../../src/kafka/consumer.js';
import { createInputFetcher, InputFallbackNeeded } from '../../../src/kafka/input-fetcher.js';
import { createProducer } from '../../../src/kafka/producer.js';
import { testKafka, uniqueName, waitFor } from './helpers.js';
import { inject } from 'vitest';

const kafka = testKafka();
const topics: string[] = [];
const groups: string[] = [];
const consumers: GroupConsumer[] = [];

afterEach(async () => {
  for (const c of consumers.splice(0)) await c.disconnect();
  await deleteGroups(kafka, groups.splice(0)).catch(() => {});
  await deleteTopics(kafka, topics.splice(0)).catch(() => {});
});

async function newTopic(partitions = 1): Promise<string> {
  const topic = uniqueName('input');
  topics.push(topic);
  await createTopics(kafka, [{ topic, numPartitions: partitions }]);
  return topic;
}

describe('input fetcher', () => {
  it('reads gzip and uncompressed batches in order, with keys, values and record times', async () => {
    const topic = await newTopic();
    const base = Date.UTC(2026, 10, 26, 12, 0, 0);
    for (const compression of ['gzip', 'none'] as const) {
      const producer = await createProducer(kafka, { compression });
      try {
        await producer.send(
          topic,
          Array.from({ length: 50 }, (_, i) => ({
            key: i % 7 === 0 ? null : `k-${compression}-${i}`,
            value: i % 11 === 0 ? null : `v-${compression}-${i}`,
            partition: 0,
            timestampMs: base + i * 1000,
          })),
        );
      } finally {
        await producer.disconnect();
      }
    }
    const fetcher = createInputFetcher(kafka, { topic });
    try {
      const got: Array<{ offset: number; key: string | null; value: string | null; t: number }> = [];
      let position = 0;
      let caughtUp = false;
      for (let i = 0; i < 20 && !caughtUp; i++) {
        const f = await fetcher.fetch(0, position);
        for (const m of f.messages) {
          expect(m.topic).toBe(topic);
          expect(m.partition).toBe(0);
          got.push({
            offset: m.offset,
            key: m.key?.toString() ?? null,
            value: m.value?.toString() ?? null,
            t: m.timestampMs,
          });
        }
        if (f.messages.length > 0) position = f.messages.at(-1)!.offset + 1;
        caughtUp = f.caughtUp;
      }
      expect(caughtUp).toBe(true);
      const expected = (['gzip', 'none'] as const).flatMap((compression) =>
        Array.from({ length: 50 }, (_, i) => ({
          key: i % 7 === 0 ? null : `k-${compression}-${i}`,
          value: i % 11 === 0 ? null : `v-${compression}-${i}`,
          t: base + i * 1000,
        })),
      );
      expect(got.map((g) => g.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect(got.map(({ key, value, t }) => ({ key, value, t }))).toEqual(expected);

      // From the middle of a batch: only what follows, and the end of the log says caught up.
      const mid = await fetcher.fetch(0, 75);
      expect(mid.messages[0]!.offset).toBe(75);
      const end = await fetcher.fetch(0, 100);
      expect(end).toEqual({ messages: [], caughtUp: true });
      expect(fetcher.fallbacks()).toEqual({});
    } finally {
      await fetcher.close();
    }
  });

  it('refuses what needs the kafkajs consumer (SASL), counted by reason', async () => {
    const sasl = createKafka({
      brokers: parseBrokers(inject('kafkaBrokers')),
      clientId: 'ctflow-test-sasl',
      sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    });
    const fetcher = createInputFetcher(sasl, { topic: 'never-read' });
    try {
      const err = await fetcher.fetch(0, 0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputFallbackNeeded);
      expect((err as InputFallbackNeeded).reason).toBe('sasl');
      expect(fetcher.fallbacks()).toEqual({ sasl: 1 });
    } finally {
      await fetcher.close();
    }
  });
});

describe('group consumer reading its partitions itself', () => {
  it('keeps kafkajs paused, and rejoins only after the barrier resolved', async () => {
    const topic = await newTopic(2);
    const producer = await createProducer(kafka);
    await producer.send(topic, [
      { key: 'a', value: 'x', partition: 0 },
      { key: 'b', value: 'y', partition: 1 },
    ]);
    await producer.disconnect();
    const groupId = uniqueName('input-group');
    groups.push(groupId);
    const events: string[] = [];
    let batches = 0;
    const first = await createGroupConsumer(kafka, {
      groupId,
      topics: [topic],
      fromBeginning: true,
      maxWaitTimeMs: 100,
      heartbeatIntervalMs: 200,
      ownFetching: {
        beforeJoin: async () => {
          events.push('barrier start');
          await new Promise((r) => setTimeout(r, 300));
          events.push('barrier end');
        },
      },
    });
    consumers.push(first);
    first.onAssignment((a) => events.push(`assigned ${a[0]?.partitions.join(',') ?? ''}`));
    await first.run(async () => {
      batches++;
    });
    await waitFor('the first assignment', () => events.includes('assigned 0,1'), 30_000);
    await first.heartbeat();
    // kafkajs hands out nothing: every partition is paused.
    await new Promise((r) => setTimeout(r, 1000));
    expect(batches).toBe(0);
    expect(first.paused()).toEqual([{ topic, partitions: [0, 1] }]);

    // A second member joins: the first one's rejoin waits for its barrier.
    const second = await createGroupConsumer(kafka, {
      groupId,
      topics: [topic],
      fromBeginning: true,
      maxWaitTimeMs: 100,
    });
    consumers.push(second);
    await second.run(async () => {});
    await waitFor('the rebalance', () => events.filter((e) => e.startsWith('assigned')).length >= 2, 30_000);
    const afterFirst = events.slice(events.indexOf('assigned 0,1') + 1);
    expect(afterFirst.slice(0, 3)).toEqual(['barrier start', 'barrier end', afterFirst[2]]);
    expect(afterFirst[2]).toMatch(/^assigned \d$/);
    expect(batches).toBe(0);
    await first.heartbeat();

    // Back to kafkajs' fetching: its batches come.
    first.fetchWithKafkajs();
    await waitFor('a batch through kafkajs', () => batches > 0, 30_000);
  });
});
