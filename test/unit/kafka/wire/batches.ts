/**
 * Test-side encoder of RecordBatch v2 (KIP-98 layout, see src/kafka/wire/record-batch.ts), written from the
 * protocol guide to build golden inputs: the reader under test never encodes, so the two are independent.
 */
import { gzipSync } from 'node:zlib';

/** One record to encode. */
export interface TestRecord {
  key: string | null;
  value: string | null;
  headers?: Array<[string, string | null]>;
  /** Offset delta in the batch; default the record's index (compaction leaves gaps). */
  offsetDelta?: number;
  timestampDelta?: number;
}

/** Batch settings. */
export interface TestBatch {
  baseOffset: number;
  records: TestRecord[];
  /** Default: the last record's delta. */
  lastOffsetDelta?: number;
  compression?: 'none' | 'gzip' | 'snappy';
  transactional?: boolean;
  /** A control batch: one record whose key is version 0, type (0 abort, 1 commit). */
  control?: 'abort' | 'commit';
  producerId?: number;
  magic?: number;
}

function zigzag(n: number): number[] {
  let x = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
  return out;
}

function bytesOf(s: string | null): number[] {
  if (s === null) return zigzag(-1);
  const b = [...Buffer.from(s)];
  return [...zigzag(b.length), ...b];
}

/** Record => length attributes timestampDelta offsetDelta key value [headers], varints zigzag. */
export function encodeRecord(r: TestRecord, index: number): Buffer {
  const body = [
    0,
    ...zigzag(r.timestampDelta ?? 0),
    ...zigzag(r.offsetDelta ?? index),
    ...bytesOf(r.key),
    ...bytesOf(r.value),
    ...zigzag(r.headers?.length ?? 0),
  ];
  for (const [k, v] of r.headers ?? []) body.push(...bytesOf(k), ...bytesOf(v));
  return Buffer.from([...zigzag(body.length), ...body]);
}

const CODECS = { none: 0, gzip: 1, snappy: 2 } as const;

/** One whole batch (CRC left zero: the reader does not check it). */
export function encodeBatch(b: TestBatch): Buffer {
  let records: TestRecord[] = b.records;
  let recordBytes: Buffer;
  if (b.control !== undefined) {
    const key = Buffer.alloc(4);
    key.writeInt16BE(0, 0);
    key.writeInt16BE(b.control === 'abort' ? 0 : 1, 2);
    records = [{ key: null, value: null }];
    const body = [0, 0, 0, ...zigzag(4), ...key, ...zigzag(6), 0, 0, 0, 0, 0, 0, 0];
    recordBytes = Buffer.from([...zigzag(body.length), ...body]);
  } else {
    recordBytes = Buffer.concat(records.map((r, i) => encodeRecord(r, i)));
  }
  if (b.compression === 'gzip') recordBytes = gzipSync(recordBytes);
  if (b.compression === 'snappy') recordBytes = Buffer.from(recordBytes); // never read: refused before
  const h = Buffer.alloc(61);
  h.writeBigInt64BE(BigInt(b.baseOffset), 0);
  h.writeInt32BE(61 - 12 + recordBytes.length, 8);
  h.writeInt32BE(0, 12);
  h.writeInt8(b.magic ?? 2, 16);
  let attributes = CODECS[b.compression ?? 'none'];
  if (b.transactional || b.control !== undefined) attributes |= 0x10;
  if (b.control !== undefined) attributes |= 0x20;
  h.writeInt16BE(attributes, 21);
  const last =
    b.lastOffsetDelta ?? (records.length === 0 ? 0 : (records.at(-1)?.offsetDelta ?? records.length - 1));
  h.writeInt32BE(last, 23);
  h.writeBigInt64BE(1_700_000_000_000n, 27);
  h.writeBigInt64BE(1_700_000_000_000n, 35);
  h.writeBigInt64BE(BigInt(b.producerId ?? -1), 43);
  h.writeInt16BE(b.producerId === undefined ? -1 : 0, 51);
  h.writeInt32BE(-1, 53);
  h.writeInt32BE(records.length, 57);
  return Buffer.concat([h, recordBytes]);
}
