/**
 * `ctflow replay --brokers HOST:PORT --from TIME|earliest [--to TIME] --collector udp://HOST:PORT`:
 * re-derives IPFIX records from a range of the observations topic, outside the live consumer group.
 * Progress on stderr: a bar on a terminal, plain lines otherwise.
 */
import type { Command } from 'commander';
import { engineOptions, exporterOptions } from '../../config/derive.js';
import {
  addCommonConfigOptions,
  addConfigOptions,
  loadConfig,
  withConfigErrors,
} from '../../config/index.js';
import { isCtflowError } from '../../errors.js';
import { createExporter } from '../../ipfix/exporter.js';
import { createKafka } from '../../kafka/client.js';
import { kafkaClientOptions, topicNames } from '../../kafka/from-config.js';
import { ProgressReporter } from '../../processor/progress.js';
import { runReplay } from '../../processor/replay.js';
import { parseReplayTime } from '../../processor/replay-time.js';
import { createLogger } from '../../telemetry/logger.js';
import { throttledErrorLog } from '../../telemetry/throttled-log.js';

const FLAGS = [
  'kafka.brokers',
  'replay.from',
  'replay.to',
  'ipfix.collectors',
  'flow.activeTimeout',
  'flow.idleTimeout',
  'flow.maxLife',
  'flow.nodeTimeout',
  'kafka.clientId',
  'kafka.topics.observations',
  'ipfix.templateRefresh',
  'ipfix.mtu',
  'ipfix.timestampPrecision',
  'log.level',
] as const;

/** Registers `ctflow replay`. */
export function register(program: Command): void {
  const cmd = program
    .command('replay')
    .description('re-derive IPFIX records from a time range of the observations topic (never the live group)')
    .option('--group <group>', 'reader group of the replay (default: a new unique one)')
    .option('--no-progress', 'no progress output')
    .addHelpText(
      'after',
      `
Records are derived by the same flow engine as the live processors, from event times only: replaying
from earliest gives the live run's records. Starting later, flows already open are reported as first
seen mid-life. The replay stops at --to (or the end offsets at start) and exits.

Examples:
  ctflow replay --brokers kafka:9092 --from earliest --collector udp://127.0.0.1:4739
  ctflow replay --brokers kafka:9092 --from 2026-01-31T12:00:00Z --to 2026-01-31T13:00:00Z \\
    --collector tcp://collector:4739

Signals: SIGINT/SIGTERM interrupt the replay (incomplete: the exporter is closed, nothing more sent).

Exit status: 0 when the range was replayed, 1 on a runtime failure, 2 on invalid configuration,
130 when interrupted by SIGINT/SIGTERM.`,
    );
  addCommonConfigOptions(cmd);
  addConfigOptions(cmd, FLAGS);
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags = { ...opts };
    if (flags['group'] !== undefined)
      flags['set'] = [...((flags['set'] as string[]) ?? []), `replay.groupId=${String(flags['group'])}`];
    const { config, from, to } = await withConfigErrors(() => {
      const c = loadConfig({ flags, role: 'replay' });
      return {
        config: c,
        from: parseReplayTime(c.replay.from, 'replay.from'),
        to: c.replay.to === undefined ? undefined : (parseReplayTime(c.replay.to, 'replay.to') as number),
      };
    });
    const log = createLogger({
      level: config.log.level,
      format: config.log.format,
      base: { role: 'replay' },
    });
    const exporter = createExporter({
      ...exporterOptions(config),
      onError: throttledErrorLog(log, 'IPFIX exporter'),
    });
    let progress: ProgressReporter | undefined;
    const abort = () => {
      log.warn('interrupted: the replay is incomplete');
      void exporter.close().finally(() => process.exit(130));
    };
    process.once('SIGINT', abort);
    process.once('SIGTERM', abort);
    try {
      const result = await runReplay({
        client: createKafka(kafkaClientOptions(config, log)),
        topic: topicNames(config).observations,
        from,
        ...(to === undefined ? {} : { to }),
        engine: engineOptions(config),
        sink: exporter,
        liveGroupId: config.processor.groupId,
        ...(config.replay.groupId === undefined ? {} : { groupId: config.replay.groupId }),
        log,
        onProgress: (done, total) => {
          if (opts['progress'] === false) return;
          progress ??= new ProgressReporter(process.stderr, total);
          progress.update(done);
        },
      });
      progress?.finish(result.messages);
      await exporter.close();
      const { ranges: _ranges, ...summary } = result;
      log.info({ ...summary, exporter: exporter.stats() }, 'replay finished');
    } catch (err) {
      log.error({ err }, isCtflowError(err) ? err.message : 'replay failed');
      await exporter.close().catch(() => {});
      process.exitCode = isCtflowError(err, 'CONFIG_INVALID') ? 2 : 1;
    } finally {
      process.removeListener('SIGINT', abort);
      process.removeListener('SIGTERM', abort);
    }
  });
}
