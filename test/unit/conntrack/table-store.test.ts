import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConntrackEntry, ConntrackEvent } from '../../../src/conntrack/entry.js';
import { EntryStore } from '../../../src/conntrack/entry-store.js';
import { ConntrackTable } from '../../../src/conntrack/table.js';
import type { Observation, TcpState, Tuple } from '../../../src/flow/types.js';
import { ReferenceTable } from './reference-table.js';

/**
 * The compact table (rows in typed arrays, src/conntrack/entry-store.ts) against what it replaced:
 * the store against a Map, and ConntrackTable against ReferenceTable (the Map-based table) on
 * generated sequences of events, full dumps (fingerprinted lines) and diffed dumps.
 */

const U32_MAX = 0xffffffff;

function tuple(src: string, dst: string, sp: number, dp: number, icmp: number | null): Tuple {
  return {
    src,
    dst,
    srcPort: sp,
    dstPort: dp,
    icmpType: icmp,
    icmpCode: icmp === null ? null : 0,
    icmpId: icmp,
  };
}

/** Entries with ordinary values and with values only a boxed row holds (-0, NaN, unknown state...). */
const entryArb = (idArb: fc.Arbitrary<number>): fc.Arbitrary<ConntrackEntry> =>
  fc
    .record({
      conntrackId: idArb,
      zone: fc.oneof(
        fc.constantFrom(0, 7),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.constant(-0),
      ),
      family: fc.constantFrom('IPV4' as const, 'IPV6' as const, 'OTHER' as unknown as 'IPV4'),
      protocol: fc.constantFrom(1, 6, 17, 58, 132, 2 ** 40),
      src: fc.constantFrom('10.0.0.1', '10.0.0.2', 'fd00::1', ''),
      dst: fc.constantFrom('10.0.0.9', 'fd00::9'),
      sp: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constant(-(2 ** 31)), fc.constant(2 ** 31)),
      dp: fc.integer({ min: 0, max: 65535 }),
      icmp: fc.option(fc.integer({ min: 0, max: 65535 })),
      replySp: fc.integer({ min: 0, max: 65535 }),
      tcpState: fc.constantFrom<TcpState | null>(null, 'ESTABLISHED', 'TIME_WAIT', 'BOGUS' as TcpState),
      status: fc.oneof(fc.integer({ min: 0, max: U32_MAX }), fc.double()),
      mark: fc.integer({ min: 0, max: U32_MAX }),
      counters: fc.option(
        fc.tuple(fc.nat(), fc.oneof(fc.nat(), fc.constant(2 ** 53)), fc.nat(), fc.double()),
      ),
      kernelStartUs: fc.option(fc.oneof(fc.constant(1_764_000_000_000_000), fc.double())),
      kernelStopUs: fc.option(fc.constant(1_764_000_000_500_000)),
    })
    .map(
      (r): ConntrackEntry => ({
        conntrackId: r.conntrackId,
        zone: r.zone,
        family: r.family,
        protocol: r.protocol,
        orig: tuple(r.src, r.dst, r.sp, r.dp, r.icmp),
        reply: tuple(r.dst, r.src, r.replySp, r.sp, r.icmp),
        tcpState: r.tcpState,
        status: r.status,
        mark: r.mark,
        counters:
          r.counters === null
            ? null
            : {
                origPackets: r.counters[0],
                origBytes: r.counters[1],
                replyPackets: r.counters[2],
                replyBytes: r.counters[3],
              },
        kernelStartUs: r.kernelStartUs,
        kernelStopUs: r.kernelStopUs,
      }),
    );

/** Few ids (probe runs, deletions inside runs) and a few large uint32 ones. */
const idArb = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(2 ** 31, U32_MAX, 3_000_000_001));

type StoreOp =
  | { op: 'put'; entry: ConntrackEntry; generation: number; fingerprint: number | null }
  | { op: 'remove'; id: number }
  | { op: 'touch'; id: number; generation: number; fingerprint: number | null };

const storeOpArb: fc.Arbitrary<StoreOp> = fc.oneof(
  fc.record({
    op: fc.constant('put' as const),
    entry: entryArb(idArb),
    generation: fc.nat(1000),
    fingerprint: fc.option(fc.integer({ min: 0, max: 2 ** 53 - 1 })),
  }),
  fc.record({ op: fc.constant('remove' as const), id: idArb }),
  fc.record({
    op: fc.constant('touch' as const),
    id: idArb,
    generation: fc.nat(1000),
    fingerprint: fc.option(fc.nat()),
  }),
);

interface Row {
  entry: ConntrackEntry;
  generation: number;
  fingerprint: number | null;
}

function contents(store: EntryStore): Array<[number, Row]> {
  const rows: Array<[number, Row]> = [];
  for (let s = store.first(); s >= 0; s = store.next(s)) {
    rows.push([
      store.id(s),
      { entry: store.entry(s), generation: store.generation(s), fingerprint: store.fingerprint(s) },
    ]);
  }
  return rows;
}

