/**
 * Avro codec of the changelog values (schemas/flowstate.v2.avsc), in the Avro single-object
 * encoding like the observations topic (spec 1.11, "Single-object encoding": marker C3 01, the
 * 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, then the binary body), so a
 * changelog written by one version is recognised (or refused with a clear error) by the next.
 * Values written with flowstate.v1.avsc (before NodeState.watermarkUs) are still read: by Avro
 * schema resolution in decode(), by the specialised reader in decodeStateInto().
 */
import { join } from 'node:path';
import type avro from 'avsc';
import { schemaFingerprint } from '../codec/canonical.js';
import { fingerprintBytesLE, fingerprintHex } from '../codec/rabin.js';
import { loadSchemaFile, schemasDir } from '../codec/schema-files.js';
import { CtflowError } from '../errors.js';
import {
  type FlowStateEntry,
  type NodeState,
  type StateValue,
  TCP_STATE_NAMES,
  type Tuple,
} from './types.js';

/** File name of the current changelog value schema in schemas/. */
export const FLOWSTATE_SCHEMA_FILE = 'flowstate.v2.avsc';
/** Older changelog value schemas still read (a changelog keeps values of earlier versions). */
export const FLOWSTATE_LEGACY_SCHEMA_FILES = ['flowstate.v1.avsc'] as const;

/** Schema version of a value's header (FlowStateCodec.versionOf): 0 = none this codec reads. */
export const FLOWSTATE_V1 = 1;
export const FLOWSTATE_V2 = 2;

const HEADER = 10;

/** Encoder/decoder of changelog values; a null Kafka value is a tombstone (state null). */
export class FlowStateCodec {
  readonly type: avro.Type;
  readonly #header: Buffer;
  readonly #hex: string;
  /** The v1 header and the resolver reading v1 bodies into `type` (Avro schema resolution). */
  readonly #v1Header: Buffer;
  readonly #v1Resolver: avro.Resolver;

  constructor(type: avro.Type = loadFlowStateSchema(FLOWSTATE_SCHEMA_FILE)) {
    this.type = type;
    const fp = schemaFingerprint(type);
    this.#hex = fingerprintHex(fp);
    this.#header = headerOf(fp);
    const v1 = loadFlowStateSchema(FLOWSTATE_LEGACY_SCHEMA_FILES[0]);
    this.#v1Header = headerOf(schemaFingerprint(v1));
    this.#v1Resolver = type.createResolver(v1);
  }

  /** Wire fingerprint (hex of the little-endian bytes) of the schema this codec writes. */
  get fingerprint(): string {
    return this.#hex;
  }

