/**
 * Binary form of a flow's identity inside a FlowTable row: five Uint32 words instead of a flow key
 * string (~80 bytes and one more dependent cache miss per lookup). A flow whose key fields have
 * this exact form is "narrow": canonical IPv4 dotted quads, ports and ICMP id in 0..65535, zone in
 * 0..65535, protocol, ICMP type and code in 0..255, all integers. Every other flow (IPv6, anything
 * unusual) is "wide" and keeps its flowKey() string beside the row; the classification depends on
 * the key alone, so an observation and its flowKey() text always agree on it.
 *
 * Words (KW offsets): src, dst, ports (srcPort << 16 | dstPort), zti (zone << 16 | icmpType << 8 |
 * icmpCode), pin (icmpId | protocol << 16 | null bits << 24 | wide << 27).
 */
import type { Tuple } from './types.js';

/** Offsets of the key words. */
export const KW = { src: 0, dst: 1, ports: 2, zti: 3, pin: 4 } as const;
/** Number of key words. */
export const KEY_WORDS = 5;

const TYPE_NULL = 1 << 24;
const CODE_NULL = 2 << 24;
const ID_NULL = 4 << 24;
/** pin bit of a wide flow (its key is kept as a string). */
export const WIDE = 8 << 24;

/** The address of canonical IPv4 dotted-quad text as a uint32, or -1 when `s` is not one. */
export function parseIPv4(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
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
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + part;
}

/** Dotted-quad text of a uint32 address. */
export function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function fits(n: number, max: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= max;
}

/**
 * Writes the key words of (zone, protocol, orig tuple) to `out[at..at+5)`; false (nothing
 * meaningful written) when the flow is wide.
 */
export function encodeKey(zone: number, protocol: number, o: Tuple, out: Uint32Array, at: number): boolean {
  const src = parseIPv4(o.src);
  if (src < 0) return false;
  const dst = parseIPv4(o.dst);
  if (dst < 0) return false;
  const { srcPort, dstPort, icmpType, icmpCode, icmpId } = o;
  if (!fits(srcPort, 0xffff) || !fits(dstPort, 0xffff) || !fits(zone, 0xffff) || !fits(protocol, 0xff)) {
    return false;
  }
  let pin = protocol << 16;
  let zti = zone << 16;
  if (icmpType === null) pin |= TYPE_NULL;
  else if (fits(icmpType, 0xff)) zti |= icmpType << 8;
  else return false;
  if (icmpCode === null) pin |= CODE_NULL;
  else if (fits(icmpCode, 0xff)) zti |= icmpCode;
  else return false;
  if (icmpId === null) pin |= ID_NULL;
  else if (fits(icmpId, 0xffff)) pin |= icmpId;
  else return false;
  out[at + KW.src] = src;
  out[at + KW.dst] = dst;
  out[at + KW.ports] = ((srcPort << 16) | dstPort) >>> 0;
  out[at + KW.zti] = zti >>> 0;
  out[at + KW.pin] = pin;
  return true;
}

/** Canonical decimal text of s[from, to) as an integer ≤ max, -1 when empty/other (restore path). */
function decimalAt(s: string, from: number, to: number, max: number): number {
  if (from === to || to - from > 5 || (to - from > 1 && s.charCodeAt(from) === 48)) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= max ? n : -1;
}

/**
 * Key words of flow key `k` (flowKey() layout) into `out[at..)`; false when the key is wide or not
 * well formed (the caller then keeps the string). Same classification as encodeKey().
 */
