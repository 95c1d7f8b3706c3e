/**
 * A producer for ctflow's topics: idempotent, acks=all, GZIP, Java-compatible key partitioning, and
 * batching across calls (messages sent while a request is in flight, or within `lingerMs`, go out together
 * in one request, like the Java client's linger.ms/batch.size).
 */
import kafkajs from './kafkajs.js';
import type { Message, Producer as KafkajsProducer, TopicMessages } from 'kafkajs';
import { CtflowError } from '../errors.js';
import { topicPartitionCounts } from './admin.js';
import { type KafkaClient, kafkajsOf } from './client.js';
import { describeKafkaError, kafkaSecurityProblem } from './errors.js';
import { createJavaCompatiblePartitioner } from './partitioner.js';

/** One message to send. Keys and values are bytes (or UTF-8 strings). */
export interface OutgoingMessage {
  /** Decides the partition (murmur2, as the Java client) unless `partition` is given. */
  key?: Uint8Array | string | null;
  /** null is a tombstone (deletes the key from a compacted topic). */
  value: Uint8Array | string | null;
  /** Send to this partition, whatever the key (e.g. watermarks written to every partition). */
  partition?: number;
  headers?: Record<string, Uint8Array | string>;
  /** Record timestamp (ms since the Unix epoch); default: the time of sending. */
  timestampMs?: number;
}

/** Producer settings. */
export interface ProducerOptions {
  /** Exactly-once per partition from this producer (sequence numbers). Default true; forces acks=all. */
  idempotent?: boolean;
  /** Default "gzip". */
  compression?: 'gzip' | 'none';
  /** How long to wait for more messages before sending a request. Default 5 ms; 0 sends at once. */
  lingerMs?: number;
  /**
   * Most messages in one request; a larger send() is split. Default 1000: kafkajs 2.2.4 groups a request's
   * messages per partition by copying the array once per message (producer/groupMessagesPerPartition.js),
   * so a request's cost grows with the square of its messages to one partition.
   */
  maxBatchMessages?: number;
  /**
   * Retries of a failed request. Default: without limit when idempotent (kafkajs' default), and then a
   * request that still fails for a retriable cause (kafkajs gives up on the connection after the client's
   * retries, ~10 s, shorter than a broker restart) is sent again after a pause, without limit: a send
   * waits as long as the cluster is unreachable. Else 5.
   */
  retries?: number;
}

/** Options of one send. */
export interface SendOptions {
  /** One request whatever the size (all or nothing per partition). Default false. */
  atomic?: boolean;
  /**
   * Told, once the send is acknowledged, the offset its first message got in each partition it wrote to by
   * explicit `partition` (from the produce response's base offsets). Writers that must know whether anyone
   * else wrote to a partition between two of their sends (the processor's changelog fencing) compare it with
   * the offset they expected. Only with `atomic`; not told when the response carries no offsets or when a
   * message of the same topic in the request had no explicit partition (its place is then unknown).
   */
  onOffsets?: (firstOffsets: ReadonlyMap<number, number>) => void;
}

/** A connected producer. */
export interface Producer {
  /**
   * Sends messages to one topic; resolves once all are acknowledged by all in-sync replicas. A send larger
   * than maxBatchMessages is split into several requests (once one fails, the rest are not sent), unless
   * `atomic`: then it goes in one request, so each partition gets it as one record batch, all or nothing.
   */
  send(topic: string, messages: readonly OutgoingMessage[], options?: SendOptions): Promise<void>;
  /** Resolves when everything sent so far is acknowledged (or failed). */
  flush(): Promise<void>;
  /** Number of partitions of `topic` (for writing to each partition, e.g. watermarks). */
  partitionCount(topic: string): Promise<number>;
  /** Flushes, then closes the connections. */
  disconnect(): Promise<void>;
}

interface Pending {
  topic: string;
  messages: Message[];
  onOffsets?: (firstOffsets: ReadonlyMap<number, number>) => void;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** The send this chunk belongs to; once one of its chunks failed, the others are not sent. */
  send: { failed: unknown };
}

/** True when the innermost cause of a kafkajs error is retriable (e.g. connection refused). */
function retriableCause(err: unknown): boolean {
  let e = err as { cause?: unknown; retriable?: boolean } | undefined;
  while (e?.cause !== undefined && e.cause !== e) e = e.cause as typeof e;
  return e?.retriable === true;
}

/** Pause before sending again a request that failed for a retriable cause (doubling up to the max). */
const RESEND_MIN_MS = 250;
const RESEND_MAX_MS = 5000;

/** Settles one send() once all of its chunks are acknowledged, or rejects at the first failed one. */
function chunkSettler(
  chunks: number,
  resolve: () => void,
  reject: (err: unknown) => void,
): Pick<Pending, 'resolve' | 'reject' | 'send'> {
  let left = chunks;
  const send = { failed: undefined as unknown };
  return {
    resolve: () => {
      if (--left === 0) resolve();
    },
    reject: (err: unknown) => {
      if (send.failed !== undefined) return;
      send.failed = err;
      reject(err);
    },
    send,
  };
}

