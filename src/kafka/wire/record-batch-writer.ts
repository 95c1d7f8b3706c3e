/**
 * RecordBatch v2 written in one pass into one buffer (the produce side of record-batch.ts). kafkajs builds a
 * growable Encoder per record, per header and per batch and copies each into the next (~20 µs of CPU per
 * changelog message, most of it allocation and garbage); this writer measures every record first, then
 * writes them all into one buffer of the exact size. Pure: no sockets.
 *
 * Protocol guide, "Record Batch" (magic 2, KIP-98):
 *   baseOffset INT64, batchLength INT32, partitionLeaderEpoch INT32, magic INT8 (2), crc UINT32 (CRC-32C of
 *   everything after it), attributes INT16 (bits 0-2 compression, bit 4 transactional), lastOffsetDelta INT32,
 *   baseTimestamp INT64, maxTimestamp INT64, producerId INT64, producerEpoch INT16, baseSequence INT32,
 *   records: INT32 count, then the records (compressed as a whole when compression != 0)
 *     Record => length VARINT, attributes INT8, timestampDelta VARLONG, offsetDelta VARINT,
 *               keyLength VARINT (-1: null), key, valueLength VARINT (-1: null), value,
 *               headers: count VARINT, then Header => keyLength VARINT, key, valueLength VARINT, value
 *   (VARINT/VARLONG: zigzag, as protobuf.)
 */
import { crc32c } from './crc32c.js';

/** Bytes or text (UTF-8), as producers hand them. */
export type Bytes = Buffer | string;

/** One record to write (the shape of a kafkajs message). */
export interface RecordInput {
  key?: Bytes | null | undefined;
  value: Bytes | null;
  /** Header name -> value, or several values (one header each, in order). */
  headers?: Readonly<Record<string, Bytes | readonly Bytes[] | null>> | undefined;
  /** ms since the Unix epoch (number or decimal text); default: `nowMs`. */
  timestamp?: string | number | null | undefined;
}

/** The records section of a batch (uncompressed) and the timestamps the batch header carries. */
export interface EncodedRecords {
  /** The records, without the count (compress this as a whole for a compressed batch). */
  bytes: Buffer;
  count: number;
  firstTimestamp: number;
  maxTimestamp: number;
}