describe('EntryStore', () => {
  it('holds what a Map of entries holds, in the same order, for any sequence of puts, replacements and removals', () => {
    fc.assert(
      fc.property(fc.array(storeOpArb, { maxLength: 300 }), (ops) => {
        const store = new EntryStore();
        const model = new Map<number, Row>();
        for (const o of ops) {
          if (o.op === 'put') {
            const slot = store.find(o.entry.conntrackId);
            if (slot < 0) store.add(o.entry, o.generation, o.fingerprint);
            else store.replace(slot, o.entry, o.generation, o.fingerprint);
            model.set(o.entry.conntrackId, {
              entry: o.entry,
              generation: o.generation,
              fingerprint: o.fingerprint,
            });
          } else if (o.op === 'remove') {
            const slot = store.find(o.id);
            if (slot >= 0) store.remove(slot);
            model.delete(o.id);
          } else {
            const slot = store.find(o.id);
            const row = model.get(o.id);
            expect(slot >= 0).toBe(row !== undefined);
            if (slot >= 0 && row !== undefined) {
              store.setGeneration(slot, o.generation);
              store.setFingerprint(slot, o.fingerprint);
              row.generation = o.generation;
              row.fingerprint = o.fingerprint;
            }
          }
          expect(store.size).toBe(model.size);
        }
        expect(contents(store)).toEqual([...model]);
        for (const id of model.keys()) expect(store.id(store.find(id))).toBe(id);
      }),
      { numRuns: 300 },
    );
  });

  it('finds every entry of a dense index after any order of removals (probe runs that wrap around)', () => {
    const entry = (id: number): ConntrackEntry => ({ ...connection(id, 1), conntrackId: id });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: U32_MAX }), { minLength: 60, maxLength: 63 }),
        fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
        (ids, picks) => {
          const store = new EntryStore();
          for (const id of ids) store.add(entry(id), 0, null);
          const live = [...ids];
          for (const pick of picks) {
            if (live.length === 0) break;
            const [gone] = live.splice(pick % live.length, 1) as [number];
            store.remove(store.find(gone));
            expect(store.find(gone)).toBe(-1);
            expect(live.filter((id) => store.find(id) < 0 || store.id(store.find(id)) !== id)).toEqual([]);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps finding every entry across growth and heavy removal', () => {
    const store = new EntryStore();
    const entry = (id: number): ConntrackEntry => ({
      conntrackId: id,
      zone: 0,
      family: 'IPV4',
      protocol: 17,
      orig: tuple('10.0.0.1', '10.0.0.2', id & 0xffff, 53, null),
      reply: tuple('10.0.0.2', '10.0.0.1', 53, id & 0xffff, null),
      tcpState: null,
      status: 8,
      mark: 0,
      counters: { origPackets: 1, origBytes: 60, replyPackets: 0, replyBytes: 0 },
      kernelStartUs: null,
      kernelStopUs: null,
    });
    const ids = Array.from({ length: 5000 }, (_, i) => (i * 2654435761) % 2 ** 32);
    for (const id of ids) store.add(entry(id), 1, id);
    for (const id of ids.filter((_, i) => i % 3 !== 0)) store.remove(store.find(id));
    const left = ids.filter((_, i) => i % 3 === 0);
    expect(store.size).toBe(left.length);
    expect(contents(store).map(([id]) => id)).toEqual(left);
    for (const id of left) expect(store.entry(store.find(id))).toEqual(entry(id));
    for (const id of ids.filter((_, i) => i % 3 !== 0)) expect(store.find(id)).toBe(-1);
  });
});

/** One connection per (id, conn): TCP, UDP or ICMP without its ICMP fields (as the XML dump prints it). */
function connection(id: number, conn: number): ConntrackEntry {
  const kind = conn % 3;
  const icmp = kind === 2;
  return {
    conntrackId: id,
    zone: conn % 2,
    family: conn % 4 === 3 ? 'IPV6' : 'IPV4',
    protocol: kind === 0 ? 6 : kind === 1 ? 17 : 1,
    orig: tuple('10.0.0.1', '10.0.0.2', icmp ? 0 : 40000 + conn, icmp ? 0 : 443, null),
    reply: tuple('10.0.0.2', '10.0.0.1', icmp ? 0 : 443, icmp ? 0 : 40000 + conn, null),
    tcpState: kind === 0 ? 'ESTABLISHED' : null,
    status: 0xe,
    mark: 0,
    counters: { origPackets: 1, origBytes: 60, replyPackets: 1, replyBytes: 60 },
    kernelStartUs: conn % 5 === 4 ? null : 1_764_000_000_000_000 + conn,
    kernelStopUs: null,
  };
}

