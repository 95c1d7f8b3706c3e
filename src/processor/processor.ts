/**
 * The processor role: a member of a Kafka consumer group (classic protocol, eager rebalances) that runs one
 * flow engine per assigned partition of the observations topic and exports the records over IPFIX.
 *
 * Per partition p (docs/processor.md has the full design and the failure cases):
 * - before its first batch, p's state is restored from changelog partition p, read up to the end offset
 *   taken then (heartbeating meanwhile); the newest export marker says which input the state covers;
 * - each batch: decode → engine → p's write cache (write-cache.ts: records, newest state per key, dead
 *   letters); at a commit of the cache (every commit.intervalMs, at commit.maxStates states, or when p caught
 *   up with its end offset): "exporting" marker (acked) → records to the exporter (flushed) → state changes,
 *   tombstones and an "exported" marker to changelog partition p, undecodable messages to the dead-letter
 *   topic (all acked) → commit the input offset. A cache that is dropped (rebalance, stop, error) never
 *   left the process: its input is read again by p's next owner;
 * - a partition taken away drops its state; one that comes straight back keeps it when the changelog end
 *   offset shows that nobody else wrote since our last write;
 * - stop(): no new batches, the one in flight completes and commits its cache, leave the group.
 *   Flows are never ended as forced end here: another processor continues them.
 * Nothing is kept on local disk.
 */
import { randomBytes } from 'node:crypto';
import { AvroCodec } from '../codec/avro-codec.js';
import { CtflowError, isCtflowError } from '../errors.js';
import { createFlowEngine, FlowEngine } from '../flow/engine.js';
import { FlowStateCodec } from '../flow/state-codec.js';
import type { EngineOptions, FlowEngineApi, RecordSink } from '../flow/types.js';
import type { KafkaClient } from '../kafka/client.js';
import { type BatchContext, createGroupConsumer, type GroupConsumer } from '../kafka/consumer.js';
import {
  createInputFetcher,
  InputFallbackNeeded,
  type InputFetch,
  type InputFetcher,
} from '../kafka/input-fetcher.js';
import type { ConsumedMessage, MessageBatch } from '../kafka/message.js';
import { holdAdmin } from '../kafka/admin.js';
import { fetchCommittedOffsets, fetchEndOffsets, type PartitionOffsets } from '../kafka/offsets.js';
import { createProducer, type OutgoingMessage, type Producer } from '../kafka/producer.js';
import { createRecordRangeReader, type PartitionRecordReader } from '../kafka/record-range-reader.js';
import { DEFAULT_TOPIC_NAMES, type TopicNames } from '../kafka/topics.js';
import { applyMessages } from './apply.js';
import { deadLetterMessage, deadLetterReason } from './dead-letter.js';
import { claimHeader, encodeClaim, type OwnerClaim, OWNER_HEADER, OWNER_KEY, sameClaim } from './fence.js';
import { ConsumerLiveness, defaultLivenessPolicy, partitionsWithLag } from './liveness.js';
import { type RoleLog, SILENT_LOG } from './log.js';
import { type ExportMarker, encodeMarker, MARKER_KEY, resumePoint } from './marker.js';
import { type RestoredPartition, restorePartition } from './restore.js';
import { emptyProcessorStats, type ProcessorStats } from './stats.js';
import { APPLY_CHUNK, type CommitPolicy, DEFAULT_COMMIT_POLICY, WriteCache } from './write-cache.js';
import { warmUpRestoreOnce } from './warm-up.js';

/** Wire input: fetches of one partition in a row before the next partition's turn. */
const FETCHES_PER_TURN = 8;

/** Most messages per produce request (see start()). */
const PRODUCE_BATCH = 1000;

/** Consumer-group tuning (defaults suit production; tests shorten them). */
export interface ProcessorGroupOptions {
  /** Default 30000 ms: how long a dead processor keeps its partitions. */
  sessionTimeoutMs?: number;
  /** Default 3000 ms. */
  heartbeatIntervalMs?: number;
  /** Default 60000 ms. */
  rebalanceTimeoutMs?: number;
  /** Longest wait of a fetch. Default 500 ms. */
  maxWaitTimeMs?: number;
  /** Default 1 MiB. */
  maxBytesPerPartition?: number;
  /**
   * Consumer liveness (liveness.ts): the consumer is restarted when no batch came for this long while an
   * assigned partition has unread input. Default 3 × maxWaitTimeMs + sessionTimeoutMs.
   */
  stallTimeoutMs?: number;
  /** How often liveness is checked. Default a quarter of the stall timeout, 0.25–5 s. */
  livenessCheckMs?: number;
}

/**
 * How the input partitions are read: "wire" = ctflow's own Fetch requests (src/kafka/input-fetcher.ts; kafkajs
 * only for the group, heartbeats and commits, its partitions paused), falling back to kafkajs' fetching for
 * what wire/ does not read (SASL, other codecs; counted); "kafkajs" = kafkajs' consumer fetches them.
 */
export type InputMode = 'wire' | 'kafkajs';

/** Processor settings. */
export interface ProcessorOptions {
  client: KafkaClient;
  /** Consumer group; every processor of a deployment uses the same one. Default "ctflow-processor". */
  groupId?: string;
  /** Topic names; defaults ctflow.observations / ctflow.flowstate / ctflow.deadletter. */
  topics?: Partial<TopicNames>;
  /** Flow engine settings (timeouts, observation domain per node). */
  engine?: Partial<EngineOptions>;
  /** Where records go (the IPFIX exporting process). Not closed by the processor. */
  sink: RecordSink;
  group?: ProcessorGroupOptions;
  /** Told after each partition restore (e.g. for a duration histogram). */
  onRestored?: (info: { partition: number; entries: number; durationMs: number }) => void;
  /** Instrumentation: called when the group consumer starts a fetch (benchmarks time from the first one). */
  onFetchStart?: () => void;
  /**
   * When a partition's write cache is committed (records exported, newest states written, offsets
   * committed): every `intervalMs`, at `maxStates` pending states, and whenever the partition caught up
   * with its end offset. Defaults DEFAULT_COMMIT_POLICY (1000 ms, 4000 states).
   */
  commit?: Partial<CommitPolicy>;
  /** How the input is read. Default "wire". */
  input?: InputMode;
  /** Creates the group consumer (at the start and at each liveness restart). Default createGroupConsumer. */
  createConsumer?: typeof createGroupConsumer;
  /** Restore: fail (and retry the batch) after this long without a changelog record. Default 60000 ms. */
  restoreIdleTimeoutMs?: number;
  log?: RoleLog;
}

