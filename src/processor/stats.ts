/** Counters of a processor (monotonic since start), for metrics and tests. Nothing dropped goes uncounted. */

/** What one processor did. */
export interface ProcessorStats {
  /** Input batches handled. */
  batches: number;
  /** Input messages taken from Kafka (including skipped and dead-lettered ones). */
  messages: number;
  /**
   * Input messages done with: their records exported, their state changes and dead letters acknowledged by
   * Kafka (or skipped as covered). Their offsets are committed after this.
   */
  completed: number;
  observations: number;
  watermarks: number;
  /** Input messages skipped because the restored state already covered them (export marker). */
  skippedCovered: number;
  /** Messages sent to the dead-letter topic (undecodable or refused by the engine). */
  deadLettered: number;
  /** The same, by reason (deadLetterReason(): not_avro, unknown_schema, corrupt, observation_invalid, ...). */
  deadLetteredByReason: Record<string, number>;
  /** Flow records handed to the exporter. */
  records: number;
  /** The same, by flowEndReason (IE 136) value. */
  recordsByReason: Record<number, number>;
  /**
   * Records re-derived from input whose records a previous owner may already have exported before it died
   * (the interval between its "exporting" marker and its state write): possible duplicates at collectors.
   */
  possibleDuplicates: number;
  /** Changelog messages written (states, tombstones, markers). */
  changelogWrites: number;
  /** Of those, tombstones (flow ended and forgotten) and export markers. */
  tombstones: number;
  markers: number;
  /** Assignments received (one per group rebalance this member took part in). */
  rebalances: number;
  /** Offset commits done, and those that failed (the next owner then skips what the changelog covers). */
  commits: number;
  commitFailures: number;
  /**
   * Group consumers restarted because they handed out no batch for the stall time although an assigned
   * partition had unread input (liveness.ts).
   */
  consumerRestarts: number;
  /** Partitions whose state was restored from the changelog, entries loaded, time spent. */
  restores: number;
  restoredEntries: number;
  restoreMs: number;
  /**
   * Restore reads (or their ends) that went through kafkajs instead of ctflow's own fetch reader, by reason
   * ("sasl", "compression-zstd", "magic-1", "fetch-version", ...): see src/kafka/record-range-reader.ts.
   */
  restoreFallbacksByReason: Record<string, number>;
  /**
   * Input reads that needed kafkajs' fetching instead of ctflow's own (the processor then reads its input
   * through kafkajs for the rest of its life), by reason, as restoreFallbacksByReason.
   */
  inputFallbacksByReason: Record<string, number>;
  /** Partitions that came back after a rebalance with nobody else having written: state kept. */
  keptAfterRebalance: number;
  /** Partition states dropped (taken away, changed by another processor, or after an error). */
  dropped: number;
  /** Input messages applied but not committed when their partition's state was dropped: read again. */
  uncommittedDropped: number;
  /** Changelog partitions claimed (one per restore: fence.ts). */
  claims: number;
  /** Changelog records a restore left out: written by an older owner after a newer claim (zombie writes). */
  staleChangelogRecords: number;
  /** Records written again after a restore so that no stale record stays the newest of its key. */
  changelogRepairs: number;
  /**
   * Write-cache commits abandoned because another processor wrote to the partition's changelog since our
   * last write (claimed it, or wrote late as a zombie): nothing more exported from that state.
   */
  fencedCommits: number;
  /** Write-cache commits (each: records exported, newest states and markers written, offset committed). */
  cacheCommits: number;
  /** Flows tracked right now over all owned partitions. */
  flows: number;
  /** Partitions owned (state in memory) right now. */
  partitions: number;
  /** Partitions being restored right now (the processor is not ready while this is above 0). */
  restoring: number;
}

/** A zeroed stats object. */
export function emptyProcessorStats(): ProcessorStats {
  return {
    batches: 0,
    messages: 0,
    completed: 0,
    observations: 0,
    watermarks: 0,
    skippedCovered: 0,
    deadLettered: 0,
    deadLetteredByReason: {},
    records: 0,
    recordsByReason: {},
    possibleDuplicates: 0,
    changelogWrites: 0,
    tombstones: 0,
    markers: 0,
    rebalances: 0,
    commits: 0,
    commitFailures: 0,
    consumerRestarts: 0,
    restores: 0,
    restoredEntries: 0,
    restoreMs: 0,
    restoreFallbacksByReason: {},
    inputFallbacksByReason: {},
    keptAfterRebalance: 0,
    dropped: 0,
    uncommittedDropped: 0,
    claims: 0,
    staleChangelogRecords: 0,
    changelogRepairs: 0,
    fencedCommits: 0,
    cacheCommits: 0,
    flows: 0,
    partitions: 0,
    restoring: 0,
  };
}
