/**
 * The embedded mode (`ctflow run`): conntrack (or a recording) → flow engine → IPFIX exporters, in
 * one process, no Kafka. The same engine as the processors, so a recording replayed here gives the
 * records the cluster would give.
 */
import { engineOptions, exporterOptions } from '../config/derive.js';
import type { Config } from '../config/schema.js';
import { ConntrackSource, type SourceStats } from '../conntrack/source.js';
import type { CtflowError } from '../errors.js';
import { createFlowEngine } from '../flow/engine.js';
import type { FlowEndReason, FlowRecord, Observation, RecordSink, Watermark } from '../flow/types.js';
import { createExporter, type IpfixExporter } from '../ipfix/exporter.js';
import { syncExporterMetrics } from '../telemetry/exporter-metrics.js';
import { advanceCounterTo, createMetrics, endReasonLabel, type Metrics } from '../telemetry/metrics.js';
import { startTelemetryServerFromConfig, type TelemetryServer } from '../telemetry/server.js';
import { throttledErrorLog } from '../telemetry/throttled-log.js';
import { EnginePipeline, type PipelineStats } from './pipeline.js';
import { type RecordingStats, RecordingWriter, readRecording } from './recording.js';
import {
  countObservation,
  eventReadLagObserver,
  setKernelPrerequisites,
  sourceMetricsSync,
} from './source-metrics.js';
import { chooseReader, sourceOptions } from './source-options.js';
import { emptyTableWarning } from './untracked-hint.js';

/** What the embedded mode logs through (pino's signature). */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** Optional: slow conntrack events (eventReadLagObserver). */
  debug?(obj: object, msg?: string): void;
}

/** Hooks for tests and metrics. */
export interface EmbeddedHooks {
  /** Replaces the IPFIX exporter (tests); default: an exporter for config.ipfix.collectors. */
  sink?: RecordSink;
  /** Every record released, after it was handed to the sink. */
  onRecords?: (records: readonly FlowRecord[]) => void;
  /** conntrack command prefix, e.g. ['ip', 'netns', 'exec', 'ns1'] (tests). */
  commandPrefix?: readonly string[];
  /** ctflow_build_info version label; default 0.0.0. */
  version?: string;
}

/** A running embedded pipeline. */
export interface EmbeddedRun {
  /** Resolves when the source is exhausted (recordings) or after stop() (conntrack). */
  readonly done: Promise<EmbeddedSummary>;
  /** Stop reading, end open flows as forced end, flush exporters and the recording. */
  stop(): Promise<EmbeddedSummary>;
  /**
   * Where a stop is (`running` before it starts, then `source`, `flows`, `recording`, `exporters`,
   * `telemetry`, `stopped`): logged when a stop overruns its bound, so the stuck part is named.
   */
  stopPhase(): string;
  /** The Prometheus metrics of this run (role `run`). */
  readonly metrics: Metrics;
  /** /metrics, /healthz, /readyz on metrics.listen; undefined when metrics.enabled is false. */
  readonly telemetry: TelemetryServer | undefined;
}

/** What a run did, for the closing log line. */
export interface EmbeddedSummary {
  pipeline: PipelineStats;
  recording: RecordingStats | null;
  /** Errors reported by the source (bad lines, failed polls), which were skipped. */
  sourceErrors: number;
  /**
   * Observations the engine ignored as older than their node's event time. From the kernel this
   * stays 0 (the conntrack table never reports a time before one it reported); from a recording,
   * it counts duplicates.
   */
  lateObservations: number;
  /** The conntrack source's counters at the end (null when replaying a recording). */
  source: SourceStats | null;
}