/** A running processor. */
export interface Processor {
  readonly groupId: string;
  /** Counters; `flows` and `partitions` are current values. */
  stats(): ProcessorStats;
  /** Input partitions whose state is in memory now. */
  partitions(): number[];
  /** Graceful stop: finish the batch in flight (export, changelog, commit), leave the group. Idempotent. */
  stop(): Promise<void>;
  /** Resolves after stop(); rejects when the consumer died and will not rejoin. */
  readonly done: Promise<void>;
}

/** A fetch's result or its error (a fetch sent ahead must never reject unobserved). */
type FetchOutcome = { value: InputFetch; error?: undefined } | { value?: undefined; error: unknown };

/** Wire input: a fetch sent before the loop's turn to make it. */
interface AheadFetch {
  partition: number;
  from: number;
  outcome: Promise<FetchOutcome>;
}

interface PartitionState {
  engine: FlowEngineApi;
  /** Input below this offset is reflected in the changelog (and committed or about to be). */
  coveredTo: number;
  /** Input below this offset is applied to the engine; [coveredTo, appliedTo) is in the write cache. */
  appliedTo: number;
  /** Output of the input not committed yet. */
  cache: WriteCache;
  /** Records derived from input below this offset are possible duplicates. */
  duplicatesBelow: number;
  /** The changelog partition's end offset if nobody but us wrote since the restore. */
  changelogEnd: number;
  /** Set at each rejoin: check the changelog end before using this state again. */
  verify: boolean;
  /** Our claim on changelog partition p (fence.ts), as the OWNER_HEADER of every record we write there. */
  claim: string;
}

class KafkaProcessor implements Processor {
  readonly groupId: string;
  readonly done: Promise<void>;
  readonly #o: ProcessorOptions;
  readonly #t: TopicNames;
  readonly #log: RoleLog;
  readonly #codec = new AvroCodec();
  readonly #stateCodec = new FlowStateCodec();
  readonly #states = new Map<number, PartitionState>();
  readonly #stats = emptyProcessorStats();
  readonly #policy: CommitPolicy;
  /**
   * Tells our changelog claims apart from another processor's made at the same end offset (48 random bits:
   * short, as every changelog record carries it).
   */
  readonly #ownerId = randomBytes(6).toString('base64url');
  #consumer!: GroupConsumer;
  /** Unsubscribes the processor's listeners from #consumer (before a consumer restart). */
  #unlisten: Array<() => void> = [];
  #liveness!: ConsumerLiveness;
  #livenessTimer: NodeJS.Timeout | undefined;
  /** Next input offset after the last batch handed out, per partition (liveness: lag). */
  readonly #positions = new Map<number, number>();
  /** A consumer restart in progress (stop() waits for it). */
  #restarting: Promise<void> | undefined;
  /** Restore fallbacks counted by changelog readers replaced since (#renewReader). */
  readonly #restoreFallbacks: Record<string, number> = {};
  /** Wire input fallbacks by reason, kept after the fetcher was closed. */
  #inputFallbacks: Record<string, number> = {};
  /** The last restart failed to start a consumer: the next liveness check tries again. */
  #consumerDown = false;
  /** Wire input (InputMode "wire") until a fallback to kafkajs' fetching. */
  #fetcher: InputFetcher | undefined;
  /** Wire input: next offset to fetch per assigned partition. */
  readonly #fetchPos = new Map<number, number>();
  /** Wire input: the fetch loop of the current assignment runs while #loopGen is its generation. */
  #loopGen = 0;
  #loop: Promise<void> = Promise.resolve();
  #producer!: Producer;
  #reader: PartitionRecordReader | undefined;
  #assigned: number[] = [];
  #endOffsets: Promise<PartitionOffsets[]> | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  /** Offset commits run behind processing (the changelog marker, not the commit, is the guarantee). */
  #commits: Promise<void> = Promise.resolve();
  /** Offsets waiting in #commits, per partition. */
  readonly #pendingCommits = new Map<number, number>();
  /**
   * Wire input: write cache commits running in the background, per partition (#caughtUp; at most one per
   * partition: a partition's next batch or commit awaits it).
   */
  readonly #committing = new Map<number, Promise<void>>();
  /** Wire input: states being made ready for a partition's next batch (#prepare). */
  readonly #preparing = new Map<number, Promise<PartitionState>>();
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #resolveDone: () => void = () => {};
  #rejectDone: (err: unknown) => void = () => {};
  /** Releases the admin connection held for the processor's offset requests (holdAdmin). */
  #releaseAdmin: () => Promise<void> = async () => {};

  constructor(options: ProcessorOptions) {
    this.#o = options;
    this.groupId = options.groupId ?? 'ctflow-processor';
    this.#t = { ...DEFAULT_TOPIC_NAMES, ...options.topics };
    this.#log = options.log ?? SILENT_LOG;
    this.#policy = { ...DEFAULT_COMMIT_POLICY, ...options.commit };
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    // A crash is reported through `done`; callers that only await stop() must not see an unhandled rejection.
    this.done.catch(() => {});
  }

