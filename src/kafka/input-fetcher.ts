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

/**
 * An input record: the value as a view on the fetched bytes, the key made only when asked for (the processor
 * reads it for dead letters only): one Buffer view less per message (~0.3 µs and its garbage).
 */
class WireMessage implements ConsumedMessage {
  readonly headers = NO_HEADERS;
  #key: Buffer | null | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly timestampMs: number,
    readonly value: Buffer | null,
    /** The bytes holding the key, where it starts and its length (-1: null key). */
    private readonly buf: Buffer,
    private readonly keyStart: number,
    private readonly keyLength: number,
  ) {}

  get key(): Buffer | null {
    if (this.#key === undefined)
      this.#key =
        this.keyLength < 0 ? null : this.buf.subarray(this.keyStart, this.keyStart + this.keyLength);
    return this.#key;
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
            messages.push(
              new WireMessage(
                topic,
                partition,
                v.offset,
                v.timestampMs(),
                v.value(),
                v.buf,
                v.keyStart,
                v.keyLength,
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
