import { type Counters, type Family, TCP_STATE_NAMES, type TcpState, type Tuple } from '../flow/types.js';
import type { ConntrackEntry } from './entry.js';

/*
 * Layout: one row per slot in two typed arrays (numbers) and one plain array (address texts), plus an
 * open-addressing index from conntrack id to slot. A Map of entry objects costs ~470 B per entry
 * (entry, two tuples, counters, heap numbers for ids and stamps, the Map's own table); a row costs
 * ~180 B, and the garbage collector has five fewer objects per entry to trace.
 */

/** Int32 columns. */
const I_GEN = 0;
const I_FAMILY = 1; // 4, 6, or BOXED
const I_ZONE = 2;
const I_PROTO = 3;
const I_TCP = 4; // index in TCP_STATE_NAMES, or NULL_I32
const I_PREV = 5; // insertion order (doubly linked), -1 at the ends
const I_NEXT = 6; // also the free list's link
const I_ORIG = 7; // srcPort, dstPort, icmpType, icmpCode, icmpId
const I_REPLY = 12; // the same for the reply tuple
const I_STRIDE = 17;
/** Float64 columns. */
const F_ID = 0;
const F_STATUS = 1;
const F_MARK = 2;
const F_COUNTERS = 3; // origPackets, origBytes, replyPackets, replyBytes; NaN origPackets: null
const F_START = 7; // NaN: null
const F_STOP = 8;
const F_PRINT = 9; // fingerprint; NaN: null
const F_STRIDE = 10;
/** Address texts per slot: orig src, orig dst, reply src, reply dst. */
const S_STRIDE = 4;

/** Null of a nullable int column (never a value: such an entry is boxed). */
const NULL_I32 = -0x80000000;
/** I_FAMILY of a slot whose entry is kept as an object (a value the columns cannot hold exactly). */
const BOXED = 0;
const MIN_CAPACITY = 64;

const TCP_INDEX: ReadonlyMap<string, number> = new Map(TCP_STATE_NAMES.map((s, i) => [s, i]));

/** A value an int column holds exactly (not -0, not the null marker). */
function isI32(v: number): boolean {
  return (v | 0) === v && v !== NULL_I32 && !(v === 0 && 1 / v < 0);
}

function isNullableI32(v: number | null): boolean {
  return v === null || isI32(v);
}

/** A value a nullable float column holds exactly (NaN marks null). */
function isNullableF64(v: number | null): boolean {
  return v === null || !Number.isNaN(v);
}

function tupleFits(t: Tuple): boolean {
  return (
    isI32(t.srcPort) &&
    isI32(t.dstPort) &&
    isNullableI32(t.icmpType) &&
    isNullableI32(t.icmpCode) &&
    isNullableI32(t.icmpId)
  );
}

/** Whether the columns hold every field of `e` exactly; otherwise the entry is kept as an object. */
function fits(e: ConntrackEntry): boolean {
  const c = e.counters;
  return (
    (e.family === 'IPV4' || e.family === 'IPV6') &&
    isI32(e.zone) &&
    isI32(e.protocol) &&
    (e.tcpState === null || TCP_INDEX.has(e.tcpState)) &&
    tupleFits(e.orig) &&
    tupleFits(e.reply) &&
    (c === null ||
      (!Number.isNaN(c.origPackets) &&
        !Number.isNaN(c.origBytes) &&
        !Number.isNaN(c.replyPackets) &&
        !Number.isNaN(c.replyBytes))) &&
    isNullableF64(e.kernelStartUs) &&
    isNullableF64(e.kernelStopUs)
  );
}

function hashId(id: number): number {
  // Conntrack ids are uint32: a multiplicative hash of the low and high words.
  return Math.imul((id >>> 0) ^ ((id / 4294967296) | 0), 0x9e3779b1);
}

/**
 * The conntrack table's per-entry state, compact: for each conntrack id, the last entry reported, the
 * number of the last dump that showed it, and the fingerprint of its last dump line. Same contract as
 * a `Map<number, {entry, generation, fingerprint}>` (ConntrackTable used one): entries are visited in
 * insertion order, replacing an entry keeps its place, and entries come back equal to what was stored
 * (fresh objects; a value the columns cannot hold exactly keeps its entry as the object given).
 */
export class EntryStore {
  private ints = new Int32Array(0);
  private floats = new Float64Array(0);
  private texts: string[] = [];
  /** Entries whose values the columns cannot hold, by slot (none from real conntrack output). */
  private readonly boxed = new Map<number, ConntrackEntry>();
  /** Open-addressing index (linear probing): slot + 1, 0 when empty. */
  private index = new Int32Array(0);
  private capacity = 0;
  private used = 0;
  /** Slots handed out so far (slots below are live or on the free list). */
  private highSlot = 0;
  private freeHead = -1;
  private head = -1;
  private tail = -1;

  /** Number of entries. */
  get size(): number {
    return this.used;
  }

