/**
 * Index from flow identity to table slot without building a key string per observation: the hash
 * is computed from the observation's fields, and a candidate slot is confirmed by comparing its
 * stored flow key to those fields in place (no allocation). Open addressing with linear probing
 * and backward-shift deletion over an Int32Array, so the index costs ~8 bytes per flow instead of
 * a Map entry plus a per-lookup string.
 */
import { parseFlowKey } from './key.js';
import type { Observation, Tuple } from './types.js';

const SEP = 124; // '|'

/** 32-bit FNV-1a step over one number (as 4 bytes' worth of mixing, cheap and stable). */
function mixInt(h: number, n: number): number {
  h = Math.imul(h ^ (n & 0xffff), 0x01000193);
  return Math.imul(h ^ (n >>> 16), 0x01000193);
}

function mixStr(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ SEP, 0x01000193);
}

/** Hash of a node name (computed once per node). */
export function nodeHash(node: string): number {
  return mixStr(0x811c9dc5, node) >>> 0;
}

/** Hash of a flow given its node's hash and the key fields (same result as for its parsed key). */
export function flowHash(
  nodeH: number,
  zone: number,
  protocol: number,
  o: Pick<Tuple, 'src' | 'dst' | 'srcPort' | 'dstPort' | 'icmpType' | 'icmpCode' | 'icmpId'>,
): number {
  let h = mixInt(nodeH, zone);
  h = mixInt(h, protocol);
  h = mixStr(h, o.src);
  h = mixStr(h, o.dst);
  h = mixInt(h, o.srcPort);
  h = mixInt(h, o.dstPort);
  h = mixInt(h, o.icmpType ?? -1);
  h = mixInt(h, o.icmpCode ?? -1);
  h = mixInt(h, o.icmpId ?? -1);
  // Final avalanche (murmur3 fmix32) so that low bits, which pick the bucket, depend on all input.
  return fmix(h);
}

/** Integer value of the decimal digits of k[from, to), or -1 when empty (absent ICMP field). */
function intAt(k: string, from: number, to: number): number {
  if (from === to) return -1;
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (k.charCodeAt(i) - 48);
  return n;
}

function mixRange(h: number, k: string, from: number, to: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ SEP, 0x01000193);
}

/**
 * flowHash() of a flow key string, parsed in place (restore path: no split, no objects). Equal to
 * flowHash(nodeH, ...parseFlowKey(key)) for every well-formed key.
 */
