/**
 * The processor's live input read with ctflow's own Fetch requests (record-range-reader.ts, wire/) instead of
 * kafkajs' fetch decoding: kafkajs builds per record an offset string, a Long timestamp, a Decoder, header
 * arrays and key/value slices (~3.9 µs per observation in the processor's profile, plus its garbage). Here a
 * record becomes one ConsumedMessage whose key and value are views on the fetched (or inflated) bytes.
 *
 * One fetch of one partition per call, from a position the caller keeps: the caller (processor.ts) goes
 * round the partitions the group gave it, so that a partition with a long backlog never starves the others.
 * Fetches do not wait at the end of the log (max wait 0): the caller sleeps a fetch wait when a whole round
 * found nothing, instead of one long poll per partition queued behind each other on one connection.
 *
 * What wire/ does not read (SASL, compression other than none/gzip, message formats 0/1, brokers without
 * Fetch 4-11) is not read here either: `fetch` rejects with InputFallbackNeeded (counted in fallbacks(), by
 * the same reasons as the restore's) and the caller goes back to the kafkajs consumer for the input.
 * Record headers are not read (the processor uses none of the input's).
 */
import { CtflowError } from '../errors.js';
import type { KafkaClient } from './client.js';
import type { ConsumedMessage } from './message.js';
import { createRecordRangeReader, type PartitionRecordReader } from './record-range-reader.js';
import { type RecordView, WireRecordView } from './wire/record-batch.js';

/** Fetcher settings. */
export interface InputFetcherOptions {
  topic: string;
  /** Bytes of one fetch response (one partition). Default 1 MiB; a larger record batch still comes whole. */
  maxBytesPerPartition?: number;
  /** Skip aborted transactions and control records (as kafkajs' consumer). Default true. */
  readCommitted?: boolean;
}

/** What one fetch of a partition gave. */
export interface InputFetch {
  /** Records from the position on, in offset order (may be empty). */
  messages: ConsumedMessage[];
  /** True when the fetch reached the end of the log (nothing more to read right now). */
  caughtUp: boolean;
}

/** A partition's input cannot be read here: read it with the kafkajs consumer (reason as in fallbacks()). */
export class InputFallbackNeeded extends CtflowError {
  constructor(
    readonly reason: string,
    topic: string,
    partition: number,
  ) {
    super('KAFKA', `${topic}[${partition}]: input not readable with ctflow's fetches (${reason})`, {
      details: { topic, partition, reason },
      retriable: true,
    });
  }
}

/** Reads the live input partitions of one topic. */
export interface InputFetcher {
  /** One fetch of `partition` from `offset`. Rejects with InputFallbackNeeded, or a CtflowError KAFKA. */
  fetch(partition: number, offset: number): Promise<InputFetch>;
  /** Fetches that needed the kafkajs consumer, by reason ("sasl", "compression-zstd", ...). */
  fallbacks(): Record<string, number>;
  close(): Promise<void>;
}

/** Thrown by the progress callback to end a read after its first fetch that gave records. */
const ENOUGH = Symbol('enough');

/** The headers of every input message (none are read). */
const NO_HEADERS: Record<string, Buffer | undefined> = Object.freeze({});

/** What the records of one fetched record batch share (one object per batch, not per record). */
class FetchedBatch {
  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The bytes holding the records (the fetch response, or the batch's inflated records). */
    readonly buf: Buffer,
    /** The batch's baseTimestamp, or its maxTimestamp for LogAppendTime (see WireRecordView). */
    readonly batchTimestamp: number,
    readonly logAppendTime: boolean,
  ) {}
}

/**
 * An input record as positions in its batch's bytes: the key and value views and the time are made when
 * read, not when fetched. A fetch holds tens of thousands of records that live until their batch is applied
 * (longer with the fetches sent ahead); two Buffer views and a boxed time per record made up front survived
 * the young generation and were promoted to the old one (mark-compacts). Made on read, a view lives as long
 * as its reader keeps it. Each read of `value` or `key` makes a new view (equal bytes): read it once per use.
 */
class WireMessage implements ConsumedMessage {
  constructor(
    private readonly batch: FetchedBatch,
    readonly offset: number,
    /** Milliseconds after the batch's timestamp (CreateTime batches). */
    private readonly timestampDelta: number,
    /** Where the key and the value start in the batch's bytes and their lengths (-1: null). */
    private readonly keyStart: number,
    private readonly keyLength: number,
    private readonly valueStart: number,
    private readonly valueLength: number,
  ) {}

