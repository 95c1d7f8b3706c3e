/**
 * Publishes the agent's observations and watermarks to the observations topic, in the order they were
 * observed: keyed by flow key (so a flow stays in one partition, in order), watermarks to every
 * partition. While Kafka is unreachable, messages wait in a bounded memory buffer, then in an optional
 * on-disk spool; past both bounds they are dropped and counted by reason, never silently.
 */
import type { AvroCodec } from '../codec/avro-codec.js';
import { flowKey } from '../flow/key.js';
import type { Observation, Watermark } from '../flow/types.js';
import type { Producer } from '../kafka/producer.js';
import { messageSize, type QueuedMessage, Spool } from './spool.js';

/** Publisher settings. */
export interface PublisherOptions {
  topic: string;
  /** Partitions of the topic (watermarks go to each). */
  partitions: number;
  /** Memory buffer bounds. */
  maxEntries: number;
  maxBytes: number;
  /** On-disk spool when the memory buffer is full (optional). */
  spoolDir?: string;
  spoolMaxBytes?: number;
  /** Watermarks are published at most this often (the latest wins), ms. */
  watermarkIntervalMs: number;
  /** Messages per produce request. Default 5000. */
  batchMessages?: number;
  /** Back-off after a failed send, ms (doubles up to maxBackoffMs). Defaults 200 / 5000. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * A send still unanswered after this long counts as "not connected" (stats.connected, /readyz): the
   * producer retries retriable failures itself, so an unreachable broker shows as a send that hangs,
   * not as an error. Default 5000.
   */
  stalledAfterMs?: number;
  /**
   * Queued messages past which backpressure() asks the table reader to wait (0: never). Default
   * 10,000.
   */
  backpressureEntries?: number;
  /** Told about failed sends (they are retried) and drops. */
  onError?: (err: unknown) => void;
  /** ms clock for watermark coalescing. Default Date.now. */
  clock?: () => number;
}

/** Why a message was not published. */
export type DropReason = 'buffer_full' | 'spool_full' | 'encode_error' | 'shutdown';

/** Counters for metrics. */
export interface PublisherStats {
  published: number;
  watermarksPublished: number;
  dropped: Record<DropReason, number>;
  watermarksDropped: number;
  failedSends: number;
  bufferedEntries: number;
  bufferedBytes: number;
  spooledEntries: number;
  spooledBytes: number;
  connected: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agent's side of the observations topic. */
export class Publisher {
  private readonly memory: QueuedMessage[] = [];
  private head = 0;
  private memoryBytes = 0;
  private readonly spool: Spool | null;
  private readonly stats_: PublisherStats;
  private pendingWatermark: Watermark | null = null;
  private lastWatermarkAt = Number.NEGATIVE_INFINITY;
  private watermarkTimer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  /** Readers waiting for the backlog to shrink (backpressure()). */
  private drainWaiters: Array<() => void> = [];
  private running = true;
  private readonly loop: Promise<void>;
  private readonly clock: () => number;

  constructor(
    private readonly producer: Producer,
    private readonly codec: AvroCodec,
    private readonly options: PublisherOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.spool = options.spoolDir ? new Spool(options.spoolDir, options.spoolMaxBytes ?? 1 << 30) : null;
    this.stats_ = {
      published: 0,
      watermarksPublished: 0,
      dropped: { buffer_full: 0, spool_full: 0, encode_error: 0, shutdown: 0 },
      watermarksDropped: 0,
      failedSends: 0,
      bufferedEntries: 0,
      bufferedBytes: 0,
      spooledEntries: 0,
      spooledBytes: 0,
      connected: true,
    };
    this.loop = this.run();
  }

  /** Current counters. */
  get stats(): PublisherStats {
    const stalled =
      this.sendingSince !== null && Date.now() - this.sendingSince > (this.options.stalledAfterMs ?? 5000);
    return {
      ...this.stats_,
      connected: this.stats_.connected && !stalled,
      dropped: { ...this.stats_.dropped },
      bufferedEntries: this.memory.length - this.head,
      bufferedBytes: this.memoryBytes,
      spooledEntries: this.spool?.size ?? 0,
      spooledBytes: this.spool?.bytes ?? 0,
    };
  }

  /**
   * Flow control for the table reader: null while fewer than `backpressureEntries` messages wait
   * (default 10,000) or Kafka is unreachable (then the buffer, spool and drop counting take over);
   * otherwise a promise that resolves once the backlog is down to half of it, a send fails, a send
   * hangs for stalledAfterMs (at most that long: an outage then fills the buffer as before), or the
   * publisher closes. A dump paused on it costs nothing: the kernel keeps the table, and the reader
   * reads the rest when resumed; without it a first poll of a large table is queued whole.
   */
  backpressure(): Promise<void> | null {
    const high = this.options.backpressureEntries ?? 10_000;
    if (high <= 0 || !this.running || !this.stats.connected || this.memory.length - this.head < high) {
      return null;
    }
    return new Promise<void>((resolve) => {
      this.drainWaiters.push(resolve);
      setTimeout(resolve, this.options.stalledAfterMs ?? 5000).unref();
    });
  }

