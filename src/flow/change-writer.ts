/**
 * Changelog messages written straight from flow rows (FlowEngine.drainEncoded()): each changed flow's
 * key text and its Avro single-object value (schemas/flowstate.v2.avsc, the bytes FlowStateCodec.encode()
 * makes of drain()'s FlowState) go into one byte buffer, without the FlowStateEntry, FlowState, counters
 * objects, boxed times and key string that drain() builds per changed flow (~13 allocations; drain() was
 * about half of the engine's CPU per observation with one changelog state per observation, session 5).
 *
 * Avro binary encoding (Avro 1.11 specification, "Binary Encoding"): "int and long values are written
 * using variable-length zig-zag coding"; "a union is encoded by first writing an int value indicating the
 * zero-based position within the union of the schema of its value. The value is then encoded per the
 * indicated schema within the union"; "a record is encoded by encoding the values of its fields in the
 * order that they are declared"; "an enum is encoded by a int, representing the zero-based position of
 * the symbol in the schema". Single-object encoding: marker C3 01, the 8-byte little-endian CRC-64-AVRO
 * fingerprint of the writer schema, then the body (the header is taken from the codec's own output).
 */
import { F_STRIDE, Flag, type FlowTable, Fx, U_STRIDE, Ux } from './flow-table.js';
import type { FlowStateCodec } from './state-codec.js';
import { KEY_TAIL_MAX, writeKeyWords } from './tuple-key.js';
import type { StateValue } from './types.js';

/** Changelog entries as message bytes, in drain()'s order of changes. */
export interface EncodedChanges {
  /** Number of entries. */
  readonly count: number;
  /** Key and value bytes of every entry (owned by the caller: a fresh buffer per drainEncoded()). */
  readonly bytes: Buffer;
  /**
   * Entry i: key bytes (UTF-8 of the changelog key drain() gives) bytes[pos[4i], pos[4i+1]), value bytes
   * (FlowStateCodec.encode() of its state) bytes[pos[4i+2], pos[4i+3]); pos[4i+2] = -1: a tombstone
   * (null value).
   */
  readonly pos: Int32Array;
}

const HEADER = 10;
const TWO_52 = 2 ** 52;
/** Most bytes of a flow value without reply tuple: header, 3 unions, 22 longs of ≤ 10 bytes. */
const FLOW_VALUE_MAX = HEADER + 8 + 22 * 10;

