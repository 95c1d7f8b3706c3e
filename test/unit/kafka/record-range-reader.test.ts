/**
 * The raw record reader against a scripted broker on a local socket (no Kafka): fetch loops over partial
 * batches, errors, leader retries, timeouts and the counted fallbacks to another reader.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { createKafka, type KafkaClientOptions } from '../../../src/kafka/client.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import type { PartitionRangeReader, RangeRead } from '../../../src/kafka/range-reader.js';
import {
  createRecordRangeReader,
  type RecordRangeReaderOptions,
} from '../../../src/kafka/record-range-reader.js';
import { ByteReader } from '../../../src/kafka/wire/bytes.js';
import { makeTestPki } from '../../rig/tls-certs.js';
import { encodeBatch, type TestBatch } from './wire/batches.js';
import { apiVersionsResponse, fetchResponse, metadataResponse } from './wire/responses.js';

const TOPIC = 'state';

interface FetchAsked {
  offset: number;
  maxBytes: number;
}

/** Answers per API key; `undefined` leaves the request unanswered, 'close' closes the connection. */
type Handler = (apiKey: number, version: number, body: Buffer) => Buffer | undefined | 'close';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function fakeBroker(handler: Handler, secure?: tls.TlsOptions): Promise<number> {
  const serve = (socket: net.Socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        const r = new ByteReader(frame);
        const apiKey = r.int16('key');
        const version = r.int16('version');
        const correlationId = r.int32('id');
        r.string('client');
        const answer = handler(apiKey, version, frame.subarray(r.at));
        if (answer === 'close') {
          socket.destroy();
          return;
        }
        if (answer === undefined) continue;
        const head = Buffer.alloc(8);
        head.writeInt32BE(answer.length + 4, 0);
        head.writeInt32BE(correlationId, 4);
        // Two writes: the reader must put a response together from pieces.
        socket.write(head);
        socket.write(answer);
      }
    });
    socket.on('error', () => {});
  };
  const server = secure === undefined ? net.createServer(serve) : tls.createServer(secure, serve);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

function parseFetch(body: Buffer): FetchAsked {
  const r = new ByteReader(body);
  r.skip(12, 'replica, wait, min');
  const maxBytes = r.int32('max');
  r.skip(1 + 8 + 4, 'isolation, session');
  r.string('topic');
  r.skip(4 + 4 + 4, 'count, partition, epoch');
  return { offset: r.int64('offset'), maxBytes };
}

/** A broker holding `batches` of partition 0, answering fetches as Kafka does (whole batches from the one
 * holding the offset, cut at max_bytes, at least one whole batch). */
function logBroker(
  batches: TestBatch[],
  opts: { fetchErrors?: number[]; fetchVersions?: [number, number]; tls?: tls.TlsOptions } = {},
) {
  const encoded = batches.map((b) => ({ b, bytes: encodeBatch(b) }));
  const end = Math.max(...batches.map((b) => b.baseOffset + (b.lastOffsetDelta ?? b.records.length - 1) + 1));
  const asked: FetchAsked[] = [];
  let metadataCalls = 0;
  const errors = [...(opts.fetchErrors ?? [])];
  let port = 0;
  const handler: Handler = (apiKey, version, body) => {
    if (apiKey === 18)
      return apiVersionsResponse([
        [1, ...(opts.fetchVersions ?? [4, 18])],
        [3, 0, 13],
      ]);
    if (apiKey === 3) {
      metadataCalls++;
      return metadataResponse(
        version,
        TOPIC,
        [{ id: 1, host: '127.0.0.1', port }],
        [{ partition: 0, leader: 1 }],
      );
    }
    const f = parseFetch(body);
    asked.push(f);
    const error = errors.shift();
    if (error !== undefined && error !== 0)
      return fetchResponse(version, TOPIC, 0, {
        error,
        highWatermark: end,
        logStartOffset: 0,
        records: null,
      });
    const from = encoded.findIndex(
      ({ b }) => b.baseOffset + (b.lastOffsetDelta ?? b.records.length - 1) >= f.offset,
    );
    const parts = from < 0 ? [] : encoded.slice(from).map((e) => e.bytes);
    let records = Buffer.concat(parts);
    if (records.length > f.maxBytes) records = records.subarray(0, Math.max(f.maxBytes, parts[0]!.length));
    return fetchResponse(version, TOPIC, 0, { highWatermark: end, records });
  };
  return {
    asked,
    metadataCalls: () => metadataCalls,
    async start(): Promise<number> {
      port = await fakeBroker(handler, opts.tls);
      return port;
    },
  };
}

