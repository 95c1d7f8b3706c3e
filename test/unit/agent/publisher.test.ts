import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Publisher } from '../../../src/agent/publisher.js';
import { Spool } from '../../../src/agent/spool.js';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { flowKey } from '../../../src/flow/key.js';
import type { Observation } from '../../../src/flow/types.js';
import type { OutgoingMessage, Producer } from '../../../src/kafka/producer.js';

/** A producer whose cluster can be switched off: sends then fail, as kafkajs' do when unreachable. */
class SwitchableProducer implements Producer {
  up = true;
  readonly sent: OutgoingMessage[] = [];
  async send(_topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    await new Promise((r) => setTimeout(r, 1));
    if (!this.up) throw new Error('broker unreachable');
    this.sent.push(...messages);
  }
  async flush(): Promise<void> {}
  async partitionCount(): Promise<number> {
    return 3;
  }
  async disconnect(): Promise<void> {}
}

function obs(i: number, packets = i): Observation {
  return {
    node: 'n1',
    bootId: 'b',
    kind: 'POLL',
    timeUs: 1_700_000_000_000_000 + i * 1000,
    conntrackId: i,
    zone: 0,
    family: 'IPV4',
    protocol: 17,
    orig: {
      src: '10.0.0.1',
      dst: '10.0.0.2',
      srcPort: 1000 + i,
      dstPort: 53,
      icmpType: null,
      icmpCode: null,
      icmpId: null,
    },
    reply: {
      src: '10.0.0.2',
      dst: '10.0.0.1',
      srcPort: 53,
      dstPort: 1000 + i,
      icmpType: null,
      icmpCode: null,
      icmpId: null,
    },
    tcpState: null,
    status: 0,
    mark: 0,
    counters: { origPackets: packets, origBytes: packets * 100, replyPackets: 0, replyBytes: 0 },
    kernelStartUs: null,
    kernelStopUs: null,
  };
}

const codec = new AvroCodec();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Publisher', () => {
  it('keys observations by flow key and sends watermarks to every partition, in order', async () => {
    const producer = new SwitchableProducer();
    const p = new Publisher(producer, codec, {
      topic: 't',
      partitions: 3,
      maxEntries: 100,
      maxBytes: 1 << 20,
      watermarkIntervalMs: 0,
    });
    p.observation(obs(1));
    p.watermark({ node: 'n1', bootId: 'b', timeUs: 1_700_000_001_000_000 });
    p.observation(obs(2));
    const stats = await p.close();
    expect(stats.published).toBe(2);
    expect(stats.watermarksPublished).toBe(3);
    expect(producer.sent.map((m) => m.partition ?? m.key?.toString())).toEqual([
      flowKey(obs(1)),
      0,
      1,
      2,
      flowKey(obs(2)),
    ]);
    const decoded = codec.decode(Buffer.from(producer.sent[0]!.value as Uint8Array));
    expect(decoded).toEqual({ type: 'observation', value: obs(1) });
  });

  it('buffers while Kafka is unreachable and catches up without loss within the bound', async () => {
    const producer = new SwitchableProducer();
    producer.up = false;
    const p = new Publisher(producer, codec, {
      topic: 't',
      partitions: 1,
      maxEntries: 1000,
      maxBytes: 1 << 20,
      watermarkIntervalMs: 0,
      minBackoffMs: 1,
      maxBackoffMs: 5,
    });
    for (let i = 0; i < 500; i++) p.observation(obs(i));
    await until(() => p.stats.failedSends >= 2);
    expect(p.stats.connected).toBe(false);
    expect(p.stats.bufferedEntries).toBe(500);
    producer.up = true;
    await until(() => p.stats.published === 500);
    const stats = await p.close();
    expect(stats.dropped).toEqual({ buffer_full: 0, spool_full: 0, encode_error: 0, shutdown: 0 });
    expect(producer.sent.map((m) => m.key?.toString())).toEqual(
      [...Array(500).keys()].map((i) => flowKey(obs(i))),
    );
  });

  it('counts what it drops past the memory bound (no spool)', async () => {
    const producer = new SwitchableProducer();
    producer.up = false;
    const p = new Publisher(producer, codec, {
      topic: 't',
      partitions: 1,
      maxEntries: 10,
      maxBytes: 1 << 20,
      watermarkIntervalMs: 0,
      minBackoffMs: 1,
      maxBackoffMs: 2,
    });
    for (let i = 0; i < 25; i++) p.observation(obs(i));
    expect(p.stats.dropped.buffer_full).toBe(15);
    producer.up = true;
    await until(() => p.stats.published === 10);
    await p.close();
    expect(producer.sent).toHaveLength(10);
  });

  it('spools to disk past the memory bound and publishes the spool in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctflow-spool-'));
    dirs.push(dir);
    const producer = new SwitchableProducer();
    producer.up = false;
    const p = new Publisher(producer, codec, {
      topic: 't',
      partitions: 1,
      maxEntries: 10,
      maxBytes: 1 << 20,
      spoolDir: dir,
      spoolMaxBytes: 1 << 20,
      watermarkIntervalMs: 0,
      minBackoffMs: 1,
      maxBackoffMs: 2,
    });
    for (let i = 0; i < 100; i++) p.observation(obs(i));
    expect(p.stats.spooledEntries).toBe(90);
    producer.up = true;
    await until(() => p.stats.published === 100);
    const stats = await p.close();
    expect(stats.dropped.buffer_full + stats.dropped.spool_full).toBe(0);
    expect(producer.sent.map((m) => m.key?.toString())).toEqual(
      [...Array(100).keys()].map((i) => flowKey(obs(i))),
    );
  });

  it('keeps the buffer in the spool when Kafka is still down at shutdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctflow-spool-'));
    dirs.push(dir);
    const producer = new SwitchableProducer();
    producer.up = false;
    const p = new Publisher(producer, codec, {
      topic: 't',
      partitions: 1,
      maxEntries: 100,
      maxBytes: 1 << 20,
      spoolDir: dir,
      watermarkIntervalMs: 0,
      minBackoffMs: 1,
      maxBackoffMs: 2,
    });
    for (let i = 0; i < 20; i++) p.observation(obs(i));
    const stats = await p.close(50);
    expect(stats.dropped.shutdown).toBe(0);
    const spool = new Spool(dir, 1 << 20);
    expect(spool.size).toBe(20);
    expect(spool.take(100).map((m) => m.key?.toString())).toEqual(
      [...Array(20).keys()].map((i) => flowKey(obs(i))),
    );
    spool.close();
  });
});

