/**
 * Bad input amid good input: corrupt Avro, an unknown schema fingerprint, a truncated body and an observation
 * the engine refuses go to the dead-letter topic with the reason in headers; every flow is still exact.
 */
import { afterEach, expect, test } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { fetchEndOffsets } from '../../../src/kafka/offsets.js';
import { createPartitionRangeReader } from '../../../src/kafka/range-reader.js';
import { DEAD_LETTER_HEADERS } from '../../../src/processor/dead-letter.js';
import { waitFor } from '../kafka/helpers.js';
import { ProcessorHarness } from './harness.js';
import { Workload } from './workload.js';

let harness: ProcessorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

test('undecodable and refused messages land in the dead-letter topic with the reason; the rest is exact', async () => {
  const partitions = 3;
  harness = await ProcessorHarness.started(partitions);
  const h = harness;
  const topic = h.topics.observations;
  const workload = new Workload({
    nodes: 2,
    flowsPerNode: 20,
    steps: 20,
  });
  const codec = new AvroCodec();
  const good = workload.observationsAt(3)[0]!;
  const valid = Buffer.from(codec.encodeObservation(good));
  const unknownFingerprint = Buffer.from(valid);
  unknownFingerprint.writeUInt32LE(0xdeadbeef, 2);
  const bad = [
    {
      name: 'not avro',
      value: Buffer.from('this is not an Avro single object'),
      code: 'CODEC_DECODE',
      reason: 'not_avro',
    },
    { name: 'unknown schema', value: unknownFingerprint, code: 'CODEC_DECODE', reason: 'unknown_schema' },
    {
      name: 'truncated body',
      value: valid.subarray(0, valid.length - 7),
      code: 'CODEC_DECODE',
      reason: 'truncated',
    },
    {
      name: 'refused by the engine',
      value: Buffer.from(codec.encodeObservation({ ...good, node: 'bad|node' })),
      code: 'OBSERVATION_INVALID',
      reason: 'observation_invalid',
    },
  ];

  await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 0, 10);
  await h.producer.send(
    topic,
    bad.map((b, i) => ({
      key: `bad-${i}`,
      value: b.value,
      partition: i % partitions,
      headers: { test: b.name },
    })),
  );
  await workload.write(h.producer, topic, partitions, 10, 20);
  await h.producer.send(topic, workload.finalMessages(partitions));

  expect(await h.settle(workload)).toEqual([]);
  expect(h.collector.duplicates()).toBe(0);
  // A commit exports its records before its dead letters are acknowledged: the totals can settle first.
  await waitFor(
    'the dead letters acknowledged',
    () => h.processors[0]!.processor.stats().deadLettered >= bad.length,
    30_000,
  ).catch(() => {});
  expect(h.processors[0]!.processor.stats().deadLettered).toBe(bad.length);
  expect(h.processors[0]!.processor.stats().deadLetteredByReason).toEqual(
    Object.fromEntries(bad.map((b) => [b.reason, 1])),
  );

  const end = (await fetchEndOffsets(h.client, h.topics.deadLetter))[0]!.high;
  expect(end).toBe(bad.length);
  const reader = await createPartitionRangeReader(h.client, { topic: h.topics.deadLetter });
  const letters: ConsumedMessage[] = [];
  try {
    await reader.read({
      partition: 0,
      fromOffset: 0,
      toOffset: end,
      onBatch: (b) => {
        letters.push(...b.messages);
      },
    });
  } finally {
    await reader.close();
  }
  const header = (m: ConsumedMessage, name: string) => m.headers[name]?.toString();
  const byKey = new Map(letters.map((m) => [m.key?.toString(), m]));
  bad.forEach((b, i) => {
    const m = byKey.get(`bad-${i}`);
    expect(m, b.name).toBeDefined();
    expect(m!.value?.equals(b.value), b.name).toBe(true);
    expect(header(m!, DEAD_LETTER_HEADERS.code), b.name).toBe(b.code);
    expect(header(m!, DEAD_LETTER_HEADERS.reason), b.name).toBe(b.reason);
    expect(header(m!, DEAD_LETTER_HEADERS.topic)).toBe(topic);
    expect(header(m!, DEAD_LETTER_HEADERS.partition)).toBe(String(i % partitions));
    expect(Number(header(m!, DEAD_LETTER_HEADERS.offset))).toBeGreaterThanOrEqual(0);
    expect(header(m!, DEAD_LETTER_HEADERS.message)?.length ?? 0, b.name).toBeGreaterThan(10);
  });
});
