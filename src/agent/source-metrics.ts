/**
 * Prometheus metrics of a conntrack source, shared by the agent and the embedded mode (`ctflow run`): the
 * source keeps plain running totals (stats), and this advances the counters to them once per scrape
 * interval, so the hot path never touches prom-client.
 */
import { Histogram } from 'prom-client';
import type { ConntrackEvent } from '../conntrack/entry.js';
import { SLOW_EVENT_US } from '../conntrack/events.js';
import type { KernelSupport } from '../conntrack/kernel.js';
import type { SourceStats } from '../conntrack/source.js';
import type { Observation } from '../flow/types.js';
import type { Metrics } from '../telemetry/metrics.js';

/** Sets ctflow_kernel_prerequisite from what the source found at start (the binary ran, or start failed). */
export function setKernelPrerequisites(metrics: Metrics, kernel: KernelSupport): void {
  metrics.kernelPrerequisite.set({ name: 'nf_conntrack_acct' }, kernel.acct ? 1 : 0);
  metrics.kernelPrerequisite.set({ name: 'nf_conntrack_timestamp' }, kernel.timestamp ? 1 : 0);
  metrics.kernelPrerequisite.set({ name: 'conntrack_binary' }, 1);
}

/** Counts one observation read from the kernel (call from the source's onObservation). */
export function countObservation(metrics: Metrics, obs: Observation): void {
  metrics.observationsRead.inc({ kind: obs.kind });
}

/**
 * Returns a function that advances the poll metrics (duration, failures, table size, parse errors, event
 * overruns, re-timed observations) to the
 * source's current stats; each call adds only what happened since the previous one.
 */
export function sourceMetricsSync(metrics: Metrics, stats: () => SourceStats): () => void {
  let polls = 0;
  let failed = 0;
  let parseErrors = 0;
  let overruns = 0;
  let retimed = 0;
  return () => {
    const s = stats();
    // One histogram sample per sync: the latest poll stands for the polls since the last sync.
    if (s.lastPoll && s.polls > polls) {
      metrics.pollDuration.observe(s.lastPoll.durationUs / 1e6);
      metrics.conntrackEntries.set(s.lastPoll.entries);
    }
    polls = s.polls;
    metrics.pollFailures.inc(s.failedPolls - failed);
    failed = s.failedPolls;
    metrics.conntrackParseErrors.inc(s.parseErrors - parseErrors);
    parseErrors = s.parseErrors;
    const nowOverruns = s.events?.overruns ?? overruns;
    metrics.conntrackEventOverruns.inc(Math.max(0, nowOverruns - overruns));
    overruns = nowOverruns;
    metrics.observationsRetimed.inc(Math.max(0, s.table.retimed - retimed));
    retimed = s.table.retimed;
  };
}

/** Name of the event read lag histogram (registered by eventReadLagObserver). */
export const EVENT_READ_LAG_METRIC = 'ctflow_conntrack_event_read_lag_seconds';

/** From the reader's usual sub-ms to past a poll interval. */
const READ_LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Where slow events are told, at debug level (pino's debug, when the logger has one). */
export interface DebugLog {
  debug?(obj: object, msg?: string): void;
}

/**
 * Returns the source's onReadLag handler: every event's read lag (agent clock when handled − the
 * event's stamp) into ctflow_conntrack_event_read_lag_seconds on the run's registry, and a debug log
 * line, at most one per `logIntervalMs`, when events reach SLOW_EVENT_US (with how many did since
 * the last line). A lag here is an event loop, pipe or reader that fell behind: with
 * nf_conntrack_timestamp=0 the reader's receive stamp is the event's time.
 */
export function eventReadLagObserver(
  metrics: Metrics,
  log: DebugLog = {},
  logIntervalMs = 10_000,
  now: () => number = Date.now,
): (lagUs: number, ev: ConntrackEvent) => void {
  const existing = metrics.registry.getSingleMetric(EVENT_READ_LAG_METRIC);
  const histogram =
    existing instanceof Histogram
      ? existing
      : new Histogram({
          name: EVENT_READ_LAG_METRIC,
          help: 'Read lag of conntrack events: the agent clock when an event was handled minus its stamp (the reader receive time); large values mean the event loop, the reader pipe or the reader fell behind.',
          buckets: READ_LAG_BUCKETS,
          registers: [metrics.registry],
        });
  let slow = 0;
  let maxUs = 0;
  let lastLogMs = Number.NEGATIVE_INFINITY;
  return (lagUs, ev) => {
    histogram.observe(Math.max(0, lagUs) / 1e6);
    if (lagUs < SLOW_EVENT_US || log.debug === undefined) return;
    slow++;
    maxUs = Math.max(maxUs, lagUs);
    const t = now();
    if (t - lastLogMs < logIntervalMs) return;
    lastLogMs = t;
    log.debug(
      {
        slowEvents: slow,
        maxLagMs: Math.round(maxUs / 1000),
        kind: ev.kind,
        conntrackId: ev.entry.conntrackId,
      },
      'conntrack events handled late (read lag)',
    );
    slow = 0;
    maxUs = 0;
  };
}