describe('Spool', () => {
  it('refuses past its bound and cuts a torn last record on reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctflow-spool-'));
    dirs.push(dir);
    const s = new Spool(dir, 120); // two 54-byte records fit, a third does not
    const m = { kind: 'observation' as const, partition: -1, key: Buffer.from('k'), value: Buffer.alloc(40) };
    expect(s.append(m)).toBe(true);
    expect(s.append(m)).toBe(true);
    expect(s.append(m)).toBe(false);
    s.close();
    const { truncateSync, statSync } = await import('node:fs');
    truncateSync(s.path, statSync(s.path).size - 3);
    const again = new Spool(dir, 120);
    expect(again.size).toBe(1);
    again.close();
  });
});

describe('Publisher.backpressure (flow control of the table reader)', () => {
  const codec = new AvroCodec();
  const options = {
    topic: 't',
    partitions: 3,
    maxEntries: 100_000,
    maxBytes: 1 << 30,
    watermarkIntervalMs: 0,
    batchMessages: 100,
    backpressureEntries: 1000,
  };

  it('asks the reader to wait past the bound, and lets it go once half of it is sent', async () => {
    const producer = new SwitchableProducer();
    const p = new Publisher(producer, codec, options);
    for (let i = 0; i < 999; i++) p.observation(obs(i));
    expect(p.backpressure()).toBeNull();
    p.observation(obs(999));
    const wait = p.backpressure();
    expect(wait).not.toBeNull();
    await wait;
    expect(p.stats.bufferedEntries).toBeLessThanOrEqual(500);
    expect(producer.sent.length).toBeGreaterThanOrEqual(500);
    const stats = await p.close();
    expect(stats.published).toBe(1000);
  });

  it('never holds the reader while Kafka is unreachable: the buffer takes over', async () => {
    const producer = new SwitchableProducer();
    producer.up = false;
    const p = new Publisher(producer, codec, { ...options, minBackoffMs: 1, maxBackoffMs: 5 });
    for (let i = 0; i < 1500; i++) p.observation(obs(i));
    const wait = p.backpressure();
    if (wait !== null) await wait; // released by the first failed send
    await new Promise((r) => setTimeout(r, 20));
    expect(p.backpressure()).toBeNull();
    expect(p.stats.bufferedEntries).toBe(1500);
    producer.up = true;
    const stats = await p.close();
    expect(stats.published).toBe(1500);
  });

  it('is off with backpressureEntries 0', () => {
    const p = new Publisher(new SwitchableProducer(), codec, { ...options, backpressureEntries: 0 });
    for (let i = 0; i < 2000; i++) p.observation(obs(i));
    expect(p.backpressure()).toBeNull();
    return p.close();
  });
});
