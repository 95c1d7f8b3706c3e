/**
 * Struct-of-arrays storage of tracked flows: one Float64Array row and one Uint32Array row per
 * slot, the key string, and an open-addressing index (key-index.ts) from flow identity to slot.
 * No object per flow, so the GC has almost nothing to trace.
 */
import { CtflowError } from '../errors.js';
import { flowHashOfKey, KeyIndex, keyMatches, MAX_SLOTS } from './key-index.js';
import { type Observation, TCP_STATE_NAMES, type TcpState, type Tuple } from './types.js';

/** Float64 fields of a slot (µs of event time unless said otherwise; 0 = unset). */
export const Fx = {
  /** Connection start: kernel stamp, else NEW time, else first observation. */
  connStart: 0,
  /** Origin of the current record series: active timeouts fall at origin + k·A; 0 = series ended. */
  origin: 1,
  /** First observation (attribution time) at which counters grew since the previous record. */
  intervalStart: 2,
  /** Attribution time of the newest counter growth (or activity without counters). */
  lastChange: 3,
  /** Newest observation time incorporated (idempotency and forgetting). */
  lastSeen: 4,
  /** TIME_WAIT/CLOSE time while CLOSED; DESTROY time once DESTROYED. */
  endMark: 5,
  /** Next active-timeout instant (phase of origin). */
  nextActive: 6,
  /** Deadline of the flow's one valid heap entry. */
  heapDeadline: 7,
  /** Creation sequence on its node (timer tie-breaker). */
  seq: 8,
  /** Current absolute counters: origPackets, origBytes, replyPackets, replyBytes. */
  cur: 9,
  /** Counters at the previous record (delta base), same order. */
  exp: 13,
} as const;
/**
 * Float64 elements per slot row. A row is 168 bytes: 17 Float64 fields, then the Uint32 fields
 * (Ux, at Uint32 index 34 of the row) in the same ArrayBuffer, so one flow's state sits in three
 * adjacent cache lines instead of being spread over separate arrays.
 */
export const F_STRIDE = 21;
/** Uint32 index of the first Uint32 field within a row (after the 17 Float64 fields). */
const U_BASE = 34;

/** Uint32 fields of a slot (indices into `u`, relative to slot * U_STRIDE). */
export const Ux = {
  conntrackId: U_BASE,
  mark: U_BASE + 1,
  recordIndex: U_BASE + 2,
  flags: U_BASE + 3,
  node: U_BASE + 4,
  /** Generation of the slot's one valid timer entry (kept across reuse of the slot). */
  gen: U_BASE + 5,
  /** flowHash() of the slot's key (the index's bucket). */
  hash: U_BASE + 6,
} as const;
/** Uint32 elements per slot row (the same row as F_STRIDE Float64 elements). */
export const U_STRIDE = F_STRIDE * 2;

/** Flow flag bits (low 16 bits of Ux.flags; bits 16..19 hold the TCP state code). */
export const Flag = {
  live: 1,
  hasCounters: 2,
  /** First record (of the connection's first series) has no kernel stamp and no NEW: mid-life. */
  midLife: 4,
  /** No record yet in the current series: one is due even without counter growth. */
  needFirst: 8,
  /** The current series is the connection's first: its first record starts at connStart. */
  firstSeries: 16,
  /** Idle-reported (or series cut by max life): nothing to report until counters grow. */
  quiet: 32,
  /** TCP reached TIME_WAIT/CLOSE (at endMark). */
  closed: 64,
  /** The end-of-flow record of a closed flow was emitted; later growth is a remnant. */
  endReported: 128,
  /** DESTROY seen (at endMark); only kept until the node's time passes it. */
  destroyed: 256,
  /** connStart is the kernel start stamp. */
  hasKernelStart: 512,
  /** The reply tuple is not the inverted original (NAT): reported post-NAT. */
  nat: 1024,
} as const;

/** TCP states by code (index); code 15 = null. */
export const TCP_STATES: readonly TcpState[] = TCP_STATE_NAMES;
const TCP_CODE = new Map<TcpState, number>(TCP_STATES.map((s, i) => [s, i]));
/** Code of "no TCP state". */
export const TCP_NULL = 15;

/** Code of a TCP state (TCP_NULL for null or unknown). */
export function tcpCode(state: TcpState | null): number {
  return state === null ? TCP_NULL : (TCP_CODE.get(state) ?? TCP_NULL);
}

/** The TCP state of a code. */
export function tcpStateOf(code: number): TcpState | null {
  return TCP_STATES[code] ?? null;
}

