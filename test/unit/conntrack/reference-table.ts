/**
 * The conntrack table as it was before its entries moved into compact rows (src/conntrack/table.ts at
 * ca96222: one Map of entry objects), kept unchanged as the oracle of table-store.test.ts: the
 * compact table must report exactly what this one reports.
 */
import type { ConntrackEntry, ConntrackEvent } from '../../../src/conntrack/entry.js';
import { isIcmp } from '../../../src/conntrack/entry.js';
import { IPS } from '../../../src/conntrack/status.js';
import { emptyTableStats, type TableContext, type TableStats } from '../../../src/conntrack/table.js';
import type { Counters, EventKind, Observation, Tuple } from '../../../src/flow/types.js';

interface Known {
  entry: ConntrackEntry;
  /** Number of the last dump that showed the entry (or during which an event announced it). */
  generation: number;
  /** Fingerprint of the dump line last parsed for it (fingerprint.ts); null after an event. */
  fingerprint: number | null;
}

const ZERO: Counters = Object.freeze({ origPackets: 0, origBytes: 0, replyPackets: 0, replyBytes: 0 });

/** Same connection: same zone, family, protocol and original tuple (ICMP fields aside: XML lacks them). */
function sameConnection(a: ConntrackEntry, b: ConntrackEntry): boolean {
  return (
    a.zone === b.zone &&
    a.protocol === b.protocol &&
    a.family === b.family &&
    a.orig.src === b.orig.src &&
    a.orig.dst === b.orig.dst &&
    a.orig.srcPort === b.orig.srcPort &&
    a.orig.dstPort === b.orig.dstPort
  );
}

function sameTuple(a: Tuple, b: Tuple): boolean {
  return a.src === b.src && a.dst === b.dst && a.srcPort === b.srcPort && a.dstPort === b.dstPort;
}

function sameCounters(a: Counters | null, b: Counters | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.origPackets === b.origPackets &&
    a.origBytes === b.origBytes &&
    a.replyPackets === b.replyPackets &&
    a.replyBytes === b.replyBytes
  );
}

/** Whether a dump shows anything about an entry that downstream has not been told. */
function changed(prev: ConntrackEntry, next: ConntrackEntry): boolean {
  return (
    !sameCounters(prev.counters, next.counters) ||
    prev.tcpState !== next.tcpState ||
    prev.status !== next.status ||
    prev.mark !== next.mark ||
    prev.kernelStartUs !== next.kernelStartUs ||
    !sameTuple(prev.reply, next.reply)
  );
}

function withIcmpFrom(entry: ConntrackEntry, from: ConntrackEntry): ConntrackEntry {
  return {
    ...entry,
    orig: {
      ...entry.orig,
      icmpType: from.orig.icmpType,
      icmpCode: from.orig.icmpCode,
      icmpId: from.orig.icmpId,
    },
    reply: {
      ...entry.reply,
      icmpType: from.reply.icmpType,
      icmpCode: from.reply.icmpCode,
      icmpId: from.reply.icmpId,
    },
  };
}

/**
 * The agent's view of one conntrack table, and the only place that decides what to report: it
 * diffs each periodic dump against what it already reported and merges the event stream in.
 * Pure: times come in with the inputs; observations come out as return values.
 *
 * - A dump reports (POLL) only entries that are new or whose counters, state, status, mark, kernel
 *   stamp or reply tuple changed. An entry missing from a dump, with no DESTROY event, gets a
 *   synthetic DESTROY at the end of that dump (time = end of dump, last known counters).
 * - Events are reported as they come: NEW (with zero counters when accounting is on: the entry was
 *   just created and events carry no counters), UPDATE (state changes; the last known counters,
 *   a lower bound, since events carry none), DESTROY (final counters from the event).
 * - Conntrack ids are reused by the kernel: an id that comes back with another tuple first ends
 *   the old connection (synthetic DESTROY), then starts the new one.
 * - Observation times never go back, across all connections: the flow engine drops an observation
 *   older than its node's event time as late (that is how it stays idempotent under replay), and a
 *   dropped POLL is never repeated since the table takes it as reported. Two clocks and two pipes
 *   race here: event times are conntrack's print times, dump times the agent's clock when a chunk
 *   arrived (that clock can lag realtime by up to 1 ms), and an event can be handled after a dump
 *   chunk stamped later. Such an observation is reported at the newest time already reported (or
 *   the end of the last dump, which the source's watermark carries); counted in stats.retimed.
 */
