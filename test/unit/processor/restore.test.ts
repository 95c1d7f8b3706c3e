import { expect, test } from 'vitest';
import { createFlowEngine } from '../../../src/flow/engine.js';
import { FlowStateCodec } from '../../../src/flow/state-codec.js';
import type { FlowStateEntry, Observation, Watermark } from '../../../src/flow/types.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { encodeMarker, MARKER_KEY } from '../../../src/processor/marker.js';
import type {
  PartitionRecordReader,
  RecordRangeRead,
  RecordView,
} from '../../../src/kafka/record-range-reader.js';
import { ChangelogFold, restorePartition } from '../../../src/processor/restore.js';
import { ctr, obs, SEC, T0, tuple, wm } from '../flow/helpers.js';

const stateCodec = new FlowStateCodec();

/** A stream of three flows on two nodes: polls, a destroy, idle and active timeouts. */
function stream(): Array<Observation | Watermark> {
  const out: Array<Observation | Watermark> = [];
  for (let s = 0; s < 200; s++) {
    const t = T0 + s * SEC;
    for (const [i, node] of ['n1', 'n2'].entries()) {
      if (s < 150) out.push(obs({ node, timeUs: t, conntrackId: 1 + i, counters: ctr(s + 1) }));
      if (s >= 20 && s < 60) {
        out.push(
          obs({
            node,
            timeUs: t,
            conntrackId: 10 + i,
            orig: tuple('10.0.0.9', 5000, '10.0.0.2', 53),
            protocol: 17,
            tcpState: null,
            counters: ctr(s - 19),
          }),
        );
      }
      if (s === 60) {
        out.push(
          obs({
            node,
            kind: 'DESTROY',
            timeUs: t,
            conntrackId: 10 + i,
            orig: tuple('10.0.0.9', 5000, '10.0.0.2', 53),
            protocol: 17,
            tcpState: null,
            counters: ctr(40),
          }),
        );
      }
      out.push(wm(t + SEC - 1, node));
    }
  }
  return out;
}

/** One RecordView reused for every record, as the wire reader hands them out: it shows current()'s message. */
function viewOf(current: () => ConsumedMessage): RecordView {
  return {
    get offset() {
      return current().offset;
    },
    key: () => current().key,
    keyString: () => current().key?.toString('utf8') ?? null,
    value: () => current().value,
    header: (name) => current().headers[name] ?? null,
  };
}

function feed(engine: ReturnType<typeof createFlowEngine>, items: Array<Observation | Watermark>): void {
  for (const x of items) {
    if ('kind' in x) engine.observe(x);
    else engine.watermark(x);
  }
}

test('a state folded from the changelog continues exactly like the engine that wrote it', () => {
  const items = stream();
  const cut = Math.floor(items.length * 0.55);
  const writer = createFlowEngine();
  const log: ConsumedMessage[] = [];
  let offset = 0;
  const append = (key: string, value: Buffer | null) =>
    log.push({
      topic: 'state',
      partition: 0,
      offset: offset++,
      timestampMs: 0,
      key: Buffer.from(key),
      value,
      headers: {},
    });
  // Written in batches, as the processor does: changes (and tombstones), then a marker.
  for (let i = 0; i < cut; i += 97) {
    feed(writer, items.slice(i, Math.min(i + 97, cut)));
    for (const c of writer.drain().changes) append(c.key, stateCodec.encode(c.state));
    append(MARKER_KEY, encodeMarker({ phase: 'exported', coveredTo: i + 97, to: i + 97 }));
  }
  expect(log.some((m) => m.value === null)).toBe(true);

  const fold = new ChangelogFold();
  fold.add({ topic: 'state', partition: 0, highWatermark: offset, messages: log });
  const entries: FlowStateEntry[] = fold.entries(stateCodec, 'state[0]');
  expect(entries.some((e) => e.key === MARKER_KEY)).toBe(false);
  expect(fold.marker?.phase).toBe('exported');
  expect(fold.records).toBe(log.length);

  const restored = createFlowEngine();
  restored.restore(entries);
  expect(restored.size).toBe(writer.size);
  expect(restored.snapshot()).toEqual(writer.snapshot());

  feed(writer, items.slice(cut));
  feed(restored, items.slice(cut));
  const a = writer.drain().records;
  const b = restored.drain().records;
  expect(a.length).toBeGreaterThan(0);
  expect(b).toEqual(a);
});

