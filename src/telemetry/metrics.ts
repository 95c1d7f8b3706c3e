/**
 * The Prometheus metrics of one ctflow process: a prom-client Registry of its own (never the
 * global one, so tests and embedded roles do not collide) holding every metric of
 * METRIC_DEFINITIONS, plus Node.js process metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { FlowEndReason } from '../flow/types.js';
import {
  END_REASON_LABELS,
  METRIC_DEFINITIONS,
  type MetricKey,
  type MetricRole,
  OBSERVATION_KINDS,
} from './metric-definitions.js';

type Defs = typeof METRIC_DEFINITIONS;
type LabelOf<K extends MetricKey> = Defs[K]['labels'][number];
type MetricOf<K extends MetricKey> = Defs[K]['type'] extends 'counter'
  ? Counter<LabelOf<K>>
  : Defs[K]['type'] extends 'gauge'
    ? Gauge<LabelOf<K>>
    : Histogram<LabelOf<K>>;

/** Every ctflow metric, by key, and the registry that serves them. */
export type Metrics = { readonly registry: Registry } & { readonly [K in MetricKey]: MetricOf<K> };

/** Options of {@link createMetrics}. */
export interface CreateMetricsOptions {
  role: MetricRole | 'collect' | 'topics';
  version: string;
  /** Also collect Node.js process metrics (process_*, nodejs_*); default true. */
  processMetrics?: boolean;
}

/** Creates the registry and every metric; label sets known in advance start at 0. */
export function createMetrics(options: CreateMetricsOptions): Metrics {
  const registry = new Registry();
  const out: Record<string, unknown> = { registry };
  for (const [key, def] of Object.entries(METRIC_DEFINITIONS)) {
    const common = { name: def.name, help: def.help, labelNames: [...def.labels], registers: [registry] };
    if (def.type === 'counter') out[key] = new Counter(common);
    else if (def.type === 'gauge') out[key] = new Gauge(common);
    else out[key] = new Histogram({ ...common, buckets: [...def.buckets] });
  }
  const metrics = out as Metrics;
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  metrics.buildInfo.set({ version: options.version, role: options.role }, 1);
  metrics.ready.set(0);
  // Series that exist from the start make rate() and dashboards work before the first event.
  for (const kind of OBSERVATION_KINDS) metrics.observationsRead.inc({ kind }, 0);
  for (const reason of Object.values(END_REASON_LABELS)) metrics.recordsExported.inc({ reason }, 0);
  return metrics;
}

/** The label value of a flowEndReason (IE 136), e.g. 2 -> active_timeout. */
export function endReasonLabel(reason: FlowEndReason): string {
  return END_REASON_LABELS[reason];
}

/**
 * Advances a counter to a running total kept elsewhere (e.g. the IPFIX exporter's stats()):
 * increments by the difference since the last call, never backwards.
 */
export async function advanceCounterTo<L extends string>(
  counter: Counter<L>,
  labels: Partial<Record<L, string | number>>,
  total: number,
): Promise<void> {
  const current = (await counter.get()).values.find((v) =>
    Object.entries(labels).every(([k, val]) => String(v.labels[k as L]) === String(val)),
  );
  const delta = total - (current?.value ?? 0);
  if (delta > 0) counter.inc(labels, delta);
}