export class ReferenceTable {
  private readonly known = new Map<number, Known>();
  /** Destroyed since the current dump began: later lines of that dump about them are stale. */
  private destroyed = new Map<number, ConntrackEntry>();
  /** Synthesised DESTROYs of the last dump: a late real DESTROY for them is dropped. */
  private synthesised = new Map<number, ConntrackEntry>();
  private generation = 0;
  /** Newest time reported (observations, and the end of the last dump: the watermark's time). */
  private highUs = 0;
  readonly stats: TableStats = emptyTableStats();

  constructor(private readonly ctx: TableContext) {}

  /** Number of live entries the table knows. */
  get size(): number {
    return this.known.size;
  }

  /** The observation of `e` at `timeUs`, or at the newest time already reported if that is later. */
  private observation(kind: EventKind, timeUs: number, e: ConntrackEntry): Observation {
    if (timeUs < this.highUs) {
      this.stats.retimed++;
      this.stats.retimedMaxUs = Math.max(this.stats.retimedMaxUs, this.highUs - timeUs);
    } else this.highUs = timeUs;
    return {
      node: this.ctx.node,
      bootId: this.ctx.bootId,
      kind,
      timeUs: this.highUs,
      conntrackId: e.conntrackId,
      zone: e.zone,
      family: e.family,
      protocol: e.protocol,
      orig: e.orig,
      reply: e.reply,
      tcpState: e.tcpState,
      status: e.status,
      mark: e.mark,
      counters: e.counters,
      kernelStartUs: e.kernelStartUs,
      kernelStopUs: e.kernelStopUs,
    };
  }

  private synthDestroy(k: Known, timeUs: number): Observation {
    this.stats.syntheticDestroys++;
    this.synthesised.set(k.entry.conntrackId, k.entry);
    return this.observation('DESTROY', timeUs, {
      ...k.entry,
      status: k.entry.status | IPS.DYING,
    });
  }

  /** Handles one event; returns what to report (usually one observation, none for duplicates). */
  event(ev: ConntrackEvent): Observation[] {
    const e = ev.entry;
    const id = e.conntrackId;
    const prev = this.known.get(id);
    const out: Observation[] = [];
    if (prev !== undefined && !sameConnection(prev.entry, e)) {
      this.stats.idReuses++;
      this.known.delete(id);
      out.push(this.synthDestroy(prev, ev.timeUs));
    }
    const same = prev !== undefined && sameConnection(prev.entry, e) ? prev : undefined;
    switch (ev.kind) {
      case 'NEW': {
        this.destroyed.delete(id);
        this.synthesised.delete(id);
        // A dump may have reported the entry before its NEW event arrived: nothing new then.
        if (same !== undefined) return out;
        const entry = { ...e, counters: e.counters ?? (this.ctx.acct ? ZERO : null) };
        this.known.set(id, { entry, generation: this.generation, fingerprint: null });
        out.push(this.observation('NEW', ev.timeUs, entry));
        return out;
      }
      case 'UPDATE': {
        const entry: ConntrackEntry = {
          ...e,
          counters: e.counters ?? same?.entry.counters ?? (this.ctx.acct ? ZERO : null),
          kernelStartUs: e.kernelStartUs ?? same?.entry.kernelStartUs ?? null,
        };
        this.known.set(id, { entry, generation: same?.generation ?? this.generation, fingerprint: null });
        out.push(this.observation('UPDATE', ev.timeUs, entry));
        return out;
      }
      case 'DESTROY': {
        this.known.delete(id);
        this.destroyed.set(id, e);
        const ghost = this.synthesised.get(id);
        if (same === undefined && ghost !== undefined && sameConnection(ghost, e)) {
          this.stats.lateDestroys++;
          this.synthesised.delete(id);
          return out;
        }
        const entry: ConntrackEntry = {
          ...e,
          counters: e.counters ?? same?.entry.counters ?? null,
          kernelStartUs: e.kernelStartUs ?? same?.entry.kernelStartUs ?? null,
        };
        out.push(this.observation('DESTROY', ev.timeUs, entry));
        return out;
      }
    }
  }