type TableOp =
  | { op: 'add'; id: number; conn: number }
  | { op: 'traffic'; id: number }
  | { op: 'close'; id: number }
  | { op: 'mark'; id: number }
  | { op: 'vanish'; id: number }
  | { op: 'event'; kind: 'NEW' | 'UPDATE' | 'DESTROY'; id: number; icmpFields: boolean }
  | { op: 'late'; id: number }
  | { op: 'stray'; kind: 'NEW' | 'UPDATE' | 'DESTROY'; id: number; conn: number }
  | { op: 'dump'; diffed: boolean; split: boolean };

const tableIdArb = fc.integer({ min: 1, max: 8 });
const tableOpArb: fc.Arbitrary<TableOp> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), id: tableIdArb, conn: fc.nat(11) }),
  fc.record({ op: fc.constant('traffic' as const), id: tableIdArb }),
  fc.record({ op: fc.constant('close' as const), id: tableIdArb }),
  fc.record({ op: fc.constant('mark' as const), id: tableIdArb }),
  fc.record({ op: fc.constant('vanish' as const), id: tableIdArb }),
  fc.record({
    op: fc.constant('event' as const),
    kind: fc.constantFrom('NEW' as const, 'UPDATE' as const, 'DESTROY' as const),
    id: tableIdArb,
    icmpFields: fc.boolean(),
  }),
  fc.record({ op: fc.constant('late' as const), id: tableIdArb }),
  fc.record({
    op: fc.constant('stray' as const),
    kind: fc.constantFrom('NEW' as const, 'UPDATE' as const, 'DESTROY' as const),
    id: tableIdArb,
    conn: fc.nat(11),
  }),
  fc.record({ op: fc.constant('dump' as const), diffed: fc.boolean(), split: fc.boolean() }),
  fc.record({ op: fc.constant('dump' as const), diffed: fc.boolean(), split: fc.constant(false) }),
);

/** What both tables expose; a sequence drives them the same way and compares what comes out. */
type Table = ConntrackTable | ReferenceTable;

/**
 * Feeds dumps to a table: lines fingerprinted (the conntrack-tools path) or only the lines a diffing
 * reader prints, then keepUnchanged. A split dump feeds half of its lines and leaves the dump open:
 * events arrive in the middle, the rest of the lines (as the kernel was when the dump began) follow
 * at the next dump or at the end.
 */
class Driver {
  private readonly printed = new Map<number, string>();
  private readonly forgotten = new Set<number>();
  private readonly prints = new Map<string, number>();
  private rest: ConntrackEntry[] | null = null;
  private diffed = false;
  private lineTime = 0;
  readonly out: Observation[] = [];

  constructor(readonly table: Table) {}

  dump(kernel: ConntrackEntry[], t: number, diffed: boolean, split: boolean): void {
    this.finish(t);
    for (const id of this.forgotten) this.printed.delete(id);
    this.forgotten.clear();
    this.table.beginDump();
    this.diffed = diffed;
    this.lineTime = t;
    const half = split ? kernel.length >> 1 : kernel.length;
    for (const e of kernel.slice(0, half)) this.line(e);
    this.rest = kernel.slice(half);
    if (!split) this.finish(t + 500);
  }

  private line(e: ConntrackEntry): void {
    const t = this.lineTime++;
    const text = JSON.stringify(e);
    // A fingerprint per distinct line (as the real one: equal lines, equal fingerprints).
    let fp = this.prints.get(text);
    if (fp === undefined) {
      fp = this.prints.size + 1;
      this.prints.set(text, fp);
    }
    if (this.diffed) {
      if (this.printed.get(e.conntrackId) === text) return;
      this.printed.set(e.conntrackId, text);
    } else if (this.table.unchanged(e.conntrackId, fp)) return;
    const complete = this.table.completeIcmp(e);
    if (complete !== null) this.out.push(...this.table.dumpEntry(complete, t, this.diffed ? null : fp));
  }

  finish(t: number): void {
    const rest = this.rest;
    if (rest === null) return;
    this.rest = null;
    for (const e of rest) this.line(e);
    if (this.diffed) this.table.keepUnchanged((id) => this.printed.has(id));
    this.out.push(...this.table.endDump(t));
  }

  event(ev: ConntrackEvent): void {
    this.forgotten.add(ev.entry.conntrackId);
    this.out.push(...this.table.event(ev));
  }
}