function reader(
  port: number,
  options: Partial<RecordRangeReaderOptions> = {},
  client: Partial<KafkaClientOptions> = {},
) {
  return createRecordRangeReader(createKafka({ brokers: [`127.0.0.1:${port}`], ...client }), {
    topic: TOPIC,
    ...options,
  });
}

/** A stand-in for the kafkajs reader: hands out `log`'s records in range, and remembers what it was asked. */
function fakeFallback(log: Array<{ offset: number; key: string; value: string | null }>, asked: RangeRead[]) {
  return async (): Promise<PartitionRangeReader> => ({
    async read(range) {
      asked.push(range);
      const messages: ConsumedMessage[] = log
        .filter((m) => m.offset >= range.fromOffset && m.offset < range.toOffset)
        .map((m) => ({
          topic: TOPIC,
          partition: range.partition,
          offset: m.offset,
          timestampMs: 0,
          key: Buffer.from(m.key),
          value: m.value === null ? null : Buffer.from(m.value),
          headers: {},
        }));
      await range.onBatch({
        topic: TOPIC,
        partition: range.partition,
        highWatermark: range.toOffset,
        messages,
      });
      return {
        partition: range.partition,
        records: messages.length,
        lastOffset: messages.at(-1)?.offset ?? -1,
        complete: true,
      };
    },
    async close() {},
  });
}

function tenBatches(): TestBatch[] {
  return Array.from({ length: 10 }, (_, i) => ({
    baseOffset: i * 10,
    records: Array.from({ length: 10 }, (_, j) => ({
      key: `k${i * 10 + j}`,
      value: (i * 10 + j) % 7 === 0 ? null : `v${i * 10 + j}`.repeat(20),
      headers: j === 3 ? ([['h', 'x']] as Array<[string, string]>) : [],
    })),
    compression: i % 3 === 0 ? ('gzip' as const) : ('none' as const),
  }));
}