test('the newest value of a key wins; a tombstone removes it', () => {
  const engine = createFlowEngine();
  engine.observe(obs({ timeUs: T0 }));
  const [node, flow] = engine.drain().changes;
  const msg = (o: number, key: string, value: Buffer | null): ConsumedMessage => ({
    topic: 's',
    partition: 0,
    offset: o,
    timestampMs: 0,
    key: Buffer.from(key),
    value,
    headers: {},
  });
  const fold = new ChangelogFold();
  fold.add({
    topic: 's',
    partition: 0,
    highWatermark: 4,
    messages: [
      msg(0, flow!.key, stateCodec.encode(flow!.state)),
      msg(1, node!.key, stateCodec.encode(node!.state)),
      msg(2, flow!.key, null),
      msg(3, MARKER_KEY, encodeMarker({ phase: 'exporting', coveredTo: 0, to: 3 })),
    ],
  });
  expect(fold.entries(stateCodec, 's[0]').map((e) => e.key)).toEqual([node!.key]);
  expect(fold.marker).toEqual({ phase: 'exporting', coveredTo: 0, to: 3 });
});

test('restorePartition loads the changelog bytes straight into the engine: the same state as restore()', async () => {
  const items = stream();
  const writer = createFlowEngine();
  const log: ConsumedMessage[] = [];
  const append = (key: string, value: Buffer | null) =>
    log.push({
      topic: 's',
      partition: 2,
      offset: log.length,
      timestampMs: 0,
      key: Buffer.from(key),
      value,
      headers: {},
    });
  const end = Math.floor(items.length * 0.8);
  for (let i = 0; i < end; i += 50) {
    feed(writer, items.slice(i, Math.min(i + 50, end)));
    for (const c of writer.drain().changes) append(c.key, stateCodec.encode(c.state));
    append(MARKER_KEY, encodeMarker({ phase: 'exported', coveredTo: i + 50, to: i + 50 }));
  }
  // Superseded values and tombstones are in the log: the last value of a key must win.
  expect(log.some((m) => m.value === null)).toBe(true);
  expect(new Set(log.map((m) => m.key!.toString())).size).toBeLessThan(log.length - 20);
  const reads: RecordRangeRead[] = [];
  let engine: ReturnType<typeof createFlowEngine> | undefined;
  /** Flows in the engine after each fetch: it loads each fetch while the next one is on its way. */
  const loadedAfterFetch: number[] = [];
  const reader: PartitionRecordReader = {
    async readRecords(range) {
      reads.push(range);
      // Two fetches, as a reader hands them out; one view object reused for every record, as the wire reader.
      const half = Math.floor(log.length / 2);
      let m = log[0]!;
      const view = viewOf(() => m);
      for (const [from, to] of [
        [0, half],
        [half, log.length],
      ] as const) {
        for (let i = from; i < to; i++) {
          m = log[i]!;
          range.onRecord(view);
        }
        await range.onProgress?.(to);
        loadedAfterFetch.push(engine?.size ?? -1);
      }
      return { partition: 2, records: log.length, lastOffset: log.length - 1, complete: true };
    },
    fallbacks: () => ({}),
    async close() {},
  };
  let progress = 0;
  const restored = await restorePartition({
    reader,
    codec: stateCodec,
    topic: 's',
    partition: 2,
    fromOffset: 0,
    toOffset: log.length,
    createEngine: () => {
      engine = createFlowEngine();
      return engine;
    },
    onProgress: () => {
      progress++;
    },
  });
  expect(restored.engine).toBe(engine);
  expect(loadedAfterFetch[0]).toBeGreaterThan(0);
  expect(loadedAfterFetch[1]).toBeGreaterThanOrEqual(restored.entries);
  expect(reads.map((r) => [r.partition, r.fromOffset, r.toOffset])).toEqual([[2, 0, log.length]]);
  expect(progress).toBe(2);
  expect(restored.records).toBe(log.length);
  expect(restored.marker?.phase).toBe('exported');
  expect(restored.entries).toBe(writer.size);
  expect(restored.engine.snapshot()).toEqual(writer.snapshot());
  // The same engine as restore() of the newest value per key, decoded.
  const fold = new ChangelogFold();
  fold.add({ topic: 's', partition: 2, highWatermark: log.length, messages: log });
  const viaEntries = createFlowEngine();
  viaEntries.restore(fold.entries(stateCodec, 's[2]'));
  expect(restored.engine.snapshot()).toEqual(viaEntries.snapshot());
  feed(writer, items.slice(end));
  feed(restored.engine, items.slice(end));
  expect(restored.engine.drain().records).toEqual(writer.drain().records);
  expect(restored.readMs + restored.loadMs).toBe(restored.durationMs);
});