  get topic(): string {
    return this.batch.topic;
  }

  get partition(): number {
    return this.batch.partition;
  }

  get headers(): Record<string, Buffer | undefined> {
    return NO_HEADERS;
  }

  get timestampMs(): number {
    const b = this.batch;
    return b.logAppendTime ? b.batchTimestamp : b.batchTimestamp + this.timestampDelta;
  }

  get key(): Buffer | null {
    return this.keyLength < 0 ? null : this.batch.buf.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  get value(): Buffer | null {
    return this.valueLength < 0
      ? null
      : this.batch.buf.subarray(this.valueStart, this.valueStart + this.valueLength);
  }
}

/** Thrown by the fallback reader factory: never read through kafkajs from here. */
class NoFallback extends Error {}

class WireInputFetcher implements InputFetcher {
  readonly #topic: string;
  readonly #make: () => PartitionRecordReader;
  #reader: PartitionRecordReader;
  /** Fallbacks counted by readers replaced since. */
  readonly #counted: Record<string, number> = {};

  constructor(client: KafkaClient, options: InputFetcherOptions) {
    this.#topic = options.topic;
    this.#make = () =>
      createRecordRangeReader(client, {
        topic: options.topic,
        maxBytes: options.maxBytesPerPartition ?? 1_048_576,
        maxWaitMs: 0,
        readCommitted: options.readCommitted ?? true,
        fallbackReader: () => Promise.reject(new NoFallback()),
      });
    this.#reader = this.#make();
  }

  fallbacks(): Record<string, number> {
    const out = { ...this.#counted };
    for (const [k, n] of Object.entries(this.#reader.fallbacks())) out[k] = (out[k] ?? 0) + n;
    return out;
  }

  close(): Promise<void> {
    return this.#reader.close();
  }

  /**
   * After a failed fetch: a new reader (new connections, metadata asked again). The range reader keeps its
   * bootstrap connection when a Metadata request on it fails, so after a broker restart it would ask a closed
   * connection forever.
   */
  #renew(): void {
    const old = this.#reader;
    for (const [k, n] of Object.entries(old.fallbacks())) this.#counted[k] = (this.#counted[k] ?? 0) + n;
    this.#reader = this.#make();
    void old.close().catch(() => {});
  }

  async fetch(partition: number, offset: number): Promise<InputFetch> {
    const topic = this.#topic;
    const messages: ConsumedMessage[] = [];
    let batch: FetchedBatch | undefined;
    const before = this.fallbacks();
    try {
      const result = await this.#reader.readRecords({
        partition,
        fromOffset: offset,
        toOffset: Number.MAX_SAFE_INTEGER,
        // Returns at the first fetch without progress (the end of the log, or nothing whole to read yet).
        idleTimeoutMs: 0,
        onRecord: (v: RecordView) => {
          if (v instanceof WireRecordView) {
            if (
              batch === undefined ||
              batch.buf !== v.buf ||
              batch.batchTimestamp !== v.batchTimestamp ||
              batch.logAppendTime !== v.logAppendTime
            )
              batch = new FetchedBatch(topic, partition, v.buf, v.batchTimestamp, v.logAppendTime);
            messages.push(
              new WireMessage(
                batch,
                v.offset,
                v.timestampDelta,
                v.keyStart,
                v.keyLength,
                v.valueStart,
                v.valueLength,
              ),
            );
            return;
          }
          messages.push({
            topic,
            partition,
            offset: v.offset,
            timestampMs: -1,
            key: v.key(),
            value: v.value(),
            headers: NO_HEADERS,
          });
        },
        onProgress: () => {
          if (messages.length > 0) throw ENOUGH;
        },
      });
      return { messages, caughtUp: !result.complete };
    } catch (err) {
      if (err === ENOUGH) return { messages, caughtUp: false };
      if (err instanceof NoFallback) {
        const after = this.fallbacks();
        const reason = Object.keys(after).find((k) => (after[k] ?? 0) > (before[k] ?? 0)) ?? 'unknown';
        throw new InputFallbackNeeded(reason, topic, partition);
      }
      this.#renew();
      throw err;
    }
  }
}

/** A fetcher of `options.topic`'s input partitions (connects at the first fetch). */
export function createInputFetcher(client: KafkaClient, options: InputFetcherOptions): InputFetcher {
  return new WireInputFetcher(client, options);
}
