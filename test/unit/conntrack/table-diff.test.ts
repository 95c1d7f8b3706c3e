import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConntrackEntry, ConntrackEvent } from '../../../src/conntrack/entry.js';
import { parseXmlDumpLine } from '../../../src/conntrack/parse-xml-dump.js';
import { ConntrackTable } from '../../../src/conntrack/table.js';
import type { Observation } from '../../../src/flow/types.js';
import { fixtureLines } from './fixtures.js';

/**
 * The diffed dump path (the reader prints only new/changed entries and the ids gone; the table keeps
 * the rest with keepUnchanged) must report exactly what the full dump path reports (every line
 * handed to the table, unchanged lines recognised by their fingerprint).
 */

const ctx = { node: 'n1', bootId: 'b1', acct: true };
const TCP_ID = 1656340530;
const template = fixtureLines('dump-xml.txt')
  .map((l) => parseXmlDumpLine(l))
  .find((e): e is ConntrackEntry => e !== null && e.conntrackId === TCP_ID) as ConntrackEntry;

/** Connection `conn` (its client port) under conntrack id `id`, with `packets` each way and a TCP state. */
function entry(
  id: number,
  conn: number,
  packets: number,
  state: 'ESTABLISHED' | 'TIME_WAIT',
): ConntrackEntry {
  return {
    ...template,
    conntrackId: id,
    orig: { ...template.orig, srcPort: 40000 + conn },
    reply: { ...template.reply, dstPort: 40000 + conn },
    tcpState: state,
    counters: {
      origPackets: packets,
      origBytes: packets * 60,
      replyPackets: packets,
      replyBytes: packets * 60,
    },
  };
}

const fingerprint = (e: ConntrackEntry): string => JSON.stringify(e);

/** The full dump path, as readDump() runs it for conntrack-tools: every line, fingerprinted. */
class FullPath {
  readonly table = new ConntrackTable(ctx);
  private readonly prints = new Map<string, number>();

  private fp(e: ConntrackEntry): number {
    const key = fingerprint(e);
    let n = this.prints.get(key);
    if (n === undefined) {
      n = this.prints.size + 1;
      this.prints.set(key, n);
    }
    return n;
  }

  dump(kernel: ConntrackEntry[], t: number): Observation[] {
    const out: Observation[] = [];
    this.table.beginDump();
    kernel.forEach((e, i) => {
      const fp = this.fp(e);
      if (!this.table.unchanged(e.conntrackId, fp)) out.push(...this.table.dumpEntry(e, t + i, fp));
    });
    return [...out, ...this.table.endDump(t + 1000)];
  }
}

/** The diffed path: a reader (as tools/ctnetlink serve) diffs; the table gets changes and gone ids. */
class DiffPath {
  readonly table = new ConntrackTable(ctx);
  /** The reader's state: fingerprint per id. */
  private readonly reader = new Map<number, string>();
  readonly forgotten = new Set<number>();

  dump(kernel: ConntrackEntry[], t: number): Observation[] {
    for (const id of this.forgotten) this.reader.delete(id);
    this.forgotten.clear();
    const out: Observation[] = [];
    this.table.beginDump();
    const present = new Set<number>();
    kernel.forEach((e, i) => {
      present.add(e.conntrackId);
      const fp = fingerprint(e);
      if (this.reader.get(e.conntrackId) === fp) return;
      this.reader.set(e.conntrackId, fp);
      out.push(...this.table.dumpEntry(e, t + i));
    });
    for (const id of [...this.reader.keys()]) if (!present.has(id)) this.reader.delete(id);
    this.table.keepUnchanged((id) => this.reader.has(id));
    return [...out, ...this.table.endDump(t + 1000)];
  }

  event(ev: ConntrackEvent): Observation[] {
    this.forgotten.add(ev.entry.conntrackId);
    return this.table.event(ev);
  }
}

