/** Messages as ctflow's consumers see them: kafkajs-free, offsets as numbers. */
import { CtflowError } from '../errors.js';

/** One consumed record. */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: number;
  /** Record timestamp, ms since the Unix epoch (CreateTime unless the topic says LogAppendTime). */
  timestampMs: number;
  key: Buffer | null;
  /** null for a tombstone. */
  value: Buffer | null;
  headers: Record<string, Buffer | undefined>;
}

/** The records of one partition from one fetch, in offset order. */
export interface MessageBatch {
  topic: string;
  partition: number;
  /** Offset after the last record written to the partition (its "end offset") when fetched. */
  highWatermark: number;
  messages: ConsumedMessage[];
}

/**
 * Kafka offsets are int64; ctflow uses JS numbers, exact up to 2^53 (centuries at a million records a
 * second). A larger one is refused rather than rounded.
 */
export function toOffset(value: string | number | bigint, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new CtflowError('KAFKA', `${what} ${String(value)} is not an exact JS number`, {
      details: { field: what, value: String(value), expected: 'integer below 2^53' },
    });
  }
  return n;
}

interface RawMessage {
  offset: string;
  timestamp: string;
  key?: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | Array<Buffer | string> | undefined>;
}

function headerBuffer(v: Buffer | string | Array<Buffer | string> | undefined): Buffer | undefined {
  if (v === undefined) return undefined;
  // A repeated header: kafkajs gives an array; ctflow never repeats headers, so the last one wins.
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? Buffer.from(last) : last;
}

/** The headers of every message without any (shared, frozen: no object per message). */
const NO_HEADERS: Record<string, Buffer | undefined> = Object.freeze({});

function convertHeaders(raw: RawMessage['headers']): Record<string, Buffer | undefined> {
  let headers: Record<string, Buffer | undefined> | undefined;
  for (const k in raw) {
    headers ??= {};
    headers[k] = headerBuffer(raw[k]);
  }
  return headers ?? NO_HEADERS;
}

/** For src/kafka: converts a kafkajs message. */
export function fromKafkajs(topic: string, partition: number, m: RawMessage): ConsumedMessage {
  const headers = convertHeaders(m.headers);
  return {
    topic,
    partition,
    offset: toOffset(m.offset, 'offset'),
    timestampMs: Number(m.timestamp),
    key: m.key ?? null,
    value: m.value,
    headers,
  };
}
