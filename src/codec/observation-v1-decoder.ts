/**
 * A decoder specialised to schemas/observation.v1.avsc: the processor's per-message hot path.
 * avsc's generic decoder plus the validity walk that must follow it (random bytes can decode into
 * out-of-range values) cost ~3 µs per observation; this reads the fields in schema order straight
 * into a plain Observation and checks each value as it goes.
 *
 * Avro binary encoding (Avro 1.11 specification, "Binary Encoding"): int and long are zig-zag
 * variable-length integers; a string is a long byte count followed by UTF-8 bytes; an enum is the
 * int index of its symbol; a union is the long index of its branch followed by the value; a record
 * is its fields in schema order, nothing else.
 *
 * It never reports an error itself: on anything unexpected (a truncated or corrupt body, a value
 * out of range, trailing bytes) it returns undefined, and the caller decodes the message again with
 * avsc, which produces the exact error. Agreement with avsc is a property test.
 */
import type { Counters, EventKind, Family, Observation, TcpState, Tuple } from '../flow/types.js';

const KINDS: readonly EventKind[] = ['NEW', 'UPDATE', 'DESTROY', 'POLL'];
const FAMILIES: readonly Family[] = ['IPV4', 'IPV6'];
const TCP_STATES: readonly TcpState[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];

/** Thrown inside the decoder only, caught at its boundary. */
class Bad extends Error {}
const BAD = new Bad('not a valid observation.v1 body');

// The message being read. Module state, not fields: these functions are the per-message hot path and
// plain variables keep them small enough for V8 to inline.
let buf: Buffer = Buffer.alloc(0);
let pos = 0;

/**
 * A zig-zag varint (Avro long). The low 28 bits are gathered in 32-bit arithmetic and the rest as a
 * separate high part, so every value within ±(2^53 − 1) comes out exact; larger ones are declined.
 */
function readLong(): number {
  let b = buf[pos++];
  if (b === undefined) throw BAD;
  let lo = b & 0x7f;
  if (b < 0x80) return lo & 1 ? -(lo + 1) / 2 : lo / 2;
  let shift = 7;
  do {
    b = buf[pos++];
    if (b === undefined) throw BAD;
    lo |= (b & 0x7f) << shift;
    shift += 7;
  } while (b >= 0x80 && shift < 28);
  let hi = 0;
  if (b >= 0x80) {
    // bits 28 and up: at most 26 more (raw < 2^54), in 7-bit groups
    // A running factor rather than 2 ** hs: event times (µs since 1970) always take this path.
    let f = 1;
    do {
      b = buf[pos++];
      if (b === undefined) throw BAD;
      hi += (b & 0x7f) * f;
      f *= 128;
    } while (b >= 0x80 && f < 2 ** 28);
    if (b >= 0x80 || hi >= 2 ** 26) throw BAD;
  }
  // raw = hi·2^28 + lo; zig-zag: even raw → raw/2, odd → −(raw+1)/2 (lo has raw's lowest bit).
  const v = lo & 1 ? -(hi * 2 ** 27 + (lo + 1) / 2) : hi * 2 ** 27 + lo / 2;
  if (!Number.isSafeInteger(v)) throw BAD;
  return v;
}

/** A zig-zag varint that must fit 32 bits (Avro int). */
function readInt(): number {
  const v = readLong();
  if (v < -0x80000000 || v > 0x7fffffff) throw BAD;
  return v;
}

/** Branch index of a ["null", T] union: 0 or 1. */
function readUnion(): number {
  const b = readLong();
  if (b !== 0 && b !== 1) throw BAD;
  return b;
}

function readEnum<T>(symbols: readonly T[]): T {
  const s = symbols[readInt()];
  if (s === undefined) throw BAD;
  return s;
}

/** Start of a string or bytes value; leaves pos at its end. */
function readBytesEnd(): number {
  const len = readLong();
  const end = pos + len;
  if (len < 0 || end > buf.length) throw BAD;
  return end;
}

