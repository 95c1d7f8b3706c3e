/**
 * Prometheus metrics of a conntrack source, shared by the agent and the embedded mode (`ctflow run`): the
 * source keeps plain running totals (stats), and this advances the counters to them once per scrape
 * interval, so the hot path never touches prom-client.
 */
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
