/**
 * Prometheus metrics of the processor and replay roles, advanced from the running totals the processor and
 * the IPFIX exporter keep (stats()), so the hot path only increments plain numbers.
 */
import type { FlowEndReason } from '../flow/types.js';
import { advanceCounterTo, endReasonLabel, type Metrics } from '../telemetry/metrics.js';
import type { ProcessorStats } from './stats.js';

/** Moved to telemetry (shared with the embedded mode); re-exported for the processor and replay. */
export { syncExporterMetrics } from '../telemetry/exporter-metrics.js';

/** Advances the processor metrics to `stats`. */
export async function syncProcessorMetrics(metrics: Metrics, stats: ProcessorStats): Promise<void> {
  await advanceCounterTo(metrics.messagesConsumed, { type: 'observation' }, stats.observations);
  await advanceCounterTo(metrics.messagesConsumed, { type: 'watermark' }, stats.watermarks);
  for (const [reason, n] of Object.entries(stats.recordsByReason)) {
    await advanceCounterTo(
      metrics.recordsExported,
      { reason: endReasonLabel(Number(reason) as FlowEndReason) },
      n,
    );
  }
  for (const [reason, n] of Object.entries(stats.deadLetteredByReason)) {
    await advanceCounterTo(metrics.deadLetter, { reason }, n);
  }
  await advanceCounterTo(metrics.duplicateRecords, {}, stats.possibleDuplicates);
  await advanceCounterTo(metrics.restoredFlows, {}, stats.restoredEntries);
  for (const [reason, n] of Object.entries(stats.restoreFallbacksByReason)) {
    await advanceCounterTo(metrics.restoreFallbacks, { reason }, n);
  }
  for (const [reason, n] of Object.entries(stats.inputFallbacksByReason)) {
    await advanceCounterTo(metrics.inputFallbacks, { reason }, n);
  }
  await advanceCounterTo(metrics.changelogClaims, {}, stats.claims);
  await advanceCounterTo(metrics.changelogStale, {}, stats.staleChangelogRecords);
  await advanceCounterTo(metrics.changelogRepairs, {}, stats.changelogRepairs);
  await advanceCounterTo(metrics.fencedCommits, {}, stats.fencedCommits);
  await advanceCounterTo(metrics.rebalances, {}, stats.rebalances);
  await advanceCounterTo(metrics.consumerRestarts, {}, stats.consumerRestarts);
  await advanceCounterTo(metrics.offsetCommits, {}, stats.commits);
  await advanceCounterTo(metrics.cacheCommits, {}, stats.cacheCommits);
  await advanceCounterTo(metrics.uncommittedDropped, {}, stats.uncommittedDropped);
  await advanceCounterTo(metrics.changelogWrites, { kind: 'tombstone' }, stats.tombstones);
  await advanceCounterTo(metrics.changelogWrites, { kind: 'marker' }, stats.markers);
  await advanceCounterTo(
    metrics.changelogWrites,
    { kind: 'update' },
    stats.changelogWrites - stats.tombstones - stats.markers,
  );
  metrics.partitionsAssigned.set(stats.partitions);
  metrics.flowsActive.set(stats.flows);
}
