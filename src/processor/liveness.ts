/**
 * Consumer liveness: tells when the group consumer stopped handing out batches although its partitions hold
 * input it has not read. kafkajs (2.2.4) was seen to stop fetching for good after a broker restart (no error,
 * no crash event, no rebalance: test/integration/processor/broker-restart.test.ts stalled in ~2 of 3 full
 * suite runs); the processor then restarts its consumer (processor.ts). Pure bookkeeping here: the processor
 * feeds it events and asks it, the offsets come from admin requests made there.
 */

/** When a quiet consumer counts as stalled. */
export interface LivenessPolicy {
  /** No batch (nor rebalance) for this long while a partition has unread input. */
  stallMs: number;
  /** How often the processor checks (the offsets are fetched only once the consumer is quiet). */
  checkIntervalMs: number;
}

/**
 * The default policy for a group: 3 fetch waits plus a session timeout without a batch (a consumer that lost
 * its broker rejoins within a session timeout; fetches return at least every max wait), checked every few
 * seconds.
 */
export function defaultLivenessPolicy(maxWaitTimeMs: number, sessionTimeoutMs: number): LivenessPolicy {
  const stallMs = 3 * maxWaitTimeMs + sessionTimeoutMs;
  return { stallMs, checkIntervalMs: Math.max(250, Math.min(5000, Math.round(stallMs / 4))) };
}

/** Tracks when the consumer last showed progress and whether a batch handler is running. */
export class ConsumerLiveness {
  #lastProgressAt: number;
  #busy = 0;

  constructor(
    readonly policy: LivenessPolicy,
    now: number,
  ) {
    this.#lastProgressAt = now;
  }

  /** A batch arrived or finished, the group (re)joined, or the consumer was (re)started. */
  progress(now: number): void {
    this.#lastProgressAt = now;
  }

  /** A batch handler starts (a restore or a commit may take long: never a stall meanwhile). */
  busy(now: number): void {
    this.#busy++;
    this.#lastProgressAt = now;
  }

  /** That handler ended (resolved or not). */
  idle(now: number): void {
    this.#busy = Math.max(0, this.#busy - 1);
    this.#lastProgressAt = now;
  }

  /** Milliseconds since the last progress. */
  quietFor(now: number): number {
    return now - this.#lastProgressAt;
  }

  /** True when no handler runs and nothing happened for the policy's stall time: worth checking the lag. */
  quiet(now: number): boolean {
    return this.#busy === 0 && this.quietFor(now) >= this.policy.stallMs;
  }
}

/**
 * The assigned partitions with input not read yet: end offset above the position (the next offset after the
 * last batch handed out, else the group's committed offset, else the partition's first offset).
 */
export function partitionsWithLag(
  assigned: readonly number[],
  positions: ReadonlyMap<number, number>,
  committed: ReadonlyArray<{ partition: number; offset: number }>,
  ends: ReadonlyArray<{ partition: number; low: number; high: number }>,
): number[] {
  const out: number[] = [];
  for (const p of assigned) {
    const end = ends.find((e) => e.partition === p);
    if (end === undefined) continue;
    let position = positions.get(p);
    if (position === undefined) {
      const c = committed.find((e) => e.partition === p)?.offset ?? -1;
      position = c >= 0 ? c : end.low;
    }
    if (end.high > Math.max(position, end.low)) out.push(p);
  }
  return out;
}