  /** Slot of entry `id`, or -1. */
  find(id: number): number {
    const mask = this.index.length - 1;
    if (mask < 0) return -1;
    for (let b = hashId(id) & mask; ; b = (b + 1) & mask) {
      const s = (this.index[b] as number) - 1;
      if (s < 0) return -1;
      if (this.floats[s * F_STRIDE + F_ID] === id) return s;
    }
  }

  /** Conntrack id of the entry in `slot`. */
  id(slot: number): number {
    return this.floats[slot * F_STRIDE + F_ID] as number;
  }

  /** Dump number stored with the entry in `slot`. */
  generation(slot: number): number {
    return this.ints[slot * I_STRIDE + I_GEN] as number;
  }

  setGeneration(slot: number, generation: number): void {
    this.ints[slot * I_STRIDE + I_GEN] = generation;
  }

  /** Fingerprint stored with the entry in `slot`. */
  fingerprint(slot: number): number | null {
    const v = this.floats[slot * F_STRIDE + F_PRINT] as number;
    return Number.isNaN(v) ? null : v;
  }

  setFingerprint(slot: number, fingerprint: number | null): void {
    this.floats[slot * F_STRIDE + F_PRINT] = fingerprint ?? Number.NaN;
  }

  /** The entry in `slot` (fresh objects, equal to what was stored). */
  entry(slot: number): ConntrackEntry {
    const i = slot * I_STRIDE;
    const ints = this.ints;
    const family = ints[i + I_FAMILY] as number;
    if (family === BOXED) return this.boxed.get(slot) as ConntrackEntry;
    const f = slot * F_STRIDE;
    const floats = this.floats;
    const origPackets = floats[f + F_COUNTERS] as number;
    const counters: Counters | null = Number.isNaN(origPackets)
      ? null
      : {
          origPackets,
          origBytes: floats[f + F_COUNTERS + 1] as number,
          replyPackets: floats[f + F_COUNTERS + 2] as number,
          replyBytes: floats[f + F_COUNTERS + 3] as number,
        };
    const tcp = ints[i + I_TCP] as number;
    const start = floats[f + F_START] as number;
    const stop = floats[f + F_STOP] as number;
    return {
      conntrackId: floats[f + F_ID] as number,
      zone: ints[i + I_ZONE] as number,
      family: (family === 4 ? 'IPV4' : 'IPV6') as Family,
      protocol: ints[i + I_PROTO] as number,
      orig: this.tuple(slot, i + I_ORIG, 0),
      reply: this.tuple(slot, i + I_REPLY, 2),
      tcpState: tcp === NULL_I32 ? null : (TCP_STATE_NAMES[tcp] as TcpState),
      status: floats[f + F_STATUS] as number,
      mark: floats[f + F_MARK] as number,
      counters,
      kernelStartUs: Number.isNaN(start) ? null : start,
      kernelStopUs: Number.isNaN(stop) ? null : stop,
    };
  }

  private tuple(slot: number, at: number, text: number): Tuple {
    const ints = this.ints;
    const s = slot * S_STRIDE + text;
    return {
      src: this.texts[s] as string,
      dst: this.texts[s + 1] as string,
      srcPort: ints[at] as number,
      dstPort: ints[at + 1] as number,
      icmpType: nullable(ints[at + 2] as number),
      icmpCode: nullable(ints[at + 3] as number),
      icmpId: nullable(ints[at + 4] as number),
    };
  }

  /** Adds entry `e` (its id must not be stored), last in order. */
  add(e: ConntrackEntry, generation: number, fingerprint: number | null): void {
    if ((this.used + 1) * 2 > this.index.length) this.grow();
    const slot = this.allocate();
    this.write(slot, e);
    this.floats[slot * F_STRIDE + F_ID] = e.conntrackId;
    this.setGeneration(slot, generation);
    this.setFingerprint(slot, fingerprint);
    const i = slot * I_STRIDE;
    this.ints[i + I_PREV] = this.tail;
    this.ints[i + I_NEXT] = -1;
    if (this.tail >= 0) this.ints[this.tail * I_STRIDE + I_NEXT] = slot;
    else this.head = slot;
    this.tail = slot;
    this.insertIndex(slot);
    this.used++;
  }

  /** Replaces the entry in `slot` by `e` (same id or not), keeping its place; sets generation and fingerprint. */
  replace(slot: number, e: ConntrackEntry, generation: number, fingerprint: number | null): void {
    const id = this.id(slot);
    if (e.conntrackId !== id) {
      this.removeIndex(slot);
      this.floats[slot * F_STRIDE + F_ID] = e.conntrackId;
      this.insertIndex(slot);
    }
    this.boxed.delete(slot);
    this.write(slot, e);
    this.setGeneration(slot, generation);
    this.setFingerprint(slot, fingerprint);
  }

