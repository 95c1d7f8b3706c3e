/**
 * `ctflow processor --brokers HOST:PORT --collector udp://HOST:PORT`: a member of the processors' consumer
 * group. SIGTERM/SIGINT: stop fetching, finish the batch in flight (export, changelog, commit), leave the
 * group, exit 0. Open flows are not ended: the processor that gets the partition continues them.
 */
import { type Command, Option } from 'commander';
import {
  addCommonConfigOptions,
  addConfigOptions,
  loadConfig,
  withConfigErrors,
} from '../../config/index.js';
import { type ProcessorService, startProcessorService } from '../../processor/service.js';
import { createLogger } from '../../telemetry/logger.js';
import { ctflowVersion } from '../version.js';

const FLAGS = [
  'kafka.brokers',
  'ipfix.collectors',
  'processor.groupId',
  'flow.activeTimeout',
  'flow.idleTimeout',
  'flow.maxLife',
  'flow.nodeTimeout',
  'kafka.clientId',
  'kafka.topics.observations',
  'kafka.topics.flowstate',
  'kafka.topics.deadLetter',
  'ipfix.templateRefresh',
  'ipfix.mtu',
  'ipfix.timestampPrecision',
  'metrics.listen',
  'log.level',
] as const;

function positiveMs(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(
      `ctflow processor: ${flag} must be a positive integer (ms), not "${String(value)}"\n`,
    );
    process.exit(2);
  }
  return n;
}

/** Registers `ctflow processor`. */
export function register(program: Command): void {
  const cmd = program
    .command('processor')
    .description('consume observations from Kafka as a member of the processors group and export IPFIX')
    .option('--group <group>', 'same as --group-id')
    .addOption(new Option('--session-timeout <ms>', 'consumer group session timeout').hideHelp())
    .addOption(new Option('--heartbeat-interval <ms>', 'consumer group heartbeat interval').hideHelp())
    .addHelpText(
      'after',
      `
Each processor restores the flow state of the partitions it is given from the changelog topic, then
processes them in order; start as many as there are partitions, stop them with SIGTERM.

Examples:
  ctflow processor --brokers kafka:9092 --collector udp://collector:4739
  ctflow processor --brokers k1:9092,k2:9092 --collector tcp://collector:4739 --group ctflow-processor \\
    --active-timeout 60 --idle-timeout 15

Signals: SIGTERM/SIGINT stop fetching, finish the batch in flight (export, changelog, commit) and leave
the group, bounded by processor.shutdownTimeout (default 30 s, --set processor.shutdownTimeout=S).

Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure or when the stop exceeds
processor.shutdownTimeout, 2 on invalid configuration or usage.`,
    );
  addCommonConfigOptions(cmd);
  addConfigOptions(cmd, FLAGS);
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags = { ...opts };
    if (flags['group'] !== undefined && flags['groupId'] === undefined) flags['groupId'] = flags['group'];
    const config = await withConfigErrors(() => loadConfig({ flags, role: 'processor' }));
    const log = createLogger({
      level: config.log.level,
      format: config.log.format,
      base: { role: 'processor' },
    });
    const sessionTimeoutMs = positiveMs(opts['sessionTimeout'], '--session-timeout');
    const heartbeatIntervalMs = positiveMs(opts['heartbeatInterval'], '--heartbeat-interval');
    let service: ProcessorService;
    try {
      service = await startProcessorService(config, log, {
        version: ctflowVersion(),
        group: {
          ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }),
          ...(heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs }),
        },
      });
    } catch (err) {
      log.error({ err }, 'cannot start the processor');
      process.exitCode = 1;
      return;
    }
    log.info({ groupId: config.processor.groupId, collectors: config.ipfix.collectors }, 'processor running');
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping: finishing the batch in flight, committing, leaving the group');
      const deadline = setTimeout(() => {
        log.error({ timeoutS: config.processor.shutdownTimeout }, 'graceful stop took too long; exiting');
        process.exit(1);
      }, config.processor.shutdownTimeout * 1000);
      deadline.unref();
      void service.stop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await service.done;
      const stats = await service.stop();
      log.info(stats, 'processor stopped');
    } catch (err) {
      log.error({ err }, 'processor failed');
      await service.stop().catch(() => {});
      process.exitCode = 1;
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
  });
}