test('the fold hands restoreEncoded every (key, value) in offset order, the marker left out, as an array of that length', () => {
  const msg = (o: number, key: string, value: string | null): ConsumedMessage => ({
    topic: 's',
    partition: 0,
    offset: o,
    timestampMs: 0,
    key: Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers: {},
  });
  const fold = new ChangelogFold('s[0]');
  fold.add({
    topic: 's',
    partition: 0,
    highWatermark: 4,
    messages: [
      msg(0, 'a', '1'),
      msg(1, MARKER_KEY, JSON.stringify({ v: 1, phase: 'exported', coveredTo: 1, to: 1 })),
      msg(2, 'b', null),
      msg(3, 'a', '2'),
    ],
  });
  const sequence = fold.sequence;
  // An array of the pairs' count: restoreEncoded reserves table room from an array's length.
  expect(Array.isArray(sequence)).toBe(true);
  expect((sequence as unknown[]).length).toBe(3);
  const pairs = [...sequence].map(([k, v]) => [k, v?.toString() ?? null]);
  expect(pairs).toEqual([
    ['a', '1'],
    ['b', null],
    ['a', '2'],
  ]);
  // Iterable again, from the start.
  expect([...sequence]).toHaveLength(3);
  expect(fold.latest).toEqual(
    new Map([
      ['a', Buffer.from('2')],
      ['b', null],
    ]),
  );
});

test('a corrupt changelog value fails the restore after the read (the reader never sees the engine error), naming the key', async () => {
  const writer = createFlowEngine();
  feed(writer, stream().slice(0, 40));
  const log = writer
    .drain()
    .changes.map((c) => ({ key: Buffer.from(c.key), value: stateCodec.encode(c.state) as Buffer | null }));
  const flowIndex = log.findIndex((m) => m.key.toString().includes('|'));
  const bad = log[flowIndex] as { key: Buffer; value: Buffer | null };
  bad.value = Buffer.from('{"json":1}');
  let m = log[0] as { key: Buffer; value: Buffer | null };
  let offset = 0;
  const view: RecordView = {
    get offset() {
      return offset;
    },
    key: () => m.key,
    keyString: () => m.key.toString('utf8'),
    value: () => m.value,
    header: () => null,
  };
  const progressErrors: unknown[] = [];
  let fetches = 0;
  const reader: PartitionRecordReader = {
    async readRecords(range) {
      // One record per fetch: the bad one comes first of several.
      for (let i = flowIndex; i < log.length; i++) {
        m = log[i] as { key: Buffer; value: Buffer | null };
        offset = i;
        range.onRecord(view);
        fetches++;
        await Promise.resolve(range.onProgress?.(i + 1)).catch((err: unknown) => progressErrors.push(err));
      }
      return { partition: 0, records: log.length, lastOffset: log.length - 1, complete: true };
    },
    fallbacks: () => ({}),
    async close() {},
  };
  await expect(
    restorePartition({
      reader,
      codec: stateCodec,
      topic: 's',
      partition: 0,
      fromOffset: 0,
      toOffset: log.length,
      createEngine: () => createFlowEngine(),
    }),
  ).rejects.toThrow(`s[0] key ${bad.key.toString()}: not an Avro single-object flow state`);
  expect(fetches).toBe(log.length - flowIndex);
  expect(fetches).toBeGreaterThan(1);
  expect(progressErrors).toEqual([]);
});

