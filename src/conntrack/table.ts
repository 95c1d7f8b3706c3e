import type { Counters, EventKind, Observation, Tuple } from '../flow/types.js';
import type { ConntrackEntry, ConntrackEvent } from './entry.js';
import { isIcmp } from './entry.js';
import { EntryStore } from './entry-store.js';
import { IPS } from './status.js';

/** Who is observing: stamped on every observation. */
export interface TableContext {
  node: string;
  bootId: string;
  /** nf_conntrack_acct as read at start: NEW events then start from zero counters instead of none. */
  acct: boolean;
}

/** Counts of what the table did that is not one observation per input. */
export interface TableStats {
  /** Entries that disappeared between dumps without a DESTROY event: a DESTROY was synthesised. */
  syntheticDestroys: number;
  /** Conntrack ids seen again for a different connection (the kernel reuses ids). */
  idReuses: number;
  /** Dump lines of entries whose DESTROY event had already been handled (read before the destroy). */
  staleDumpLines: number;
  /** DESTROY events that came after the table had already synthesised one for the entry. */
  lateDestroys: number;
  /**
   * Observations reported later than their own time because a newer one had been reported already
   * (an event printed before a dump chunk that was handled first, or the agent clock behind
   * conntrack's): without it the flow engine would drop them as late.
   */
  retimed: number;
  /** Largest such shift, µs. */
  retimedMaxUs: number;
}

/** TableStats of a table that has not seen anything yet. */
export function emptyTableStats(): TableStats {
  return {
    syntheticDestroys: 0,
    idReuses: 0,
    staleDumpLines: 0,
    lateDestroys: 0,
    retimed: 0,
    retimedMaxUs: 0,
  };
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
export class ConntrackTable {
  /**
   * Per conntrack id: the entry last reported, the number of the last dump that showed it (or during
   * which an event announced it), and the fingerprint of the dump line last parsed for it (null after
   * an event). Compact rows (entry-store.ts): at 100,000 entries this is most of the agent's heap.
   */
  private readonly known = new EntryStore();
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

  private synthDestroy(entry: ConntrackEntry, timeUs: number): Observation {
    this.stats.syntheticDestroys++;
    this.synthesised.set(entry.conntrackId, entry);
    return this.observation('DESTROY', timeUs, {
      ...entry,
      status: entry.status | IPS.DYING,
    });
  }

  /** Handles one event; returns what to report (usually one observation, none for duplicates). */
  event(ev: ConntrackEvent): Observation[] {
    const e = ev.entry;
    const id = e.conntrackId;
    let slot = this.known.find(id);
    const prev = slot < 0 ? undefined : this.known.entry(slot);
    const out: Observation[] = [];
    if (prev !== undefined && !sameConnection(prev, e)) {
      this.stats.idReuses++;
      this.known.remove(slot);
      slot = -1;
      out.push(this.synthDestroy(prev, ev.timeUs));
    }
    const same = slot >= 0 ? prev : undefined;
    switch (ev.kind) {
      case 'NEW': {
        this.destroyed.delete(id);
        this.synthesised.delete(id);
        // A dump may have reported the entry before its NEW event arrived: nothing new then.
        if (same !== undefined) return out;
        const entry = { ...e, counters: e.counters ?? (this.ctx.acct ? ZERO : null) };
        this.known.add(entry, this.generation, null);
        out.push(this.observation('NEW', ev.timeUs, entry));
        return out;
      }
      case 'UPDATE': {
        const entry: ConntrackEntry = {
          ...e,
          counters: e.counters ?? same?.counters ?? (this.ctx.acct ? ZERO : null),
          kernelStartUs: e.kernelStartUs ?? same?.kernelStartUs ?? null,
        };
        if (slot >= 0) this.known.replace(slot, entry, this.known.generation(slot), null);
        else this.known.add(entry, this.generation, null);
        out.push(this.observation('UPDATE', ev.timeUs, entry));
        return out;
      }
      case 'DESTROY': {
        if (slot >= 0) this.known.remove(slot);
        this.destroyed.set(id, e);
        const ghost = this.synthesised.get(id);
        if (same === undefined && ghost !== undefined && sameConnection(ghost, e)) {
          this.stats.lateDestroys++;
          this.synthesised.delete(id);
          return out;
        }
        const entry: ConntrackEntry = {
          ...e,
          counters: e.counters ?? same?.counters ?? null,
          kernelStartUs: e.kernelStartUs ?? same?.kernelStartUs ?? null,
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
    const slot = this.known.find(entry.conntrackId);
    if (slot < 0) return null;
    const prev = this.known.entry(slot);
    if (!sameConnection(prev, entry) || prev.orig.icmpId === null) return null;
    return withIcmpFrom(entry, prev);
  }

  /**
   * Fast path of a dump: when the line of entry `id` has the same fingerprint as the line last
   * parsed for it, the entry is marked seen and true is returned (nothing to parse or report).
   */
  unchanged(id: number, fingerprint: number): boolean {
    const slot = this.known.find(id);
    if (slot < 0 || this.known.fingerprint(slot) !== fingerprint || this.destroyed.has(id)) return false;
    this.known.setGeneration(slot, this.generation);
    return true;
  }

  /**
   * End of a dump diffed by the reader itself (diff-session.ts), which printed only new and changed
   * entries (handed to dumpEntry) and holds the rest: every entry this dump has not shown yet whose
   * id the reader `held` unchanged through the dump is marked seen. Call before endDump().
   */
  keepUnchanged(held: (id: number) => boolean): void {
    const known = this.known;
    for (let s = known.first(); s >= 0; s = known.next(s)) {
      if (known.generation(s) < this.generation && held(known.id(s))) known.setGeneration(s, this.generation);
    }
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
    const slot = this.known.find(id);
    if (slot < 0) {
      this.known.add(entry, this.generation, fingerprint);
      return [this.observation('POLL', seenUs, entry)];
    }
    const prev = this.known.entry(slot);
    if (sameConnection(prev, entry)) {
      if (!changed(prev, entry)) {
        this.known.setGeneration(slot, this.generation);
        this.known.setFingerprint(slot, fingerprint);
        return [];
      }
      this.known.replace(slot, entry, this.generation, fingerprint);
      return [this.observation('POLL', seenUs, entry)];
    }
    this.stats.idReuses++;
    const out = [this.synthDestroy(prev, seenUs)];
    // The id keeps its place in the table's order (a Map's set() of a known key did the same).
    this.known.replace(slot, entry, this.generation, fingerprint);
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
    const known = this.known;
    for (let s = known.first(); s >= 0; ) {
      const next = known.next(s);
      if (known.generation(s) < this.generation) {
        const entry = known.entry(s);
        known.remove(s);
        out.push(this.synthDestroy(entry, endUs));
      }
      s = next;
    }
    // Dumps that start from now on cannot show entries destroyed before.
    this.destroyed = new Map();
    // The source's watermark says everything up to endUs was observed: nothing may come before it.
    if (endUs > this.highUs) this.highUs = endUs;
    return out;
  }
}