/** Batch header fields of an idempotent or transactional producer (-1 / 0 / -1: neither). */
export interface BatchHeader {
  /** Compression codec id (attributes bits 0-2): 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  compression: number;
  transactional: boolean;
  producerId: bigint;
  producerEpoch: number;
  firstSequence: number;
}

function zigzag32(v: number): number {
  return ((v << 1) ^ (v >> 31)) >>> 0;
}

function uvarintSize(u: number): number {
  return u < 0x80 ? 1 : u < 0x4000 ? 2 : u < 0x20_0000 ? 3 : u < 0x1000_0000 ? 4 : 5;
}

/** Size of a VARINT (zigzag INT32). */
export function varintSize(v: number): number {
  return uvarintSize(zigzag32(v));
}

/** Zigzag of a VARLONG as an exact JS number (|v| < 2^52). */
function zigzag64(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function uvarlongSize(u: number): number {
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

function byteLength(b: Bytes): number {
  return typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.length;
}

/** Writes an unsigned varint at buf[p]; returns the next position. */
function putUvarint(buf: Buffer, p: number, u: number): number {
  while (u >= 0x80) {
    buf[p++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[p++] = u;
  return p;
}

function putUvarlong(buf: Buffer, p: number, u: number): number {
  while (u >= 0x80) {
    buf[p++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[p++] = u;
  return p;
}

/** Writes bytes or text at buf[p] (`length` bytes, measured before); returns the next position. */
function putBytes(buf: Buffer, p: number, b: Bytes, length: number): number {
  if (typeof b === 'string') buf.write(b, p, length, 'utf8');
  else b.copy(buf, p);
  return p + length;
}

/** A record's headers, written once per distinct headers object of a call (writers reuse one). */
function encodeHeaders(headers: RecordInput['headers']): Buffer {
  if (headers === undefined) return EMPTY_HEADERS;
  const pairs: Array<[Bytes, Bytes | null]> = [];
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (Array.isArray(v)) for (const one of v as readonly Bytes[]) pairs.push([name, one]);
    else pairs.push([name, (v ?? null) as Bytes | null]);
  }
  let size = varintSize(pairs.length);
  for (const [k, v] of pairs) {
    const kl = byteLength(k);
    const vl = v === null ? -1 : byteLength(v);
    size += varintSize(kl) + kl + varintSize(vl) + Math.max(0, vl);
  }
  const out = Buffer.allocUnsafe(size);
  let p = putUvarint(out, 0, zigzag32(pairs.length));
  for (const [k, v] of pairs) {
    const kl = byteLength(k);
    p = putBytes(out, putUvarint(out, p, zigzag32(kl)), k, kl);
    if (v === null) p = putUvarint(out, p, zigzag32(-1));
    else {
      const vl = byteLength(v);
      p = putBytes(out, putUvarint(out, p, zigzag32(vl)), v, vl);
    }
  }
  return out;
}

const EMPTY_HEADERS: Buffer = Buffer.from([0]);

function timestampOf(t: string | number | null | undefined): number | undefined {
  return t === null || t === undefined ? undefined : Number(t);
}

/**
 * Writes the records of one batch (offset deltas 0..n-1). The batch's first timestamp is the smallest
 * given one (`nowMs` when none is), a record without one is stamped `nowMs`, as kafkajs 2.2.4 does.
 */
export function encodeRecords(records: readonly RecordInput[], nowMs: number): EncodedRecords {
  const n = records.length;
  let first = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const t = timestampOf(records[i]?.timestamp);
    if (t === undefined) continue;
    if (t < first) first = t;
    if (t > max) max = t;
  }
  if (first === Number.POSITIVE_INFINITY) first = max = nowMs;
  // Pass 1: sizes (string lengths measured once, kept for pass 2).
  const lengths = new Int32Array(n * 3);
  const headerBytes: Buffer[] = new Array(n);
  let lastHeaders: RecordInput['headers'] | null = null;
  let lastHeaderBytes: Buffer = EMPTY_HEADERS;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i] as RecordInput;
    const key = r.key;
    const value = r.value;
    const kl = key === null || key === undefined ? -1 : byteLength(key);
    const vl = value === null ? -1 : byteLength(value);
    if (r.headers !== lastHeaders) {
      lastHeaders = r.headers;
      lastHeaderBytes = encodeHeaders(r.headers);
    }
    headerBytes[i] = lastHeaderBytes;
    const delta = (timestampOf(r.timestamp) ?? nowMs) - first;
    const body =
      1 +
      uvarlongSize(zigzag64(delta)) +
      varintSize(i) +
      varintSize(kl) +
      Math.max(0, kl) +
      varintSize(vl) +
      Math.max(0, vl) +
      lastHeaderBytes.length;
    lengths[i * 3] = kl;
    lengths[i * 3 + 1] = vl;
    lengths[i * 3 + 2] = body;
    total += varintSize(body) + body;
  }
  // Pass 2: write.
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i] as RecordInput;
    const kl = lengths[i * 3] as number;
    const vl = lengths[i * 3 + 1] as number;
    p = putUvarint(out, p, zigzag32(lengths[i * 3 + 2] as number));
    out[p++] = 0; // attributes (unused in v2)
    p = putUvarlong(out, p, zigzag64((timestampOf(r.timestamp) ?? nowMs) - first));
    p = putUvarint(out, p, zigzag32(i));
    p = putUvarint(out, p, zigzag32(kl));
    if (kl > 0) p = putBytes(out, p, r.key as Bytes, kl);
    p = putUvarint(out, p, zigzag32(vl));
    if (vl > 0) p = putBytes(out, p, r.value as Bytes, vl);
    const h = headerBytes[i] as Buffer;
    p += h.copy(out, p);
  }
  return { bytes: out, count: n, firstTimestamp: first, maxTimestamp: max };
}

/** Bytes of a batch before its records: baseOffset up to and including the record count. */
const HEADER = 61;

/**
 * The whole batch: header, CRC-32C, record count, then `records` (the bytes of encodeRecords, or those
 * bytes compressed with `header.compression`'s codec). baseOffset and partitionLeaderEpoch are 0 (the broker
 * assigns offsets; producers send epoch 0, as the Java client and kafkajs do).
 */
export function encodeRecordBatch(
  records: Buffer,
  encoded: Pick<EncodedRecords, 'count' | 'firstTimestamp' | 'maxTimestamp'>,
  header: BatchHeader,
): Buffer {
  const out = Buffer.allocUnsafe(HEADER + records.length);
  out.writeBigInt64BE(0n, 0);
  out.writeInt32BE(out.length - 12, 8);
  out.writeInt32BE(0, 12);
  out[16] = 2;
  const attributes = (header.compression & 7) | (header.transactional ? 0x10 : 0);
  out.writeInt16BE(attributes, 21);
  out.writeInt32BE(encoded.count - 1, 23);
  out.writeBigInt64BE(BigInt(Math.trunc(encoded.firstTimestamp)), 27);
  out.writeBigInt64BE(BigInt(Math.trunc(encoded.maxTimestamp)), 35);
  out.writeBigInt64BE(header.producerId, 43);
  out.writeInt16BE(header.producerEpoch, 51);
  out.writeInt32BE(header.firstSequence, 53);
  out.writeInt32BE(encoded.count, 57);
  records.copy(out, HEADER);
  out.writeUInt32BE(crc32c(out, 21, out.length), 17);
  return out;
}

/**
 * `records` as the uncompressed, non-transactional record batches of `perBatch` records a broker would return
 * from a fetch of the partition starting at offset 0 (base offsets set; the broker sets them, outside the CRC):
 * in-memory changelogs for the processor's warm-up and for benchmarks.
 */
export function encodeFetchedBatches(
  records: readonly RecordInput[],
  perBatch: number,
  nowMs: number,
): Buffer[] {
  const batches: Buffer[] = [];
  for (let base = 0; base < records.length; base += perBatch) {
    const encoded = encodeRecords(records.slice(base, base + perBatch), nowMs);
    const batch = encodeRecordBatch(encoded.bytes, encoded, {
      compression: 0,
      transactional: false,
      producerId: -1n,
      producerEpoch: 0,
      firstSequence: -1,
    });
    batch.writeBigInt64BE(BigInt(base), 0);
    batches.push(batch);
  }
  return batches;
}
