/**
 * ctflow's own Fetch reader (src/kafka/record-range-reader.ts) against the real broker, compared with the
 * kafkajs range reader on the same topic: the same records (offset, key, value) in the same order, with gzip
 * and uncompressed batches, headers, tombstones, an aborted and a committed transaction, and
 * responses cut mid-batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteTopics } from '../../../src/kafka/admin.js';
import { kafkajsOf } from '../../../src/kafka/client.js';
import { fetchEndOffsets } from '../../../src/kafka/offsets.js';
import { createProducer } from '../../../src/kafka/producer.js';
import { createPartitionRangeReader } from '../../../src/kafka/range-reader.js';
import { createRecordRangeReader } from '../../../src/kafka/record-range-reader.js';
import { ensureTopics } from '../../../src/kafka/topics.js';
import { testKafka, uniqueName } from './helpers.js';

const kafka = testKafka();
const base = uniqueName('wire');
const names = { observations: `${base}.obs`, flowState: `${base}.state`, deadLetter: `${base}.dlq` };
const topic = names.flowState;

type Row = [offset: number, key: string | null, value: string | null];

beforeAll(async () => {
  await ensureTopics(kafka, { topics: names, partitions: 2 });
  for (const compression of ['gzip', 'none'] as const) {
    const producer = await createProducer(kafka, { compression, lingerMs: 0 });
    try {
      for (let round = 0; round < 3; round++) {
        await producer.send(
          topic,
          Array.from({ length: 400 }, (_, i) => ({
            // A compacted topic refuses null keys; keys repeat, as flow keys do.
            key: `${compression}-${round}-${i % 120}`,
            value: i % 9 === 0 ? null : `value-${round}-${i}-${'x'.repeat(i % 70)}`,
            partition: i % 2,
            ...(i % 5 === 0 ? { headers: { h: `h${i}`, other: 'y' } } : {}),
          })),
        );
      }
    } finally {
      await producer.disconnect();
    }
  }
  // An aborted and a committed transaction on partition 0, then plain records after them.
  const k = kafkajsOf(kafka);
  const tx = k.producer({ transactionalId: `${base}-tx`, idempotent: true, maxInFlightRequests: 1 });
  await tx.connect();
  try {
    const aborted = await tx.transaction();
    await aborted.send({
      topic,
      messages: [
        { key: 'aborted-1', value: 'a', partition: 0 },
        { key: 'aborted-2', value: 'b', partition: 0 },
      ],
    });
    await aborted.abort();
    const committed = await tx.transaction();
    await committed.send({ topic, messages: [{ key: 'committed', value: 'c', partition: 0 }] });
    await committed.commit();
  } finally {
    await tx.disconnect();
  }
  const producer = await createProducer(kafka, { compression: 'none', lingerMs: 0 });
  await producer.send(topic, [{ key: 'after', value: 'd', partition: 0 }]);
  await producer.disconnect();
});

afterAll(async () => {
  await deleteTopics(kafka, Object.values(names));
});

async function viaKafkajs(partition: number, from: number, to: number): Promise<Row[]> {
  const reader = await createPartitionRangeReader(kafka, { topic, concurrency: 1 });
  try {
    const rows: Row[] = [];
    await reader.read({
      partition,
      fromOffset: from,
      toOffset: to,
      idleTimeoutMs: 5000,
      onBatch: (b) => {
        for (const m of b.messages)
          rows.push([m.offset, m.key?.toString() ?? null, m.value?.toString() ?? null]);
      },
    });
    return rows;
  } finally {
    await reader.close();
  }
}

describe('record range reader on the real broker', () => {
  it('reads the same records in the same order as the kafkajs reader, whatever the fetch size', async () => {
    const ends = await fetchEndOffsets(kafka, topic);
    for (const maxBytes of [8 * 1_048_576, 1500]) {
      const reader = createRecordRangeReader(kafka, { topic, maxBytes });
      try {
        for (const { partition, high } of ends) {
          for (const [from, to] of [
            [0, high],
            [137, high - 3],
          ] as const) {
            const rows: Row[] = [];
            const result = await reader.readRecords({
              partition,
              fromOffset: from,
              toOffset: to,
              idleTimeoutMs: 5000,
              onRecord: (r) => void rows.push([r.offset, r.keyString(), r.value()?.toString() ?? null]),
            });
            const expected = await viaKafkajs(partition, from, to);
            expect(rows.length).toBeGreaterThan(100);
            expect(rows, `partition ${partition} [${from}, ${to}) max ${maxBytes}`).toEqual(expected);
            expect(result.complete).toBe(true);
            expect(result.records).toBe(rows.length);
          }
        }
        expect(reader.fallbacks()).toEqual({});
      } finally {
        await reader.close();
      }
    }
  });

  it('leaves out the aborted transaction and the transaction markers, keeps the committed one', async () => {
    const high = (await fetchEndOffsets(kafka, topic)).find((e) => e.partition === 0)!.high;
    const reader = createRecordRangeReader(kafka, { topic });
    try {
      const keys: Array<string | null> = [];
      const result = await reader.readRecords({
        partition: 0,
        fromOffset: high - 10,
        toOffset: high,
        onRecord: (r) => void keys.push(r.keyString()),
      });
      // 2 aborted records + abort marker + 1 committed + commit marker + 1 plain = the last 6 offsets.
      expect(keys.slice(-2)).toEqual(['committed', 'after']);
      expect(keys).not.toContain('aborted-1');
      expect(result.complete).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it('an offset past the end of the log fails naming topic, partition and offset; so does an unknown partition', async () => {
    const high = (await fetchEndOffsets(kafka, topic))[1]!.high;
    const reader = createRecordRangeReader(kafka, { topic });
    try {
      await expect(
        reader.readRecords({ partition: 1, fromOffset: high + 5, toOffset: high + 10, onRecord: () => {} }),
      ).rejects.toThrow(`${topic}[1]: offset ${high + 5} is out of range of the log`);
      await expect(
        reader.readRecords({ partition: 7, fromOffset: 0, toOffset: 10, onRecord: () => {} }),
      ).rejects.toThrow(`${topic}[7]: no leader known for the partition`);
    } finally {
      await reader.close();
    }
  });
});