type Op =
  | { op: 'add'; id: number; conn: number }
  | { op: 'traffic'; id: number }
  | { op: 'close'; id: number }
  | { op: 'vanish'; id: number }
  | { op: 'event'; kind: 'NEW' | 'UPDATE' | 'DESTROY'; id: number }
  | { op: 'dump' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('add' as const),
    id: fc.integer({ min: 1, max: 6 }),
    conn: fc.integer({ min: 0, max: 9 }),
  }),
  fc.record({ op: fc.constant('traffic' as const), id: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('close' as const), id: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('vanish' as const), id: fc.integer({ min: 1, max: 6 }) }),
  fc.record({
    op: fc.constant('event' as const),
    kind: fc.constantFrom('NEW' as const, 'UPDATE' as const, 'DESTROY' as const),
    id: fc.integer({ min: 1, max: 6 }),
  }),
  fc.constant({ op: 'dump' as const }),
  fc.constant({ op: 'dump' as const }),
);

/** Runs `ops` against a simulated kernel table through both paths; returns both observation streams. */
function simulate(ops: Op[]): { full: Observation[]; diff: Observation[] } {
  const kernel = new Map<number, ConntrackEntry>();
  const full = new FullPath();
  const diff = new DiffPath();
  const a: Observation[] = [];
  const b: Observation[] = [];
  let t = 1_000_000;
  for (const o of ops) {
    t += 10_000;
    const cur = 'id' in o ? kernel.get(o.id) : undefined;
    switch (o.op) {
      case 'add':
        // A new connection, or the kernel reusing the id of a connection that ended silently.
        kernel.set(o.id, entry(o.id, o.conn, 1, 'ESTABLISHED'));
        break;
      case 'traffic':
        if (cur)
          kernel.set(o.id, {
            ...cur,
            counters: entry(0, 0, (cur.counters?.origPackets ?? 0) + 1, 'ESTABLISHED').counters,
          });
        break;
      case 'close':
        if (cur) kernel.set(o.id, { ...cur, tcpState: 'TIME_WAIT' });
        break;
      case 'vanish':
        kernel.delete(o.id);
        break;
      case 'event': {
        if (cur === undefined) break;
        // conntrack -E: NEW/UPDATE without counters, DESTROY with the final ones.
        const ev: ConntrackEvent = {
          kind: o.kind,
          timeUs: t,
          entry: o.kind === 'DESTROY' ? cur : { ...cur, counters: null },
        };
        if (o.kind === 'DESTROY') kernel.delete(o.id);
        a.push(...full.table.event(ev));
        b.push(...diff.event(ev));
        break;
      }
      case 'dump': {
        const rows = [...kernel.values()];
        a.push(...full.dump(rows, t));
        b.push(...diff.dump(rows, t));
        break;
      }
    }
  }
  return { full: a, diff: b };
}

describe('diffed dumps (reader ctnetlink serve) report what full dumps report', () => {
  it('same observations, in the same order, for any sequence of traffic, id reuse, vanishing and events between dumps', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const { full, diff } = simulate(ops);
        expect(diff).toEqual(full);
      }),
      { numRuns: 400 },
    );
  });

  it('an unchanged entry is kept, one that vanished gets its synthetic DESTROY at the end of the dump', () => {
    const { diff } = simulate([
      { op: 'add', id: 1, conn: 1 },
      { op: 'add', id: 2, conn: 2 },
      { op: 'dump' },
      { op: 'vanish', id: 2 },
      { op: 'dump' },
      { op: 'dump' },
    ]);
    expect(diff.map((o) => [o.kind, o.conntrackId])).toEqual([
      ['POLL', 1],
      ['POLL', 2],
      ['DESTROY', 2],
    ]);
  });

  it('an entry rewritten by an event during a dump is neither ended nor left unconfirmed', () => {
    const path = new DiffPath();
    const a = entry(1, 1, 1, 'ESTABLISHED');
    path.dump([a], 1000);
    // The UPDATE arrives while the next dump runs (after the reader passed the unchanged entry).
    path.table.beginDump();
    const update = path.event({ kind: 'UPDATE', timeUs: 2000, entry: { ...a, counters: null, mark: 5 } });
    expect(update.map((o) => o.kind)).toEqual(['UPDATE']);
    path.table.keepUnchanged((id) => id === 1);
    expect(path.table.endDump(2500)).toEqual([]);
    // The next dump prints it again (forgotten), and the table reports the kernel's view of it.
    expect(path.forgotten.has(1)).toBe(true);
    const next = path.dump([a], 3000);
    expect(next.map((o) => [o.kind, o.mark])).toEqual([['POLL', a.mark]]);
  });
});