describe('record range reader (scripted broker)', () => {
  it('reads a range over many fetches cut mid-batch, in order, once each', async () => {
    const log = logBroker(tenBatches());
    const r = reader(await log.start(), { maxBytes: 700 });
    const got: Array<[number, string | null, string | null]> = [];
    let progress = 0;
    const result = await r.readRecords({
      partition: 0,
      fromOffset: 5,
      toOffset: 95,
      onRecord: (v) => void got.push([v.offset, v.keyString(), v.value()?.toString() ?? null]),
      onProgress: () => void progress++,
    });
    expect(result).toEqual({ partition: 0, records: 90, lastOffset: 94, complete: true });
    expect(got.map((g) => g[0])).toEqual(Array.from({ length: 90 }, (_, i) => 5 + i));
    expect(got[9]).toEqual([14, 'k14', null]);
    expect(got[10]).toEqual([15, 'k15', 'v15'.repeat(20)]);
    // Responses were cut at 700 bytes: each fetch went on from the batch left incomplete.
    expect(log.asked.length).toBeGreaterThan(9);
    expect(log.asked.every((a) => a.maxBytes === 700)).toBe(true);
    expect(progress).toBe(log.asked.length);
    // Fetches go forward (the next one is sent before an answer is read): none repeated, none wasted.
    const offsets = log.asked.map((a) => a.offset);
    expect(offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b));
    expect(r.fallbacks()).toEqual({});
    await r.close();
  });

  it('an offset out of range fails with an error naming topic, partition and offset', async () => {
    const log = logBroker(tenBatches(), { fetchErrors: [1] });
    const r = reader(await log.start());
    const err = await r
      .readRecords({ partition: 0, fromOffset: 3, toOffset: 50, onRecord: () => {} })
      .catch((e: unknown) => e);
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect((err as Error).message).toMatch(
      /^state\[0\]: offset 3 is out of range of the log \(it holds 0 to 100\)/,
    );
    expect((err as { details: unknown }).details).toMatchObject({ topic: 'state', partition: 0, offset: 3 });
    await r.close();
  });

  it('leader not available / not leader: metadata again and retry', async () => {
    const log = logBroker(tenBatches(), { fetchErrors: [5, 6] });
    const r = reader(await log.start());
    const result = await r.readRecords({ partition: 0, fromOffset: 0, toOffset: 100, onRecord: () => {} });
    expect(result.records).toBe(100);
    expect(log.metadataCalls()).toBe(3);
    await r.close();
  });

  it('a connection closed at a Metadata request (a broker restarting) is not used again', async () => {
    let port = 0;
    let metadataCalls = 0;
    let connections = 0;
    port = await fakeBroker((apiKey, version, body) => {
      if (apiKey === 18) {
        connections++;
        return apiVersionsResponse([
          [1, 4, 18],
          [3, 0, 13],
        ]);
      }
      if (apiKey === 3) {
        // The first Metadata request meets a broker going down.
        if (metadataCalls++ === 0) return 'close';
        return metadataResponse(
          version,
          TOPIC,
          [{ id: 1, host: '127.0.0.1', port }],
          [{ partition: 0, leader: 1 }],
        );
      }
      const f = parseFetch(body);
      const bytes = encodeBatch({ baseOffset: 0, records: [{ key: 'k', value: 'v', headers: [] }] });
      return fetchResponse(version, TOPIC, 0, {
        highWatermark: 1,
        records: f.offset === 0 ? bytes : Buffer.alloc(0),
      });
    });
    const r = reader(port);
    const first = await r
      .readRecords({ partition: 0, fromOffset: 0, toOffset: 1, onRecord: () => {} })
      .catch((e: unknown) => e);
    expect(isCtflowError(first) && first.retriable).toBe(true);
    const keys: string[] = [];
    const second = await r.readRecords({
      partition: 0,
      fromOffset: 0,
      toOffset: 1,
      onRecord: (rec) => keys.push(rec.keyString() ?? ''),
    });
    expect(second.records).toBe(1);
    expect(keys).toEqual(['k']);
    expect(metadataCalls).toBe(2);
    // The bootstrap connection that was closed, a new bootstrap connection, the leader's.
    expect(connections).toBe(3);
    await r.close();
  });

  it('gives up after its leader retries with a retriable error', async () => {
    const log = logBroker(tenBatches(), { fetchErrors: [5, 5, 5] });
    const r = reader(await log.start(), { leaderRetries: 2 });
    const err = await r
      .readRecords({ partition: 0, fromOffset: 0, toOffset: 100, onRecord: () => {} })
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe('state[0]: fetch at offset 0 failed: LEADER_NOT_AVAILABLE (5)');
    expect((err as { retriable: boolean }).retriable).toBe(true);
    await r.close();
  });

  it('a broker that does not answer in time: a retriable error naming the fetch', async () => {
    const port = await fakeBroker((apiKey, version) => {
      if (apiKey === 18)
        return apiVersionsResponse([
          [1, 4, 18],
          [3, 0, 13],
        ]);
      if (apiKey === 3)
        return metadataResponse(
          version,
          TOPIC,
          [{ id: 1, host: '127.0.0.1', port }],
          [{ partition: 0, leader: 1 }],
        );
      return undefined;
    });
    const r = reader(port, { maxWaitMs: 10 }, { requestTimeoutMs: 150 });
    const err = await r
      .readRecords({ partition: 0, fromOffset: 0, toOffset: 10, onRecord: () => {} })
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^fetching state\[0\] at offset 0: no answer from broker 127\.0\.0\.1:\d+ in 160 ms$/,
    );
    expect((err as { retriable: boolean }).retriable).toBe(true);
    await r.close();
  });

  it('a codec it lacks: the rest of the range is read by the fallback reader from that batch on, counted', async () => {
    const batches = tenBatches();
    batches[4] = { ...batches[4]!, compression: 'snappy' };
    const log = logBroker(batches);
    const truth = batches.flatMap((b) =>
      b.records.map((rec, j) => ({ offset: b.baseOffset + j, key: rec.key ?? '', value: rec.value })),
    );
    const asked: RangeRead[] = [];
    const r = reader(await log.start(), { fallbackReader: fakeFallback(truth, asked) });
    const got: Array<[number, string | null]> = [];
    const result = await r.readRecords({
      partition: 0,
      fromOffset: 0,
      toOffset: 100,
      onRecord: (v) => void got.push([v.offset, v.value()?.toString() ?? null]),
    });
    expect(asked.map((a) => [a.fromOffset, a.toOffset])).toEqual([[40, 100]]);
    expect(got).toEqual(truth.map((t) => [t.offset, t.value]));
    expect(result).toEqual({ partition: 0, records: 100, lastOffset: 99, complete: true });
    expect(r.fallbacks()).toEqual({ 'compression-snappy': 1 });
    await r.close();
  });

  it('a broker without Fetch 4-11, or SASL: whole reads go to the fallback reader, counted', async () => {
    const log = logBroker(tenBatches(), { fetchVersions: [12, 18] });
    const truth = [{ offset: 3, key: 'a', value: 'b' }];
    const asked: RangeRead[] = [];
    const r = reader(await log.start(), { fallbackReader: fakeFallback(truth, asked) });
    const keys: Array<string | null> = [];
    await r.readRecords({
      partition: 0,
      fromOffset: 0,
      toOffset: 10,
      onRecord: (v) => void keys.push(v.keyString()),
    });
    await r.readRecords({
      partition: 0,
      fromOffset: 0,
      toOffset: 10,
      onRecord: (v) => void keys.push(v.keyString()),
    });
    expect(keys).toEqual(['a', 'a']);
    expect(r.fallbacks()).toEqual({ 'fetch-version': 2 });
    expect(log.asked).toEqual([]);
    await r.close();

    const sasl = reader(
      1,
      { fallbackReader: fakeFallback(truth, asked) },
      {
        sasl: { mechanism: 'plain', username: 'u', password: 'p' },
      },
    );
    const result = await sasl.readRecords({ partition: 0, fromOffset: 0, toOffset: 10, onRecord: () => {} });
    expect(result.records).toBe(1);
    expect(sasl.fallbacks()).toEqual({ sasl: 1 });
    await sasl.close();
  });

  it('reads over mutual TLS with the kafka.ssl settings of the client', async () => {
    const pki = makeTestPki();
    try {
      const pem = (path: string) => readFileSync(path, 'utf8');
      const log = logBroker(tenBatches(), {
        tls: {
          key: pem(pki.serverKey),
          cert: pem(pki.serverCert),
          ca: pem(pki.caCert),
          requestCert: true,
          rejectUnauthorized: true,
        },
      });
      const port = await log.start();
      const ssl = { ca: pem(pki.caCert), cert: pem(pki.clientCert), key: pem(pki.clientKey) };
      const r = reader(port, {}, { ssl });
      const result = await r.readRecords({ partition: 0, fromOffset: 0, toOffset: 100, onRecord: () => {} });
      expect(result).toEqual({ partition: 0, records: 100, lastOffset: 99, complete: true });
      await r.close();
      // An untrusted broker certificate is refused, retriably, naming the broker.
      const untrusted = reader(port, {}, { ssl: { ...ssl, ca: pem(pki.rogueCaCert) } });
      const err = await untrusted
        .readRecords({ partition: 0, fromOffset: 0, toOffset: 100, onRecord: () => {} })
        .catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/^cannot connect to broker 127\.0\.0\.1:\d+: /);
      await untrusted.close();
    } finally {
      pki.remove();
    }
  });
});