/** Writes zig-zag long `v` at b[p..); returns the end. */
function putLong(b: Buffer, p: number, v: number): number {
  if (v >= 0 && v < 0x40000000) {
    // z = 2v < 2^31: 32-bit integer arithmetic (flags, ids, counters, small values).
    let z = v * 2;
    while (z > 127) {
      b[p++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    b[p++] = z;
    return p;
  }
  if (v >= 0 && v <= TWO_52) {
    // z = 2v < 2^53 (times in µs: ~3.4e15): low 32 bits by ToUint32 (exact modulo 2^32 for any
    // integer double), the high part by one exact division; then only integer shifts.
    const z = v * 2;
    const lo = z >>> 0;
    const hi = (z - lo) / 4294967296;
    b[p++] = (lo & 0x7f) | 0x80;
    b[p++] = ((lo >>> 7) & 0x7f) | 0x80;
    b[p++] = ((lo >>> 14) & 0x7f) | 0x80;
    b[p++] = ((lo >>> 21) & 0x7f) | 0x80;
    // z ≥ 2^31, so there is more; the next group takes lo's top 4 bits and hi's (hi < 2^21).
    let rest = (lo >>> 28) | (hi << 4);
    while (rest > 127) {
      b[p++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    b[p++] = rest;
    return p;
  }
  // Negative or beyond 2^52 (never for a well-formed flow; exact anyway).
  const x = BigInt(v);
  let z = x >= 0n ? x << 1n : (-x << 1n) - 1n;
  while (z > 127n) {
    b[p++] = Number(z & 0x7fn) | 0x80;
    z >>= 7n;
  }
  b[p++] = Number(z);
  return p;
}

/** Accumulates encoded changelog entries (one per drainEncoded()). */
export class ChangeWriter {
  #b = Buffer.allocUnsafe(1 << 16);
  #p = 0;
  #pos = new Int32Array(1024);
  #n = 0;
  readonly #header: Buffer;
  readonly #codec: FlowStateCodec;

  constructor(codec: FlowStateCodec) {
    this.#codec = codec;
    // The header of this codec's schema: the first bytes of any value it encodes.
    const any: StateValue = {
      flow: null,
      node: {
        node: 'n',
        bootId: '',
        eventTimeUs: 0,
        nextSeq: 0,
        gone: false,
        horizonUs: 0,
        watermarkUs: 0,
      },
    };
    this.#header = Buffer.from((codec.encode(any) as Buffer).subarray(0, HEADER));
  }

  /** The codec whose schema the values are written in. */
  get codec(): FlowStateCodec {
    return this.#codec;
  }

  #room(bytes: number): void {
    if (this.#p + bytes <= this.#b.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.#b.length * 2, this.#p + bytes));
    this.#b.copy(b, 0, 0, this.#p);
    this.#b = b;
  }

  #entry(): number {
    if ((this.#n + 1) * 4 > this.#pos.length) {
      const pos = new Int32Array(this.#pos.length * 2);
      pos.set(this.#pos);
      this.#pos = pos;
    }
    return this.#n++ * 4;
  }

  /** An entry with key text `key` and value `value` (encoded bytes; null = tombstone). */
  add(key: string, value: Buffer | null): void {
    const e = this.#entry();
    this.#room(Buffer.byteLength(key) + (value === null ? 0 : value.length));
    const pos = this.#pos;
    pos[e] = this.#p;
    this.#p += this.#b.write(key, this.#p, 'utf8');
    pos[e + 1] = this.#p;
    if (value === null) {
      pos[e + 2] = -1;
      pos[e + 3] = -1;
    } else {
      pos[e + 2] = this.#p;
      this.#p += value.copy(this.#b, this.#p);
      pos[e + 3] = this.#p;
    }
  }

  /**
   * The entry of the live narrow flow in `slot` of `t` (its node's name `nodeName`), key and value
   * written from the row; false, nothing written, for a wide flow or one with a stored reply tuple (NAT,
   * ICMP replies: rare), which the caller adds with add().
   */
  addFlow(t: FlowTable, slot: number, nodeName: string): boolean {
    const u = t.u;
    const ub = slot * U_STRIDE;
    if (t.isWide(slot) || t.replies.has(slot)) return false;
    const e = this.#entry();
    this.#room(nodeName.length * 3 + KEY_TAIL_MAX + FLOW_VALUE_MAX);
    const b = this.#b;
    const pos = this.#pos;
    let p = this.#p;
    pos[e] = p;
    p = writeKeyWords(nodeName, u, ub + Ux.key, b, p);
    pos[e + 1] = p;
    pos[e + 2] = p;
    const header = this.#header;
    for (let i = 0; i < HEADER; i++) b[p++] = header[i] as number;
    const f = t.f;
    const fb = slot * F_STRIDE;
    const word = u[ub + Ux.flags] as number;
    const flags = word & 0xffff;
    b[p++] = 2; // StateValue.flow: branch 1 (FlowState)
    p = putLong(b, p, u[ub + Ux.conntrackId] as number);
    p = putLong(b, p, u[ub + Ux.seq] as number);
    p = putLong(b, p, flags & ~Flag.live);
    const tcp = (word >>> 16) & 15;
    if (tcp <= 9) {
      b[p++] = 2; // tcpState: branch 1 (FlowTcpState), then the symbol index
      b[p++] = tcp * 2;
    } else b[p++] = 0;
    p = putLong(b, p, u[ub + Ux.mark] as number);
    p = putLong(b, p, u[ub + Ux.recordIndex] as number);
    p = putLong(b, p, f[fb + Fx.connStart] as number);
    p = putLong(b, p, f[fb + Fx.origin] as number);
    p = putLong(b, p, f[fb + Fx.intervalStart] as number);
    p = putLong(b, p, f[fb + Fx.lastChange] as number);
    p = putLong(b, p, f[fb + Fx.lastSeen] as number);
    p = putLong(b, p, f[fb + Fx.endMark] as number);
    p = putLong(b, p, t.nextActive(slot));
    if (flags & Flag.hasCounters) {
      b[p++] = 2; // counters: branch 1, current then exported (same order as the row)
      for (let i = 0; i < 8; i++) p = putLong(b, p, f[fb + Fx.cur + i] as number);
    } else b[p++] = 0;
    b[p++] = 0; // reply: null (plain inversion of the original tuple)
    b[p++] = 0; // StateValue.node: null
    pos[e + 3] = p;
    this.#p = p;
    return true;
  }

  /** The entries written since the last take(), as a fresh buffer; the writer starts over. */
  take(): EncodedChanges {
    const out: EncodedChanges = {
      count: this.#n,
      bytes: Buffer.from(this.#b.subarray(0, this.#p)),
      pos: this.#pos.slice(0, this.#n * 4),
    };
    this.#p = 0;
    this.#n = 0;
    return out;
  }
}
