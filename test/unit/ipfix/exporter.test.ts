import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../src/flow/types.js';
import type { DecodedRecord } from '../../../src/ipfix/decoder.js';
import { type ExporterOptions, type IpfixExporter, createExporter } from '../../../src/ipfix/exporter.js';
import { type TestCollector, freePort, startCollector, until } from './collector.js';
import { T0_US, record, record6 } from './records.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

async function collector(protocol: 'udp' | 'tcp', port = 0): Promise<TestCollector> {
  const c = await startCollector(protocol, port);
  open.push(c);
  return c;
}

function exporter(o: ExporterOptions): IpfixExporter {
  const e = createExporter({ flushIntervalMs: 20, statsIntervalS: 0, ...o });
  open.push(e);
  return e;
}

/** n records with recordIndex 0..n-1 (so the collector's order and completeness can be checked). */
function many(n: number, over: Partial<FlowRecord> = {}): FlowRecord[] {
  return Array.from({ length: n }, (_, k) =>
    record({ recordIndex: k, startUs: T0_US + k, endUs: T0_US + k + 1000, ...over }),
  );
}

const indexOf = (r: DecodedRecord): unknown => r.fields.find((f) => f.name === 'ctflowRecordIndex')?.value;

function checkSequence(c: TestCollector): void {
  // Sequence number of each message = data records (flow + statistics) sent before it, per exporter and domain.
  const next = new Map<string, number>();
  const perMessage = new Map<string, { seq: number; n: number }>();
  for (const r of c.records) {
    const key = `${r.exporter}|${r.observationDomainId}|${r.sequenceNumber}`;
    const m = perMessage.get(key) ?? { seq: r.sequenceNumber, n: 0 };
    m.n++;
    perMessage.set(key, m);
  }
  for (const [key, m] of perMessage) {
    const session = key.split('|').slice(0, 2).join('|');
    const want = next.get(session) ?? m.seq;
    expect(m.seq).toBe(want);
    next.set(session, m.seq + m.n);
  }
  expect(c.events.filter((e) => e.kind === 'sequenceGap')).toEqual([]);
}