  async start(): Promise<void> {
    const g = this.#o.group ?? {};
    // Before joining the group (no partition waits for it): V8 optimises the restore path on a synthetic
    // changelog, so the first partition restore does not run interpreted code (warm-up.ts).
    const warmUp = await warmUpRestoreOnce({
      ...(this.#o.engine ? { engine: this.#o.engine } : {}),
      codec: this.#stateCodec,
    });
    // kafkajs groups a request's messages per partition by copying arrays (quadratic in the messages of one
    // partition, kafkajs 2.2.4 groupMessagesPerPartition.js): requests of at most 1000 keep that cost small.
    // No compression: changelog values are small Avro records (gzip gains little on them) and gzip costs CPU
    // twice, here and in every restore (kafkajs inflates on the event loop).
    this.#producer = await createProducer(this.#o.client, {
      lingerMs: 0,
      maxBatchMessages: PRODUCE_BATCH,
      compression: 'none',
    });
    // ctflow's own fetches (no group to join; kafkajs only as a counted fallback): connects at the first restore.
    this.#reader = createRecordRangeReader(this.#o.client, { topic: this.#t.flowState });
    const policy = defaultLivenessPolicy(g.maxWaitTimeMs ?? 500, g.sessionTimeoutMs ?? 30_000);
    if (g.stallTimeoutMs !== undefined) policy.stallMs = g.stallTimeoutMs;
    if (g.livenessCheckMs !== undefined) policy.checkIntervalMs = g.livenessCheckMs;
    this.#liveness = new ConsumerLiveness(policy, Date.now());
    if ((this.#o.input ?? 'wire') === 'wire') {
      this.#fetcher = createInputFetcher(this.#o.client, {
        topic: this.#t.observations,
        ...(g.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: g.maxBytesPerPartition }),
      });
    }
    // Offsets are asked at every assignment, restore and liveness check: over one admin connection.
    this.#releaseAdmin = holdAdmin(this.#o.client);
    try {
      await this.#startConsumer();
    } catch (err) {
      await this.#releaseAdmin();
      throw err;
    }
    this.#livenessTimer = setInterval(() => void this.#checkLiveness(), policy.checkIntervalMs);
    this.#livenessTimer.unref();
    this.#log.info(
      {
        groupId: this.groupId,
        topic: this.#t.observations,
        input: this.#fetcher === undefined ? 'kafkajs' : 'wire',
        restoreWarmUpMs: warmUp.ms,
      },
      'processor joined its group',
    );
  }

  /** Creates the group consumer, wires the processor's listeners and starts it. */
  async #startConsumer(): Promise<void> {
    const g = this.#o.group ?? {};
    const consumer = await (this.#o.createConsumer ?? createGroupConsumer)(this.#o.client, {
      groupId: this.groupId,
      topics: [this.#t.observations],
      fromBeginning: true,
      ...(g.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: g.sessionTimeoutMs }),
      ...(g.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: g.heartbeatIntervalMs }),
      ...(g.rebalanceTimeoutMs === undefined ? {} : { rebalanceTimeoutMs: g.rebalanceTimeoutMs }),
      ...(g.maxWaitTimeMs === undefined ? {} : { maxWaitTimeMs: g.maxWaitTimeMs }),
      ...(g.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: g.maxBytesPerPartition }),
      // Before kafkajs rejoins: no batch in flight, none after (the next assignment starts a new loop).
      ...(this.#fetcher === undefined ? {} : { ownFetching: { beforeJoin: () => this.#stopFetching() } }),
    });
    this.#consumer = consumer;
    this.#unlisten = [
      consumer.onAssignment((assignment) => this.#onAssignment(assignment)),
      consumer.onRebalance(() => this.#liveness.progress(Date.now())),
      consumer.onCrash((error, restarting) => {
        // kafkajs restarts itself after a retry delay: the stall time counts from here.
        this.#liveness.progress(Date.now());
        // Wire input: no batch while the membership is in doubt; the next assignment starts a new loop.
        if (this.#fetcher !== undefined) this.#loopGen++;
        this.#log.error({ err: error, restarting }, 'processor consumer crashed');
        if (!restarting && !this.#stopping && this.#consumer === consumer) this.#rejectDone(error);
      }),
    ];
    const onFetchStart = this.#o.onFetchStart;
    if (onFetchStart) this.#unlisten.push(consumer.onFetchStart(onFetchStart));
    this.#liveness.progress(Date.now());
    // A replaced consumer that still hands out a batch (its disconnect timed out) must not touch our state.
    await consumer.run((batch, ctx) =>
      // Wire input: kafkajs keeps the partitions paused; a batch it still hands out is not ours to handle.
      this.#consumer === consumer && this.#fetcher === undefined
        ? this.#handle(batch, ctx)
        : Promise.resolve(),
    );
  }

  /**
   * Every checkIntervalMs: when no batch came for the stall time while an assigned partition has unread input
   * (end offset above our position, admin requests), restart the consumer.
   */
  async #checkLiveness(): Promise<void> {
    if (this.#stopping || this.#restarting !== undefined) return;
    if (!this.#consumerDown) {
      if (!this.#liveness.quiet(Date.now()) || this.#assigned.length === 0) return;
      let lagging: number[];
      try {
        const [ends, committed] = await Promise.all([
          fetchEndOffsets(this.#o.client, this.#t.observations),
          fetchCommittedOffsets(this.#o.client, this.groupId, this.#t.observations),
        ]);
        lagging = partitionsWithLag(this.#assigned, this.#positions, committed, ends);
      } catch (err) {
        this.#log.debug({ error: (err as Error).message }, 'liveness: offsets not available');
        return;
      }
      // A batch may have come while the offsets were fetched.
      if (lagging.length === 0 || !this.#liveness.quiet(Date.now()) || this.#stopping) return;
      if (this.#restarting !== undefined) return;
      this.#stats.consumerRestarts++;
      this.#log.warn(
        {
          partitions: lagging,
          quietMs: this.#liveness.quietFor(Date.now()),
          stallMs: this.#liveness.policy.stallMs,
        },
        'consumer stalled: no batch although assigned partitions have unread input; restarting it',
      );
    }
    this.#restarting = this.#restartConsumer().finally(() => {
      this.#restarting = undefined;
    });
  }

  /**
   * Leaves the group with the stalled consumer and joins with a new one. Our partition states are handled as
   * at a rebalance (#onAssignment): a state with uncommitted input is dropped, the others are checked
   * against the changelog end before use, so restore and fencing keep the guarantees.
   */
  async #restartConsumer(): Promise<void> {
    const old = this.#consumer;
    for (const unlisten of this.#unlisten) unlisten();
    this.#unlisten = [];
    await this.#stopFetching();
    if (!this.#consumerDown) {
      await this.#inFlight.catch(() => {});
      await this.#commits;
      // A stalled kafkajs consumer may never finish leaving: go on after a session timeout (the coordinator
      // has dropped it by then).
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.#log.warn({}, 'stalled consumer: disconnect timed out');
          resolve();
        }, this.#o.group?.sessionTimeoutMs ?? 30_000);
      });
      await Promise.race([
        old.disconnect().catch((err: unknown) => {
          this.#log.warn({ error: (err as Error).message }, 'stalled consumer: disconnect failed');
        }),
        timeout,
      ]);
      clearTimeout(timer);
    }
    for (const [p, state] of this.#states) {
      if (!state.cache.empty) this.#drop(p, 'uncommitted input at a consumer restart');
      else state.verify = true;
    }
    this.#positions.clear();
    this.#endOffsets = undefined;
    if (this.#stopping) return;
    try {
      await this.#startConsumer();
      this.#consumerDown = false;
      this.#log.info({ groupId: this.groupId }, 'consumer restarted');
    } catch (err) {
      this.#consumerDown = true;
      this.#liveness.progress(Date.now());
      this.#log.warn({ error: (err as Error).message }, 'consumer restart failed; trying again');
    }
  }

  stats(): ProcessorStats {
    let flows = 0;
    for (const s of this.#states.values()) flows += s.engine.size;
    return {
      ...this.#stats,
      deadLetteredByReason: { ...this.#stats.deadLetteredByReason },
      restoreFallbacksByReason: this.#restoreFallbacksByReason(),
      inputFallbacksByReason: this.#fetcher?.fallbacks() ?? { ...this.#inputFallbacks },
      recordsByReason: { ...this.#stats.recordsByReason },
      flows,
      partitions: this.#states.size,
    };
  }

  #restoreFallbacksByReason(): Record<string, number> {
    const out = { ...this.#restoreFallbacks };
    for (const [k, n] of Object.entries(this.#reader?.fallbacks() ?? {})) out[k] = (out[k] ?? 0) + n;
    return out;
  }

  partitions(): number[] {
    return [...this.#states.keys()].sort((a, b) => a - b);
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#livenessTimer);
    await this.#restarting;
    if (this.#assigned.length > 0) this.#consumer.pause(this.#t.observations, this.#assigned);
    await this.#stopFetching();
    await this.#inFlight.catch(() => {});
    await this.#commits;
    try {
      await this.#consumer.disconnect();
      await this.#fetcher?.close();
      await this.#reader?.close();
      await this.#producer.disconnect();
    } finally {
      await this.#releaseAdmin();
      // Never committed from here (kafkajs may be rejoining without us): the next owner reads that input again.
      for (const [p, state] of this.#states)
        if (!state.cache.empty)
          this.#log.info(
            { partition: p, messages: state.cache.messages },
            'uncommitted input left to the next owner',
          );
      this.#states.clear();
      this.#resolveDone();
      this.#log.info({ groupId: this.groupId, ...this.#stats }, 'processor stopped');
    }
  }

  #onAssignment(assignment: Array<{ topic: string; partitions: number[] }>): void {
    const mine = assignment.find((a) => a.topic === this.#t.observations)?.partitions ?? [];
    this.#assigned = mine;
    this.#liveness.progress(Date.now());
    this.#stats.rebalances++;
    this.#endOffsets = undefined;
    for (const [p, state] of this.#states) {
      if (!mine.includes(p)) this.#drop(p, 'partition taken away');
      // Its engine is ahead of the changelog by the cache's input: whoever owns p reads that input again.
      else if (!state.cache.empty) this.#drop(p, 'uncommitted input at a rebalance');
      else state.verify = true;
    }
    this.#log.info({ partitions: mine }, 'partitions assigned');
    if (this.#fetcher !== undefined && !this.#stopping) {
      const gen = ++this.#loopGen;
      this.#loop = this.#fetchLoop(gen, mine).catch((err: unknown) => {
        this.#log.error({ err }, 'input fetch loop failed');
      });
    }
  }

  /** Wire input: ends the fetch loop after the batch in flight (resolves when it ended). Never rejects. */
  async #stopFetching(): Promise<void> {
    this.#loopGen++;
    await this.#loop;
  }

  /**
   * Wire input: reads the assigned partitions from the group's committed offsets (the log start where none),
   * one fetch per partition in turn, and hands each fetch's records to #handle as kafkajs would (one batch
   * at a time, in order); sleeps a fetch wait when a whole round found nothing.
   */
  async #fetchLoop(gen: number, partitions: readonly number[]): Promise<void> {
    const fetcher = this.#fetcher!;
    const topic = this.#t.observations;
    const waitMs = this.#o.group?.maxWaitTimeMs ?? 500;
    const live = () => gen === this.#loopGen && !this.#stopping && this.#fetcher !== undefined;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    this.#fetchPos.clear();
    while (live() && this.#fetchPos.size < partitions.length) {
      try {
        // One after the other: at the same time on a new admin, kafkajs' group offset request waited for
        // a retry (~300 ms) behind the topic's metadata request.
        const ends = await fetchEndOffsets(this.#o.client, topic);
        const committed = await fetchCommittedOffsets(this.#o.client, this.groupId, topic);
        for (const p of partitions) {
          const c = committed.find((e) => e.partition === p)?.offset ?? -1;
          // Where nothing was committed: the log start (fromBeginning, as the kafkajs consumer).
          this.#fetchPos.set(p, c >= 0 ? c : (ends.find((e) => e.partition === p)?.low ?? 0));
        }
      } catch (err) {
        this.#log.warn({ error: (err as Error).message }, 'input positions not available; trying again');
        await sleep(Math.max(waitMs, 200));
      }
    }
    // Consecutive failures per partition: the wait before its next attempt doubles (0.2 s to 5 s), as
    // kafkajs' retries did (every failed restore attempt writes a claim to the changelog).
    const failures = new Map<number, number>();
    const backoff = (p: number) => {
      const n = (failures.get(p) ?? 0) + 1;
      failures.set(p, n);
      return sleep(Math.min(Math.max(waitMs, 200) * 2 ** (n - 1), 5000));
    };
    const ctx: BatchContext = {
      heartbeat: () => this.#consumer.heartbeat(),
      isRunning: () => !this.#stopping,
      isStale: () => gen !== this.#loopGen,
    };
    // Fetches ahead, at most one per partition: while a batch of p is applied and committed (changelog and
    // export acknowledgements), p's next fetch and the next partition's are in flight, and their responses are
    // read in the handler's waits. One is used only if it is still the fetch the loop makes (same position: a
    // failed batch or commit moves it). Records do not change once written, so an early fetch is never wrong;
    // at worst it ends short of what arrived since (the next round reads the rest).
    const ahead = new Map<number, AheadFetch>();
    const fetch = (p: number, from: number): Promise<FetchOutcome> => {
      this.#o.onFetchStart?.();
      return fetcher.fetch(p, from).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    };
    // Never two reads of one partition at a time (the record reader's rule): a partition with a fetch
    // ahead at another position gets no second one, and its turn waits for the first to end.
    const prefetch = (p: number, from: number): void => {
      if (live() && !ahead.has(p)) ahead.set(p, { partition: p, from, outcome: fetch(p, from) });
    };
    try {
      while (live()) {
        let progressed = false;
        for (let i = 0; i < partitions.length; i++) {
          const p = partitions[i]!;
          // The fetch after p's turn: the next partition's, or the next round's first when this round found
          // input (a round that found none sleeps a fetch wait first: a fetch sent now would come back empty).
          const q = partitions[(i + 1) % partitions.length]!;
          const after = (): void => {
            if (i + 1 < partitions.length || progressed) prefetch(q, this.#fetchPos.get(q)!);
          };
          // A partition's batches one after the other while it has input (at most FETCHES_PER_TURN, then
          // the next partition's turn): the fetch after its last batch finds the end of the log, and its write
          // cache is committed then, as kafkajs' batch that reached the high watermark would be.
          for (let turn = 0; turn < FETCHES_PER_TURN; turn++) {
            // p's background commit first: its outcome may move p's position (a failed commit).
            await this.#settled(p);
            if (!live()) return;
            const from = this.#fetchPos.get(p)!;
            const sent = ahead.get(p);
            ahead.delete(p);
            if (sent !== undefined && sent.from !== from) await sent.outcome;
            const outcome = await (sent?.from === from ? sent.outcome : fetch(p, from));
            // A rebalance came while fetching: these records are read again by whoever owns p next.
            if (!live()) return;
            if (outcome.value === undefined) {
              const err = outcome.error;
              if (err instanceof InputFallbackNeeded) {
                // kafkajs' batches must not meet a commit of the same partition still running.
                await this.#allSettled();
                return this.#toKafkajsInput(err, partitions);
              }
              this.#log.warn(
                { partition: p, offset: from, error: (err as Error).message },
                'input fetch failed',
              );
              await backoff(p);
              break;
            }
            const fetched = outcome.value;
            const messages = fetched.messages;
            if (messages.length === 0) {
              if (fetched.caughtUp) {
                after();
                this.#caughtUp(p);
              }
              break;
            }
            progressed = true;
            const last = messages.at(-1)!.offset;
            this.#fetchPos.set(p, last + 1);
            const batch: MessageBatch = {
              topic,
              partition: p,
              // Caught up: the batch ends at the end offset (the write cache commits now).
              highWatermark: fetched.caughtUp ? last + 1 : Number.MAX_SAFE_INTEGER,
              messages,
            };
            if (!fetched.caughtUp && turn + 1 < FETCHES_PER_TURN) prefetch(p, last + 1);
            if (q !== p) prefetch(q, this.#fetchPos.get(q)!);
            // The next partition's state (a restore, after an assignment) while this batch is applied.
            if (q !== p) this.#prepare(q, ctx);
            try {
              await this.#handle(batch, ctx);
            } catch (err) {
              // Read the batch again, unless the handler moved the position (#seek to what the changelog covers).
              if (this.#fetchPos.get(p) === last + 1) this.#fetchPos.set(p, from);
              this.#log.warn(
                { partition: p, offset: from, error: (err as Error).message },
                'input batch failed; read again',
              );
              await backoff(p);
              break;
            }
            failures.delete(p);
            if (fetched.caughtUp) break;
          }
        }
        if (!progressed && live()) await sleep(waitMs);
      }
    } finally {
      // The loop ends (rebalance, stop, restart): its partitions' commits and restores end before kafkajs
      // rejoins (a restore's state is kept, as any other, and checked at the next assignment).
      await this.#allSettled();
      const preparing = [...this.#preparing.values()];
      this.#preparing.clear();
      await Promise.allSettled(preparing);
    }
  }

  /**
   * Wire input: p reached the end of its log; commit its write cache now (as a batch that caught up would),
   * in the background: the fetch loop goes on with the other partitions while the changelog and the exporter
   * acknowledge, and awaits it before p's next turn (#settled). Never rejects: a failed commit drops p's state
   * and moves p's position back to what the changelog covers, as a failed batch does.
   */
  #caughtUp(p: number): void {
    const state = this.#states.get(p);
    if (state === undefined || state.cache.empty || this.#stopping) return;
    this.#liveness.busy(Date.now());
    const run: Promise<void> = this.#commitCache(p, state)
      .then(() => {})
      .catch((err: unknown) => {
        if (this.#states.get(p) === state && state.appliedTo > state.coveredTo && !this.#stopping)
          this.#seek(p, state.coveredTo);
        this.#drop(p, `error: ${(err as Error).message}`);
        this.#log.warn({ partition: p, error: (err as Error).message }, 'write cache commit failed');
      })
      .finally(() => {
        this.#liveness.idle(Date.now());
        if (this.#committing.get(p) === run) this.#committing.delete(p);
      });
    this.#committing.set(p, run);
  }

  /** Wire input: resolves when p's background commit (#caughtUp), if any, has ended. */
  async #settled(p: number): Promise<void> {
    for (let run = this.#committing.get(p); run !== undefined; run = this.#committing.get(p)) await run;
  }

  /** Wire input: resolves when every background commit has ended. */
  async #allSettled(): Promise<void> {
    while (this.#committing.size > 0) await Promise.all(this.#committing.values());
  }

  /**
   * Wire input: what wire/ does not read (SASL, a codec, an old format) goes back to kafkajs' fetching, from
   * the positions reached, for the rest of this processor's life (counted in inputFallbacksByReason).
   */
  #toKafkajsInput(err: InputFallbackNeeded, partitions: readonly number[]): void {
    this.#log.warn(
      { reason: err.reason, error: err.message },
      'input read through the kafkajs consumer from now on',
    );
    this.#inputFallbacks = this.#fetcher?.fallbacks() ?? {};
    void this.#fetcher?.close().catch(() => {});
    this.#fetcher = undefined;
    for (const p of partitions) {
      const offset = this.#fetchPos.get(p);
      if (offset !== undefined) this.#consumer.seek({ topic: this.#t.observations, partition: p, offset });
    }
    this.#consumer.fetchWithKafkajs();
  }

  #drop(p: number, why: string): void {
    const state = this.#states.get(p);
    if (state !== undefined && this.#states.delete(p)) {
      this.#stats.dropped++;
      this.#stats.uncommittedDropped += state.cache.messages;
      this.#log.info({ partition: p, why }, 'partition state dropped');
    }
  }

  #handle(batch: MessageBatch, ctx: BatchContext): Promise<void> {
    const last = batch.messages.at(-1);
    if (last !== undefined) this.#positions.set(batch.partition, last.offset + 1);
    this.#liveness.busy(Date.now());
    const run = this.#handleBatch(batch, ctx).finally(() => this.#liveness.idle(Date.now()));
    this.#inFlight = run.catch(() => {});
    return run;
  }

  async #handleBatch(batch: MessageBatch, ctx: BatchContext): Promise<void> {
    if (this.#stopping || ctx.isStale() || batch.messages.length === 0) return;
    const p = batch.partition;
    const messages = batch.messages;
    const last = messages.at(-1)!.offset;
    this.#stats.batches++;
    this.#stats.messages += messages.length;
    const state = await this.#stateFor(p, ctx);
    try {
      let start = 0;
      while (start < messages.length && messages[start]!.offset < state.appliedTo) start++;
      if (start > 0) {
        this.#stats.skippedCovered += start;
        this.#stats.completed += start;
        // The previous owner's state covers these but its commit may not have happened (stop, crash).
        if (start === messages.length) this.#commitLater(p, Math.min(state.coveredTo, last + 1));
      }
      let dupEnd = start;
      while (dupEnd < messages.length && messages[dupEnd]!.offset < state.duplicatesBelow) dupEnd++;
      // Chunks: the cache's size is checked between them, and none straddles the possible-duplicates bound.
      for (let i = start; i < messages.length; ) {
        const end = Math.min(i + APPLY_CHUNK, messages.length, i < dupEnd ? dupEnd : messages.length);
        // Other partitions' commits run meanwhile (#caughtUp): let their next steps go out between chunks.
        if (i > start && this.#committing.size > 0) await new Promise<void>((r) => setImmediate(r));
        this.#apply(state, messages, i, end, i < dupEnd);
        i = end;
        if (state.cache.states >= this.#policy.maxStates && !(await this.#commitCache(p, state))) return;
      }
      // Caught up with the partition's end offset: no input waiting to coalesce with, commit now.
      if (state.cache.due(this.#policy, Date.now(), last + 1 >= batch.highWatermark || this.#stopping))
        await this.#commitCache(p, state);
    } catch (err) {
      // The engine may hold input whose outputs were not all written: a retry must start from the changelog,
      // and from the input it covers (kafkajs already went past the batches whose output is in the cache).
      if (this.#states.get(p) === state && state.appliedTo > state.coveredTo && !this.#stopping)
        this.#seek(p, state.coveredTo);
      this.#drop(p, `error: ${(err as Error).message}`);
      throw err;
    }
  }

  /** p's state for a batch: the one prepared ahead (#prepare), else the kept one, else restored now. */
  async #stateFor(p: number, ctx: BatchContext): Promise<PartitionState> {
    const prepared = this.#preparing.get(p);
    if (prepared !== undefined) {
      this.#preparing.delete(p);
      return prepared;
    }
    return (await this.#usableState(p, ctx)) ?? (await this.#restore(p, ctx));
  }

  /**
   * Wire input: gets p's state ready (checked after a rebalance, or restored) while the batch before p's turn
   * is applied and committed, so that p's restore round trips (offsets, claim, changelog read) overlap that
   * work. p's next batch takes the result (#stateFor), errors included. At most one partition ahead.
   */
  #prepare(p: number, ctx: BatchContext): void {
    if (this.#preparing.has(p) || this.#stopping) return;
    const state = this.#states.get(p);
    if (state !== undefined && !state.verify) return;
    const run = (async () => (await this.#usableState(p, ctx)) ?? (await this.#restore(p, ctx)))();
    run.catch(() => {}); // seen by p's next batch, or dropped with the loop
    this.#preparing.set(p, run);
  }

  /** The in-memory state of p if it may be used, after checking the changelog when a rebalance happened. */
  async #usableState(p: number, ctx: BatchContext): Promise<PartitionState | undefined> {
    const state = this.#states.get(p);
    if (state === undefined || !state.verify) return state;
    this.#endOffsets ??= fetchEndOffsets(this.#o.client, this.#t.flowState);
    const ends = await this.#endOffsets;
    await ctx.heartbeat().catch(() => {});
    const end = ends.find((e) => e.partition === p)?.high;
    if (end === state.changelogEnd) {
      state.verify = false;
      this.#stats.keptAfterRebalance++;
      this.#log.info({ partition: p, changelogEnd: end }, 'partition came back unchanged: state kept');
      return state;
    }
    this.#drop(p, `changelog end ${end} != ${state.changelogEnd}: written by another processor`);
    return undefined;
  }

  async #restore(p: number, ctx: BatchContext): Promise<PartitionState> {
    const reader = this.#reader!;
    // A member that was dropped from the group (frozen past its session timeout) learns it here, before it
    // claims the partition from its real owner: the error makes kafkajs rejoin.
    await ctx.heartbeat();
    const before = (await fetchEndOffsets(this.#o.client, this.#t.flowState)).find((e) => e.partition === p);
    const claim: OwnerClaim = { epoch: before?.high ?? 0, owner: this.#ownerId };
    const header = claimHeader(claim);
    // The claim first, then the read up to the end after it: writes of an older owner that land after the
    // claim are stale for this restore and every later one (fence.ts).
    await this.#producer.send(
      this.#t.flowState,
      [{ key: OWNER_KEY, value: encodeClaim(claim), partition: p, headers: { [OWNER_HEADER]: header } }],
      { atomic: true },
    );
    this.#stats.claims++;
    const ends = await fetchEndOffsets(this.#o.client, this.#t.flowState);
    const range = ends.find((e) => e.partition === p) ?? { partition: p, low: 0, high: 0 };
    let rebalance: unknown;
    this.#stats.restoring++;
    const restored = await restorePartition({
      reader,
      codec: this.#stateCodec,
      topic: this.#t.flowState,
      partition: p,
      fromOffset: range.low,
      toOffset: range.high,
      createEngine: () => createFlowEngine(this.#o.engine),
      ...(this.#o.restoreIdleTimeoutMs === undefined ? {} : { idleTimeoutMs: this.#o.restoreIdleTimeoutMs }),
      onProgress: async () => {
        if (rebalance !== undefined) return;
        // A failed heartbeat means a rebalance started: finish the restore (the state stays valid if p
        // comes back unchanged), then let kafkajs rejoin.
        await ctx.heartbeat().catch((err: unknown) => {
          rebalance = err;
        });
      },
    })
      .catch((err: unknown) => {
        this.#renewReader();
        throw err;
      })
      .finally(() => {
        this.#stats.restoring--;
      });
    this.#stats.staleChangelogRecords += restored.staleRecords;
    if (!sameClaim(restored.claim, claim)) {
      // Another processor claimed p after us (we are the stale one, or it is): never use this state.
      throw new CtflowError(
        'KAFKA',
        `restoring ${this.#t.flowState}[${p}]: claimed by another processor after us (${restored.claim === undefined ? 'no claim' : claimHeader(restored.claim)})`,
        { details: { topic: this.#t.flowState, partition: p, claim: header }, retriable: true },
      );
    }
    const resume = resumePoint(restored.marker);
    const state: PartitionState = {
      engine: restored.engine,
      coveredTo: resume.coveredTo,
      appliedTo: resume.coveredTo,
      cache: new WriteCache(restored.engine),
      duplicatesBelow: resume.duplicatesBelow,
      changelogEnd: range.high,
      verify: false,
      claim: header,
    };
    await this.#repair(p, state, restored);
    this.#states.set(p, state);
    this.#stats.restores++;
    this.#stats.restoredEntries += restored.entries;
    this.#stats.restoreMs += restored.durationMs;
    this.#o.onRestored?.({ partition: p, entries: restored.entries, durationMs: restored.durationMs });
    const fields = {
      partition: p,
      entries: restored.entries,
      records: restored.records,
      ms: restored.durationMs,
      readMs: restored.readMs,
      loadMs: restored.loadMs,
      ...resume,
      claim: header,
      staleRecords: restored.staleRecords,
      repairs: restored.repairs.length + (restored.markerStale ? 1 : 0),
      fallbacks: reader.fallbacks(),
    };
    this.#log.info(fields, 'partition state restored');
    if (rebalance !== undefined) {
      state.verify = true;
      throw rebalance;
    }
    return state;
  }

  /**
   * After a failed restore read: a new changelog reader (new connections, metadata asked again). The range
   * reader keeps its bootstrap connection when a Metadata request on it fails, so after a broker restart it
   * would fail every restore (seen: hundreds of claims, no restore). Fallback counts carry over.
   */
  #renewReader(): void {
    const old = this.#reader;
    if (old === undefined) return;
    for (const [k, n] of Object.entries(old.fallbacks()))
      this.#restoreFallbacks[k] = (this.#restoreFallbacks[k] ?? 0) + n;
    this.#reader = createRecordRangeReader(this.#o.client, { topic: this.#t.flowState });
    void old.close().catch(() => {});
  }

  /**
   * Writes again, under our claim, the keys whose newest changelog record is stale (a zombie's late write):
   * once compaction removed the claims that made them stale, a later restore could not tell them apart.
   */
  async #repair(p: number, state: PartitionState, restored: RestoredPartition): Promise<void> {
    const messages: OutgoingMessage[] = restored.repairs.map(([key, value]) => ({
      key,
      value,
      partition: p,
    }));
    if (restored.markerStale) {
      messages.push({
        key: MARKER_KEY,
        value: restored.marker === undefined ? null : encodeMarker(restored.marker),
        partition: p,
      });
    }
    if (messages.length === 0) return;
    if (!(await this.#writeChangelog(p, state, messages))) {
      throw new CtflowError(
        'KAFKA',
        `restoring ${this.#t.flowState}[${p}]: written by another processor meanwhile`,
        {
          details: { topic: this.#t.flowState, partition: p, claim: state.claim },
          retriable: true,
        },
      );
    }
    this.#stats.changelogRepairs += messages.length;
    this.#log.warn(
      { partition: p, repairs: messages.length, staleRecords: restored.staleRecords },
      'stale changelog records of an older owner found: newest values written again',
    );
  }

  /**
   * Someone else wrote to p's changelog since our last write (a processor that claimed p, or a zombie's late
   * write): stop here. Nothing more is exported from this state and its input is not committed; p's next
   * batch (read again from what the changelog covers) restores it under a new claim, unless kafkajs learns
   * meanwhile that p is no longer ours.
   */
  #interleaved(p: number, state: PartitionState, uncommitted: number): false {
    this.#stats.fencedCommits++;
    this.#stats.uncommittedDropped += uncommitted;
    this.#log.warn(
      { partition: p, coveredTo: state.coveredTo, messages: uncommitted, claim: state.claim },
      'changelog written by another processor: state dropped, nothing more exported from it',
    );
    if (this.#states.get(p) === state && !this.#stopping) this.#seek(p, state.coveredTo);
    this.#drop(p, 'changelog written by another processor');
    return false;
  }

  /** Applies messages[start, end) to p's engine; its output stays there (coalesced) until the commit. */
  #apply(
    state: PartitionState,
    messages: ConsumedMessage[],
    start: number,
    end: number,
    replayed: boolean,
  ): void {
    const applied = applyMessages(state.engine, this.#codec, messages, start, end);
    this.#stats.observations += applied.observations;
    this.#stats.watermarks += applied.watermarks;
    state.appliedTo = messages[end - 1]!.offset + 1;
    state.cache.applied(messages, start, end, state.appliedTo, applied.refused, Date.now());
    // Records of replayed input are counted apart: drain them now (once per restore).
    if (replayed) state.cache.absorb(state.engine.drain(), true);
  }

  /**
   * The commit of p's write cache (steps 1-5 of docs/processor.md): "exporting" marker (acked), records to the
   * exporter (flushed), newest state per key + "exported" marker in one atomic changelog request and dead
   * letters (acked), then the input offset is committed behind.
   */
  async #commitCache(p: number, state: PartitionState): Promise<boolean> {
    // With nothing drained before (replayed input is), the changes come as changelog bytes straight from the
    // flow rows (FlowEngine.drainEncoded: no state object, key string or Avro encoding per changed flow).
    const engine = state.engine;
    const encoded =
      engine instanceof FlowEngine && !state.cache.hasChanges
        ? engine.drainEncoded(this.#stateCodec)
        : undefined;
    state.cache.absorb(
      encoded === undefined ? engine.drain() : { records: encoded.records, changes: [] },
      false,
    );
    const out = state.cache.take();
    const to = out.to;
    if (out.records.length > 0) {
      // Landing right after our previous write proves no claim came in between: a later owner reads this
      // marker and counts what we export now as possible duplicates. Otherwise export nothing.
      const ours = await this.#writeChangelog(p, state, [
        this.#marker(p, { phase: 'exporting', coveredTo: state.coveredTo, to }),
      ]);
      if (!ours) return this.#interleaved(p, state, out.messages);
      this.#o.sink.write(out.records);
      await this.#o.sink.flush();
      this.#stats.records += out.records.length;
      for (const r of out.records)
        this.#stats.recordsByReason[r.endReason] = (this.#stats.recordsByReason[r.endReason] ?? 0) + 1;
      this.#stats.possibleDuplicates += out.possibleDuplicates;
    }
    const changes: OutgoingMessage[] = [];
    for (const [key, value] of out.changes) {
      if (value === null) this.#stats.tombstones++;
      changes.push({ key, value: this.#stateCodec.encode(value), partition: p });
    }
    if (encoded !== undefined) {
      const { bytes, pos, count } = encoded.changes;
      for (let i = 0; i < count; i++) {
        const at = 4 * i;
        const valueStart = pos[at + 2]!;
        if (valueStart < 0) this.#stats.tombstones++;
        changes.push({
          key: bytes.subarray(pos[at]!, pos[at + 1]!),
          value: valueStart < 0 ? null : bytes.subarray(valueStart, pos[at + 3]!),
          partition: p,
        });
      }
    }
    changes.push(this.#marker(p, { phase: 'exported', coveredTo: to, to }));
    const deadLetters = out.refused.map((r) => deadLetterMessage(r.message, r.error));
    for (const r of out.refused) {
      const reason = deadLetterReason(r.error);
      this.#stats.deadLetteredByReason[reason] = (this.#stats.deadLetteredByReason[reason] ?? 0) + 1;
      this.#log.warn(
        { partition: p, offset: r.message.offset, code: r.error.code, reason, error: r.error.message },
        'input message sent to the dead-letter topic',
      );
    }
    const [ours] = await Promise.all([
      this.#writeChangelog(p, state, changes),
      deadLetters.length > 0 ? this.#producer.send(this.#t.deadLetter, deadLetters) : undefined,
    ]);
    if (!ours) return this.#interleaved(p, state, out.messages);
    this.#stats.deadLettered += deadLetters.length;
    this.#stats.cacheCommits++;
    this.#log.debug(
      {
        partition: p,
        from: state.coveredTo,
        to,
        messages: out.messages,
        records: out.records.length,
        changes: out.changes.size,
      },
      'write cache committed',
    );
    state.coveredTo = to;
    this.#stats.completed += out.messages;
    this.#commitLater(p, to);
    return true;
  }

  /** The next fetch of p starts at `offset` (read again from what the changelog covers). */
  #seek(p: number, offset: number): void {
    this.#positions.set(p, offset);
    if (this.#fetcher !== undefined) {
      this.#fetchPos.set(p, offset);
      return;
    }
    this.#consumer.seek({ topic: this.#t.observations, partition: p, offset });
  }

  #marker(p: number, marker: ExportMarker): OutgoingMessage {
    this.#stats.markers++;
    return { key: MARKER_KEY, value: encodeMarker(marker), partition: p };
  }

  /**
   * Writes to changelog partition p under our claim. Returns false when the write did not land right after
   * our previous one (someone else wrote in between: see #interleaved).
   */
  async #writeChangelog(p: number, state: PartitionState, messages: OutgoingMessage[]): Promise<boolean> {
    const headers = { [OWNER_HEADER]: state.claim };
    for (const m of messages) m.headers = headers;
    let first: number | undefined;
    // Atomic: the state changes of a unit and its "exported" marker land together or not at all.
    await this.#producer.send(this.#t.flowState, messages, {
      atomic: true,
      onOffsets: (offsets) => {
        first = offsets.get(p);
      },
    });
    this.#stats.changelogWrites += messages.length;
    const expected = state.changelogEnd;
    // Offsets of a non-transactional idempotent producer are contiguous: our writes move the end by this much.
    state.changelogEnd = (first ?? expected) + messages.length;
    return first === undefined || first === expected;
  }

  /**
   * Commits after what is queued. Not awaited by the batch: once the "exported" marker is acknowledged the
   * next owner skips this input whether or not the commit lands, so a round trip per batch is saved.
   */
  #commitLater(p: number, offset: number): void {
    // Coalesced: a commit queued for p and not yet started takes the newest offset instead.
    const queued = this.#pendingCommits.has(p);
    this.#pendingCommits.set(p, offset);
    if (queued) return;
    this.#commits = this.#commits.then(() => {
      const newest = this.#pendingCommits.get(p) ?? offset;
      this.#pendingCommits.delete(p);
      return this.#commit(p, newest);
    });
  }

  async #commit(p: number, offset: number): Promise<void> {
    try {
      await this.#consumer.commit([{ topic: this.#t.observations, partition: p, offset }]);
      this.#stats.commits++;
    } catch (err) {
      // Not fatal: the changelog marker tells the next owner what is covered; it skips that input.
      this.#stats.commitFailures++;
      this.#log.warn(
        {
          partition: p,
          offset,
          error: (err as Error).message,
          retriable: isCtflowError(err) && err.retriable,
        },
        'offset commit failed',
      );
    }
  }
}

/** Starts a processor: joins the group and begins consuming. Call stop() for a graceful exit. */
export async function startProcessor(options: ProcessorOptions): Promise<Processor> {
  const processor = new KafkaProcessor(options);
  await processor.start();
  return processor;
}