  /** Starts a dump: entries not seen by the matching endDump() are gone. */
  beginDump(): void {
    this.generation++;
  }

  /**
   * Completes the ICMP type/code/id of an XML dump entry from what the table knows of the same
   * connection. Returns the completed entry, or null when the table has never seen its ICMP fields.
   */
  completeIcmp(entry: ConntrackEntry): ConntrackEntry | null {
    if (!isIcmp(entry.protocol) || entry.orig.icmpId !== null) return entry;
    const prev = this.known.get(entry.conntrackId);
    if (prev === undefined || !sameConnection(prev.entry, entry) || prev.entry.orig.icmpId === null)
      return null;
    return withIcmpFrom(entry, prev.entry);
  }

  /**
   * Fast path of a dump: when the line of entry `id` has the same fingerprint as the line last
   * parsed for it, the entry is marked seen and true is returned (nothing to parse or report).
   */
  unchanged(id: number, fingerprint: number): boolean {
    const prev = this.known.get(id);
    if (prev === undefined || prev.fingerprint !== fingerprint || this.destroyed.has(id)) return false;
    prev.generation = this.generation;
    return true;
  }

  /**
   * End of a dump diffed by the reader itself (diff-session.ts), which printed only new and changed
   * entries (handed to dumpEntry) and holds the rest: every entry this dump has not shown yet whose
   * id the reader `held` unchanged through the dump is marked seen. Call before endDump().
   */
  keepUnchanged(held: (id: number) => boolean): void {
    // forEach: no [key, value] array per entry (100,000 entries per poll).
    this.known.forEach((k, id) => {
      if (k.generation < this.generation && held(id)) k.generation = this.generation;
    });
  }

  /**
   * Handles one dump entry seen at `seenUs`; returns what to report (often nothing). `fingerprint`
   * (of its line) lets the next dump skip the line if it has not changed.
   */
  dumpEntry(entry: ConntrackEntry, seenUs: number, fingerprint: number | null = null): Observation[] {
    const id = entry.conntrackId;
    const dead = this.destroyed.get(id);
    if (dead !== undefined && sameConnection(dead, entry)) {
      this.stats.staleDumpLines++;
      return [];
    }
    const prev = this.known.get(id);
    if (prev !== undefined && sameConnection(prev.entry, entry)) {
      prev.generation = this.generation;
      prev.fingerprint = fingerprint;
      if (!changed(prev.entry, entry)) return [];
      prev.entry = entry;
      return [this.observation('POLL', seenUs, entry)];
    }
    const out: Observation[] = [];
    if (prev !== undefined) {
      this.stats.idReuses++;
      out.push(this.synthDestroy(prev, seenUs));
    }
    this.known.set(id, { entry, generation: this.generation, fingerprint });
    out.push(this.observation('POLL', seenUs, entry));
    return out;
  }

  /**
   * Ends the dump begun last: every known entry it did not show (and no event announced during
   * it) is gone without a DESTROY event; reports a synthetic DESTROY for each at `endUs`.
   */
  endDump(endUs: number): Observation[] {
    this.synthesised = new Map();
    const out: Observation[] = [];
    for (const [id, k] of this.known) {
      if (k.generation >= this.generation) continue;
      this.known.delete(id);
      out.push(this.synthDestroy(k, endUs));
    }
    // Dumps that start from now on cannot show entries destroyed before.
    this.destroyed = new Map();
    // The source's watermark says everything up to endUs was observed: nothing may come before it.
    if (endUs > this.highUs) this.highUs = endUs;
    return out;
  }
}