function simulate(ops: TableOp[], acct: boolean): [Driver, Driver] {
  const ctx = { node: 'n1', bootId: 'b1', acct };
  const drivers: [Driver, Driver] = [
    new Driver(new ConntrackTable(ctx)),
    new Driver(new ReferenceTable(ctx)),
  ];
  const kernel = new Map<number, ConntrackEntry>();
  /** Entries that vanished or were destroyed, by id: their DESTROY event may still come. */
  const gone = new Map<number, ConntrackEntry>();
  let t = 1_000_000;
  for (const o of ops) {
    t += 10_000;
    const cur = 'id' in o ? kernel.get(o.id) : undefined;
    switch (o.op) {
      case 'add':
        kernel.set(o.id, connection(o.id, o.conn));
        break;
      case 'traffic':
        if (cur?.counters)
          kernel.set(o.id, {
            ...cur,
            counters: { ...cur.counters, origPackets: cur.counters.origPackets + 1 },
          });
        break;
      case 'close':
        if (cur)
          kernel.set(o.id, { ...cur, tcpState: cur.protocol === 6 ? 'TIME_WAIT' : null, status: 0x20e });
        break;
      case 'mark':
        if (cur) kernel.set(o.id, { ...cur, mark: cur.mark + 1, reply: { ...cur.reply, src: '192.0.2.1' } });
        break;
      case 'vanish':
        if (cur) gone.set(o.id, cur);
        kernel.delete(o.id);
        break;
      case 'late': {
        // The DESTROY event of an entry that vanished from the dumps, arriving after them.
        const entry = gone.get(o.id);
        if (entry) for (const d of drivers) d.event({ kind: 'DESTROY', timeUs: t, entry });
        break;
      }
      case 'event': {
        if (cur === undefined) break;
        // Events print ICMP fields; NEW/UPDATE carry no counters nor (here) kernel stamps.
        const icmp = cur.protocol === 1 && o.icmpFields;
        const entry: ConntrackEntry = {
          ...cur,
          orig: icmp ? { ...cur.orig, icmpType: 8, icmpCode: 0, icmpId: o.id } : cur.orig,
          reply: icmp ? { ...cur.reply, icmpType: 0, icmpCode: 0, icmpId: o.id } : cur.reply,
          counters: o.kind === 'DESTROY' ? cur.counters : null,
          kernelStartUs: o.kind === 'DESTROY' ? cur.kernelStartUs : null,
        };
        if (o.kind === 'DESTROY') {
          kernel.delete(o.id);
          gone.set(o.id, entry);
        }
        for (const d of drivers) d.event({ kind: o.kind, timeUs: t, entry });
        break;
      }
      case 'stray':
        // An event about a connection the kernel table does not show (any more): reordering, id reuse.
        for (const d of drivers)
          d.event({ kind: o.kind, timeUs: t - 15_000, entry: connection(o.id, o.conn) });
        break;
      case 'dump': {
        const rows = [...kernel.values()].map((e) => (acct ? e : { ...e, counters: null }));
        for (const d of drivers) d.dump(rows, t, o.diffed, o.split);
        break;
      }
    }
  }
  for (const d of drivers) d.finish(t + 20_000);
  return drivers;
}

describe('ConntrackTable on compact rows reports what the Map-based table reported', () => {
  it('same observations, stats and size for any sequence of events, full and diffed dumps', () => {
    fc.assert(
      fc.property(fc.array(tableOpArb, { minLength: 1, maxLength: 80 }), fc.boolean(), (ops, acct) => {
        const [compact, reference] = simulate(ops, acct);
        expect(compact.out).toEqual(reference.out);
        expect(compact.table.stats).toEqual(reference.table.stats);
        expect(compact.table.size).toBe(reference.table.size);
      }),
      { numRuns: 500 },
    );
  });

  it('an id reused in a dump keeps its place: entries vanishing together end in the same order', () => {
    const ops: TableOp[] = [
      { op: 'add', id: 1, conn: 0 },
      { op: 'add', id: 2, conn: 1 },
      { op: 'dump', diffed: false, split: false },
      { op: 'add', id: 1, conn: 3 },
      { op: 'dump', diffed: false, split: false },
      { op: 'vanish', id: 1 },
      { op: 'vanish', id: 2 },
      { op: 'dump', diffed: true, split: false },
    ];
    const [compact, reference] = simulate(ops, true);
    expect(compact.out.filter((o) => o.kind === 'DESTROY').map((o) => o.conntrackId)).toEqual([1, 1, 2]);
    expect(compact.out).toEqual(reference.out);
  });

  it('the sequences exercise id reuse, synthetic and late destroys, stale lines and retiming', () => {
    const totals = { idReuses: 0, syntheticDestroys: 0, lateDestroys: 0, staleDumpLines: 0, retimed: 0 };
    fc.assert(
      fc.property(fc.array(tableOpArb, { minLength: 20, maxLength: 80 }), (ops) => {
        const stats = simulate(ops, true)[0].table.stats;
        for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += stats[k];
      }),
      // A fixed seed: late destroys and stale lines are a few per hundred sequences.
      { numRuns: 300, seed: 5 },
    );
    for (const v of Object.values(totals)) expect(v).toBeGreaterThan(0);
  });
});
