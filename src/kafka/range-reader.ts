/**
 * Reads chosen partitions of a topic between two offsets, outside any processing group: what a processor
 * needs to restore a partition's state from the changelog (read to the end offset taken at assignment), and
 * what replay needs to read an offset range.
 *
 * kafkajs has no manual partition assignment, so the reader is a consumer in a group of its own (a unique
 * id, never committed): it joins once, is given every partition of the topic, keeps them all paused, and
 * resumes one partition per read. Joining once matters: a new group waits group.initial.rebalance.delay.ms
 * (3 s by default on a broker) before its first assignment, which a restore per rebalance cannot afford.
 */
import { randomUUID } from 'node:crypto';
import { CtflowError } from '../errors.js';
import { describeKafkaError, kafkaSecurityProblem } from './errors.js';
import { type KafkaClient, kafkajsOf } from './client.js';
import { fromKafkajs, type MessageBatch, toOffset } from './message.js';

/** Reader settings. */
export interface RangeReaderOptions {
  topic: string;
  /** Default `ctflow-reader-<uuid>`: a group nobody else uses. */
  groupId?: string;
  /** Partitions read at the same time. Default 4. */
  concurrency?: number;
  /** Longest wait of a fetch for data. Default 100 ms. */
  maxWaitTimeMs?: number;
  /** Default 16 MiB: a restore reads a whole partition, fewer round trips make it faster. */
  maxBytesPerPartition?: number;
}

/** One read: [fromOffset, toOffset) of one partition. */
export interface RangeRead {
  partition: number;
  /** First offset to read (records before it are skipped). */
  fromOffset: number;
  /** End offset, exclusive: typically the partition's end offset taken before the read. */
  toOffset: number;
  /** Gets the records in order; only records with offsets in [fromOffset, toOffset). */
  onBatch: (batch: MessageBatch) => Promise<void> | void;
  /**
   * Give up waiting after this long without a new record, resolving with `complete: false`. Needed only when
   * records at the end of the range can be missing: compaction removing a tombstone that was the last record
   * of a partition. Default: wait without limit.
   */
  idleTimeoutMs?: number;
}

/** How a read ended. */
export interface RangeResult {
  partition: number;
  /** Records handed to onBatch. */
  records: number;
  /** Offset of the last record read, or -1 when none. */
  lastOffset: number;
  /** True when a record at or past toOffset - 1 was reached (or the range was empty). */
  complete: boolean;
}

/** A joined reader; reads of different partitions may run at the same time. */
export interface PartitionRangeReader {
  read(range: RangeRead): Promise<RangeResult>;
  /** Leaves its group. Reads still running reject. */
  close(): Promise<void>;
}

