/**
 * Kafka protocol primitive types (https://kafka.apache.org/protocol#protocol_types) for the few requests
 * ctflow sends itself (wire/): big-endian fixed-width integers, INT16-length STRING, INT32-length BYTES,
 * INT32-count ARRAY, and the unsigned varints of flexible versions. Pure: no sockets here.
 */
import { CtflowError } from '../../errors.js';

/** A malformed or truncated response: names what was being read and where. */
export function wireError(what: string, at: number, details: Record<string, unknown> = {}): CtflowError {
  return new CtflowError('KAFKA', `malformed Kafka response: ${what} at byte ${at}`, {
    details: { at, ...details },
  });
}

/** Builds a request body. Grows as needed; `bytes()` returns the written part. */
export class ByteWriter {
  #buf = Buffer.allocUnsafe(256);
  #at = 0;

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n));
    this.#buf.copy(next, 0, 0, this.#at);
    this.#buf = next;
  }

  int8(v: number): this {
    this.#room(1);
    this.#at = this.#buf.writeInt8(v, this.#at);
    return this;
  }

  int16(v: number): this {
    this.#room(2);
    this.#at = this.#buf.writeInt16BE(v, this.#at);
    return this;
  }

  int32(v: number): this {
    this.#room(4);
    this.#at = this.#buf.writeInt32BE(v, this.#at);
    return this;
  }

  /** INT64 from a JS number (offsets are exact below 2^53). */
  int64(v: number): this {
    this.#room(8);
    this.#at = this.#buf.writeBigInt64BE(BigInt(v), this.#at);
    return this;
  }

  /** STRING: INT16 length N, then N bytes of UTF-8. NULLABLE_STRING: length -1 for null. */
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const n = Buffer.byteLength(s);
    this.int16(n);
    this.#room(n);
    this.#at += this.#buf.write(s, this.#at);
    return this;
  }

  /** UNSIGNED_VARINT (flexible versions: compact lengths and tagged-field counts). */
  uvarint(v: number): this {
    this.#room(5);
    let x = v >>> 0;
    while (x >= 0x80) {
      this.#buf[this.#at++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    this.#buf[this.#at++] = x;
    return this;
  }

  /** The bytes written so far (a view: copy before writing more if kept). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#at);
  }
}

/** Reads a response body; every read checks bounds and throws wireError naming the field. */
export class ByteReader {
  readonly buf: Buffer;
  at: number;
  readonly end: number;

  constructor(buf: Buffer, at = 0, end = buf.length) {
    this.buf = buf;
    this.at = at;
    this.end = end;
  }

  #need(n: number, what: string): number {
    const at = this.at;
    if (at + n > this.end) throw wireError(`${what} cut short`, at, { need: n, left: this.end - at });
    this.at = at + n;
    return at;
  }

  int8(what: string): number {
    return this.buf.readInt8(this.#need(1, what));
  }

  int16(what: string): number {
    return this.buf.readInt16BE(this.#need(2, what));
  }

  int32(what: string): number {
    return this.buf.readInt32BE(this.#need(4, what));
  }

  /** INT64 as a JS number; refuses values that are not exact (beyond 2^53). */
  int64(what: string): number {
    const at = this.#need(8, what);
    const hi = this.buf.readInt32BE(at);
    const lo = this.buf.readUInt32BE(at + 4);
    const v = hi * 0x1_0000_0000 + lo;
    if (!Number.isSafeInteger(v)) throw wireError(`${what} ${v} is not an exact JS number`, at);
    return v;
  }

  boolean(what: string): boolean {
    return this.buf[this.#need(1, what)] !== 0;
  }

  /** STRING / NULLABLE_STRING (INT16 length, -1 = null). */
  string(what: string): string | null {
    const n = this.int16(what);
    if (n < 0) return null;
    const at = this.#need(n, what);
    return this.buf.toString('utf8', at, at + n);
  }

  /** ARRAY count (INT32, -1 = null array, read as 0). */
  count(what: string): number {
    const n = this.int32(what);
    if (n > this.end - this.at) throw wireError(`${what} count ${n} exceeds the response`, this.at - 4);
    return Math.max(n, 0);
  }

  /** BYTES / RECORDS (INT32 length, -1 = null): the [start, end) range in `buf`, no copy. */
  bytesRange(what: string): [start: number, end: number] | null {
    const n = this.int32(what);
    if (n < 0) return null;
    const at = this.#need(n, what);
    return [at, at + n];
  }

  /** Skips n bytes. */
  skip(n: number, what: string): void {
    this.#need(n, what);
  }
}
