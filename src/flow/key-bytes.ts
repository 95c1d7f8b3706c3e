/**
 * Flow keys read as bytes (restore from changelog records in place): the key words of the UTF-8 text of a
 * flowKey() without decoding it into a string, and a lookup of a node by the bytes of its name. A restore
 * reads ~100,000 keys per partition; a string per key (and parsing it back) was a large share of its cost.
 *
 * Same classification as encodeKeyString() of the decoded text: every byte that a field may hold (digits,
 * dots, '|') is ASCII, and UTF-8 never uses ASCII bytes inside a multi-byte sequence, so the bytes and the
 * decoded text have their separators in the same places and any non-ASCII byte makes the key wide in both.
 */
import { KW } from './tuple-key.js';

const BAR = 0x7c;
const TYPE_NULL = 1 << 24;
const CODE_NULL = 2 << 24;
const ID_NULL = 4 << 24;

/** Read position of the scanners below (module state: no object per key). */
let cur = 0;

/**
 * Canonical decimal (no leading zero) at `cur` up to the next '|' or `to`, ≤ max; advances past the
 * separator. -1 when malformed, -2 when empty (encodeKeyString()'s scanDecimal over bytes).
 */
function scanDecimal(b: Uint8Array, to: number, max: number): number {
  let i = cur;
  let v = 0;
  let digits = 0;
  for (; i < to; i++) {
    const c = b[i] as number;
    if (c === BAR) break;
    const d = c - 48;
    if (d < 0 || d > 9 || (digits > 0 && v === 0)) return -1;
    v = v * 10 + d;
    if (v > max) return -1;
    digits++;
  }
  cur = i + 1;
  return digits === 0 ? -2 : v;
}

/**
 * Canonical dotted quad at `cur` up to the next '|' (before `to`); advances past it. -1 when not one. One pass:
 * the first byte that cannot belong to a canonical quad ends the scan (-1 either way).
 */
function scanIPv4(b: Uint8Array, to: number): number {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let i = cur;
  for (; i < to; i++) {
    const c = b[i] as number;
    if (c === BAR) break;
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
      continue;
    }
    const d = c - 48;
    // No leading zero: "010" would not survive the way back to text.
    if (d < 0 || d > 9 || (digits > 0 && part === 0)) return -1;
    part = part * 10 + d;
    if (part > 255) return -1;
    digits++;
  }
  if (i === to || dots !== 3 || digits === 0) return -1;
  cur = i + 1;
  return v * 256 + part;
}

/**
 * Key words (tuple-key.ts layout) of the flow key fields after the node name, b[from, to) where b[from - 1]
 * is the key's first '|', into `out[at..)`; false when the key is wide or not well formed (the caller then
 * keeps the key as a string). Exactly encodeKeyString() of the decoded key.
 */
export function encodeKeyBytes(
  b: Uint8Array,
  from: number,
  to: number,
  out: Uint32Array,
  at: number,
): boolean {
  cur = from;
  const zone = scanDecimal(b, to, 0xffff);
  if (zone < 0) return false;
  const protocol = scanDecimal(b, to, 0xff);
  if (protocol < 0) return false;
  const src = scanIPv4(b, to);
  if (src < 0) return false;
  const srcPort = scanDecimal(b, to, 0xffff);
  if (srcPort < 0) return false;
  const dst = scanIPv4(b, to);
  if (dst < 0) return false;
  const dstPort = scanDecimal(b, to, 0xffff);
  if (dstPort < 0 || cur >= to) return false;
  const type = scanDecimal(b, to, 0xff);
  if (type === -1 || cur >= to) return false;
  const code = scanDecimal(b, to, 0xff);
  if (code === -1 || cur > to) return false;
  // The last field runs to the end of the key: a further '|' means more fields than flowKey() has.
  const idStart = cur;
  const id = scanDecimal(b, to, 0xffff);
  if (id === -1 || cur !== to + 1 || (id === -2 && idStart !== to)) return false;
  let pin = protocol << 16;
  let zti = zone << 16;
  if (type === -2) pin |= TYPE_NULL;
  else zti |= type << 8;
  if (code === -2) pin |= CODE_NULL;
  else zti |= code;
  if (id === -2) pin |= ID_NULL;
  else pin |= id;
  out[at + KW.src] = src;
  out[at + KW.dst] = dst;
  out[at + KW.ports] = ((srcPort << 16) | dstPort) >>> 0;
  out[at + KW.zti] = zti >>> 0;
  out[at + KW.pin] = pin;
  return true;
}

/** Hash of name bytes b[from, to) (FNV-1a), for NodesByBytes. */
export function nameBytesHash(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h | 0;
}

/** Position of the first '|' in b[from, to), or -1. */
export function barAt(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (b[i] === BAR) return i;
  return -1;
}

/**
 * Values (the engine's nodes) by the exact bytes of their name as they appear in keys: a restore finds a
 * key's node without decoding the name (nodes are few; keys of different nodes are interleaved).
 */
export class NodesByBytes<T> {
  #hashes = new Int32Array(16);
  #names: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(16).fill(undefined);
  #values: (T | undefined)[] = new Array<T | undefined>(16).fill(undefined);
  #mask = 15;
  #size = 0;

  /** The value stored under name bytes b[from, to) (hash `h` = nameBytesHash()), or undefined. */
  get(b: Uint8Array, from: number, to: number, h: number): T | undefined {
    const names = this.#names;
    const n = to - from;
    for (let i = h & this.#mask; ; i = (i + 1) & this.#mask) {
      const name = names[i];
      if (name === undefined) return undefined;
      if (this.#hashes[i] !== h || name.length !== n) continue;
      let j = 0;
      while (j < n && name[j] === b[from + j]) j++;
      if (j === n) return this.#values[i];
    }
  }

  /** Stores `value` under a copy of the name bytes b[from, to) (absent: call get() first). */
  set(b: Uint8Array, from: number, to: number, h: number, value: T): void {
    if ((this.#size + 1) * 2 > this.#names.length) this.#grow();
    const name = new Uint8Array(to - from);
    name.set(b.subarray(from, to));
    this.#put(name, h, value);
    this.#size++;
  }

  #put(name: Uint8Array, h: number, value: T): void {
    let i = h & this.#mask;
    while (this.#names[i] !== undefined) i = (i + 1) & this.#mask;
    this.#names[i] = name;
    this.#hashes[i] = h;
    this.#values[i] = value;
  }

  #grow(): void {
    const names = this.#names;
    const hashes = this.#hashes;
    const values = this.#values;
    const cap = names.length * 2;
    this.#names = new Array<Uint8Array | undefined>(cap).fill(undefined);
    this.#hashes = new Int32Array(cap);
    this.#values = new Array<T | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (name !== undefined) this.#put(name, hashes[i] as number, values[i] as T);
    }
  }
}
