/**
 * Fetch (key 1), versions 4-11: the non-flexible versions Kafka 3.x and 4.x brokers all serve (4.0 removed
 * 0-3; 12+ are flexible, 13+ name topics by id). One topic, one partition per request.
 *
 *   Fetch Request (Version: 4-11) => replica_id max_wait_ms min_bytes max_bytes isolation_level session_id
 *                                    session_epoch [topics] [forgotten_topics_data] rack_id
 *     replica_id INT32 (-1: a consumer), max_wait_ms INT32, min_bytes INT32, max_bytes INT32,
 *     isolation_level INT8 (0 read_uncommitted, 1 read_committed), session_id INT32 (v7+),
 *     session_epoch INT32 (v7+; -1: no fetch session), topics => topic STRING [partitions]
 *       partitions => partition INT32, current_leader_epoch INT32 (v9+), fetch_offset INT64,
 *                     log_start_offset INT64 (v5+), partition_max_bytes INT32
 *     forgotten_topics_data (v7+) => topic STRING [partitions INT32]; rack_id STRING (v11+)
 *
 *   Fetch Response (Version: 4-11) => throttle_time_ms error_code session_id [responses]
 *     throttle_time_ms INT32, error_code INT16 (v7+), session_id INT32 (v7+)
 *     responses => topic STRING [partitions]
 *       partitions => partition_index INT32, error_code INT16, high_watermark INT64, last_stable_offset INT64,
 *                     log_start_offset INT64 (v5+), [aborted_transactions] (nullable),
 *                     preferred_read_replica INT32 (v11+), records RECORDS (nullable BYTES)
 *         aborted_transactions => producer_id INT64, first_offset INT64
 */
import { ByteReader, ByteWriter } from './bytes.js';

/** API key of Fetch. */
export const FETCH_KEY = 1;
/** Versions this module speaks. */
export const FETCH_VERSIONS = [4, 5, 6, 7, 8, 9, 10, 11] as const;

/** One partition to fetch. */
export interface FetchRequest {
  topic: string;
  partition: number;
  offset: number;
  /** From Metadata v7+, else -1 (no fencing check). */
  leaderEpoch: number;
  maxWaitMs: number;
  /** Bytes per partition and in total (one partition per request). */
  maxBytes: number;
  readCommitted: boolean;
}

/** An aborted transaction in the fetched range (read_committed). */
export interface AbortedTransaction {
  /** Exact below 2^53 (brokers allocate producer ids from 0 upwards). */
  producerId: number;
  firstOffset: number;
}

/** The answer for the one partition asked. */
export interface FetchedPartition {
  /** Top-level error (v7+) or the partition's error; 0 = none. */
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  /** -1 before v5. */
  logStartOffset: number;
  aborted: AbortedTransaction[];
  /** The record batches: [start, end) of `buf`, possibly with a partial batch at the end. */
  buf: Buffer;
  start: number;
  end: number;
}

/** Encodes the request body. */
export function encodeFetchRequest(version: number, req: FetchRequest): Buffer {
  const w = new ByteWriter()
    .int32(-1)
    .int32(req.maxWaitMs)
    .int32(1)
    .int32(req.maxBytes)
    .int8(req.readCommitted ? 1 : 0);
  if (version >= 7) w.int32(0).int32(-1);
  w.int32(1).string(req.topic).int32(1).int32(req.partition);
  if (version >= 9) w.int32(req.leaderEpoch);
  w.int64(req.offset);
  if (version >= 5) w.int64(-1);
  w.int32(req.maxBytes);
  if (version >= 7) w.int32(0);
  if (version >= 11) w.string('');
  return w.bytes();
}

/** Parses the response; picks `topic`/`partition` (UNKNOWN_TOPIC_OR_PARTITION when absent). */
export function parseFetchResponse(
  version: number,
  body: Buffer,
  topic: string,
  partition: number,
): FetchedPartition {
  const r = new ByteReader(body);
  r.int32('throttle_time_ms');
  let topError = 0;
  if (version >= 7) {
    topError = r.int16('error_code');
    r.int32('session_id');
  }
  const out: FetchedPartition = {
    errorCode: topError === 0 ? 3 : topError,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    aborted: [],
    buf: body,
    start: 0,
    end: 0,
  };
  const nt = r.count('responses');
  for (let t = 0; t < nt; t++) {
    const name = r.string('topic');
    const np = r.count('partitions');
    for (let i = 0; i < np; i++) {
      const index = r.int32('partition_index');
      const errorCode = r.int16('partition error_code');
      const highWatermark = r.int64('high_watermark');
      const lastStableOffset = r.int64('last_stable_offset');
      const logStartOffset = version >= 5 ? r.int64('log_start_offset') : -1;
      const aborted: AbortedTransaction[] = [];
      const na = r.int32('aborted_transactions');
      for (let k = 0; k < na; k++) {
        const producerId = r.int64('producer_id');
        aborted.push({ producerId, firstOffset: r.int64('first_offset') });
      }
      if (version >= 11) r.int32('preferred_read_replica');
      const records = r.bytesRange('records');
      if (name === topic && index === partition) {
        out.errorCode = topError === 0 ? errorCode : topError;
        out.highWatermark = highWatermark;
        out.lastStableOffset = lastStableOffset;
        out.logStartOffset = logStartOffset;
        out.aborted = aborted;
        if (records !== null) [out.start, out.end] = records;
      }
    }
  }
  return out;
}
