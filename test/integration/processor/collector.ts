/**
 * A collector for processor tests: ctflow's own IPFIX decoder behind a TCP listener (TCP so that nothing
 * is lost between exporter and collector on a busy machine), summing delta counters per flow.
 */
import { type DecodedRecord, Decoder } from '../../../src/ipfix/decoder.js';
import { REVERSE_PEN } from '../../../src/ipfix/registry.js';
import { listen, type Listener } from '../../../src/ipfix/transport/listener.js';
import type { Counters } from '../../../src/flow/types.js';

const CTFLOW_PEN = 32473;

/** A data record as a test compares it: the fields that describe the flow, without export metadata. */
export interface CollectedRecord {
  domain: number;
  identity: string;
  conntrackId: number;
  recordIndex: number;
  delta: Counters;
  /** Every field value, keyed "pen.id", for whole-record comparisons. */
  fields: Record<string, string>;
}

function field(r: DecodedRecord, id: number, pen = 0): number | string | undefined {
  const f = r.fields.find((x) => x.id === id && x.pen === pen);
  if (f === undefined) return undefined;
  const v = f.value;
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' || typeof v === 'string' ? v : String(v);
}

function num(r: DecodedRecord, id: number, pen = 0): number {
  const v = field(r, id, pen);
  return typeof v === 'number' ? v : 0;
}

/** A running test collector. */
export class TestCollector {
  readonly records: CollectedRecord[] = [];
  #decoder = new Decoder();
  #unknownBefore = 0;
  #listener: Listener | undefined;
  errors = 0;

  /**
   * Listens on tcp://127.0.0.1:<port> (default a free one). After close(), start(samePort) is a collector
   * restart: a fresh decoder that knows no template (records kept).
   */
  async start(port = 0): Promise<string> {
    this.#listener = await listen(
      { protocol: 'tcp', host: '127.0.0.1', port, url: `tcp://127.0.0.1:${port}` },
      {
        message: (msg, exporter, transport) => {
          const res = this.#decoder.decode(msg, exporter, transport, Date.now());
          for (const r of res.records) if (r.scopeCount === 0) this.records.push(this.#convert(r));
        },
        closed: (exporter) => this.#decoder.forget(exporter),
        error: () => {
          this.errors++;
        },
      },
    );
    return `tcp://127.0.0.1:${this.#listener.port}`;
  }

  #convert(r: DecodedRecord): CollectedRecord {
    const fields: Record<string, string> = {};
    for (const f of r.fields)
      fields[`${f.pen}.${f.id}`] =
        typeof f.value === 'object' ? Buffer.from(f.value).toString('hex') : String(f.value);
    return {
      domain: r.observationDomainId,
      identity: `${field(r, 8)}|${num(r, 7)}|${field(r, 12)}|${num(r, 11)}|${num(r, 4)}`,
      conntrackId: num(r, 3, CTFLOW_PEN),
      recordIndex: num(r, 2, CTFLOW_PEN),
      delta: {
        origBytes: num(r, 1),
        origPackets: num(r, 2),
        replyBytes: num(r, 1, REVERSE_PEN),
        replyPackets: num(r, 2, REVERSE_PEN),
      },
      fields,
    };
  }

  /** Sum of deltas per flow identity. */
  totals(): Map<string, Counters> {
    const out = new Map<string, Counters>();
    for (const r of this.records) {
      const t = out.get(r.identity) ?? { origBytes: 0, origPackets: 0, replyBytes: 0, replyPackets: 0 };
      t.origBytes += r.delta.origBytes;
      t.origPackets += r.delta.origPackets;
      t.replyBytes += r.delta.replyBytes;
      t.replyPackets += r.delta.replyPackets;
      out.set(r.identity, t);
    }
    return out;
  }

  /** Records seen more than once (same domain, flow, connection and record index), counted beyond the first. */
  duplicates(): number {
    const seen = new Set<string>();
    let dups = 0;
    for (const r of this.records) {
      const k = `${r.domain}|${r.identity}|${r.conntrackId}|${r.recordIndex}`;
      if (seen.has(k)) dups++;
      else seen.add(k);
    }
    return dups;
  }

  /** Sum of deltas per flow with repeated records counted once. */
  dedupedTotals(): Map<string, Counters> {
    const seen = new Set<string>();
    const out = new Map<string, Counters>();
    for (const r of this.records) {
      const k = `${r.domain}|${r.identity}|${r.conntrackId}|${r.recordIndex}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const t = out.get(r.identity) ?? { origBytes: 0, origPackets: 0, replyBytes: 0, replyPackets: 0 };
      t.origBytes += r.delta.origBytes;
      t.origPackets += r.delta.origPackets;
      t.replyBytes += r.delta.replyBytes;
      t.replyPackets += r.delta.replyPackets;
      out.set(r.identity, t);
    }
    return out;
  }

  /** Data sets that arrived before their template, over every start (a restart must see templates first). */
  get unknownTemplateSets(): number {
    return this.#unknownBefore + this.#decoder.stats().unknownTemplateSets;
  }

  /** Stops listening (connections closed); records are kept for start(port) again. */
  async close(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    this.#unknownBefore += this.#decoder.stats().unknownTemplateSets;
    this.#decoder = new Decoder();
    await listener?.close();
  }
}

function text(c: Counters): string {
  return `${c.origPackets}p/${c.origBytes}B ${c.replyPackets}p/${c.replyBytes}B`;
}

/** Flows whose collected totals differ from the truth, as readable lines (empty when all match). */
export function compareTotals(truth: Map<string, Counters>, got: Map<string, Counters>): string[] {
  const problems: string[] = [];
  for (const [id, want] of truth) {
    const have = got.get(id);
    if (have === undefined) problems.push(`${id}: missing (want ${JSON.stringify(want)})`);
    else if (text(have) !== text(want)) problems.push(`${id}: got ${text(have)} want ${text(want)}`);
  }
  for (const id of got.keys()) if (!truth.has(id)) problems.push(`${id}: not in the workload`);
  return problems;
}
