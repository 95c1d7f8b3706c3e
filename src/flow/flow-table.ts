/**
 * Struct-of-arrays storage of tracked flows: one 168-byte row per slot (Float64 fields, then
 * Uint32 fields in the same ArrayBuffer), the flow's identity as binary key words in the row
 * (tuple-key.ts; only "wide" flows such as IPv6 keep their key string beside it), and an
 * open-addressing index (key-index.ts) from flow identity to slot. No object and no string per
 * flow, so the GC has almost nothing to trace and a lookup is one index bucket plus one row.
 */
import { CtflowError } from '../errors.js';
import { flowHashOfKey, KeyIndex, keyMatches, MAX_SLOTS } from './key-index.js';
import { KEY_WORDS, KW, keyOfWords, keyWordsHash, WIDE } from './tuple-key.js';
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
  /** Deadline of the flow's one valid heap entry (0 = none). */
  heapDeadline: 6,
  /** Current absolute counters: origPackets, origBytes, replyPackets, replyBytes. */
  cur: 7,
  /** Counters at the previous record (delta base), same order. */
  exp: 11,
} as const;
/**
 * Float64 elements per slot row. A row is 168 bytes: 15 Float64 fields, then 12 Uint32 fields
 * (Ux, from Uint32 index 30 of the row) in the same ArrayBuffer.
 */
export const F_STRIDE = 21;
/** Uint32 index of the first Uint32 field within a row (after the 15 Float64 fields). */
const U_BASE = 30;

/** Uint32 fields of a slot (indices into `u`, relative to slot * U_STRIDE). */
export const Ux = {
  conntrackId: U_BASE,
  mark: U_BASE + 1,
  recordIndex: U_BASE + 2,
  /** Flag bits (low 16), TCP state code (bits 16..19), dirty (bit 20). */
  flags: U_BASE + 3,
  /** Creation sequence on its node, mod 2^32 (timer tie-breaker, identifies the occupant). */
  seq: U_BASE + 4,
  /** nextActive as k in origin + k·A (NEXT_ACTIVE_WIDE: the value is in a side map). */
  nextActive: U_BASE + 5,
  node: U_BASE + 6,
  /** First of the KEY_WORDS key words (tuple-key.ts). */
  key: U_BASE + 7,
} as const;
/** Uint32 elements per slot row (the same row as F_STRIDE Float64 elements). */
export const U_STRIDE = F_STRIDE * 2;

const NEXT_ACTIVE_WIDE = 0xffffffff;
/** Flags-word bit: the slot is listed in the engine's dirty list (kept across release). */
export const DIRTY = 1 << 20;

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

/** Per-node facts the table needs (names for keys, hashes for the index). */
export interface TableNode {
  readonly name: string;
  readonly hash: number;
}

/** The flows of one engine. */
export class FlowTable {
  f = new Float64Array(0);
  u = new Uint32Array(0);
  /** Flow keys of wide slots (IPv6, unusual fields): their identity is this string. */
  readonly wideKeys = new Map<number, string>();
  /** Reply tuples of slots whose reply is not the plain inversion (NAT, ICMP replies). */
  readonly replies = new Map<number, Tuple>();
  /** nextActive of slots whose value is not origin + k·A with a uint32 k. */
  readonly #nextActiveWide = new Map<number, number>();
  readonly #index = new KeyIndex((slot) => this.hashOf(slot));
  readonly #nodes: readonly TableNode[];
  readonly #activeUs: number;
  #cap = 0;
  #next = 0;
  #free: number[] = [];

  /** `nodes`: the engine's node list (indexed by Ux.node); `activeUs`: the active timeout. */
  constructor(nodes: readonly TableNode[], activeUs: number, initialCapacity = 1024) {
    this.#nodes = nodes;
    this.#activeUs = activeUs;
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

  /** The index's bucket array and mask (read-only use: prefetching lookups of a batch). */
  get index(): { readonly table: Uint32Array; readonly mask: number } {
    return this.#index;
  }

  /** True while `slot` holds a flow. */
  isLive(slot: number): boolean {
    return ((this.u[slot * U_STRIDE + Ux.flags] as number) & Flag.live) !== 0;
  }

  /** The index hash of a live slot (recomputed from its key words or wide key). */
  hashOf(slot: number): number {
    const ub = slot * U_STRIDE;
    const node = this.#nodes[this.u[ub + Ux.node] as number] as TableNode;
    if ((this.u[ub + Ux.key + KW.pin] as number) & WIDE) {
      return flowHashOfKey(node.hash, this.wideKeys.get(slot) as string);
    }
    return keyWordsHash(node.hash, this.u, ub + Ux.key);
  }

  /** The flowKey() of a live slot (built on demand: records, changelog keys). */
  keyOf(slot: number): string {
    const ub = slot * U_STRIDE;
    if ((this.u[ub + Ux.key + KW.pin] as number) & WIDE) return this.wideKeys.get(slot) as string;
    const node = this.#nodes[this.u[ub + Ux.node] as number] as TableNode;
    return keyOfWords(node.name, this.u, ub + Ux.key);
  }

  /** True when the slot's flow is wide (key kept as a string). */
  isWide(slot: number): boolean {
    return ((this.u[slot * U_STRIDE + Ux.key + KW.pin] as number) & WIDE) !== 0;
  }

  /**
   * The slot of the narrow flow with key words `w[at..)` on node `nodeIdx` and hash `h`, or -1.
   * Compares the row's words in place: no string, no allocation.
   */
  findWords(w: Uint32Array, at: number, nodeIdx: number, h: number): number {
    const { table, mask } = this.#index;
    const u = this.u;
    const tag = (h & 0xff000000) >>> 0;
    const w0 = w[at] as number;
    const w1 = w[at + 1] as number;
    const w2 = w[at + 2] as number;
    const w3 = w[at + 3] as number;
    const w4 = w[at + 4] as number;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = table[i] as number;
      if (v === 0) return -1;
      if ((v & 0xff000000) >>> 0 !== tag) continue;
      const kb = ((v & 0xffffff) - 1) * U_STRIDE + Ux.key;
      if (
        u[kb] === w0 &&
        u[kb + 1] === w1 &&
        u[kb + 2] === w2 &&
        u[kb + 3] === w3 &&
        u[kb + 4] === w4 &&
        u[kb - 1] === nodeIdx
      ) {
        return (v & 0xffffff) - 1;
      }
    }
  }