export function flowHashOfKey(nodeH: number, k: string): number {
  const s0 = k.indexOf('|');
  const s1 = k.indexOf('|', s0 + 1);
  const s2 = k.indexOf('|', s1 + 1);
  const s3 = k.indexOf('|', s2 + 1);
  const s4 = k.indexOf('|', s3 + 1);
  const s5 = k.indexOf('|', s4 + 1);
  const s6 = k.indexOf('|', s5 + 1);
  const s7 = k.indexOf('|', s6 + 1);
  const s8 = k.indexOf('|', s7 + 1);
  if (s0 < 0 || s8 < 0 || k.indexOf('|', s8 + 1) >= 0) parseFlowKey(k); // throws the clear error
  let h = mixInt(nodeH, intAt(k, s0 + 1, s1));
  h = mixInt(h, intAt(k, s1 + 1, s2));
  h = mixRange(h, k, s2 + 1, s3);
  h = mixRange(h, k, s4 + 1, s5);
  h = mixInt(h, intAt(k, s3 + 1, s4));
  h = mixInt(h, intAt(k, s5 + 1, s6));
  h = mixInt(h, intAt(k, s6 + 1, s7));
  h = mixInt(h, intAt(k, s7 + 1, s8));
  h = mixInt(h, intAt(k, s8 + 1, k.length));
  return fmix(h);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Position after `|n|`-style field `n` at `p` in `k`, or -1. `last` = the key ends after it. */
function matchNum(k: string, p: number, n: number | null, last: boolean): number {
  if (n !== null) {
    const s = String(n);
    if (!k.startsWith(s, p)) return -1;
    p += s.length;
  }
  if (last) return p === k.length ? p : -1;
  return k.charCodeAt(p) === SEP ? p + 1 : -1;
}

function matchStr(k: string, p: number, s: string): number {
  return k.startsWith(s, p) && k.charCodeAt(p + s.length) === SEP ? p + s.length + 1 : -1;
}

/**
 * True when flow key `k` (flowKey() layout: node|zone|protocol|src|srcPort|dst|dstPort|icmp×3)
 * is the key of `obs`; compares in place, allocation-free.
 */
export function keyMatches(
  k: string,
  obs: Pick<Observation, 'node' | 'zone' | 'protocol' | 'orig'>,
): boolean {
  const o = obs.orig;
  let p = matchStr(k, 0, obs.node);
  if (p >= 0) p = matchNum(k, p, obs.zone, false);
  if (p >= 0) p = matchNum(k, p, obs.protocol, false);
  if (p >= 0) p = matchStr(k, p, o.src);
  if (p >= 0) p = matchNum(k, p, o.srcPort, false);
  if (p >= 0) p = matchStr(k, p, o.dst);
  if (p >= 0) p = matchNum(k, p, o.dstPort, false);
  if (p >= 0) p = matchNum(k, p, o.icmpType, false);
  if (p >= 0) p = matchNum(k, p, o.icmpCode, false);
  if (p >= 0) p = matchNum(k, p, o.icmpId, true);
  return p >= 0;
}

/** Most slots an index can address (24 bits; the top 8 bits of an entry hold a hash tag). */
export const MAX_SLOTS = 0xffffff - 1;

/** Index entry for `slot` under hash `h`: hash tag (top 8 bits of h) | slot + 1. 0 = empty. */
export function entryOf(h: number, slot: number): number {
  return ((h & 0xff000000) | (slot + 1)) >>> 0;
}

/**
 * Open-addressing index of slots by flow hash. Each entry carries an 8-bit tag of the hash, so a
 * probe that meets another flow's entry is rejected without touching that flow's row (a cache
 * miss) in 255 cases out of 256. Lookups probe `table` directly (FlowTable.find), so that no
 * closure is made per observation.
 */
export class KeyIndex {
  table = new Uint32Array(2048);
  mask = 2047;
  #size = 0;
  readonly #hashOf: (slot: number) => number;

  /** `hashOf(slot)` reads the stored hash of a slot. */
  constructor(hashOf: (slot: number) => number) {
    this.#hashOf = hashOf;
  }

  get size(): number {
    return this.#size;
  }

  /** Makes room for `n` entries without further growth. */
  reserve(n: number): void {
    let cap = this.table.length;
    while (n * 2 > cap) cap *= 2;
    // One rehash into the final size (a restore reserves for ~100,000 flows at once).
    if (cap !== this.table.length) this.#rehash(cap);
  }

  /** Adds `slot` under hash `h` (the caller knows it is absent). */
  insert(h: number, slot: number): void {
    if ((this.#size + 1) * 2 > this.table.length) this.#grow();
    const table = this.table;
    const mask = this.mask;
    let i = h & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = entryOf(h, slot);
    this.#size++;
  }

  /** Removes `slot` (stored under hash `h`), shifting later entries of its run back. */
  remove(h: number, slot: number): void {
    const table = this.table;
    const mask = this.mask;
    const e = entryOf(h, slot);
    let i = h & mask;
    while (table[i] !== e) {
      if (table[i] === 0) return;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones, probes stay short.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = table[j] as number;
      if (v === 0) break;
      const home = this.#hashOf((v & 0xffffff) - 1) & mask;
      // v may fill the hole at i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        table[i] = v;
        i = j;
      }
    }
    table[i] = 0;
    this.#size--;
  }

  #grow(): void {
    this.#rehash(this.table.length * 2);
  }

  #rehash(cap: number): void {
    const old = this.table;
    const table = new Uint32Array(cap);
    const mask = cap - 1;
    for (let k = 0; k < old.length; k++) {
      const v = old[k] as number;
      if (v === 0) continue;
      let i = this.#hashOf((v & 0xffffff) - 1) & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = v;
    }
    this.table = table;
    this.mask = mask;
  }
}