// Loopback sockets on a shared, loaded machine: generous per-test time.
describe('exporter over UDP (loopback)', { timeout: 30_000 }, () => {
  it('sends templates, statistics and records; sequence numbers count data records; counters match', async () => {
    const c = await collector('udp');
    const e = exporter({ collectors: [c.url], observationDomainId: 7 });
    e.write(many(50));
    e.write([record6({ recordIndex: 50 })]);
    await e.flush();
    await until(() => c.flows().length === 51, 10_000, '51 records');
    expect(c.flows().map(indexOf)).toEqual([...Array(51).keys()]);
    expect(c.records.filter((r) => r.scopeCount === 1)).toHaveLength(1);
    checkSequence(c);
    const s = e.stats().collectors[0]!;
    expect(s).toMatchObject({ records: 51, statsRecords: 1, droppedRecords: 0, errors: 0, connected: true });
    expect(s.messages).toBe(c.messages.length);
    expect(s.bytes).toBe(c.messages.reduce((n, m) => n + m.buf.length, 0));
    expect(s.templates).toBe(c.events.filter((x) => x.kind === 'template').length);
  });

  it('keeps every message within the MTU: 1500 → 1472, 576 → 548, unknown → 512', async () => {
    for (const [mtu, max] of [
      [1500, 1472],
      [576, 548],
      ['unknown', 512],
    ] as const) {
      const c = await collector('udp');
      const e = exporter({ collectors: [c.url], observationDomainId: 1, mtu });
      e.write(many(200));
      await e.flush();
      await until(() => c.flows().length === 200, 10_000, `200 records at MTU ${mtu}`);
      const sizes = c.messages.map((m) => m.buf.length);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(max);
      // Batching fills messages: all but the last data message are within one record of the limit.
      const full = c.messages.filter((m) => m.buf.length > max - 80);
      expect(full.length).toBeGreaterThanOrEqual(Math.floor((200 * 82) / max) - 1);
      checkSequence(c);
    }
  });

  it('re-sends templates every templateRefreshS (injected clock) and every N messages', async () => {
    let now = 1_795_680_010_000;
    const c = await collector('udp');
    const e = exporter({
      collectors: [c.url],
      observationDomainId: 1,
      templateRefreshS: 10,
      clock: () => now,
    });
    e.write(many(1));
    await e.flush();
    await until(() => c.flows().length === 1);
    const templatesBefore = c.events.filter((x) => x.kind === 'template').length;
    // A restarted collector has no templates: data is undecodable until the refresh.
    c.forgetTemplates();
    e.write(many(1));
    await e.flush();
    await until(() => c.events.some((x) => x.kind === 'unknownTemplate'));
    now += 10_001;
    e.write(many(1));
    await e.flush();
    await until(() => c.flows().length === 2);
    expect(c.events.filter((x) => x.kind === 'template').length).toBeGreaterThan(templatesBefore);
    // Domain 7 (the records'): two data records were sent before this message.
    expect(c.records.at(-1)?.sequenceNumber).toBe(2);

    const c2 = await collector('udp');
    const e2 = exporter({
      collectors: [c2.url],
      observationDomainId: 1,
      templateRefreshMessages: 2,
      mtu: 'unknown',
    });
    e2.write(many(60));
    await e2.flush();
    await until(() => c2.flows().length === 60);
    const withTemplates = c2.messages.filter((m) => m.buf.readUInt16BE(16) === 2).length;
    expect(withTemplates).toBeGreaterThanOrEqual(Math.floor(c2.messages.length / 3));
  });

  it('goes on through ICMP port unreachable: drops are counted, a collector started later decodes after the refresh', async () => {
    let now = 1_795_680_010_000;
    const port = await freePort('udp');
    const errors: unknown[] = [];
    const e = exporter({
      collectors: [`udp://127.0.0.1:${port}`],
      observationDomainId: 1,
      templateRefreshS: 30,
      clock: () => now,
      onError: (x) => errors.push(x),
    });
    for (let k = 0; k < 5; k++) {
      e.write(many(3));
      await e.flush();
    }
    await until(() => e.stats().collectors[0]!.droppedRecords > 0, 10_000, 'a counted drop');
    const c = await collector('udp', port);
    now += 30_001;
    e.write(many(3));
    await e.flush();
    await until(() => c.flows().length === 3, 10_000, 'records after the refresh');
    const s = e.stats().collectors[0]!;
    expect(s.records + s.droppedRecords).toBe(18);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('counts what a closed UDP port bounces even when the receive path sees the ICMP error first (sends spaced out)', async () => {
    const port = await freePort('udp');
    const errors: unknown[] = [];
    const e = exporter({
      collectors: [`udp://127.0.0.1:${port}`],
      observationDomainId: 1,
      onError: (x) => errors.push(x),
    });
    // One message at a time with the event loop idle in between: libuv's receive path takes the
    // socket's pending ECONNREFUSED before the next send could (once, every bounce went uncounted).
    for (let k = 0; k < 5; k++) {
      e.write(many(3));
      await e.flush();
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(
      () => e.stats().collectors[0]!.lostRecords + e.stats().collectors[0]!.droppedRecords >= 9,
      10_000,
      'bounced records counted',
    );
    const s = e.stats().collectors[0]!;
    expect(s.records + s.droppedRecords).toBe(15);
    expect(s.lostRecords).toBeLessThanOrEqual(s.records);
    expect(errors.map(String).join('\n')).toMatch(/port unreachable|ECONNREFUSED/);
    await e.close();
  });

  it('refuses records that cannot be encoded, counts them, and sends the rest', async () => {
    const c = await collector('udp');
    const errors: unknown[] = [];
    const e = exporter({ collectors: [c.url], observationDomainId: 1, onError: (x) => errors.push(x) });
    e.write([record({ recordIndex: 0 }), record({ recordIndex: 1, startUs: 0 }), record({ recordIndex: 2 })]);
    await e.flush();
    await until(() => c.flows().length === 2);
    expect(c.flows().map(indexOf)).toEqual([0, 2]);
    expect(e.stats()).toMatchObject({ recordsIn: 3, recordsRefused: 1 });
    expect(String(errors[0])).toContain('flowStartMilliseconds');
  });

  it('sends each observation domain with its own sequence numbers, and to several collectors at once', async () => {
    const u = await collector('udp');
    const t = await collector('tcp');
    const e = exporter({ collectors: [u.url, t.url], observationDomainId: 1 });
    for (let k = 0; k < 10; k++) {
      e.write(many(7, { observationDomainId: 1 }));
      e.write(many(5, { observationDomainId: 2 }));
    }
    await e.flush();
    for (const c of [u, t]) {
      await until(() => c.flows().length === 120, 10_000, '120 records');
      expect(c.flows().filter((r) => r.observationDomainId === 2)).toHaveLength(50);
      checkSequence(c);
    }
    expect(e.stats().collectors.map((s) => s.records)).toEqual([120, 120]);
  });
});

describe('exporter over TCP (loopback)', { timeout: 30_000 }, () => {
  it('re-sends templates on reconnect and delivers what it buffered meanwhile', async () => {
    const c = await collector('tcp');
    const e = exporter({
      collectors: [c.url],
      observationDomainId: 1,
      reconnectMinMs: 20,
      reconnectMaxMs: 100,
    });
    e.write(many(10));
    await e.flush();
    await until(() => c.flows().length === 10);
    const port = c.port;
    await c.close();
    await until(() => !e.stats().collectors[0]!.connected, 10_000, 'disconnect');
    e.write(many(10, { recordIndex: 0 }).map((r, k) => ({ ...r, recordIndex: 10 + k })));
    await e.flush();
    const c2 = await collector('tcp', port);
    const buffered = (): DecodedRecord[] => c2.flows().filter((r) => Number(indexOf(r)) >= 10);
    await until(() => buffered().length === 10, 10_000, 'buffered records after reconnect');
    expect(buffered().map(indexOf)).toEqual([...Array(10).keys()].map((k) => 10 + k));
    // Records of the first connection come again only when it failed within their resend window, and
    // are counted as resent (the collector read them before it closed).
    await e.flush();
    expect(c2.flows().length - 10).toBe(e.stats().collectors[0]!.resentRecords);
    // The new connection starts with template messages, before any data set.
    const setIds = (b: Buffer): number[] => {
      const ids: number[] = [];
      for (let o = 16; o < b.length; o += b.readUInt16BE(o + 2)) ids.push(b.readUInt16BE(o));
      return ids;
    };
    const firstData = c2.messages.findIndex((m) => setIds(m.buf).some((id) => id >= 256));
    expect(firstData).toBeGreaterThan(0);
    for (const m of c2.messages.slice(0, firstData))
      expect(setIds(m.buf).every((id) => id === 2 || id === 3)).toBe(true);
    expect(c2.events.filter((x) => x.kind === 'unknownTemplate')).toEqual([]);
    expect(e.stats().collectors[0]!.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('bounds its buffer while the collector is down and counts every record it drops', async () => {
    const port = await freePort('tcp');
    const e = exporter({
      collectors: [`tcp://127.0.0.1:${port}`],
      observationDomainId: 1,
      tcpBufferBytes: 100_000,
      reconnectMinMs: 20,
      reconnectMaxMs: 50,
    });
    // 2000 records of 88 octets: three messages of ≤ 65535 octets; only the first fits the buffer.
    e.write(many(2000));
    await e.flush();
    const s = e.stats().collectors[0]!;
    expect(s.droppedRecords).toBeGreaterThan(0);
    expect(s.droppedRecords).toBeLessThan(2000);
    const c = await collector('tcp', port);
    await until(() => c.flows().length + s.droppedRecords === 2000, 10_000, 'buffered records');
    expect(e.stats().collectors[0]!.records).toBe(2000 - s.droppedRecords);
    // Dropped messages leave a gap the collector can see; nothing else is lost.
    expect(c.events.filter((x) => x.kind === 'unknownTemplate')).toEqual([]);
  });
});