function toBuffer(data: Uint8Array | string): Buffer | string {
  if (typeof data === 'string' || Buffer.isBuffer(data)) return data;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Headers as kafkajs takes them. Writers share one headers object across a send's messages (the changelog's
 * owner header): the object is passed on as it is when its values are already strings or Buffers, so that
 * the produce encoder (produce-encoding.ts) writes the headers once per send, not once per message.
 */
function kafkajsHeaders(headers: Record<string, Uint8Array | string>): Record<string, Buffer | string> {
  for (const k in headers) {
    const v = headers[k];
    if (typeof v !== 'string' && !Buffer.isBuffer(v)) {
      return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, toBuffer(v)]));
    }
  }
  return headers as Record<string, Buffer | string>;
}

function toKafkajsMessage(m: OutgoingMessage): Message {
  if (m.partition !== undefined && (!Number.isInteger(m.partition) || m.partition < 0)) {
    throw new CtflowError('KAFKA', `bad partition ${m.partition}: expected an integer >= 0`, {
      details: { field: 'partition', value: m.partition, expected: 'integer >= 0' },
    });
  }
  const out: Message = { value: m.value === null ? null : toBuffer(m.value) };
  if (m.key !== undefined && m.key !== null) out.key = toBuffer(m.key);
  if (m.partition !== undefined) out.partition = m.partition;
  if (m.timestampMs !== undefined) out.timestamp = String(m.timestampMs);
  if (m.headers !== undefined) out.headers = kafkajsHeaders(m.headers);
  return out;
}

/**
 * The batching producer over a kafkajs producer (exported for unit tests, which give it a fake one).
 * One request in flight at a time; calls made meanwhile are queued and sent together.
 */
export class BatchingProducer implements Producer {
  private queue: Pending[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  /** Set by disconnect(): a failing request is then rejected, not sent again. */
  private closing = false;
  private resendDelayMs = 0;
  /** Requests sent again after a retriable failure (see ProducerOptions.retries). */
  resends = 0;

  constructor(
    private readonly client: KafkaClient,
    private readonly producer: Pick<KafkajsProducer, 'sendBatch' | 'disconnect'>,
    private readonly compression: number,
    private readonly lingerMs: number,
    private readonly maxBatchMessages: number,
    /** Send again, without limit, a request that failed for a retriable cause (idempotent producers). */
    private readonly resendForever = false,
  ) {}

  send(topic: string, messages: readonly OutgoingMessage[], options: SendOptions = {}): Promise<void> {
    if (this.closed) {
      return Promise.reject(new CtflowError('KAFKA', 'producer is disconnected', { details: { topic } }));
    }
    if (messages.length === 0) return Promise.resolve();
    let converted: Message[];
    try {
      converted = messages.map(toKafkajsMessage);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      // Chunks of at most maxBatchMessages, so that no request exceeds it (see ProducerOptions).
      const max = options.atomic === true ? converted.length : this.maxBatchMessages;
      const settle = chunkSettler(Math.ceil(converted.length / max), resolve, reject);
      for (let i = 0; i < converted.length; i += max) {
        const messages = converted.length <= max ? converted : converted.slice(i, i + max);
        const onOffsets = options.atomic === true ? options.onOffsets : undefined;
        this.queue.push({ topic, messages, ...settle, ...(onOffsets === undefined ? {} : { onOffsets }) });
      }
      this.queued += converted.length;
      if (this.queued >= this.maxBatchMessages || this.lingerMs === 0) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.lingerMs);
    });
  }

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // One request at a time (idempotence needs it); the queue keeps filling meanwhile.
    if (this.inFlight !== undefined || this.queue.length === 0) return;
    const batch: Pending[] = [];
    let count = 0;
    while (
      this.queue.length > 0 &&
      (count === 0 || count + this.queue[0]!.messages.length <= this.maxBatchMessages)
    ) {
      const next = this.queue.shift()!;
      if (next.send.failed !== undefined) {
        this.queued -= next.messages.length;
        continue;
      }
      batch.push(next);
      count += next.messages.length;
    }
    this.queued -= count;
    if (batch.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const p of batch) {
      const list = byTopic.get(p.topic);
      if (list) list.push(...p.messages);
      else byTopic.set(p.topic, [...p.messages]);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    this.inFlight = this.producer
      .sendBatch({ topicMessages, acks: -1, compression: this.compression })
      .then(
        (metadata: unknown) => {
          this.resendDelayMs = 0;
          if (batch.some((p) => p.onOffsets !== undefined)) tellOffsets(batch, metadata);
          for (const p of batch) p.resolve();
        },
        (err: unknown) => {
          if (this.resendForever && !this.closing && retriableCause(err)) {
            // Same messages, same order, ahead of the rest: the idempotent producer's sequence numbers
            // let the broker drop what an earlier attempt did write.
            this.queue.unshift(...batch);
            this.queued += count;
            this.resendDelayMs = Math.min(RESEND_MAX_MS, Math.max(RESEND_MIN_MS, this.resendDelayMs * 2));
            this.resends++;
            return new Promise<void>((r) => setTimeout(r, this.resendDelayMs));
          }
          const error = new CtflowError(
            'KAFKA',
            `sending ${count} messages to ${[...byTopic.keys()].join(', ')} failed: ${(err as Error).message}`,
            {
              details: { brokers: this.client.brokers, topics: [...byTopic.keys()], messages: count },
              cause: err,
              retriable: (err as { retriable?: boolean }).retriable ?? true,
            },
          );
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.queue.length > 0) {
          if (this.queued >= this.maxBatchMessages || this.lingerMs === 0 || this.closed) this.kick();
          else this.timer ??= setTimeout(() => this.kick(), this.lingerMs);
        }
      });
  }

  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight !== undefined) {
      this.kick();
      await this.inFlight?.catch(() => {});
    }
  }

  async partitionCount(topic: string): Promise<number> {
    const count = (await topicPartitionCounts(this.client, [topic])).get(topic);
    if (count === undefined) {
      throw new CtflowError('KAFKA', `topic ${topic} does not exist`, { details: { topic } });
    }
    return count;
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    this.closing = true;
    await this.flush();
    await this.producer.disconnect();
  }
}

