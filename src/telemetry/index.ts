/** Telemetry of every role: logs (pino), Prometheus metrics (prom-client), health endpoints. */
export { type CreateLoggerOptions, createLogger, type Logger, loggerOptions } from './logger.js';
export { syncExporterMetrics } from './exporter-metrics.js';
export {
  END_REASON_LABELS,
  KERNEL_PREREQUISITES,
  METRIC_DEFINITIONS,
  type MetricDef,
  type MetricKey,
  type MetricRole,
  OBSERVATION_KINDS,
} from './metric-definitions.js';
export {
  advanceCounterTo,
  type CreateMetricsOptions,
  createMetrics,
  endReasonLabel,
  type Metrics,
} from './metrics.js';
export {
  type Readiness,
  type ReadinessCheck,
  startTelemetryServer,
  startTelemetryServerFromConfig,
  type TelemetryServer,
  type TelemetryServerOptions,
} from './server.js';