function readString(): string {
  const end = readBytesEnd();
  const s = (buf as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(pos, end);
  pos = end;
  return s;
}

function readTuple(): Tuple {
  const src = readString();
  const dst = readString();
  const srcPort = readInt();
  const dstPort = readInt();
  const icmpType = readUnion() === 0 ? null : readInt();
  const icmpCode = readUnion() === 0 ? null : readInt();
  const icmpId = readUnion() === 0 ? null : readInt();
  return { src, dst, srcPort, dstPort, icmpType, icmpCode, icmpId };
}

function readCounters(): Counters {
  const origPackets = readLong();
  const origBytes = readLong();
  const replyPackets = readLong();
  const replyBytes = readLong();
  return { origPackets, origBytes, replyPackets, replyBytes };
}

/** A string that is usually the same as in the previous message (node, boot id): decoded once. */
class RepeatedString {
  text = '';
  bytes: Buffer = Buffer.alloc(0);

  read(): string {
    const end = readBytesEnd();
    const len = end - pos;
    const last = this.bytes;
    let same = last.length === len;
    for (let i = 0; same && i < len; i++) same = last[i] === buf[pos + i];
    if (!same) {
      this.text = (buf as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(pos, end);
      this.bytes = Buffer.from(buf.subarray(pos, end));
    }
    pos = end;
    return this.text;
  }
}

/** Reads one message; keeps the last node and boot id strings to reuse them (they repeat). */
export class ObservationV1Decoder {
  readonly #node = new RepeatedString();
  readonly #bootId = new RepeatedString();

  /** The observation encoded in bytes[start..], or undefined when it is not exactly one valid v1 body. */
  decode(bytes: Buffer, start: number): Observation | undefined {
    buf = bytes;
    pos = start;
    try {
      const node = this.#node.read();
      const bootId = this.#bootId.read();
      const kind = readEnum(KINDS);
      const timeUs = readLong();
      const conntrackId = readLong();
      const zone = readInt();
      const family = readEnum(FAMILIES);
      const protocol = readInt();
      const orig = readTuple();
      const reply = readTuple();
      const tcpState = readUnion() === 0 ? null : readEnum(TCP_STATES);
      const status = readLong();
      const mark = readLong();
      const counters = readUnion() === 0 ? null : readCounters();
      const kernelStartUs = readUnion() === 0 ? null : readLong();
      const kernelStopUs = readUnion() === 0 ? null : readLong();
      if (pos !== bytes.length) return undefined;
      return {
        node,
        bootId,
        kind,
        timeUs,
        conntrackId,
        zone,
        family,
        protocol,
        orig,
        reply,
        tcpState,
        status,
        mark,
        counters,
        kernelStartUs,
        kernelStopUs,
      };
    } catch (err) {
      if (err instanceof Bad) return undefined;
      throw err;
    } finally {
      buf = EMPTY;
    }
  }
}

/** Skips a string (its bytes are not needed); the same checks as readString(). */
function skipString(): void {
  pos = readBytesEnd();
}

/** Reads a tuple's numbers into `t` and leaves its address texts as byte ranges (see TupleBytes). */
function readTupleInto(t: Tuple, at: TupleBytes): void {
  at.srcTo = readBytesEnd();
  at.srcFrom = pos;
  pos = at.srcTo;
  at.dstTo = readBytesEnd();
  at.dstFrom = pos;
  pos = at.dstTo;
  t.srcPort = readInt();
  t.dstPort = readInt();
  t.icmpType = readUnion() === 0 ? null : readInt();
  t.icmpCode = readUnion() === 0 ? null : readInt();
  t.icmpId = readUnion() === 0 ? null : readInt();
}

/** Byte ranges of a tuple's address texts in the message last read. */
export interface TupleBytes {
  srcFrom: number;
  srcTo: number;
  dstFrom: number;
  dstTo: number;
}

/**
 * Reads observation.v1 bodies into one reusable Observation (`obs`), for the flow engine's
 * observeEncoded(): the numbers and the repeated strings (node, boot id) as ObservationV1Decoder
 * reads them, with the same checks in the same order (so it accepts exactly the bodies decode()
 * accepts), but no object per message: the original tuple's addresses stay bytes (`orig`: ranges in
 * the message; `obs.orig.src`/`dst` are empty strings) and the reply tuple is only checked
 * (`obs.reply` is a placeholder). A caller that needs the whole observation decodes the same bytes
 * with ObservationV1Decoder.
 */
export class ObservationV1Reader {
  readonly #node = new RepeatedString();
  readonly #bootId = new RepeatedString();
  readonly #counters: Counters = { origPackets: 0, origBytes: 0, replyPackets: 0, replyBytes: 0 };
  /** The last message read (valid after read() returned true; overwritten by the next). */
  readonly obs: Observation = {
    node: '',
    bootId: '',
    kind: 'POLL',
    timeUs: 0,
    conntrackId: 0,
    zone: 0,
    family: 'IPV4',
    protocol: 0,
    orig: { src: '', dst: '', srcPort: 0, dstPort: 0, icmpType: null, icmpCode: null, icmpId: null },
    reply: { src: '', dst: '', srcPort: 0, dstPort: 0, icmpType: null, icmpCode: null, icmpId: null },
    tcpState: null,
    status: 0,
    mark: 0,
    counters: null,
    kernelStartUs: null,
    kernelStopUs: null,
  };
  /** Where the original tuple's address texts are in the message last read. */
  readonly orig: TupleBytes = { srcFrom: 0, srcTo: 0, dstFrom: 0, dstTo: 0 };

  /** Reads bytes[start..] into `obs`; false (obs unspecified) when decode() would return undefined. */
  read(bytes: Buffer, start: number): boolean {
    buf = bytes;
    pos = start;
    const o = this.obs;
    try {
      o.node = this.#node.read();
      o.bootId = this.#bootId.read();
      o.kind = readEnum(KINDS);
      o.timeUs = readLong();
      o.conntrackId = readLong();
      o.zone = readInt();
      o.family = readEnum(FAMILIES);
      o.protocol = readInt();
      readTupleInto(o.orig, this.orig);
      // The reply tuple: checked, not kept.
      skipString();
      skipString();
      readInt();
      readInt();
      if (readUnion() === 1) readInt();
      if (readUnion() === 1) readInt();
      if (readUnion() === 1) readInt();
      o.tcpState = readUnion() === 0 ? null : readEnum(TCP_STATES);
      o.status = readLong();
      o.mark = readLong();
      if (readUnion() === 0) o.counters = null;
      else {
        const c = this.#counters;
        c.origPackets = readLong();
        c.origBytes = readLong();
        c.replyPackets = readLong();
        c.replyBytes = readLong();
        o.counters = c;
      }
      o.kernelStartUs = readUnion() === 0 ? null : readLong();
      o.kernelStopUs = readUnion() === 0 ? null : readLong();
      return pos === bytes.length;
    } catch (err) {
      if (err instanceof Bad) return false;
      throw err;
    } finally {
      buf = EMPTY;
    }
  }
}

const EMPTY = Buffer.alloc(0);
