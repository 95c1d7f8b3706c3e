/**
 * RecordBatch v2 (magic 2; KIP-98, protocol guide "Record Batch") read in place: each record's key and value
 * are handed as positions in the fetched bytes (a RecordView reused for every record), so reading builds no
 * object per record. Pure: no sockets.
 *
 *   baseOffset INT64, batchLength INT32, partitionLeaderEpoch INT32, magic INT8 (2), crc UINT32,
 *   attributes INT16 (bits 0-2 compression: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd; bit 3 timestamp type;
 *   bit 4 transactional; bit 5 control batch; bit 6 delete horizon), lastOffsetDelta INT32,
 *   baseTimestamp INT64, maxTimestamp INT64, producerId INT64, producerEpoch INT16, baseSequence INT32,
 *   records: INT32 count, then (compressed as a whole when compression != 0)
 *     Record => length VARINT, attributes INT8, timestampDelta VARLONG, offsetDelta VARINT,
 *               keyLength VARINT (-1: null), key, valueLength VARINT (-1: null), value, [Header]
 *       Header => headerKeyLength VARINT, headerKey, headerValueLength VARINT, value
 *   (VARINT/VARLONG: zigzag, as protobuf.) A control batch holds one control record whose key is
 *   version INT16, type INT16 (0 ABORT, 1 COMMIT).
 *
 * The CRC is not checked: the broker validated it on append, TCP (or TLS) checks the transfer, and a
 * CRC-32C of every byte in JS would cost more than the rest of a restore's reading.
 */
import { gunzipSync } from 'node:zlib';
import { CtflowError } from '../../errors.js';
import type { AbortedTransaction } from './fetch.js';

/** Bytes of the batch header up to and including the record count. */
export const BATCH_HEADER = 61;

const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** A batch this reader cannot read (old message format, a codec it lacks): read it another way. */
export class UnsupportedRecords extends CtflowError {
  /** Short reason, e.g. "compression-zstd", "magic-1". */
  readonly reason: string;
  /** Base offset of the batch: everything before it was handed out. */
  readonly offset: number;

  constructor(reason: string, offset: number, where: string) {
    super('KAFKA', `${where}: record batch at offset ${offset} not readable here (${reason})`, {
      details: { reason, offset },
    });
    this.reason = reason;
    this.offset = offset;
  }
}

/** One record as handed to a RecordHandler: valid during the call only (the object is reused). */
export interface RecordView {
  readonly offset: number;
  /** The key as a view on the fetched bytes (no copy), or null. */
  key(): Buffer | null;
  /** The key as UTF-8 text, or null. */
  keyString(): string | null;
  /** The value as a view on the fetched bytes (no copy: it keeps them alive), or null for a tombstone. */
  value(): Buffer | null;
  /** The value of header `name` as a view on the fetched bytes (the last one if repeated), or null. */
  header(name: string): Buffer | null;
}

/** A record in place in the fetched bytes (positions, no copies). */
export class WireRecordView implements RecordView {
  /** Bytes holding the record (the fetch response, or a batch's decompressed records). */
  buf: Buffer = Buffer.alloc(0);
  offset = 0;
  timestampDelta = 0;
  keyStart = 0;
  /** -1: null key. */
  keyLength = -1;
  valueStart = 0;
  /** -1: null value (a tombstone). */
  valueLength = -1;
  /** Where the record's headers start (headerCount VARINT) and where the record ends. */
  headersStart = 0;
  recordEnd = 0;
  /** The last header name asked for, as bytes (compared in place, no string per record). */
  #headerName = '';
  #headerBytes = Buffer.alloc(0);

  /** The batch's baseTimestamp, or its maxTimestamp when the topic stamps LogAppendTime (attributes bit 3). */
  batchTimestamp = 0;
  /** True for LogAppendTime batches: every record's time is the batch's maxTimestamp. */
  logAppendTime = false;