/** Starts the embedded mode from `config` (role `run`). */
export async function startEmbedded(
  config: Config,
  log: Log,
  hooks: EmbeddedHooks = {},
): Promise<EmbeddedRun> {
  const node = config.node.name;
  const metrics = createMetrics({ role: 'run', version: hooks.version ?? '0.0.0' });
  const telemetry = await startTelemetryServerFromConfig(config.metrics, {
    registry: metrics.registry,
    onReadiness: (ready) => metrics.ready.set(ready ? 1 : 0),
  });
  const engine = createFlowEngine(engineOptions(config, node));
  const exporter: IpfixExporter | undefined = hooks.sink
    ? undefined
    : createExporter({
        ...exporterOptions(config),
        onError: throttledErrorLog(log, 'IPFIX export error (export goes on)'),
      });
  const sink: RecordSink = hooks.sink ?? (exporter as IpfixExporter);
  const pipeline = new EnginePipeline(engine, sink, hooks.onRecords);
  const recorder = config.run.record === undefined ? null : new RecordingWriter(config.run.record);
  let sourceErrors = 0;
  let syncSource: () => void = () => {};
  const eventTimeUs = new Map<string, number>();
  const seen = (n: string, timeUs: number) => {
    if (timeUs > (eventTimeUs.get(n) ?? 0)) eventTimeUs.set(n, timeUs);
  };
  const sync = async (): Promise<void> => {
    syncSource();
    for (const [reason, n] of Object.entries(pipeline.stats.byReason)) {
      await advanceCounterTo(
        metrics.recordsExported,
        { reason: endReasonLabel(Number(reason) as FlowEndReason) },
        n,
      );
    }
    metrics.ready.set(state === 'running' ? 1 : 0);
    metrics.flowsActive.set(engine.size);
    for (const [n, t] of eventTimeUs) metrics.eventTime.set({ node: n }, t / 1e6);
    if (exporter) await syncExporterMetrics(metrics, exporter.stats());
  };
  const timer = setInterval(() => void sync().catch(() => {}), 1000);
  timer.unref();
  let state: 'starting' | 'running' | 'stopping' = 'starting';
  telemetry?.setReadiness(() => (state === 'running' ? { ready: true } : { ready: false, reason: state }));

  const handlers = {
    onObservation(obs: Observation): void {
      countObservation(metrics, obs);
      seen(obs.node, obs.timeUs);
      recorder?.observation(obs);
      pipeline.observation(obs);
    },
    onWatermark(wm: Watermark): void {
      seen(wm.node, wm.timeUs);
      recorder?.watermark(wm);
      pipeline.watermark(wm);
    },
    onError(err: CtflowError): void {
      sourceErrors++;
      log.warn({ code: err.code, details: err.details }, err.message);
    },
    onWarning(message: string): void {
      log.warn({}, message);
    },
  };

  let finished: Promise<EmbeddedSummary> | null = null;
  let phase = 'running';
  const stopPhase = () => phase;
  let sourceStats: () => SourceStats | null = () => null;
  const finish = (recording: RecordingStats | null, stopSource: () => Promise<void>) => {
    finished ??= (async () => {
      state = 'stopping';
      try {
        phase = 'source';
        await stopSource();
        phase = 'flows';
        await pipeline.shutdown();
        phase = 'recording';
        await recorder?.close();
        phase = 'exporters';
        await exporter?.close();
        await sync().catch(() => {});
      } finally {
        clearInterval(timer);
        phase = 'telemetry';
        await telemetry?.close().catch(() => {});
        phase = 'stopped';
      }
      return {
        pipeline: pipeline.stats,
        recording,
        sourceErrors,
        lateObservations: engine.stats.lateObservations,
        source: sourceStats(),
      };
    })();
    return finished;
  };

  const source = config.run.source;
  if (source.startsWith('file:')) {
    const path = source.slice('file:'.length);
    log.info({ path }, 'replaying recording');
    state = 'running';
    const abort = new AbortController();
    const done = readRecording(path, handlers, abort.signal).then((stats) => finish(stats, async () => {}));
    const stop = () => {
      abort.abort();
      return done;
    };
    return { done, stop, stopPhase, metrics, telemetry };
  }

  const conntrack = new ConntrackSource(sourceOptions(config, hooks.commandPrefix), {
    ...handlers,
    onReadLag: eventReadLagObserver(metrics, log),
  });
  let kernel: Awaited<ReturnType<ConntrackSource['start']>>;
  try {
    kernel = await conntrack.start();
  } catch (err) {
    clearInterval(timer);
    await exporter?.close().catch(() => {});
    await recorder?.close().catch(() => {});
    await telemetry?.close().catch(() => {});
    throw err;
  }
  setKernelPrerequisites(metrics, kernel);
  syncSource = sourceMetricsSync(metrics, () => conntrack.stats);
  sourceStats = () => conntrack.stats;
  state = 'running';
  log.info(
    {
      node,
      reader: chooseReader(config.conntrack),
      kernel: { acct: kernel.acct, timestamp: kernel.timestamp },
    },
    'reading conntrack',
  );
  const untracked = emptyTableWarning(conntrack.stats.lastPoll?.entries);
  if (untracked !== null) log.warn({}, untracked);
  let resolveDone: (s: EmbeddedSummary) => void = () => {};
  const done = new Promise<EmbeddedSummary>((r) => {
    resolveDone = r;
  });
  const stop = async () => {
    const summary = await finish(null, () => conntrack.stop());
    resolveDone(summary);
    return summary;
  };
  return { done, stop, stopPhase, metrics, telemetry };
}