  private releaseReaders(force: boolean): void {
    if (this.drainWaiters.length === 0) return;
    const low = (this.options.backpressureEntries ?? 10_000) / 2;
    if (!force && this.memory.length - this.head > low) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Queues one observation, keyed by its flow key. */
  observation(obs: Observation): void {
    let value: Buffer;
    try {
      // A view of the codec's slab, not a copy: the codec never writes over bytes it handed out, and
      // the slab is freed once the messages on it are sent (a copy per message doubled the buffers
      // a first poll of a large table allocates).
      value = this.codec.encodeObservation(obs);
    } catch (err) {
      this.stats_.dropped.encode_error++;
      this.options.onError?.(err);
      return;
    }
    const queued = this.enqueue({
      kind: 'observation',
      partition: -1,
      key: Buffer.from(flowKey(obs)),
      value,
    });
    if (queued !== null) {
      this.stats_.dropped[queued]++;
    }
  }

  /** Queues a watermark for every partition, at most once per watermark interval (the latest wins). */
  watermark(wm: Watermark): void {
    this.pendingWatermark = wm;
    const due = this.lastWatermarkAt + this.options.watermarkIntervalMs - this.clock();
    if (due <= 0) this.releaseWatermark();
    else this.watermarkTimer ??= setTimeout(() => this.releaseWatermark(), due);
  }

  private releaseWatermark(): void {
    if (this.watermarkTimer) clearTimeout(this.watermarkTimer);
    this.watermarkTimer = null;
    const wm = this.pendingWatermark;
    if (wm === null) return;
    this.pendingWatermark = null;
    this.lastWatermarkAt = this.clock();
    const value = this.codec.encodeWatermark(wm);
    for (let p = 0; p < this.options.partitions; p++) {
      // A dropped watermark is superseded by the next one; counted, not fatal.
      if (this.enqueue({ kind: 'watermark', partition: p, key: null, value }) !== null)
        this.stats_.watermarksDropped++;
    }
  }

  /** Appends in order; returns why the message was dropped, or null when it was queued. */
  private enqueue(m: QueuedMessage): DropReason | null {
    const size = messageSize(m);
    // Once anything is spooled, everything after it goes to the spool too, to keep the order.
    const spooling = this.spool !== null && this.spool.size > 0;
    const memoryFull =
      this.memory.length - this.head >= this.options.maxEntries ||
      this.memoryBytes + size > this.options.maxBytes;
    if (!spooling && !memoryFull) {
      this.memory.push(m);
      this.memoryBytes += size;
    } else if (this.spool === null) {
      return 'buffer_full';
    } else if (!this.spool.append(m)) {
      return 'spool_full';
    }
    this.wake?.();
    return null;
  }

  private takeBatch(): QueuedMessage[] {
    const max = this.options.batchMessages ?? 5000;
    if (this.head === this.memory.length && this.spool !== null && this.spool.size > 0) {
      // Memory drained: bring the oldest spooled messages back in.
      for (const m of this.spool.take(Math.min(max, this.options.maxEntries))) {
        this.memory.push(m);
        this.memoryBytes += messageSize(m);
      }
    }
    return this.memory.slice(this.head, this.head + max);
  }

  private async run(): Promise<void> {
    let backoff = this.options.minBackoffMs ?? 200;
    for (;;) {
      const batch = this.takeBatch();
      if (batch.length === 0) {
        if (!this.running) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      this.sendingSince = Date.now();
      try {
        await this.producer.send(
          this.options.topic,
          batch.map((m) =>
            m.partition >= 0
              ? { key: m.key, value: m.value, partition: m.partition }
              : { key: m.key, value: m.value },
          ),
        );
      } catch (err) {
        this.sendingSince = null;
        // Kept in the buffer and sent again: nothing is lost while the bounds hold.
        this.stats_.failedSends++;
        this.stats_.connected = false;
        this.releaseReaders(true);
        this.options.onError?.(err);
        if (!this.running && this.abandon) return;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 5000);
        continue;
      }
      this.sendingSince = null;
      backoff = this.options.minBackoffMs ?? 200;
      this.stats_.connected = true;
      for (const m of batch) {
        this.memoryBytes -= messageSize(m);
        if (m.kind === 'observation') this.stats_.published++;
        else this.stats_.watermarksPublished++;
      }
      this.head += batch.length;
      if (this.head > 4096 && this.head * 2 > this.memory.length) {
        this.memory.splice(0, this.head);
        this.head = 0;
      }
      this.releaseReaders(false);
    }
  }

  private abandon = false;
  /** When the send in flight started (Date.now()), or null. */
  private sendingSince: number | null = null;

  /**
   * Publishes what is queued (the latest watermark included) and stops. After `timeoutMs` what is
   * still in memory is dropped and counted as `shutdown` (the spool keeps its content for next time).
   */
  async close(timeoutMs = 10_000): Promise<PublisherStats> {
    this.releaseWatermark();
    this.running = false;
    this.releaseReaders(true);
    this.wake?.();
    const timedOut = await Promise.race([this.loop.then(() => false), sleep(timeoutMs).then(() => true)]);
    if (timedOut) {
      this.abandon = true;
      // Kafka is still unreachable: keep what is left in the spool for the next run, if there is one.
      let kept = 0;
      for (let i = this.head; i < this.memory.length && this.spool !== null; i++) {
        if (this.spool.append(this.memory[i]!)) kept++;
      }
      this.stats_.dropped.shutdown += this.memory.length - this.head - kept;
      this.memory.length = 0;
      this.head = 0;
      this.memoryBytes = 0;
    }
    this.spool?.close();
    return this.stats;
  }
}
