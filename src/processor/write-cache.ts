/**
 * The write cache of one partition (like Kafka Streams' state store caching with commit.interval.ms): the
 * engine output of input applied since the last commit, held in memory until the processor commits it.
 * State changes are coalesced per key (only the newest state of a flow is written), so a catch-up writes one
 * state per flow per commit instead of one per observation, and one pair of export markers per commit
 * instead of per batch.
 *
 * Nothing in the cache has left the process: records are exported, changes and dead letters written, and
 * offsets committed only at the commit. So losing the cache (rebalance, stop, crash, error) loses nothing:
 * the input it came from is read again from the changelog's export marker by whoever owns the partition
 * next, and nothing was counted twice.
 */
import { FlowEngine } from '../flow/engine.js';
import type { FlowEngineApi, FlowRecord, FlowStateEntry, StateValue } from '../flow/types.js';
import type { ConsumedMessage } from '../kafka/message.js';
import { murmur2 } from '../kafka/murmur2.js';
import type { RefusedMessage } from './apply.js';

/** When the processor commits a partition's cache (config processor.commitIntervalMs / commitMaxStates). */
export interface CommitPolicy {
  /** Commit once the oldest uncommitted input was applied this long ago. */
  intervalMs: number;
  /**
   * Commit once the cache holds this many changed keys. It bounds the one atomic changelog request of a
   * commit (and the memory of the cache). It was set when that request's cost grew with the square of its
   * size (kafkajs 2.2.4's grouping and request encoding, both replaced since by src/kafka); it still bounds
   * the request and the time a commit blocks the partition. Counted, with a FlowEngine, as the engine's
   * pending changes (changed flows and nodes, removed flow keys: at least what the commit will write) plus
   * the changes already drained; with another FlowEngineApi, as distinct message keys plus the drained
   * changes (node states and flows ended by timers come on top). Checked between chunks of input, so a
   * commit may exceed it by the changes of one chunk (APPLY_CHUNK messages).
   */
  maxStates: number;
}

/** Defaults of {@link CommitPolicy}. */
export const DEFAULT_COMMIT_POLICY: CommitPolicy = { intervalMs: 1000, maxStates: 4000 };

/** Input messages applied between two checks of the cache's size. */
export const APPLY_CHUNK = 500;

/** What a commit takes out of the cache. */
export interface CachedOutput {
  /** End (exclusive) of the input the output covers. */
  to: number;
  /** Input messages it covers (applied or refused). */
  messages: number;
  records: FlowRecord[];
  /** Of those, records derived from input a previous owner may already have exported. */
  possibleDuplicates: number;
  /** Newest state per key; null = tombstone. */
  changes: Map<string, StateValue | null>;
  refused: RefusedMessage[];
}

/**
 * The uncommitted output of one partition. The engine itself coalesces state changes per key until it is
 * drained (it drains at most one change per changed key, built only then), so the processor drains it only
 * at a commit, or where records must be told apart (possible duplicates). The commit's size is bounded
 * without draining by the engine's count of pending changes (O(1)); for an engine that has none, by the
 * distinct message keys applied since the last commit (a murmur2 and a Set entry per message).
 */
export class WriteCache {
  #out: CachedOutput;
  /** Date.now() when the oldest uncommitted input was applied; undefined when empty. */
  #since: number | undefined;
  /** The engine whose pending changes bound the commit; undefined: count message keys instead. */
  readonly #engine: FlowEngine | undefined;
  /**
   * Without #engine: murmur2 of each distinct message key applied since the last commit (collisions only
   * undercount).
   */
  #keys = new Set<number>();

  /** `engine`: the partition's engine (its pending changes are then what is counted toward maxStates). */
  constructor(engine?: FlowEngineApi) {
    this.#out = WriteCache.#empty(0);
    this.#engine = engine instanceof FlowEngine ? engine : undefined;
  }

  static #empty(to: number): CachedOutput {
    return { to, messages: 0, records: [], possibleDuplicates: 0, changes: new Map(), refused: [] };
  }

  /** True when no input was applied since the last commit. */
  get empty(): boolean {
    return this.#out.messages === 0;
  }

  /** True when the cache holds state changes (absorbed from a drain since the last commit). */
  get hasChanges(): boolean {
    return this.#out.changes.size > 0;
  }

  /**
   * Bound on the keys a commit would write now: the engine's pending changes (or, without a FlowEngine, the
   * distinct message keys applied since the last commit) plus the changes already drained.
   */
  get states(): number {
    return (
      (this.#engine === undefined ? this.#keys.size : this.#engine.pendingChanges) + this.#out.changes.size
    );
  }

  /** Input messages applied since the last commit. */
  get messages(): number {
    return this.#out.messages;
  }

  /** Notes input messages[start, end) applied to the engine, up to offset `to` (exclusive). */
  applied(
    messages: readonly ConsumedMessage[],
    start: number,
    end: number,
    to: number,
    refused: readonly RefusedMessage[],
    now: number,
  ): void {
    const out = this.#out;
    this.#since ??= now;
    out.to = to;
    out.messages += end - start;
    if (this.#engine === undefined) {
      for (let i = start; i < end; i++) {
        const key = messages[i]!.key;
        if (key !== null) this.#keys.add(murmur2(key));
      }
    }
    for (const r of refused) out.refused.push(r);
  }

  /** Adds engine output drained after input was applied; `possibleDuplicates` counts its records as such. */
  absorb(
    output: { records: readonly FlowRecord[]; changes: readonly FlowStateEntry[] },
    possibleDuplicates: boolean,
  ): void {
    const out = this.#out;
    for (const r of output.records) out.records.push(r);
    if (possibleDuplicates) out.possibleDuplicates += output.records.length;
    // Map.set keeps a key's first position and takes the newest value: the newest state per flow.
    for (const c of output.changes) out.changes.set(c.key, c.state);
  }

  /** True when the policy says commit now (also when the partition caught up with its end offset). */
  due(policy: CommitPolicy, now: number, caughtUp: boolean): boolean {
    if (this.empty) return false;
    return caughtUp || this.states >= policy.maxStates || now - (this.#since ?? now) >= policy.intervalMs;
  }

  /** Empties the cache and returns what it held (drain the engine into it first). */
  take(): CachedOutput {
    const out = this.#out;
    this.#out = WriteCache.#empty(out.to);
    this.#since = undefined;
    if (this.#keys.size > 0) this.#keys = new Set<number>();
    return out;
  }
}
