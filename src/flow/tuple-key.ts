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
  return parseIPv4At(s, 0, s.length);
}

/** parseIPv4() of s[from, to). */
function parseIPv4At(s: string, from: number, to: number): number {
  const n = to - from;
  if (n < 7 || n > 15) return -1;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
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

// Addresses recur (services, busy pods): a small direct-mapped cache of their text saves building
// (and later collecting) the same strings for every record and changelog key.
const CACHE_BITS = 12;
const cachedAddr = new Float64Array(1 << CACHE_BITS).fill(-1);
const cachedText: string[] = new Array<string>(1 << CACHE_BITS).fill('');

/** formatIPv4() through a small cache (same text). */
export function ipv4Text(v: number): string {
  const i = Math.imul(v, 0x9e3779b1) >>> (32 - CACHE_BITS);
  if (cachedAddr[i] === v) return cachedText[i] as string;
  // A flat string: it is hashed and compared later (Kafka keys, collectors), a rope would be
  // flattened there again and again.
  const s = flat4(v);
  cachedAddr[i] = v;
  cachedText[i] = s;
  return s;
}

function flat4(v: number): string {
  const s = formatIPv4(v);
  // Short strings (< 13 chars) are flat already; longer ones are ropes until flattened here.
  return s.length < 13 ? s : Buffer.from(s, 'latin1').toString('latin1');
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
  return encodeKeyFields(
    zone,
    protocol,
    src,
    dst,
    o.srcPort,
    o.dstPort,
    o.icmpType,
    o.icmpCode,
    o.icmpId,
    out,
    at,
  );
}

/**
 * The canonical IPv4 dotted quad in bytes[from, to) (UTF-8 of the observation's address text) as a
 * uint32, or -1: exactly parseIPv4() of the decoded text (a byte ≥ 0x80 is neither digit nor dot).
 */
export function parseIPv4Bytes(bytes: Uint8Array, from: number, to: number): number {
  const n = to - from;
  if (n < 7 || n > 15) return -1;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = bytes[i] as number;
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || (digits > 0 && part === 0)) return -1;
    part = part * 10 + d;
    if (part > 255) return -1;
    digits++;
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + part;
}