  /** Encodes a changelog value; null (tombstone) encodes as null. */
  encode(value: StateValue | null): Buffer | null {
    if (value === null) return null;
    let body: Buffer;
    try {
      body = this.type.toBuffer(value);
    } catch (cause) {
      throw new CtflowError('CODEC_ENCODE', `flow state does not match ${FLOWSTATE_SCHEMA_FILE}`, {
        details: { schema: this.type.name, value: JSON.stringify(value) },
        cause,
      });
    }
    return Buffer.concat([this.#header, body], HEADER + body.length);
  }

  /** Decodes a changelog value (null = tombstone). `where` names the message in errors. */
  decode(buf: Buffer | null, where = 'changelog message'): StateValue | null {
    if (buf === null) return null;
    const version = this.versionOf(buf);
    if (version === 0) this.checkHeader(buf, where);
    let res: { value: unknown; offset: number };
    try {
      res =
        version === FLOWSTATE_V1
          ? this.type.decode(buf, HEADER, this.#v1Resolver)
          : this.type.decode(buf, HEADER);
    } catch (cause) {
      throw new CtflowError('CODEC_DECODE', `${where}: corrupt flow state body`, {
        details: { where, offset: HEADER },
        cause,
      });
    }
    if (res.offset !== buf.length) {
      throw new CtflowError(
        'CODEC_DECODE',
        `${where}: flow state body of ${buf.length} bytes ends at ${res.offset}`,
        {
          details: { where, offset: res.offset, expected: buf.length },
        },
      );
    }
    return res.value as StateValue;
  }

  /**
   * True when `buf` starts with the single-object marker and the fingerprint of a schema this codec
   * reads (the current one or flowstate.v1).
   */
  hasHeader(buf: Buffer): boolean {
    return this.versionOf(buf) !== 0;
  }

  /** FLOWSTATE_V2 (this codec's schema), FLOWSTATE_V1, or 0 for any other header. */
  versionOf(buf: Buffer): number {
    return this.versionAt(buf, 0, buf.length);
  }

  /** versionOf() of the value buf[start, end) (e.g. a record inside fetched bytes). */
  versionAt(buf: Uint8Array, start: number, end: number): number {
    if (end - start < HEADER) return 0;
    if (sameHeader(buf, start, this.#header)) return FLOWSTATE_V2;
    return sameHeader(buf, start, this.#v1Header) ? FLOWSTATE_V1 : 0;
  }

  /**
   * Throws the clear CODEC_DECODE error unless `buf` starts with the single-object marker and the
   * fingerprint of a schema this codec reads.
   */
  checkHeader(buf: Buffer, where: string): void {
    this.checkHeaderAt(buf, 0, buf.length, where);
  }

  /** checkHeader() of the value buf[start, end). */
  checkHeaderAt(buf: Uint8Array, start: number, end: number, where: string): void {
    if (end - start < HEADER || buf[start] !== 0xc3 || buf[start + 1] !== 0x01) {
      throw new CtflowError('CODEC_DECODE', `${where}: not an Avro single-object flow state`, {
        details: { where, offset: 0, expected: 'c301 + fingerprint' },
      });
    }
    // Compared in place: a subarray per value was a measurable share of a changelog restore.
    if (!sameHeader(buf, start, this.#header) && !sameHeader(buf, start, this.#v1Header)) {
      const hex = Buffer.from(buf.buffer, buf.byteOffset + start + 2, HEADER - 2).toString('hex');
      throw new CtflowError('CODEC_DECODE', `${where}: unknown flow state schema fingerprint ${hex}`, {
        details: { where, offset: 2, fingerprint: hex, expected: this.#hex },
      });
    }
  }

  /** A changelog message (key, value bytes) as an engine restore entry. */
  decodeEntry(key: string, value: Buffer | null, where?: string): FlowStateEntry {
    return { key, state: this.decode(value, where) };
  }
}

function loadFlowStateSchema(file: string): avro.Type {
  return loadSchemaFile(join(schemasDir(), file));
}

function headerOf(fp: bigint): Buffer {
  return Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprintBytesLE(fp)]);
}

/** Byte by byte: cheaper than Buffer.compare's native call for 10 bytes, once per restored flow. */
function sameHeader(buf: Uint8Array, start: number, h: Buffer): boolean {
  for (let i = 0; i < HEADER; i++) if (buf[start + i] !== h[i]) return false;
  return true;
}

/** Indexes of the numbers a flow value decodes to (DecodedState.n), in schema field order. */
export const SN = {
  conntrackId: 0,
  seq: 1,
  flags: 2,
  mark: 3,
  recordIndex: 4,
  connStartUs: 5,
  originUs: 6,
  intervalStartUs: 7,
  lastChangeUs: 8,
  lastSeenUs: 9,
  endMarkUs: 10,
  nextActiveUs: 11,
  /** current counters (4), then exported (4), when hasCounters. */
  cur: 12,
  exp: 16,
} as const;

/**
 * One changelog value decoded without building objects (restore fast path): reused from value to
 * value. `kind` 1 = flow (numbers in `n`, SN order), 2 = node (`node`).
 */
export class DecodedState {
  kind = 0;
  readonly n = new Float64Array(20);
  /** Index in TCP_STATE_NAMES, or -1 for null. */
  tcp = -1;
  hasCounters = false;
  reply: Tuple | null = null;
  node: NodeState | null = null;
}

class Corrupt extends Error {}

/**
 * Reader of the Avro binary encoding (spec 1.11, "Binary Encoding": int and long are zig-zag
 * varints, strings a long length then UTF-8 bytes, a union the long index of its branch, then the
 * branch) of exactly schemas/flowstate.v2.avsc and v1 (the same but for the last NodeState field),
 * hand-specialised: no object per value.
 */
class Reader {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  /** End of the value being read (exclusive): the value may sit inside larger fetched bytes. */
  end = 0;

  /** A long (≤ 2^53 in magnitude, as avsc accepts). */
  long(): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    if (pos >= end) throw new Corrupt('truncated');
    let b = buf[pos++] as number;
    if (b < 0x80) {
      this.pos = pos;
      return (b >>> 1) ^ -(b & 1);
    }
    // The zig-zag sign is the first byte's low bit: no floating-point n % 2 (a slow fmod) per long.
    const odd = b & 1;
    let n = b & 0x7f;
    let f = 128;
    do {
      if (pos >= end) {
        this.pos = pos;
        throw new Corrupt('truncated');
      }
      b = buf[pos++] as number;
      n += (b & 0x7f) * f;
      f *= 128;
    } while (b >= 0x80 && f < 2 ** 63);
    this.pos = pos;
    if (b >= 0x80) throw new Corrupt('varint too long');
    // Past 2^53, n is rounded (even): keep the old parity of the rounded value there.
    const v = n < 2 ** 53 ? (odd === 0 ? n / 2 : -(n + 1) / 2) : n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    if (!Number.isSafeInteger(v)) throw new Corrupt('long out of range');
    return v;
  }

  /** An int (32-bit zig-zag varint). */
  int(): number {
    const v = this.long();
    if (v < -0x80000000 || v > 0x7fffffff) throw new Corrupt('int out of range');
    return v;
  }

  string(): string {
    const len = this.long();
    const end = this.pos + len;
    if (len < 0 || end > this.end) throw new Corrupt('truncated string');
    const s = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, len).toString('utf8');
    this.pos = end;
    return s;
  }

  union(branches: number): number {
    const i = this.long();
    if (i < 0 || i >= branches) throw new Corrupt('bad union branch');
    return i;
  }

  nullableInt(): number | null {
    return this.union(2) === 0 ? null : this.int();
  }
}

const reader = new Reader();

/**
 * `count` longs into n[i..), as reader.long() each: the common case (8 bytes or more left, a varint of at
 * most 8 bytes, under 2^53 — every µs timestamp and counter of a flow) read here in 32-bit integer steps
 * with the position in a local, no bounds check per byte and no call per long (a restore reads ~17 per
 * flow); anything else goes through reader.long(), which gives the same value or error.
 */
function longsInto(r: Reader, n: Float64Array, i: number, count: number): void {
  const buf = r.buf;
  const end = r.end;
  let pos = r.pos;
  for (const last = i + count; i < last; i++) {
    if (pos + 8 <= end) {
      let b = buf[pos] as number;
      if (b < 0x80) {
        n[i] = (b >>> 1) ^ -(b & 1);
        pos++;
        continue;
      }
      // Exactly 8 bytes (every µs timestamp since 1970 before 2^52: 7 continuation bytes, then one without):
      // read without a loop, its ~7 data-dependent branches replaced by one test of the continuation bits.
      const b7 = buf[pos + 7] as number;
      if (b7 < 0x80) {
        const b1 = buf[pos + 1] as number;
        const b2 = buf[pos + 2] as number;
        const b3 = buf[pos + 3] as number;
        const b4 = buf[pos + 4] as number;
        const b5 = buf[pos + 5] as number;
        const b6 = buf[pos + 6] as number;
        if ((b1 & b2 & b3 & b4 & b5 & b6 & 0x80) !== 0) {
          const lo8 = (b & 0x7f) | ((b1 & 0x7f) << 7) | ((b2 & 0x7f) << 14) | ((b3 & 0x7f) << 21);
          const v8 = ((b4 & 0x7f) | ((b5 & 0x7f) << 7) | ((b6 & 0x7f) << 14) | (b7 << 21)) * 268435456 + lo8;
          if (v8 < 2 ** 53) {
            n[i] = (lo8 & 1) === 0 ? v8 / 2 : -(v8 + 1) / 2;
            pos += 8;
            continue;
          }
        }
      }
      // Bytes 1..3 into lo (28 bits at most, so the 32-bit zig-zag below is exact).
      let lo = b & 0x7f;
      let p = pos + 1;
      let shift = 7;
      do {
        b = buf[p++] as number;
        lo |= (b & 0x7f) << shift;
        shift += 7;
      } while (b >= 0x80 && shift < 28);
      if (b < 0x80) {
        n[i] = (lo >>> 1) ^ -(lo & 1);
        pos = p;
        continue;
      }
      // Bytes 4..7 into hi: the varint is hi·2^28 + lo (< 2^56); the zig-zag sign is lo's low bit.
      let hi = 0;
      shift = 0;
      do {
        b = buf[p++] as number;
        hi |= (b & 0x7f) << shift;
        shift += 7;
      } while (b >= 0x80 && shift < 28);
      if (b < 0x80) {
        const v = hi * 268435456 + lo;
        if (v < 2 ** 53) {
          n[i] = (lo & 1) === 0 ? v / 2 : -(v + 1) / 2;
          pos = p;
          continue;
        }
      }
    }
    r.pos = pos;
    n[i] = r.long();
    pos = r.pos;
  }
  r.pos = pos;
}

/**
 * Decodes a changelog value into `out` (no objects except rare NAT replies and node clocks), with
 * the same header check and errors as FlowStateCodec.decode(). `codec` supplies the header.
 */
export function decodeStateInto(
  codec: FlowStateCodec,
  buf: Buffer,
  out: DecodedState,
  where: string,
  key?: string | KeyBytes,
): void {
  decodeStateAt(codec, buf, 0, buf.length, out, where, key);
}

/**
 * The name of a key given as bytes (restore from fetched records): made into text only for an error
 * message. One instance is reused from value to value.
 */
export class KeyBytes {
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  end = 0;

  /** The key's text (UTF-8). */
  text(): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + this.start, this.end - this.start).toString(
      'utf8',
    );
  }
}

/** decodeStateInto() of the value buf[start, end) (e.g. inside a fetched response: no view per value). */
export function decodeStateAt(
  codec: FlowStateCodec,
  buf: Uint8Array,
  start: number,
  end: number,
  out: DecodedState,
  where: string,
  key?: string | KeyBytes,
): void {
  const version = codec.versionAt(buf, start, end);
  if (version === 0) codec.checkHeaderAt(buf, start, end, whereOf(where, key));
  const r = reader;
  r.buf = buf;
  r.pos = start + HEADER;
  r.end = end;
  try {
    out.kind = 0;
    out.reply = null;
    out.node = null;
    if (r.union(2) === 1) {
      out.kind = 1;
      const n = out.n;
      longsInto(r, n, SN.conntrackId, 2); // conntrackId, seq
      n[SN.flags] = r.int();
      if (r.union(2) === 1) {
        const sym = r.int();
        if (sym < 0 || sym >= TCP_STATE_NAMES.length) throw new Corrupt('bad enum symbol');
        out.tcp = sym;
      } else out.tcp = -1;
      longsInto(r, n, SN.mark, SN.nextActiveUs - SN.mark + 1);
      out.hasCounters = r.union(2) === 1;
      if (out.hasCounters) longsInto(r, n, SN.cur, 8);
      if (r.union(2) === 1) {
        out.reply = {
          src: r.string(),
          dst: r.string(),
          srcPort: r.int(),
          dstPort: r.int(),
          icmpType: r.nullableInt(),
          icmpCode: r.nullableInt(),
          icmpId: r.nullableInt(),
        };
      }
    }
    if (r.union(2) === 1) {
      out.kind = out.kind === 0 ? 2 : 3;
      out.node = {
        node: r.string(),
        bootId: r.string(),
        eventTimeUs: r.long(),
        nextSeq: r.long(),
        gone: readBoolean(r),
        horizonUs: r.long(),
        // v1 has no watermarkUs: its schema default (see flowstate.v2.avsc for why 0 is safe).
        watermarkUs: version === FLOWSTATE_V1 ? 0 : r.long(),
      };
    }
  } catch (cause) {
    if (!(cause instanceof Corrupt)) throw cause;
    const w = whereOf(where, key);
    throw new CtflowError('CODEC_DECODE', `${w}: corrupt flow state body`, {
      details: { where: w, offset: HEADER },
      cause,
    });
  } finally {
    r.buf = EMPTY;
  }
  if (r.pos !== end) {
    throw new CtflowError(
      'CODEC_DECODE',
      `${whereOf(where, key)}: flow state body of ${end - start} bytes ends at ${r.pos - start}`,
      {
        details: { where: whereOf(where, key), offset: r.pos - start, expected: end - start },
      },
    );
  }
}

/** A Buffer like every value read (the reader's field stays monomorphic). */
const EMPTY = Buffer.alloc(0);

/** The message named in errors (built only on error: no string per value). */
function whereOf(where: string, key: string | KeyBytes | undefined): string {
  if (key === undefined) return where;
  return `${where} key ${typeof key === 'string' ? key : key.text()}`;
}

function readBoolean(r: Reader): boolean {
  if (r.pos >= r.end) throw new Corrupt('truncated');
  const b = r.buf[r.pos++];
  if (b === undefined) throw new Corrupt('truncated');
  // avsc reads any non-zero byte as true.
  return b !== 0;
}
