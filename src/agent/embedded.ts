/**
 * The embedded mode (`ctflow run`): conntrack (or a recording) → flow engine → IPFIX exporters, in
 * one process, no Kafka. The same engine as the processors, so a recording replayed here gives the
 * records the cluster would give.
 */
import { engineOptions, exporterOptions } from '../config/derive.js';
import type { Config } from '../config/schema.js';
import { ConntrackSource } from '../conntrack/source.js';
import type { CtflowError } from '../errors.js';
import { createFlowEngine } from '../flow/engine.js';
import type { FlowRecord, Observation, RecordSink, Watermark } from '../flow/types.js';
import { createExporter } from '../ipfix/exporter.js';
import { EnginePipeline, type PipelineStats } from './pipeline.js';
import { type RecordingStats, RecordingWriter, readRecording } from './recording.js';

/** What the embedded mode logs through (pino's signature). */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Hooks for tests and metrics. */
export interface EmbeddedHooks {
  /** Replaces the IPFIX exporter (tests); default: an exporter for config.ipfix.collectors. */
  sink?: RecordSink;
  /** Every record released, after it was handed to the sink. */
  onRecords?: (records: readonly FlowRecord[]) => void;
  /** conntrack command prefix, e.g. ['ip', 'netns', 'exec', 'ns1'] (tests). */
  commandPrefix?: readonly string[];
}

/** A running embedded pipeline. */
export interface EmbeddedRun {
  /** Resolves when the source is exhausted (recordings) or after stop() (conntrack). */
  readonly done: Promise<EmbeddedSummary>;
  /** Stop reading, end open flows as forced end, flush exporters and the recording. */
  stop(): Promise<EmbeddedSummary>;
}

/** What a run did, for the closing log line. */
export interface EmbeddedSummary {
  pipeline: PipelineStats;
  recording: RecordingStats | null;
  /** Errors reported by the source (bad lines, failed polls), which were skipped. */
  sourceErrors: number;
}

/** Starts the embedded mode from `config` (role `run`). */
export async function startEmbedded(
  config: Config,
  log: Log,
  hooks: EmbeddedHooks = {},
): Promise<EmbeddedRun> {
  const node = config.node.name;
  const engine = createFlowEngine(engineOptions(config, node));
  const sink =
    hooks.sink ??
    createExporter({
      ...exporterOptions(config),
      onError: (err) => log.warn({ err }, 'IPFIX export error (export goes on)'),
    });
  const pipeline = new EnginePipeline(engine, sink, hooks.onRecords);
  const recorder = config.run.record === undefined ? null : new RecordingWriter(config.run.record);
  let sourceErrors = 0;

  const handlers = {
    onObservation(obs: Observation): void {
      recorder?.observation(obs);
      pipeline.observation(obs);
    },
    onWatermark(wm: Watermark): void {
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
  const finish = (recording: RecordingStats | null, stopSource: () => Promise<void>) => {
    finished ??= (async () => {
      await stopSource();
      await pipeline.shutdown();
      await recorder?.close();
      if (!hooks.sink) await sink.close();
      return { pipeline: pipeline.stats, recording, sourceErrors };
    })();
    return finished;
  };

  const source = config.run.source;
  if (source.startsWith('file:')) {
    const path = source.slice('file:'.length);
    log.info({ path }, 'replaying recording');
    const done = readRecording(path, handlers).then((stats) => finish(stats, async () => {}));
    return { done, stop: () => done };
  }

  const conntrack = new ConntrackSource(
    {
      node,
      pollIntervalMs: Math.round(config.conntrack.pollInterval * 1000),
      events: config.conntrack.events,
      enableSysctls: config.conntrack.enableSysctls,
      ...(hooks.commandPrefix ? { commandPrefix: hooks.commandPrefix } : {}),
    },
    handlers,
  );
  const kernel = await conntrack.start();
  log.info({ node, kernel: { acct: kernel.acct, timestamp: kernel.timestamp } }, 'reading conntrack');
  let resolveDone: (s: EmbeddedSummary) => void = () => {};
  const done = new Promise<EmbeddedSummary>((r) => {
    resolveDone = r;
  });
  const stop = async () => {
    const summary = await finish(null, () => conntrack.stop());
    resolveDone(summary);
    return summary;
  };
  return { done, stop };
}
