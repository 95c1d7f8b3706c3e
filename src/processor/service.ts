/**
 * The processor role wired from the configuration: Kafka client, IPFIX exporter, processor, metrics and the
 * /metrics /healthz /readyz server. `ctflow processor` only adds argv and signals.
 */
import { engineOptions, exporterOptions } from '../config/derive.js';
import type { Config } from '../config/schema.js';
import { createExporter } from '../ipfix/exporter.js';
import { createKafka } from '../kafka/client.js';
import { kafkaClientOptions, topicNames } from '../kafka/from-config.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import { startTelemetryServerFromConfig, type TelemetryServer } from '../telemetry/server.js';
import { throttledErrorLog } from '../telemetry/throttled-log.js';
import { currentHugePagesMode, HUGE_PAGES_TUNABLE } from './huge-pages.js';
import { consumerLagSync } from './lag.js';
import { syncExporterMetrics, syncProcessorMetrics } from './metrics.js';
import { type Processor, type ProcessorGroupOptions, startProcessor } from './processor.js';
import type { ProcessorStats } from './stats.js';

/** A running processor service. */
export interface ProcessorService {
  readonly processor: Processor;
  /** The telemetry server, when metrics are enabled. */
  readonly telemetry: TelemetryServer | undefined;
  /** Graceful stop: processor (finish the batch, commit, leave the group), then exporter, then server. */
  stop(): Promise<ProcessorStats>;
  /** Resolves when stopped; rejects when the consumer died for good. */
  readonly done: Promise<void>;
}

/** Options beyond the configuration (tests and operators tune the group timing). */
export interface ProcessorServiceOptions {
  group?: ProcessorGroupOptions;
  version?: string;
}

/** Starts the processor role described by `config`. */
export async function startProcessorService(
  config: Config,
  log: Logger,
  options: ProcessorServiceOptions = {},
): Promise<ProcessorService> {
  const metrics = createMetrics({ role: 'processor', version: options.version ?? '0.0.0' });
  const telemetry = await startTelemetryServerFromConfig(config.metrics, {
    registry: metrics.registry,
    onReadiness: (ready) => metrics.ready.set(ready ? 1 : 0),
  });
  if (telemetry) log.info({ url: telemetry.url }, 'metrics and health endpoints listening');
  const hugePages = currentHugePagesMode();
  if (hugePages === 'madvise-off') {
    log.info(
      { hugePages, hint: `GLIBC_TUNABLES=${HUGE_PAGES_TUNABLE}` },
      'flow tables on 4 KiB pages: transparent huge pages take ~12x fewer page faults and make partition restores 5-10 % faster (set the hint in the environment; deploy/ does)',
    );
  }
  const exporter = createExporter({
    ...exporterOptions(config),
    onError: throttledErrorLog(log, 'IPFIX exporter'),
  });
  const client = createKafka(kafkaClientOptions(config, log));
  let processor: Processor;
  try {
    processor = await startProcessor({
      client,
      groupId: config.processor.groupId,
      commit: {
        intervalMs: config.processor.commitInterval * 1000,
        maxStates: config.processor.commitMaxStates,
      },
      input: config.processor.input,
      topics: topicNames(config),
      engine: engineOptions(config),
      sink: exporter,
      log: log.child({ component: 'processor' }),
      onRestored: ({ durationMs }) => metrics.restoreDuration.observe(durationMs / 1000),
      ...(options.group === undefined ? {} : { group: options.group }),
    });
  } catch (err) {
    await exporter.close().catch(() => {});
    await telemetry?.close().catch(() => {});
    throw err;
  }
  let stopping = false;
  telemetry?.setReadiness(() => {
    if (stopping) return { ready: false, reason: 'stopping' };
    const restoring = processor.stats().restoring;
    return restoring > 0 ? { ready: false, reason: `restoring ${restoring} partition(s)` } : { ready: true };
  });
  metrics.kafkaConnected.set(1);
  const sync = async () => {
    await syncProcessorMetrics(metrics, processor.stats());
    await syncExporterMetrics(metrics, exporter.stats());
  };
  const timer = setInterval(() => void sync().catch(() => {}), 1000);
  timer.unref();
  // Lag needs two admin requests: every 5 s is enough for autoscaling and alerts.
  const syncLag = consumerLagSync(
    metrics,
    client,
    config.processor.groupId,
    topicNames(config).observations,
    () => processor.partitions(),
  );
  const lagTimer = setInterval(() => void syncLag().catch(() => {}), 5000);
  lagTimer.unref();

  let stopped: Promise<ProcessorStats> | undefined;
  const stop = async (): Promise<ProcessorStats> => {
    stopping = true;
    try {
      await processor.stop();
      await exporter.flush();
      await exporter.close();
      await sync().catch(() => {});
    } finally {
      clearInterval(timer);
      clearInterval(lagTimer);
      metrics.kafkaConnected.set(0);
      await telemetry?.close().catch(() => {});
    }
    return processor.stats();
  };
  return {
    processor,
    telemetry,
    stop: () => {
      stopped ??= stop();
      return stopped;
    },
    done: processor.done,
  };
}
