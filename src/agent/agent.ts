/**
 * The agent role (`ctflow agent`): this node's conntrack table → observations and watermarks on the
 * observations topic (Avro single-object encoding, keyed by flow key), with metrics and health.
 */
import { AvroCodec } from '../codec/avro-codec.js';
import type { Config } from '../config/schema.js';
import { ConntrackSource } from '../conntrack/source.js';
import { createKafka } from '../kafka/client.js';
import { kafkaClientOptions, topicNames } from '../kafka/from-config.js';
import { createProducer } from '../kafka/producer.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { startTelemetryServerFromConfig, type TelemetryServer } from '../telemetry/server.js';
import { Publisher, type PublisherStats } from './publisher.js';
import {
  countObservation,
  eventReadLagObserver,
  setKernelPrerequisites,
  sourceMetricsSync,
} from './source-metrics.js';
import { chooseReader, sourceOptions } from './source-options.js';
import { emptyTableWarning } from './untracked-hint.js';

/** A running agent. */
export interface AgentService {
  readonly publisher: Publisher;
  readonly source: ConntrackSource;
  readonly metrics: Metrics;
  readonly telemetry: TelemetryServer | undefined;
  /** Stop reading, publish what is buffered (bounded by `timeoutMs`), disconnect. */
  stop(timeoutMs?: number): Promise<PublisherStats>;
}

/** Test hooks. */
export interface AgentOptions {
  /** conntrack command prefix, e.g. ['ip', 'netns', 'exec', 'ns1']. */
  commandPrefix?: readonly string[];
  version?: string;
}

/** Starts the agent described by `config` (role `agent`). */
export async function startAgent(
  config: Config,
  log: Logger,
  options: AgentOptions = {},
): Promise<AgentService> {
  const metrics = createMetrics({ role: 'agent', version: options.version ?? '0.0.0' });
  const telemetry = await startTelemetryServerFromConfig(config.metrics, {
    registry: metrics.registry,
    onReadiness: (ready) => metrics.ready.set(ready ? 1 : 0),
  });
  const client = createKafka(kafkaClientOptions(config, log));
  const topics = topicNames(config);
  const producer = await createProducer(client);
  const partitions = await producer.partitionCount(topics.observations);
  const buffer = config.agent.buffer;
  const publisher = new Publisher(producer, new AvroCodec(), {
    topic: topics.observations,
    partitions,
    maxEntries: buffer.maxEntries,
    maxBytes: buffer.maxBytes,
    ...(buffer.spoolDir === undefined ? {} : { spoolDir: buffer.spoolDir }),
    spoolMaxBytes: buffer.spoolMaxBytes,
    watermarkIntervalMs: Math.round(config.agent.watermarkInterval * 1000),
    backpressureEntries: config.agent.backpressure,
    onError: (err) => log.warn({ err }, 'publishing to Kafka failed; buffered and retried'),
  });

  const source = new ConntrackSource(sourceOptions(config, options.commandPrefix), {
    onObservation: (obs) => {
      countObservation(metrics, obs);
      publisher.observation(obs);
    },
    onWatermark: (wm) => publisher.watermark(wm),
    onError: (err) => log.warn({ code: err.code, details: err.details }, err.message),
    onWarning: (message) => log.warn({}, message),
    backpressure: () => publisher.backpressure(),
    onReadLag: eventReadLagObserver(metrics, log),
  });
  const kernel = await source.start();
  const untracked = emptyTableWarning(source.stats.lastPoll?.entries);
  if (untracked !== null) log.warn({}, untracked);
  setKernelPrerequisites(metrics, kernel);
  log.info(
    {
      node: config.node.name,
      reader: chooseReader(config.conntrack),
      topic: topics.observations,
      partitions,
      kernel,
    },
    'agent publishing',
  );

  const syncSource = sourceMetricsSync(metrics, () => source.stats);
  let lastPublished = 0;
  let lastWatermarks = 0;
  let lastDropped: Record<string, number> = {};
  const sync = () => {
    syncSource();
    const p = publisher.stats;
    metrics.observationsPublished.inc(p.published - lastPublished);
    lastPublished = p.published;
    metrics.watermarksPublished.inc(p.watermarksPublished - lastWatermarks);
    lastWatermarks = p.watermarksPublished;
    for (const [reason, n] of Object.entries(p.dropped)) {
      metrics.observationsDropped.inc({ reason }, n - (lastDropped[reason] ?? 0));
    }
    lastDropped = { ...p.dropped };
    metrics.observationsBuffered.set(p.bufferedEntries + p.spooledEntries);
    metrics.observationsBufferedBytes.set({ store: 'memory' }, p.bufferedBytes);
    metrics.observationsBufferedBytes.set({ store: 'spool' }, p.spooledBytes);
    metrics.kafkaConnected.set(p.connected ? 1 : 0);
  };
  const timer = setInterval(sync, 1000);
  timer.unref();
  let stopping = false;
  telemetry?.setReadiness(() =>
    stopping
      ? { ready: false, reason: 'stopping' }
      : publisher.stats.connected
        ? { ready: true }
        : { ready: false, reason: 'Kafka unreachable (buffering)' },
  );

  return {
    publisher,
    source,
    metrics,
    telemetry,
    stop: async (timeoutMs = 10_000) => {
      stopping = true;
      await source.stop();
      const stats = await publisher.close(timeoutMs);
      sync();
      clearInterval(timer);
      await producer.disconnect().catch(() => {});
      await telemetry?.close().catch(() => {});
      return stats;
    },
  };
}