  /**
   * The record's timestamp, ms since the epoch: batchTimestamp + timestampDelta (deltas beyond 2^27 ms, 37
   * hours within one batch, are not read exactly), or the batch's LogAppendTime.
   */
  timestampMs(): number {
    return this.logAppendTime ? this.batchTimestamp : this.batchTimestamp + this.timestampDelta;
  }

  /** The key as a view on the fetched bytes (no copy), or null. */
  key(): Buffer | null {
    return this.keyLength < 0 ? null : this.buf.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  /** The key as UTF-8 text, or null. */
  keyString(): string | null {
    return this.keyLength < 0
      ? null
      : this.buf.toString('utf8', this.keyStart, this.keyStart + this.keyLength);
  }

  /** The value as a view on the fetched bytes (no copy: it keeps them alive), or null for a tombstone. */
  value(): Buffer | null {
    return this.valueLength < 0
      ? null
      : this.buf.subarray(this.valueStart, this.valueStart + this.valueLength);
  }

  /** After findHeader(): where the header's value starts in buf, and its length (-1: null value). */
  headerValueStart = 0;
  headerValueLength = -1;

  /**
   * Header `name`, read only when asked (most reads never ask): headerCount VARINT, then per header
   * headerKeyLength VARINT, key, headerValueLength VARINT, value (KIP-82; a negative value length is null).
   */
  header(name: string): Buffer | null {
    if (!this.findHeader(name) || this.headerValueLength < 0) return null;
    return this.buf.subarray(this.headerValueStart, this.headerValueStart + this.headerValueLength);
  }

  /**
   * Finds header `name` (the last one if repeated) without making an object: true when the record has it,
   * its value then at headerValueStart / headerValueLength (-1: null). For readers that compare the value
   * in place (the changelog fold: one owner header per record).
   */
  findHeader(name: string): boolean {
    if (name !== this.#headerName) {
      this.#headerName = name;
      this.#headerBytes = Buffer.from(name, 'utf8');
    }
    const wanted = this.#headerBytes;
    const buf = this.buf;
    const end = this.recordEnd;
    let p = this.headersStart;
    let found = false;
    // No closure for the varints: this runs once per record of a restore.
    let count = 0;
    let shift = 0;
    let b: number;
    do {
      if (p >= end) return false;
      b = buf[p++] as number;
      count |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    count = (count >>> 1) ^ -(count & 1);
    for (let i = 0; i < count; i++) {
      let keyLength = 0;
      shift = 0;
      do {
        if (p >= end) return found;
        b = buf[p++] as number;
        keyLength |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80 && shift < 35);
      keyLength = (keyLength >>> 1) ^ -(keyLength & 1);
      if (keyLength < 0 || p + keyLength > end) return found;
      let matches = keyLength === wanted.length;
      for (let j = 0; matches && j < keyLength; j++) matches = buf[p + j] === wanted[j];
      p += keyLength;
      let valueLength = 0;
      shift = 0;
      do {
        if (p >= end) return found;
        b = buf[p++] as number;
        valueLength |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80 && shift < 35);
      valueLength = (valueLength >>> 1) ^ -(valueLength & 1);
      if (p + Math.max(0, valueLength) > end) return found;
      if (matches) {
        found = true;
        this.headerValueStart = p;
        this.headerValueLength = valueLength < 0 ? -1 : valueLength;
      }
      if (valueLength > 0) p += valueLength;
    }
    return found;
  }
}

/** Gets each record of the range, in offset order. */
export type RecordHandler = (record: RecordView) => void;

/**
 * Reads the record batches of one partition's fetches in order, keeping [fromOffset, toOffset) and, for
 * read_committed, leaving out control batches and the batches of aborted transactions.
 */
export class RecordBatchReader {
  readonly #from: number;
  readonly #to: number;
  readonly #where: string;
  readonly #view = new WireRecordView();
  /** Producers whose open transaction was aborted (their batches are skipped until the ABORT marker). */
  readonly #abortedProducers = new Set<number>();
  /** Offset to fetch next: after the last whole batch read. */
  nextOffset: number;
  /** Records handed out. */
  records = 0;
  /** Offset of the last record handed out, -1 when none. */
  lastOffset = -1;
  /** Batches left out: control batches and aborted transactions' batches. */
  skippedBatches = 0;

  constructor(fromOffset: number, toOffset: number, where: string) {
    this.#from = fromOffset;
    this.#to = toOffset;
    this.nextOffset = fromOffset;
    this.#where = where;
  }

  /** True once every offset below toOffset was read past. */
  get done(): boolean {
    return this.nextOffset >= this.#to;
  }

  /**
   * Reads the whole batches in buf[start, end) (a partial batch at the end is left for the next fetch),
   * calling onRecord for each record in range. `aborted`: the fetch's aborted transactions (read_committed).
   * Throws UnsupportedRecords before a batch it cannot read, CtflowError KAFKA for corrupt bytes.
   */
  read(
    buf: Buffer,
    start: number,
    end: number,
    onRecord: RecordHandler,
    aborted: readonly AbortedTransaction[] = [],
  ): void {
    const pending = aborted.length > 0 ? [...aborted].sort((a, b) => a.firstOffset - b.firstOffset) : aborted;
    let nextAborted = 0;
    let at = start;
    while (at + BATCH_HEADER <= end && !this.done) {
      const baseOffset = readInt64(buf, at);
      const batchEnd = at + 12 + buf.readInt32BE(at + 8);
      // The broker cuts the last batch at max_bytes: fetch it again from its start next time.
      if (batchEnd > end) break;
      const magic = buf[at + 16];
      if (magic !== 2) throw new UnsupportedRecords(`magic-${magic}`, baseOffset, this.#where);
      if (batchEnd < at + BATCH_HEADER) throw this.#corrupt('batch length below its header', baseOffset);
      const attributes = buf.readInt16BE(at + 21);
      const lastOffset = baseOffset + buf.readInt32BE(at + 23);
      const producerId = readInt64(buf, at + 43);
      const count = buf.readInt32BE(at + 57);
      while (nextAborted < pending.length && pending[nextAborted]!.firstOffset <= lastOffset)
        this.#abortedProducers.add(pending[nextAborted++]!.producerId);
      if (lastOffset >= this.#from) {
        if ((attributes & 0x20) !== 0) {
          this.skippedBatches++;
          if (this.#abortedProducers.size > 0 && isAbortMarker(buf, at + BATCH_HEADER, batchEnd))
            this.#abortedProducers.delete(producerId);
        } else if ((attributes & 0x10) !== 0 && this.#abortedProducers.has(producerId)) {
          this.skippedBatches++;
        } else {
          const compression = attributes & 7;
          // Record times (live input: dead letters keep the original time), from the batch header.
          this.#view.logAppendTime = (attributes & 0x08) !== 0;
          this.#view.batchTimestamp = readInt64(buf, this.#view.logAppendTime ? at + 35 : at + 27);
          if (compression === 0) this.#records(buf, at + BATCH_HEADER, batchEnd, count, baseOffset, onRecord);
          else if (compression === 1) {
            let inflated: Buffer;
            try {
              inflated = gunzipSync(buf.subarray(at + BATCH_HEADER, batchEnd));
            } catch (cause) {
              throw this.#corrupt(`gzip records do not inflate: ${(cause as Error).message}`, baseOffset);
            }
            this.#records(inflated, 0, inflated.length, count, baseOffset, onRecord);
          } else {
            const name = COMPRESSION_NAMES[compression] ?? `codec-${compression}`;
            throw new UnsupportedRecords(`compression-${name}`, baseOffset, this.#where);
          }
        }
      }
      this.nextOffset = Math.max(this.nextOffset, lastOffset + 1);
      at = batchEnd;
    }
  }

  #corrupt(what: string, offset: number): CtflowError {
    return new CtflowError('KAFKA', `${this.#where}: corrupt record batch at offset ${offset}: ${what}`, {
      details: { offset, what },
    });
  }

  /** The `count` records in buf[p, end) of the batch at baseOffset. */
  #records(
    buf: Buffer,
    p: number,
    end: number,
    count: number,
    baseOffset: number,
    onRecord: RecordHandler,
  ): void {
    const v = this.#view;
    v.buf = buf;
    for (let i = 0; i < count; i++) {
      // length VARINT: the record's size after this field.
      let x = 0;
      let shift = 0;
      let b: number;
      do {
        if (p >= end) throw this.#corrupt(`record ${i} of ${count} cut short`, baseOffset);
        b = buf[p++]!;
        x |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80 && shift < 35);
      const length = (x >>> 1) ^ -(x & 1);
      const recordEnd = p + length;
      if (length < 0 || recordEnd > end) throw this.#corrupt(`record ${i} length ${length}`, baseOffset);
      p++; // attributes INT8 (unused in v2)
      // timestampDelta VARLONG: up to 10 bytes, kept only as the low bits (the fold needs no time).
      x = 0;
      shift = 0;
      do {
        b = buf[p++]!;
        if (shift < 28) x |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80 && p < recordEnd);
      v.timestampDelta = (x >>> 1) ^ -(x & 1);
      // offsetDelta VARINT
      x = 0;
      shift = 0;
      do {
        b = buf[p++]!;
        x |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80 && shift < 35);
      const offset = baseOffset + ((x >>> 1) ^ -(x & 1));
      // keyLength VARINT, key
      x = 0;
      shift = 0;
      do {
        b = buf[p++]!;
        x |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80 && shift < 35);
      const keyLength = (x >>> 1) ^ -(x & 1);
      v.keyStart = p;
      v.keyLength = keyLength;
      if (keyLength > 0) p += keyLength;
      // valueLength VARINT, value
      x = 0;
      shift = 0;
      do {
        b = buf[p++]!;
        x |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80 && shift < 35);
      const valueLength = (x >>> 1) ^ -(x & 1);
      v.valueStart = p;
      v.valueLength = valueLength;
      if (valueLength > 0) p += valueLength;
      // Headers follow; the record length says where the record ends, so they are stepped over (read only
      // if a handler asks for one).
      if (p > recordEnd) throw this.#corrupt(`record ${i} key/value beyond its length`, baseOffset);
      v.headersStart = p;
      v.recordEnd = recordEnd;
      p = recordEnd;
      if (offset < this.#from) continue;
      if (offset >= this.#to) {
        this.nextOffset = this.#to;
        return;
      }
      v.offset = offset;
      this.records++;
      this.lastOffset = offset;
      onRecord(v);
    }
  }
}

/**
 * The offset after the last whole v2 batch of buf[start, end), from the batch headers alone (-1 when there is
 * none, or a batch of another format comes first): where the next fetch starts, known before the records
 * are read.
 */
export function offsetAfterWholeBatches(buf: Buffer, start: number, end: number): number {
  let next = -1;
  let at = start;
  while (at + BATCH_HEADER <= end && buf[at + 16] === 2) {
    const batchEnd = at + 12 + buf.readInt32BE(at + 8);
    if (batchEnd > end || batchEnd < at + BATCH_HEADER) break;
    next = readInt64(buf, at) + buf.readInt32BE(at + 23) + 1;
    at = batchEnd;
  }
  return next;
}

/** INT64 as a JS number (exact below 2^53: offsets, producer ids). */
function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/** True when the control batch's record (buf[p, end)) is an ABORT marker (key: version INT16, type INT16 = 0). */
function isAbortMarker(buf: Buffer, p: number, end: number): boolean {
  // length, attributes, timestampDelta, offsetDelta, keyLength: step over the varints to the key.
  let q = p;
  const skipVarint = () => {
    while (q < end && (buf[q++]! & 0x80) !== 0);
  };
  skipVarint();
  q++;
  skipVarint();
  skipVarint();
  skipVarint();
  return q + 4 <= end && buf.readInt16BE(q + 2) === 0;
}