/**
 * Calls each pending send's onOffsets with the offset of its first message per explicit partition. kafkajs
 * writes a request's messages of one partition as one record batch in request order, so a message's offset
 * is the partition's base offset plus the messages of that partition before it in the request.
 */
function tellOffsets(batch: readonly Pending[], metadata: unknown): void {
  if (!Array.isArray(metadata)) return;
  const base = new Map<string, number>();
  for (const m of metadata as Array<{ topicName?: string; partition?: number; baseOffset?: string }>) {
    if (m.topicName === undefined || m.partition === undefined || m.baseOffset === undefined) continue;
    const offset = Number(m.baseOffset);
    if (Number.isSafeInteger(offset) && offset >= 0) base.set(`${m.topicName}\0${m.partition}`, offset);
  }
  // A message placed by the partitioner may share a partition with explicit ones: offsets unknown there.
  const unplaced = new Set<string>();
  for (const p of batch) if (p.messages.some((m) => m.partition === undefined)) unplaced.add(p.topic);
  const next = new Map<string, number>();
  for (const p of batch) {
    if (unplaced.has(p.topic)) continue;
    const first = new Map<number, number>();
    let complete = true;
    // Runs of one partition (a send's messages mostly are one run): one map update per run, not per message.
    const messages = p.messages;
    for (let i = 0; i < messages.length; ) {
      const partition = messages[i]?.partition as number;
      let j = i + 1;
      while (j < messages.length && messages[j]?.partition === partition) j++;
      const tp = `${p.topic}\0${partition}`;
      const at = next.get(tp) ?? base.get(tp);
      if (at === undefined) complete = false;
      else {
        if (!first.has(partition)) first.set(partition, at);
        next.set(tp, at + (j - i));
      }
      i = j;
    }
    if (p.onOffsets !== undefined && complete && first.size > 0) p.onOffsets(first);
  }
}

/** Creates and connects a producer. */
export async function createProducer(client: KafkaClient, options: ProducerOptions = {}): Promise<Producer> {
  const idempotent = options.idempotent ?? true;
  const partitioner = createJavaCompatiblePartitioner();
  const retries = options.retries ?? (idempotent ? undefined : 5);
  const producer = kafkajsOf(client).producer({
    idempotent,
    // Idempotence with kafkajs needs one request in flight per connection to keep sequence order.
    maxInFlightRequests: idempotent ? 1 : 5,
    allowAutoTopicCreation: false,
    ...(retries === undefined ? {} : { retry: { retries } }),
    createPartitioner:
      () =>
      ({ topic, partitionMetadata, message }) =>
        partitioner(
          topic,
          partitionMetadata,
          message.key as Buffer | string | null | undefined,
          message.partition ?? undefined,
        ),
  });
  try {
    await producer.connect();
  } catch (err) {
    throw new CtflowError(
      'KAFKA',
      `cannot connect a producer to ${client.brokers.join(',')}: ${describeKafkaError(err)}`,
      {
        details: { brokers: client.brokers, security: kafkaSecurityProblem(err) },
        cause: err,
        // A refused login or certificate does not heal by retrying.
        retriable: kafkaSecurityProblem(err) === undefined,
      },
    );
  }
  const compression =
    (options.compression ?? 'gzip') === 'gzip'
      ? kafkajs.CompressionTypes.GZIP
      : kafkajs.CompressionTypes.None;
  return new BatchingProducer(
    client,
    producer,
    compression,
    options.lingerMs ?? 5,
    options.maxBatchMessages ?? 1000,
    idempotent && options.retries === undefined,
  );
}