  /** Removes the entry in `slot`. */
  remove(slot: number): void {
    this.removeIndex(slot);
    this.boxed.delete(slot);
    const i = slot * I_STRIDE;
    const prev = this.ints[i + I_PREV] as number;
    const next = this.ints[i + I_NEXT] as number;
    if (prev >= 0) this.ints[prev * I_STRIDE + I_NEXT] = next;
    else this.head = next;
    if (next >= 0) this.ints[next * I_STRIDE + I_PREV] = prev;
    else this.tail = prev;
    // Address texts released with the entry.
    const s = slot * S_STRIDE;
    for (let k = 0; k < S_STRIDE; k++) this.texts[s + k] = '';
    this.ints[i + I_NEXT] = this.freeHead;
    this.freeHead = slot;
    this.used--;
  }

  /** First slot in insertion order, or -1. */
  first(): number {
    return this.head;
  }

  /** Slot after `slot` in insertion order, or -1 (read it before removing `slot`). */
  next(slot: number): number {
    return this.ints[slot * I_STRIDE + I_NEXT] as number;
  }

  private write(slot: number, e: ConntrackEntry): void {
    const i = slot * I_STRIDE;
    const ints = this.ints;
    const s = slot * S_STRIDE;
    if (!fits(e)) {
      ints[i + I_FAMILY] = BOXED;
      this.boxed.set(slot, e);
      for (let k = 0; k < S_STRIDE; k++) this.texts[s + k] = '';
      return;
    }
    const f = slot * F_STRIDE;
    const floats = this.floats;
    ints[i + I_FAMILY] = e.family === 'IPV4' ? 4 : 6;
    ints[i + I_ZONE] = e.zone;
    ints[i + I_PROTO] = e.protocol;
    ints[i + I_TCP] = e.tcpState === null ? NULL_I32 : (TCP_INDEX.get(e.tcpState) as number);
    writeTuple(ints, i + I_ORIG, e.orig);
    writeTuple(ints, i + I_REPLY, e.reply);
    floats[f + F_STATUS] = e.status;
    floats[f + F_MARK] = e.mark;
    const c = e.counters;
    floats[f + F_COUNTERS] = c === null ? Number.NaN : c.origPackets;
    floats[f + F_COUNTERS + 1] = c === null ? 0 : c.origBytes;
    floats[f + F_COUNTERS + 2] = c === null ? 0 : c.replyPackets;
    floats[f + F_COUNTERS + 3] = c === null ? 0 : c.replyBytes;
    floats[f + F_START] = e.kernelStartUs ?? Number.NaN;
    floats[f + F_STOP] = e.kernelStopUs ?? Number.NaN;
    this.texts[s] = e.orig.src;
    this.texts[s + 1] = e.orig.dst;
    this.texts[s + 2] = e.reply.src;
    this.texts[s + 3] = e.reply.dst;
  }

  private allocate(): number {
    if (this.freeHead >= 0) {
      const slot = this.freeHead;
      this.freeHead = this.ints[slot * I_STRIDE + I_NEXT] as number;
      return slot;
    }
    if (this.highSlot === this.capacity) this.resizeRows(Math.max(MIN_CAPACITY, this.capacity * 2));
    return this.highSlot++;
  }

  private resizeRows(capacity: number): void {
    const ints = new Int32Array(capacity * I_STRIDE);
    ints.set(this.ints);
    const floats = new Float64Array(capacity * F_STRIDE);
    floats.set(this.floats);
    this.ints = ints;
    this.floats = floats;
    for (let k = this.texts.length; k < capacity * S_STRIDE; k++) this.texts.push('');
    this.capacity = capacity;
  }

  /** Doubles the index (load factor at most 1/2) and rebuilds it. */
  private grow(): void {
    const size = Math.max(MIN_CAPACITY * 2, this.index.length * 2);
    this.index = new Int32Array(size);
    for (let s = this.head; s >= 0; s = this.next(s)) this.insertIndex(s);
  }

  private insertIndex(slot: number): void {
    const mask = this.index.length - 1;
    let b = hashId(this.id(slot)) & mask;
    while (this.index[b] !== 0) b = (b + 1) & mask;
    this.index[b] = slot + 1;
  }

  private removeIndex(slot: number): void {
    const index = this.index;
    const mask = index.length - 1;
    let b = hashId(this.id(slot)) & mask;
    while (index[b] !== slot + 1) b = (b + 1) & mask;
    // Backward-shift deletion: later members of the probe run move up, so lookups need no tombstones.
    index[b] = 0;
    for (let j = (b + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const s = (index[j] as number) - 1;
      const home = hashId(this.id(s)) & mask;
      // Move s into the hole unless its home lies cyclically in (b, j].
      const stays = b <= j ? home > b && home <= j : home > b || home <= j;
      if (!stays) {
        index[b] = s + 1;
        index[j] = 0;
        b = j;
      }
    }
  }
}

function nullable(v: number): number | null {
  return v === NULL_I32 ? null : v;
}

function writeTuple(ints: Int32Array, at: number, t: Tuple): void {
  ints[at] = t.srcPort;
  ints[at + 1] = t.dstPort;
  ints[at + 2] = t.icmpType ?? NULL_I32;
  ints[at + 3] = t.icmpCode ?? NULL_I32;
  ints[at + 4] = t.icmpId ?? NULL_I32;
}
