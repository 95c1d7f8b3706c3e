/**
 * The producer on a real broker: many concurrent send() calls (batched together) are all acknowledged in order
 * per partition; tombstones, headers and record timestamps arrive as sent; a closed producer refuses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { createTopics, deleteTopics } from '../../../src/kafka/admin.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { fetchEndOffsets } from '../../../src/kafka/offsets.js';
import { createProducer } from '../../../src/kafka/producer.js';
import { readPartitionRange } from '../../../src/kafka/range-reader.js';
import { testKafka, uniqueName } from './helpers.js';

const kafka = testKafka();
const topics: string[] = [];

afterEach(async () => {
  await deleteTopics(kafka, topics.splice(0));
});

describe('producer', () => {
  it('acknowledges 1000 concurrent sends in per-partition order, and delivers tombstones, headers and timestamps', async () => {
    const topic = uniqueName('prod');
    topics.push(topic);
    await createTopics(kafka, [{ topic, numPartitions: 1 }]);
    const producer = await createProducer(kafka, { lingerMs: 20, maxBatchMessages: 300 });
    const sends = Array.from({ length: 1000 }, (_, i) =>
      producer.send(topic, [{ key: `k${i % 7}`, value: String(i) }]),
    );
    sends.push(
      producer.send(topic, [
        {
          key: 'gone',
          value: null,
          headers: { reason: 'flow ended', bytes: Uint8Array.of(0, 255) },
          timestampMs: 1_700_000_000_123,
        },
      ]),
    );
    await Promise.all(sends);
    expect(await producer.partitionCount(topic)).toBe(1);
    await producer.disconnect();
    const refused = await producer.send(topic, [{ value: 'late' }]).catch((e: unknown) => e);
    expect(isCtflowError(refused, 'KAFKA')).toBe(true);

    const [end] = await fetchEndOffsets(kafka, topic);
    expect(end?.high).toBe(1001);
    const got: ConsumedMessage[] = [];
    await readPartitionRange(kafka, topic, {
      partition: 0,
      fromOffset: 0,
      toOffset: 1001,
      onBatch: (b) => void got.push(...b.messages),
    });
    expect(got.slice(0, 1000).map((m) => m.value?.toString())).toEqual(
      Array.from({ length: 1000 }, (_, i) => String(i)),
    );
    const last = got[1000];
    expect(last?.value).toBeNull();
    expect(last?.key?.toString()).toBe('gone');
    expect(last?.timestampMs).toBe(1_700_000_000_123);
    expect(last?.headers['reason']?.toString()).toBe('flow ended');
    expect([...(last?.headers['bytes'] ?? [])]).toEqual([0, 255]);
  });
});