interface ActiveRead {
  range: RangeRead;
  records: number;
  lastOffset: number;
  lastProgress: number;
  resolve: (r: RangeResult) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

/** Creates a reader and waits until its group has assigned it the topic's partitions. */
export async function createPartitionRangeReader(
  client: KafkaClient,
  options: RangeReaderOptions,
): Promise<PartitionRangeReader> {
  const { topic } = options;
  const groupId = options.groupId ?? `ctflow-reader-${randomUUID()}`;
  const consumer = kafkajsOf(client).consumer({
    groupId,
    maxWaitTimeInMs: options.maxWaitTimeMs ?? 100,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 16 * 1_048_576,
    // kafkajs' default total (10 MiB) would cap a single partition's fetch below maxBytesPerPartition.
    maxBytes: 2 * (options.maxBytesPerPartition ?? 16 * 1_048_576),
    allowAutoTopicCreation: false,
  });
  const active = new Map<number, ActiveRead>();
  let assigned: number[] = [];
  let joined: () => void = () => {};
  const joinedOnce = new Promise<void>((resolve) => {
    joined = resolve;
  });

  const finish = (partition: number, complete: boolean) => {
    const read = active.get(partition);
    if (!read) return;
    active.delete(partition);
    if (read.timer) clearInterval(read.timer);
    consumer.pause([{ topic, partitions: [partition] }]);
    read.resolve({ partition, records: read.records, lastOffset: read.lastOffset, complete });
  };

  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned = [...(event.payload.memberAssignment[topic] ?? [])];
    // Everything paused except partitions being read; those go on from where they were.
    const idle = assigned.filter((p) => !active.has(p));
    if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
    for (const [p, read] of active) {
      consumer.seek({
        topic,
        partition: p,
        offset: String(Math.max(read.range.fromOffset, read.lastOffset + 1)),
      });
    }
    joined();
  });

  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.concurrency ?? 4,
      eachBatch: async ({ batch, isStale }) => {
        // Fetched before a seek of this partition: the seek's fetch brings the right records.
        if (isStale()) return;
        const read = active.get(batch.partition);
        if (!read) {
          consumer.pause([{ topic, partitions: [batch.partition] }]);
          return;
        }
        const { fromOffset, toOffset: end } = read.range;
        const messages = [];
        for (const m of batch.messages) {
          const converted = fromKafkajs(topic, batch.partition, m);
          if (converted.offset >= fromOffset && converted.offset < end) messages.push(converted);
        }
        if (messages.length > 0) {
          await read.range.onBatch({
            topic,
            partition: batch.partition,
            highWatermark: toOffset(batch.highWatermark, 'high watermark'),
            messages,
          });
          read.records += messages.length;
          read.lastOffset = messages.at(-1)!.offset;
          read.lastProgress = Date.now();
        }
        const lastSeen = toOffset(batch.lastOffset(), 'offset');
        if (lastSeen >= end - 1) finish(batch.partition, true);
      },
    });
    await joinedOnce;
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    throw new CtflowError('KAFKA', `cannot start a reader of ${topic}: ${describeKafkaError(err)}`, {
      details: { topic, groupId, security: kafkaSecurityProblem(err) },
      cause: err,
      retriable: kafkaSecurityProblem(err) === undefined,
    });
  }

  return {
    read(range: RangeRead): Promise<RangeResult> {
      const { partition, fromOffset, toOffset: end } = range;
      if (!assigned.includes(partition)) {
        return Promise.reject(
          new CtflowError('KAFKA', `partition ${partition} of ${topic} is not known to the reader`, {
            details: { topic, partition, known: assigned },
          }),
        );
      }
      if (active.has(partition)) {
        return Promise.reject(
          new CtflowError('KAFKA', `partition ${partition} of ${topic} is already being read`, {
            details: { topic, partition },
          }),
        );
      }
      if (fromOffset >= end)
        return Promise.resolve({ partition, records: 0, lastOffset: -1, complete: true });
      return new Promise<RangeResult>((resolve, reject) => {
        const read: ActiveRead = {
          range,
          records: 0,
          lastOffset: -1,
          lastProgress: Date.now(),
          resolve,
          reject,
          timer: undefined,
        };
        const idle = range.idleTimeoutMs;
        if (idle !== undefined) {
          read.timer = setInterval(
            () => {
              if (Date.now() - read.lastProgress >= idle) finish(partition, false);
            },
            Math.min(idle, 250),
          );
        }
        active.set(partition, read);
        consumer.seek({ topic, partition, offset: String(fromOffset) });
        consumer.resume([{ topic, partitions: [partition] }]);
      });
    },
    async close(): Promise<void> {
      for (const [p, read] of active) {
        if (read.timer) clearInterval(read.timer);
        read.reject(
          new CtflowError('KAFKA', `reader of ${topic} closed during a read`, {
            details: { topic, partition: p },
          }),
        );
      }
      active.clear();
      await consumer.disconnect();
    },
  };
}

/** One-shot convenience: joins a reader, reads one range, leaves. Prefer a long-lived reader for repeated reads. */
export async function readPartitionRange(
  client: KafkaClient,
  topic: string,
  range: RangeRead,
): Promise<RangeResult> {
  const reader = await createPartitionRangeReader(client, { topic, concurrency: 1 });
  try {
    return await reader.read(range);
  } finally {
    await reader.close();
  }
}
