/**
 * A thin consumer-group member: batches of one partition at a time, manual commits only, pause/resume,
 * seek, and assignment/rebalance notifications. kafkajs implements the classic group protocol with eager
 * rebalancing: at each rebalance every partition is revoked, then the new assignment is announced.
 */
import type { Consumer as KafkajsConsumer } from 'kafkajs';
import { CtflowError } from '../errors.js';
import { describeKafkaError, kafkaSecurityProblem } from './errors.js';
import { type KafkaClient, kafkajsOf } from './client.js';
import { controlledAssigner, type MemberControl } from './join-barrier.js';
import { fromKafkajs, type MessageBatch, toOffset } from './message.js';

/** Partitions of one topic. */
export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

/** A position to commit or seek to: the offset of the next record to read. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

/** Group consumer settings. */
export interface GroupConsumerOptions {
  groupId: string;
  topics: readonly string[];
  /** Where a partition without a committed offset starts. Default false (the end). */
  fromBeginning?: boolean;
  /** Default 30000 ms. */
  sessionTimeoutMs?: number;
  /** Default 3000 ms. */
  heartbeatIntervalMs?: number;
  /** How long members get to rejoin at a rebalance. Default 60000 ms. */
  rebalanceTimeoutMs?: number;
  /** Longest wait of a fetch for new data. Default 500 ms. */
  maxWaitTimeMs?: number;
  /** Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Batches of different partitions handled at once. Default 1. */
  partitionsConsumedConcurrently?: number;
  /**
   * The member reads its partitions itself (input-fetcher.ts): kafkajs keeps every assigned partition paused
   * (membership, heartbeats and commits only) until {@link GroupConsumer.fetchWithKafkajs}, and awaits
   * `beforeJoin` before each (re)join of the group (join-barrier.ts): stop reading and finish the batch in
   * flight there. It must not reject.
   */
  ownFetching?: { beforeJoin: () => Promise<void> };
}

/** Given to a batch handler. */
export interface BatchContext {
  /** Tells the coordinator this member is alive (call during long work). */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping. */
  isRunning(): boolean;
  /** True when a seek or rebalance made this batch obsolete: stop processing it. */
  isStale(): boolean;
}

/** Handles one batch. Offsets are NOT committed automatically: call {@link GroupConsumer.commit}. */
export type BatchHandler = (batch: MessageBatch, context: BatchContext) => Promise<void>;

/** A member of a consumer group. */
export interface GroupConsumer {
  readonly groupId: string;
  /** Starts fetching; resolves once running (handlers are then called as batches arrive). */
  run(handler: BatchHandler): Promise<void>;
  /** Commits positions (next offset to read) for the group. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  pause(topic: string, partitions: readonly number[]): void;
  resume(topic: string, partitions: readonly number[]): void;
  /** Partitions paused right now. */
  paused(): TopicPartitions[];
  /** Next fetch of that partition starts at `offset`. Only after run(). */
  seek(position: TopicPartitionOffset): void;
  /** Called after each (re)join with this member's whole assignment. Returns an unsubscribe function. */
  onAssignment(listener: (assignment: TopicPartitions[]) => void): () => void;
  /** Called when a rebalance starts (all partitions are about to be revoked). */
  onRebalance(listener: () => void): () => void;
  /**
   * Called when a fetch request starts (kafkajs FETCH_START): the point from which a consumer's work on the
   * data is timed (the fetch response is decoded before the first batch is handed out).
   */
  onFetchStart(listener: () => void): () => void;
  /**
   * For a member that reads its partitions itself: resolves while the membership holds, rejects once a
   * rebalance (or a crash) was seen and until the next assignment.
   */
  heartbeat(): Promise<void>;
  /** For a member that read its partitions itself: kafkajs fetches them from now on (positions: seek()). */
  fetchWithKafkajs(): void;
  /** Called when the consumer crashed; `restarting` says whether kafkajs rejoins by itself. */
  onCrash(listener: (error: Error, restarting: boolean) => void): () => void;
  /** Leaves the group and closes connections. */
  disconnect(): Promise<void>;
}

function wrap(what: string, groupId: string, err: unknown): CtflowError {
  return new CtflowError('KAFKA', `${what} (group ${groupId}) failed: ${describeKafkaError(err)}`, {
    details: { groupId, operation: what, security: kafkaSecurityProblem(err) },
    cause: err,
    retriable:
      kafkaSecurityProblem(err) === undefined && ((err as { retriable?: boolean }).retriable ?? true),
  });
}

class KafkajsGroupConsumer implements GroupConsumer {
  /** Own fetching: kafkajs' partitions stay paused (set false by fetchWithKafkajs()). */
  #pauseAll: boolean;
  /** A rebalance or crash was seen and no assignment since. */
  #rejoining = false;