/** A flat (sequential) copy of a string, so a stored key does not pin the pieces it was built from. */
export function flat(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** The flows of one engine. */
export class FlowTable {
  f = new Float64Array(0);
  u = new Uint32Array(0);
  keys: (string | undefined)[] = [];
  /** 1 while the slot is listed in the engine's dirty list. */
  dirty = new Uint8Array(0);
  /** Reply tuples of slots whose reply is not the plain inversion (NAT, ICMP replies). */
  readonly replies = new Map<number, Tuple>();
  readonly #index = new KeyIndex((slot) => this.u[slot * U_STRIDE + Ux.hash] as number);
  #cap = 0;
  #next = 0;
  #free: number[] = [];

  constructor(initialCapacity = 1024) {
    this.#resize(initialCapacity);
  }

  /** Flows tracked. */
  get size(): number {
    return this.#index.size;
  }

  /** Slots ever used (upper bound for iteration). */
  get highWater(): number {
    return this.#next;
  }

  /** The slot of the flow of `obs` on node `nodeIdx` whose flowHash is `h`, or -1. */
  find(obs: Observation, nodeIdx: number, h: number): number {
    const { table, mask } = this.#index;
    const u = this.u;
    const tag = (h & 0xff000000) >>> 0;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = table[i] as number;
      if (v === 0) return -1;
      if ((v & 0xff000000) >>> 0 !== tag) continue;
      const slot = (v & 0xffffff) - 1;
      const ub = slot * U_STRIDE;
      if (
        u[ub + Ux.hash] === h &&
        u[ub + Ux.node] === nodeIdx &&
        keyMatches(this.keys[slot] as string, obs)
      ) {
        return slot;
      }
    }
  }

  /** The slot of flow key `key` of node (`nodeIdx`, hash `nodeH`), or -1 (restore, tombstones). */
  findKey(key: string, nodeIdx: number, nodeH: number): number {
    return this.findKeyHashed(key, nodeIdx, flowHashOfKey(nodeH, key));
  }

  /** findKey() with the flowHash known. */
  findKeyHashed(key: string, nodeIdx: number, h: number): number {
    const { table, mask } = this.#index;
    const u = this.u;
    const tag = (h & 0xff000000) >>> 0;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = table[i] as number;
      if (v === 0) return -1;
      if ((v & 0xff000000) >>> 0 !== tag) continue;
      const slot = (v & 0xffffff) - 1;
      const ub = slot * U_STRIDE;
      if (u[ub + Ux.hash] === h && u[ub + Ux.node] === nodeIdx && this.keys[slot] === key) return slot;
    }
  }

  /** Makes room for `n` more flows without growing (restore). */
  reserve(n: number): void {
    const need = this.#index.size + n;
    if (need > this.#cap) this.#resize(need);
    this.#index.reserve(need);
  }

  /**
   * A zeroed, indexed slot for flow `key` of node `nodeIdx` with flowHash `h`. `isFlat`: the key
   * is already a flat string (decoded from bytes), no copy needed.
   */
  alloc(key: string, nodeIdx: number, h: number, isFlat = false): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#next >= MAX_SLOTS) {
        throw new CtflowError('CONFIG_INVALID', `more than ${MAX_SLOTS} flows in one flow engine`, {
          details: { flows: this.size, expected: 'more partitions (each has its own engine)' },
        });
      }
      if (this.#next === this.#cap) this.#resize(Math.min(this.#cap * 2, MAX_SLOTS));
      slot = this.#next++;
    }
    // A key built by concatenation is a rope of ~20 heap objects; keep one flat copy instead.
    this.keys[slot] = isFlat ? key : flat(key);
    const ub = slot * U_STRIDE;
    this.u[ub + Ux.node] = nodeIdx;
    this.u[ub + Ux.hash] = h;
    this.#index.insert(h, slot);
    return slot;
  }

  /** Frees a slot and unindexes it (the dirty mark is left to the engine). */
  release(slot: number): void {
    const ub = slot * U_STRIDE;
    this.#index.remove(this.u[ub + Ux.hash] as number, slot);
    this.keys[slot] = undefined;
    // The generation survives, so timer entries of the previous occupant stay invalid.
    const gen = this.u[ub + Ux.gen] as number;
    this.f.fill(0, slot * F_STRIDE, (slot + 1) * F_STRIDE);
    this.u[ub + Ux.gen] = gen;
    this.replies.delete(slot);
    this.#free.push(slot);
  }

  #resize(cap: number): void {
    const f = new Float64Array(cap * F_STRIDE);
    f.set(this.f);
    this.f = f;
    this.u = new Uint32Array(f.buffer);
    const d = new Uint8Array(cap);
    d.set(this.dirty);
    this.dirty = d;
    this.#cap = cap;
  }
}