export function encodeKeyString(k: string, out: Uint32Array, at: number): boolean {
  const s0 = k.indexOf('|');
  const s1 = k.indexOf('|', s0 + 1);
  const s2 = k.indexOf('|', s1 + 1);
  const s3 = k.indexOf('|', s2 + 1);
  const s4 = k.indexOf('|', s3 + 1);
  const s5 = k.indexOf('|', s4 + 1);
  const s6 = k.indexOf('|', s5 + 1);
  const s7 = k.indexOf('|', s6 + 1);
  const s8 = k.indexOf('|', s7 + 1);
  if (s0 < 0 || s8 < 0 || k.indexOf('|', s8 + 1) >= 0) return false;
  const zone = decimalAt(k, s0 + 1, s1, 0xffff);
  const protocol = decimalAt(k, s1 + 1, s2, 0xff);
  const src = parseIPv4(k.slice(s2 + 1, s3));
  const srcPort = decimalAt(k, s3 + 1, s4, 0xffff);
  const dst = parseIPv4(k.slice(s4 + 1, s5));
  const dstPort = decimalAt(k, s5 + 1, s6, 0xffff);
  if (zone < 0 || protocol < 0 || src < 0 || srcPort < 0 || dst < 0 || dstPort < 0) return false;
  let pin = protocol << 16;
  let zti = zone << 16;
  if (s7 === s6 + 1) pin |= TYPE_NULL;
  else {
    const v = decimalAt(k, s6 + 1, s7, 0xff);
    if (v < 0) return false;
    zti |= v << 8;
  }
  if (s8 === s7 + 1) pin |= CODE_NULL;
  else {
    const v = decimalAt(k, s7 + 1, s8, 0xff);
    if (v < 0) return false;
    zti |= v;
  }
  if (k.length === s8 + 1) pin |= ID_NULL;
  else {
    const v = decimalAt(k, s8 + 1, k.length, 0xffff);
    if (v < 0) return false;
    pin |= v;
  }
  out[at + KW.src] = src;
  out[at + KW.dst] = dst;
  out[at + KW.ports] = ((srcPort << 16) | dstPort) >>> 0;
  out[at + KW.zti] = zti >>> 0;
  out[at + KW.pin] = pin;
  return true;
}

function mix(h: number, n: number): number {
  h = Math.imul(h ^ (n & 0xffff), 0x01000193);
  return Math.imul(h ^ (n >>> 16), 0x01000193);
}

/** Hash of a narrow flow: its node's hash and key words `w[at..at+5)` (murmur3 fmix32 at the end). */
export function keyWordsHash(nodeH: number, w: Uint32Array, at: number): number {
  let h = mix(nodeH, w[at] as number);
  h = mix(h, w[at + 1] as number);
  h = mix(h, w[at + 2] as number);
  h = mix(h, w[at + 3] as number);
  h = mix(h, w[at + 4] as number);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The original tuple of narrow key words `w[at..)`. */
export function tupleOfWords(w: Uint32Array, at: number): Tuple {
  const ports = w[at + KW.ports] as number;
  const zti = w[at + KW.zti] as number;
  const pin = w[at + KW.pin] as number;
  return {
    src: formatIPv4(w[at + KW.src] as number),
    dst: formatIPv4(w[at + KW.dst] as number),
    srcPort: ports >>> 16,
    dstPort: ports & 0xffff,
    icmpType: pin & TYPE_NULL ? null : (zti >>> 8) & 0xff,
    icmpCode: pin & CODE_NULL ? null : zti & 0xff,
    icmpId: pin & ID_NULL ? null : pin & 0xffff,
  };
}

/** Zone of narrow key words. */
export function zoneOfWords(w: Uint32Array, at: number): number {
  return (w[at + KW.zti] as number) >>> 16;
}

/** Protocol of narrow key words. */
export function protocolOfWords(w: Uint32Array, at: number): number {
  return ((w[at + KW.pin] as number) >>> 16) & 0xff;
}

/** flowKey() text of node `node` and narrow key words `w[at..)` (same string as flowKey()). */
export function keyOfWords(node: string, w: Uint32Array, at: number): string {
  const ports = w[at + KW.ports] as number;
  const zti = w[at + KW.zti] as number;
  const pin = w[at + KW.pin] as number;
  const type = pin & TYPE_NULL ? '' : (zti >>> 8) & 0xff;
  const code = pin & CODE_NULL ? '' : zti & 0xff;
  const id = pin & ID_NULL ? '' : pin & 0xffff;
  return `${node}|${zti >>> 16}|${(pin >>> 16) & 0xff}|${formatIPv4(w[at + KW.src] as number)}|${ports >>> 16}|${formatIPv4(w[at + KW.dst] as number)}|${ports & 0xffff}|${type}|${code}|${id}`;
}