/**
 * A changelog of `flows` distinct TCP flows on 4 nodes followed by `updates` newer values of the first flows
 * (none compacted yet), as messages; and a reader handing it out in fetches of `perFetch` records.
 */
function bigChangelog(flows: number, updates: number, perFetch: number) {
  const writer = createFlowEngine();
  const log: ConsumedMessage[] = [];
  const drainInto = (): void => {
    for (const c of writer.drain().changes) {
      log.push({
        topic: 's',
        partition: 0,
        offset: log.length,
        timestampMs: 0,
        key: Buffer.from(c.key),
        value: stateCodec.encode(c.state),
        headers: {},
      });
    }
  };
  const flowObs = (i: number, s: number): Observation =>
    obs({
      node: `n${i % 4}`,
      timeUs: T0 + s * SEC,
      conntrackId: 1 + i,
      orig: tuple(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 40000, '10.255.0.1', 443),
      counters: ctr(s + 1),
    });
  for (let i = 0; i < flows; i++) writer.observe(flowObs(i, 0));
  drainInto();
  for (let u = 0; u < updates; u++) {
    writer.observe(flowObs(u % 1000, 1 + Math.floor(u / 1000)));
    if (u % 1000 === 999) drainInto();
  }
  drainInto();
  const reader: PartitionRecordReader = {
    async readRecords(range) {
      let m = log[0]!;
      const view = viewOf(() => m);
      for (let from = 0; from < log.length; from += perFetch) {
        const to = Math.min(log.length, from + perFetch);
        for (let i = from; i < to; i++) {
          m = log[i]!;
          range.onRecord(view);
        }
        await range.onProgress?.(to);
      }
      return { partition: 0, records: log.length, lastOffset: log.length - 1, complete: true };
    },
    fallbacks: () => ({}),
    async close() {},
  };
  return { writer, log, reader };
}

/** restorePartition of `reader`, with every FlowEngine.restoreReserve() call's argument recorded. */
async function restoreCountingReserves(reader: PartitionRecordReader, records: number) {
  const reserves: number[] = [];
  const restored = await restorePartition({
    reader,
    codec: stateCodec,
    topic: 's',
    partition: 0,
    fromOffset: 0,
    toOffset: records,
    createEngine: () => {
      const engine = createFlowEngine();
      const reserve = engine.restoreReserve.bind(engine);
      engine.restoreReserve = (n: number) => {
        reserves.push(n);
        reserve(n);
      };
      return engine;
    },
  });
  return { restored, reserves };
}

test('a restore beyond the first reservation grows the flow table once, to its estimated final size', async () => {
  // More flows than restorePartition reserves before reading (131,072), in 5 fetches.
  const flows = 150_000;
  const { writer, log, reader } = bigChangelog(flows, 0, 30_000);
  const { restored, reserves } = await restoreCountingReserves(reader, log.length);
  expect(restored.entries).toBe(flows);
  expect(restored.engine.size).toBe(writer.size);
  // Once, after the first fetch: the estimate from it (every record a new flow) plus 10 %.
  expect(reserves).toHaveLength(1);
  expect(reserves[0]).toBeGreaterThanOrEqual(flows);
  expect(reserves[0]).toBeLessThanOrEqual(Math.ceil(log.length * 1.1));
}, 60_000);

test('the reservation is bounded by the flows loaded so far when later records update the same flows', async () => {
  // 2,000 flows, then 150,000 updates of the first 1,000: after the first fetch (2,000 flows of 2,000
  // records) the estimate is every record (~152,000, more than reserved before reading); it is capped at
  // 8 × the flows loaded.
  const { writer, log, reader } = bigChangelog(2_000, 150_000, 2_000);
  expect(log.length).toBeGreaterThan(131_072);
  const { restored, reserves } = await restoreCountingReserves(reader, log.length);
  expect(restored.entries).toBe(2_000);
  expect(restored.engine.snapshot()).toEqual(writer.snapshot());
  // 16,000 is below what was reserved before reading (131,072): no growth at all.
  expect(reserves).toEqual([]);
}, 60_000);