/** encodeKey() with the addresses already parsed (src, dst ≥ 0). */
export function encodeKeyFields(
  zone: number,
  protocol: number,
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  icmpType: number | null,
  icmpCode: number | null,
  icmpId: number | null,
  out: Uint32Array,
  at: number,
): boolean {
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

/** Read position of the key scanner below (module state: no object per key). */
let cur = 0;

/**
 * Canonical decimal (no leading zero) at `cur` up to the next '|' or the end, ≤ max; advances past
 * the separator. -1 when malformed, -2 when empty.
 */
function scanDecimal(k: string, max: number): number {
  const n = k.length;
  let i = cur;
  let v = 0;
  let digits = 0;
  for (; i < n; i++) {
    const c = k.charCodeAt(i);
    if (c === 124) break;
    const d = c - 48;
    if (d < 0 || d > 9 || (digits > 0 && v === 0)) return -1;
    v = v * 10 + d;
    if (v > max) return -1;
    digits++;
  }
  cur = i + 1;
  return digits === 0 ? -2 : v;
}

/** Canonical dotted quad at `cur` up to the next '|'; advances past it. -1 when not one. */
function scanIPv4(k: string): number {
  const from = cur;
  const to = k.indexOf('|', from);
  if (to < 0) return -1;
  cur = to + 1;
  return parseIPv4At(k, from, to);
}

/**
 * Key words of flow key `k` (flowKey() layout) into `out[at..)`; false when the key is wide or not
 * well formed (the caller then keeps the string). Same classification as encodeKey(). One pass,
 * no substring (restore calls it once per flow).
 */
export function encodeKeyString(k: string, out: Uint32Array, at: number): boolean {
  const s0 = k.indexOf('|');
  if (s0 < 0) return false;
  cur = s0 + 1;
  const zone = scanDecimal(k, 0xffff);
  if (zone < 0) return false;
  const protocol = scanDecimal(k, 0xff);
  if (protocol < 0) return false;
  const src = scanIPv4(k);
  if (src < 0) return false;
  const srcPort = scanDecimal(k, 0xffff);
  if (srcPort < 0) return false;
  const dst = scanIPv4(k);
  if (dst < 0) return false;
  const dstPort = scanDecimal(k, 0xffff);
  if (dstPort < 0 || cur >= k.length) return false;
  const type = scanDecimal(k, 0xff);
  if (type === -1 || cur >= k.length) return false;
  const code = scanDecimal(k, 0xff);
  if (code === -1 || cur > k.length) return false;
  // The last field runs to the end of the key: a further '|' means more fields than flowKey() has.
  const idStart = cur;
  const id = scanDecimal(k, 0xffff);
  if (id === -1 || cur !== k.length + 1 || (id === -2 && idStart !== k.length)) return false;
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
    src: ipv4Text(w[at + KW.src] as number),
    dst: ipv4Text(w[at + KW.dst] as number),
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
  const nb = nodeBytes(node);
  if (nb === undefined) return keyOfWordsJoin(node, w, at);
  const need = nb.length + KEY_TAIL_MAX;
  if (keyBuf.length < need) keyBuf = Buffer.allocUnsafeSlow(need * 2);
  const b = keyBuf;
  let p = 0;
  for (let i = 0; i < nb.length; i++) b[p++] = nb[i] as number;
  p = writeKeyTail(w, at, b, p);
  // One native call makes a flat one-byte string of the bytes: ~3× cheaper than join() with its
  // number-to-text conversions (drain() builds one key per changelog state).
  return (b as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(0, p);
}

/**
 * The UTF-8 bytes of keyOfWords(node, w, at) written at b[p..) (room: node's UTF-8 length + KEY_TAIL_MAX);
 * returns the end.
 */
export function writeKeyWords(node: string, w: Uint32Array, at: number, b: Buffer, p: number): number {
  if (node !== lastUtf8Node) {
    lastUtf8Node = node;
    lastUtf8Bytes = Buffer.from(node, 'utf8');
  }
  const nb = lastUtf8Bytes;
  for (let i = 0; i < nb.length; i++) b[p++] = nb[i] as number;
  return writeKeyTail(w, at, b, p);
}

/** Writes `|zone|protocol|src|srcPort|dst|dstPort|type|code|id` of key words w[at..) at b[p..). */
function writeKeyTail(w: Uint32Array, at: number, b: Uint8Array, p: number): number {
  const ports = w[at + KW.ports] as number;
  const zti = w[at + KW.zti] as number;
  const pin = w[at + KW.pin] as number;
  b[p++] = BAR;
  p = writeDecimal(b, p, zti >>> 16);
  b[p++] = BAR;
  p = writeDecimal(b, p, (pin >>> 16) & 0xff);
  b[p++] = BAR;
  p = writeIPv4(b, p, w[at + KW.src] as number);
  b[p++] = BAR;
  p = writeDecimal(b, p, ports >>> 16);
  b[p++] = BAR;
  p = writeIPv4(b, p, w[at + KW.dst] as number);
  b[p++] = BAR;
  p = writeDecimal(b, p, ports & 0xffff);
  b[p++] = BAR;
  if (!(pin & TYPE_NULL)) p = writeDecimal(b, p, (zti >>> 8) & 0xff);
  b[p++] = BAR;
  if (!(pin & CODE_NULL)) p = writeDecimal(b, p, zti & 0xff);
  b[p++] = BAR;
  if (!(pin & ID_NULL)) p = writeDecimal(b, p, pin & 0xffff);
  return p;
}

/** keyOfWords() for node names that are not Latin-1 text (join(): one flat string, see flowKey()). */
function keyOfWordsJoin(node: string, w: Uint32Array, at: number): string {
  const ports = w[at + KW.ports] as number;
  const zti = w[at + KW.zti] as number;
  const pin = w[at + KW.pin] as number;
  const type = pin & TYPE_NULL ? '' : (zti >>> 8) & 0xff;
  const code = pin & CODE_NULL ? '' : zti & 0xff;
  const id = pin & ID_NULL ? '' : pin & 0xffff;
  return [
    node,
    zti >>> 16,
    (pin >>> 16) & 0xff,
    ipv4Text(w[at + KW.src] as number),
    ports >>> 16,
    ipv4Text(w[at + KW.dst] as number),
    ports & 0xffff,
    type,
    code,
    id,
  ].join('|');
}

const BAR = 124;
/**
 * Longest key after the node name: 9 separators, two addresses (15 each), zone, ports and ICMP id (5
 * digits each), protocol, ICMP type and code (3 each).
 */
export const KEY_TAIL_MAX = 9 + 2 * 15 + 4 * 5 + 3 * 3;
let keyBuf = Buffer.allocUnsafeSlow(256);
let lastNode = '';
/** Latin-1 bytes of lastNode; undefined when it has a character above U+00FF. */
let lastNodeBytes: Uint8Array | undefined = new Uint8Array(0);
let lastUtf8Node = '';
let lastUtf8Bytes: Uint8Array = new Uint8Array(0);

/** The node name's Latin-1 bytes (cached for the last name: keys come in runs of one node). */
function nodeBytes(node: string): Uint8Array | undefined {
  if (node === lastNode) return lastNodeBytes;
  let latin1 = true;
  for (let i = 0; i < node.length; i++) if (node.charCodeAt(i) > 0xff) latin1 = false;
  lastNode = node;
  lastNodeBytes = latin1 ? Buffer.from(node, 'latin1') : undefined;
  return lastNodeBytes;
}

/** Writes the decimal text of integer 0 ≤ v ≤ 99999 at b[p..); returns the end. */
function writeDecimal(b: Uint8Array, p: number, v: number): number {
  if (v >= 10) {
    if (v >= 100) {
      if (v >= 1000) {
        if (v >= 10000) b[p++] = 48 + ((v / 10000) | 0);
        b[p++] = 48 + (((v / 1000) | 0) % 10);
      }
      b[p++] = 48 + (((v / 100) | 0) % 10);
    }
    b[p++] = 48 + (((v / 10) | 0) % 10);
  }
  b[p++] = 48 + (v % 10);
  return p;
}

/** Writes the dotted quad of uint32 address `v` at b[p..); returns the end. */
function writeIPv4(b: Uint8Array, p: number, v: number): number {
  p = writeDecimal(b, p, v >>> 24);
  b[p++] = 46;
  p = writeDecimal(b, p, (v >>> 16) & 255);
  b[p++] = 46;
  p = writeDecimal(b, p, (v >>> 8) & 255);
  b[p++] = 46;
  return writeDecimal(b, p, v & 255);
}
