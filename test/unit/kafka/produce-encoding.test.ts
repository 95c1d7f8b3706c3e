/** The Produce request encoder that replaces kafkajs' (produce-encoding.ts) writes the bytes kafkajs writes. */
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import { ownProduceEncoding } from '../../../src/kafka/kafkajs.js';
import { type ProduceRequestArgs, produceRequest } from '../../../src/kafka/produce-encoding.js';
import { RecordBatchReader } from '../../../src/kafka/wire/record-batch.js';

type Request = (args: ProduceRequestArgs) => {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse: () => boolean;
  encode: () => Promise<{ buffer: Buffer }>;
};

/** kafkajs' own produce/v3/request.js, compiled from its file (the module cache holds the replacement). */
function kafkajsRequest(): Request {
  const require = createRequire(import.meta.url);
  const file = join(
    dirname(require.resolve('kafkajs')),
    'src',
    'protocol',
    'requests',
    'produce',
    'v3',
    'request.js',
  );
  const m = new Module(file) as Module & { _compile(code: string, file: string): void };
  m.filename = file;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(
    dirname(file),
  );
  m._compile(readFileSync(file, 'utf8'), file);
  return m.exports as Request;
}

const NOW = 1_764_000_000_123;

afterEach(() => {
  vi.restoreAllMocks();
});

async function bothEncodings(args: ProduceRequestArgs): Promise<[Buffer, Buffer]> {
  vi.spyOn(Date, 'now').mockReturnValue(NOW);
  const theirs = kafkajsRequest()(args);
  const ours = produceRequest(args);
  expect([ours.apiKey, ours.apiVersion, ours.apiName]).toEqual([
    theirs.apiKey,
    theirs.apiVersion,
    theirs.apiName,
  ]);
  expect(ours.expectResponse()).toBe(theirs.expectResponse());
  const a = ((await ours.encode()) as unknown as { buffer: Buffer }).buffer;
  const b = (await theirs.encode()).buffer;
  return [a, b];
}

/** A kafkajs Long as the idempotent producer passes it (only toString() is used). */
const long = (s: string) => ({ toString: () => s });

const owner = { 'ctflow-owner': '1234:abcdefgh' };

function changelogMessages(n: number, partition: number) {
  return Array.from({ length: n }, (_, i) => ({
    key: `node-${i % 3}|0|6|10.0.${i >> 8}.${i & 255}|10.96.0.10|${30000 + i}|443|${i}`,
    value: i % 7 === 3 ? null : Buffer.alloc(40 + (i % 200), i & 255),
    partition,
    headers: owner,
  }));
}

test("kafkajs is loaded with ctflow's Produce encoder", () => {
  expect(ownProduceEncoding).toBe(true);
});

test('an idempotent changelog request (string keys, tombstones, one shared header, 2 topics x 2 partitions): same bytes as kafkajs', async () => {
  const args: ProduceRequestArgs = {
    acks: -1,
    timeout: 30000,
    producerId: long('4711'),
    producerEpoch: 3,
    compression: 0,
    topicData: [
      {
        topic: 'ctflow.flowstate',
        partitions: [
          { partition: 0, firstSequence: 17, messages: changelogMessages(300, 0) },
          { partition: 5, firstSequence: 2_000_000_000, messages: changelogMessages(2, 5) },
        ],
      },
      {
        topic: 'dead-letter',
        partitions: [{ partition: 1, firstSequence: 0, messages: changelogMessages(1, 1) }],
      },
    ],
  };
  const [ours, theirs] = await bothEncodings(args);
  expect(ours.equals(theirs)).toBe(true);
});

test('gzip, timestamps on some messages, repeated headers, Buffer and UTF-8 values, null and empty keys, transactional: same bytes', async () => {
  const messages = [
    {
      key: 'k€y',
      value: 'välue',
      timestamp: String(NOW - 5000),
      headers: { a: ['1', Buffer.from('zwei')], b: 'x' },
    },
    { key: null, value: Buffer.from([0, 1, 2]) },
    { key: '', value: '', timestamp: String(NOW + 70_000), headers: {} },
    { key: Buffer.from('bin'), value: 'x'.repeat(5000), headers: { long: 'h'.repeat(300) } },
  ];
  for (const compression of [0, 1]) {
    const [ours, theirs] = await bothEncodings({
      acks: 1,
      timeout: 5000,
      transactionalId: 'tx-1',
      producerId: '99',
      producerEpoch: 0,
      compression,
      topicData: [{ topic: 't', partitions: [{ partition: 3, firstSequence: 5, messages }] }],
    });
    expect(ours.equals(theirs)).toBe(true);
  }
});

test('a producer that is not idempotent (producer id -1, no sequence), acks 0: same bytes', async () => {
  const [ours, theirs] = await bothEncodings({
    acks: 0,
    timeout: 1000,
    topicData: [{ topic: 'obs', partitions: [{ partition: 0, messages: changelogMessages(20, 0) }] }],
  });
  expect(ours.equals(theirs)).toBe(true);
});

test("ctflow's own batch reader reads the batch back: keys, values, tombstones, offsets, header", async () => {
  vi.spyOn(Date, 'now').mockReturnValue(NOW);
  const messages = changelogMessages(1000, 0);
  const body = (
    await (produceRequest({
      acks: -1,
      timeout: 1000,
      topicData: [{ topic: 'x', partitions: [{ partition: 0, firstSequence: 0, messages }] }],
    }).encode() as unknown as Promise<{ buffer: Buffer }>)
  ).buffer;
  // transactional_id (-1), acks, timeout, 1 topic, "x", 1 partition, partition 0, record_set size: 2+2+4+4+3+4+4+4.
  const batch = body.subarray(27);
  expect(body.readInt32BE(23)).toBe(batch.length);
  const got: Array<[number, string | null, string | null, string | null]> = [];
  new RecordBatchReader(0, 1000, 'x[0]').read(batch, 0, batch.length, (r) => {
    got.push([
      r.offset,
      r.keyString(),
      r.value()?.toString('hex') ?? null,
      r.header('ctflow-owner')?.toString() ?? null,
    ]);
  });
  expect(got).toEqual(
    messages.map((m, i) => [i, m.key, m.value?.toString('hex') ?? null, owner['ctflow-owner']]),
  );
});
