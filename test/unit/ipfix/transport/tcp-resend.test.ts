/**
 * The TCP transport's resend window (src/ipfix/transport/tcp.ts): a message the kernel took is not yet a
 * message the collector read. Records written into a connection the collector had just closed reach the
 * next collector; records written long before a loss are not sent twice; records that could not be
 * written again before close() are counted as lost. Loopback sockets, real listener and decoder.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../../src/flow/types.js';
import type { DecodedRecord } from '../../../../src/ipfix/decoder.js';
import { type ExporterOptions, type IpfixExporter, createExporter } from '../../../../src/ipfix/exporter.js';
import { type TestCollector, startCollector, until } from '../collector.js';
import { T0_US, record } from '../records.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

async function collector(port = 0): Promise<TestCollector> {
  const c = await startCollector('tcp', port);
  open.push(c);
  return c;
}

function exporter(url: string, o: Partial<ExporterOptions> = {}): IpfixExporter {
  const e = createExporter({
    collectors: [url],
    observationDomainId: 1,
    flushIntervalMs: 20,
    statsIntervalS: 0,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    ...o,
  });
  open.push(e);
  return e;
}

/** Records with recordIndex from..to-1. */
function range(from: number, to: number): FlowRecord[] {
  return Array.from({ length: to - from }, (_, j) => {
    const k = from + j;
    return record({ recordIndex: k, startUs: T0_US + k, endUs: T0_US + k + 1000 });
  });
}

const indexOf = (r: DecodedRecord): number =>
  Number(r.fields.find((f) => f.name === 'ctflowRecordIndex')?.value);
const indices = (c: TestCollector): number[] => c.flows().map(indexOf);
const sorted = (xs: Iterable<number>): number[] => [...new Set(xs)].sort((a, b) => a - b);

describe('TCP resend window (loopback)', { timeout: 30_000 }, () => {
  it('records written into a connection the collector has just closed reach the restarted collector', async () => {
    const c = await collector();
    const e = exporter(c.url, { tcpResendWindowMs: 2000 });
    e.write(range(0, 5));
    await e.flush();
    await until(() => c.flows().length === 5, 10_000, 'the first records');
    // The collector closes its end; before the exporter can see it, more records are written: the kernel
    // takes them (the write succeeds) and the collector never reads them.
    const closing = c.close();
    e.write(range(5, 10));
    await e.flush();
    await closing;
    expect(indices(c)).toEqual([0, 1, 2, 3, 4]);
    await until(() => !e.stats().collectors[0]!.connected, 10_000, 'disconnect');

    const c2 = await collector(c.port);
    await until(() => indices(c2).includes(9), 10_000, 'the records after reconnect');
    await e.flush();
    const s = e.stats().collectors[0]!;
    // Every record reached a collector; each one that may have come twice is counted as resent.
    expect(sorted([...indices(c), ...indices(c2)])).toEqual([...Array(10).keys()]);
    expect(s).toMatchObject({ records: 10, droppedRecords: 0, lostRecords: 0 });
    const twice = c.flows().length + c2.flows().length - 10;
    expect(twice).toBeLessThanOrEqual(s.resentRecords);
    expect(c2.flows().length).toBeLessThanOrEqual(s.resentRecords + 5);
    // In order, after the templates, with their original sequence numbers.
    expect(indices(c2)).toEqual(sorted(indices(c2)));
    expect(c2.events.filter((x) => x.kind === 'unknownTemplate')).toEqual([]);
    expect(c2.events.filter((x) => x.kind === 'sequenceGap')).toEqual([]);
  });

  it('records written longer than the window before a loss are not sent again', async () => {
    const c = await collector();
    const e = exporter(c.url, { tcpResendWindowMs: 50 });
    e.write(range(0, 5));
    await e.flush();
    await until(() => c.flows().length === 5, 10_000, 'the first records');
    await new Promise((r) => setTimeout(r, 1000));
    await c.close();
    await until(() => !e.stats().collectors[0]!.connected, 10_000, 'disconnect');
    const c2 = await collector(c.port);
    e.write(range(5, 10));
    await e.flush();
    await until(() => c2.flows().length >= 5, 10_000, 'the later records');
    expect(indices(c2)).toEqual([5, 6, 7, 8, 9]);
    expect(e.stats().collectors[0]).toMatchObject({ records: 10, resentRecords: 0, droppedRecords: 0 });
  });

  it('records of a failed connection that cannot be written again before close() are counted as lost', async () => {
    const c = await collector();
    const errors: unknown[] = [];
    const e = createExporter({
      collectors: [c.url],
      observationDomainId: 1,
      flushIntervalMs: 20,
      statsIntervalS: 0,
      reconnectMinMs: 60_000,
      tcpResendWindowMs: 5000,
      onError: (x) => errors.push(x),
    });
    e.write(range(0, 5));
    await e.flush();
    await until(() => c.flows().length === 5, 10_000, 'the first records');
    const closing = c.close();
    e.write(range(5, 10));
    await e.flush();
    await closing;
    await until(() => !e.stats().collectors[0]!.connected, 10_000, 'disconnect');
    await e.close();
    // All ten were written once and are still in the window: possibly lost, not dropped.
    expect(e.stats().collectors[0]).toMatchObject({ records: 10, droppedRecords: 0, lostRecords: 10 });
    expect(errors.map(String).some((m) => m.includes('possibly lost'))).toBe(true);
  });
});