  constructor(
    readonly groupId: string,
    private readonly consumer: KafkajsConsumer,
    private readonly concurrency: number,
    private readonly topics: readonly string[],
    ownFetching: boolean,
    private readonly control: MemberControl,
  ) {
    this.#pauseAll = ownFetching;
    // Registered first: kafkajs fetches right after the join, and a new ConsumerGroup (after a crash)
    // forgets pauses.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.#rejoining = false;
      if (this.#pauseAll) consumer.pause(topics.map((topic) => ({ topic })));
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.#rejoining = true;
    });
    consumer.on(consumer.events.CRASH, () => {
      this.#rejoining = true;
    });
  }

  heartbeat(): Promise<void> {
    return this.#rejoining
      ? Promise.reject(
          new CtflowError('KAFKA', `group ${this.groupId} is rebalancing`, {
            details: { groupId: this.groupId },
            retriable: true,
          }),
        )
      : Promise.resolve();
  }

  fetchWithKafkajs(): void {
    if (!this.#pauseAll) return;
    this.#pauseAll = false;
    try {
      this.consumer.resume(this.topics.map((topic) => ({ topic })));
    } catch {
      // Not running yet: nothing is paused.
    }
  }

  async run(handler: BatchHandler): Promise<void> {
    await this.consumer.run({
      autoCommit: false,
      // Marks the batch as fetched (the next fetch goes past it); committing stays the caller's job.
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: this.concurrency,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
        const messages = batch.messages.map((m) => fromKafkajs(batch.topic, batch.partition, m));
        await handler(
          {
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: toOffset(batch.highWatermark, 'high watermark'),
            messages,
          },
          { heartbeat, isRunning, isStale },
        );
      },
    });
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    try {
      await this.consumer.commitOffsets(
        offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })),
      );
    } catch (err) {
      throw wrap('committing offsets', this.groupId, err);
    }
  }

  pause(topic: string, partitions: readonly number[]): void {
    this.consumer.pause([{ topic, partitions: [...partitions] }]);
  }

  resume(topic: string, partitions: readonly number[]): void {
    this.consumer.resume([{ topic, partitions: [...partitions] }]);
  }

  paused(): TopicPartitions[] {
    return this.consumer.paused().map((t) => ({ topic: t.topic, partitions: [...t.partitions] }));
  }

  seek(position: TopicPartitionOffset): void {
    this.consumer.seek({
      topic: position.topic,
      partition: position.partition,
      offset: String(position.offset),
    });
  }

  onAssignment(listener: (assignment: TopicPartitions[]) => void): () => void {
    return this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const assigned = Object.entries(event.payload.memberAssignment).map(([topic, partitions]) => ({
        topic,
        partitions: [...partitions].sort((a, b) => a - b),
      }));
      listener(assigned);
    });
  }

  onRebalance(listener: () => void): () => void {
    return this.consumer.on(this.consumer.events.REBALANCING, () => listener());
  }

  onFetchStart(listener: () => void): () => void {
    return this.consumer.on(this.consumer.events.FETCH_START, () => listener());
  }

  onCrash(listener: (error: Error, restarting: boolean) => void): () => void {
    return this.consumer.on(this.consumer.events.CRASH, (event) =>
      listener(event.payload.error, event.payload.restart),
    );
  }

  async disconnect(): Promise<void> {
    try {
      await this.consumer.disconnect();
    } finally {
      // Ends a restart after a crash that kafkajs lets complete after its disconnect (join-barrier.ts).
      this.control.disposed = true;
    }
  }
}

/** Creates a group member, connects it and subscribes it to `topics` (call run() to start fetching). */
export async function createGroupConsumer(
  client: KafkaClient,
  options: GroupConsumerOptions,
): Promise<GroupConsumer> {
  const control: MemberControl = { disposed: false };
  if (options.ownFetching !== undefined) control.beforeJoin = options.ownFetching.beforeJoin;
  const consumer = kafkajsOf(client).consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: options.heartbeatIntervalMs ?? 3000,
    rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
    maxWaitTimeInMs: options.maxWaitTimeMs ?? 500,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
    allowAutoTopicCreation: false,
    partitionAssigners: [controlledAssigner(control) as never],
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning ?? false });
  } catch (err) {
    control.disposed = true;
    await consumer.disconnect().catch(() => {});
    throw wrap(`subscribing to ${options.topics.join(', ')}`, options.groupId, err);
  }
  return new KafkajsGroupConsumer(
    options.groupId,
    consumer,
    options.partitionsConsumedConcurrently ?? 1,
    options.topics,
    options.ownFetching !== undefined,
    control,
  );
}