  /** The slot of the wide flow of `obs` (hash `h` = flowHash()), or -1. */
  findWide(obs: Observation, nodeIdx: number, h: number): number {
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
        (u[ub + Ux.key + KW.pin] as number) & WIDE &&
        u[ub + Ux.node] === nodeIdx &&
        keyMatches(this.wideKeys.get(slot) as string, obs)
      ) {
        return slot;
      }
    }
  }

  /** The slot of wide flow key `key` (hash `h`), or -1 (restore). */
  findWideKey(key: string, nodeIdx: number, h: number): number {
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
        (u[ub + Ux.key + KW.pin] as number) & WIDE &&
        u[ub + Ux.node] === nodeIdx &&
        this.wideKeys.get(slot) === key
      ) {
        return slot;
      }
    }
  }

  /** Makes room for `n` more flows without growing (restore). */
  reserve(n: number): void {
    const need = this.#index.size + n;
    if (need > this.#cap) this.#resize(need);
    this.#index.reserve(need);
  }

  /**
   * A zeroed, indexed, live slot of node `nodeIdx` with index hash `h`: narrow when `wideKey` is
   * undefined (key words copied from `w[at..)`), else wide with that flow key.
   */
  alloc(w: Uint32Array, at: number, wideKey: string | undefined, nodeIdx: number, h: number): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#next >= MAX_SLOTS) {
        throw new CtflowError('CONFIG_INVALID', `more than ${MAX_SLOTS} flows in one flow engine`, {
          details: { flows: this.size, expected: 'more partitions (each has its own engine)' },
        });
      }
      // ×1.5 rather than ×2: the table is most of the memory, slack is bytes per flow.
      if (this.#next === this.#cap) this.#resize(Math.min(Math.ceil(this.#cap * 1.5), MAX_SLOTS));
      slot = this.#next++;
    }
    const u = this.u;
    const ub = slot * U_STRIDE;
    u[ub + Ux.node] = nodeIdx;
    const kb = ub + Ux.key;
    if (wideKey === undefined) {
      for (let i = 0; i < KEY_WORDS; i++) u[kb + i] = w[at + i] as number;
    } else {
      // A key built by concatenation is a rope of ~20 heap objects; keep one flat copy instead.
      this.wideKeys.set(slot, flat(wideKey));
      u[kb + KW.pin] = WIDE;
    }
    u[ub + Ux.flags] = ((u[ub + Ux.flags] as number) & DIRTY) | Flag.live;
    this.#index.insert(h, slot);
    return slot;
  }

  /** Frees a slot and unindexes it (the dirty bit is left to the engine). */
  release(slot: number): void {
    this.#index.remove(this.hashOf(slot), slot);
    const ub = slot * U_STRIDE;
    // The dirty bit survives: the slot stays listed once in the dirty list until the next drain.
    const dirty = (this.u[ub + Ux.flags] as number) & DIRTY;
    this.f.fill(0, slot * F_STRIDE, (slot + 1) * F_STRIDE);
    this.u[ub + Ux.flags] = dirty;
    this.wideKeys.delete(slot);
    this.replies.delete(slot);
    this.#nextActiveWide.delete(slot);
    this.#free.push(slot);
  }

  /** The flow's next active-timeout instant. */
  nextActive(slot: number): number {
    const k = this.u[slot * U_STRIDE + Ux.nextActive] as number;
    if (k === NEXT_ACTIVE_WIDE) return this.#nextActiveWide.get(slot) as number;
    return (this.f[slot * F_STRIDE + Fx.origin] as number) + k * this.#activeUs;
  }

  /**
   * Sets the next active-timeout instant (set origin first). Stored as k of origin + k·A (4 bytes
   * instead of 8); any other value (a changelog written with another active timeout) goes to a
   * side map, so every value round-trips exactly.
   */
  setNextActive(slot: number, v: number): void {
    const k = (v - (this.f[slot * F_STRIDE + Fx.origin] as number)) / this.#activeUs;
    const ui = slot * U_STRIDE + Ux.nextActive;
    if (Number.isInteger(k) && k >= 0 && k < NEXT_ACTIVE_WIDE) {
      this.u[ui] = k;
      // Mostly empty (restore: every flow): no hash lookup then.
      if (this.#nextActiveWide.size > 0) this.#nextActiveWide.delete(slot);
    } else {
      this.u[ui] = NEXT_ACTIVE_WIDE;
      this.#nextActiveWide.set(slot, v);
    }
  }

  #resize(cap: number): void {
    const f = new Float64Array(cap * F_STRIDE);
    // Slots from #next on were never used (all zero): only the used ones are copied (a restore reserves
    // ahead, so its table is often mostly empty when it grows).
    f.set(this.f.subarray(0, this.#next * F_STRIDE));
    this.f = f;
    this.u = new Uint32Array(f.buffer);
    this.#cap = cap;
  }
}
