/**
 * `ctflow run`: the embedded mode — this machine's conntrack (or a recording) to IPFIX collectors in
 * one process, no Kafka. SIGINT/SIGTERM: stop reading, end open flows as forced end, flush, exit 0
 * (exit 1 when that takes longer than run.shutdownTimeout).
 */
import type { Command } from 'commander';
import { type EmbeddedRun, startEmbedded } from '../../agent/embedded.js';
import {
  addCommonConfigOptions,
  addConfigOptions,
  loadConfig,
  withConfigErrors,
} from '../../config/index.js';
import { createLogger } from '../../telemetry/logger.js';
import { onShutdownSignal } from '../shutdown.js';
import { ctflowVersion } from '../version.js';

const FLAGS = [
  'run.source',
  'ipfix.collectors',
  'run.record',
  'conntrack.pollInterval',
  'conntrack.enableSysctls',
  'conntrack.reader',
  'flow.activeTimeout',
  'flow.idleTimeout',
  'flow.maxLife',
  'node.name',
  'node.observationDomainId',
  'ipfix.templateRefresh',
  'ipfix.mtu',
  'ipfix.timestampPrecision',
  'metrics.listen',
  'log.level',
] as const;

/** Registers `ctflow run`. */
export function register(program: Command): void {
  const run = program
    .command('run')
    .description('embedded mode: read conntrack (or a recording) and export IPFIX, one process, no Kafka')
    .addHelpText(
      'after',
      `
Examples:
  ctflow run --collector udp://127.0.0.1:4739
  ctflow run --collector udp://127.0.0.1:4739 --record /tmp/ct.jsonl --poll-interval 1
  ctflow run --source file:/tmp/ct.jsonl --collector tcp://collector:4739 --active-timeout 30
  (see the records with: ctflow collect --listen udp://127.0.0.1:4739)

Signals: SIGINT/SIGTERM stop reading, end every open flow as forced end (flowEndReason 4), flush
the exporters and exit; bounded by run.shutdownTimeout (default 30 s, --set run.shutdownTimeout=S).

Exit status: 0 after a clean stop (SIGINT/SIGTERM) or the end of a recording, 1 on a runtime
failure (e.g. conntrack cannot be run, metrics port taken), when the stop exceeds run.shutdownTimeout
or on a second signal, 2 on invalid configuration or usage.`,
    );
  addCommonConfigOptions(run);
  addConfigOptions(run, FLAGS);
  run.action(async (opts: Record<string, unknown>) => {
    const config = await withConfigErrors(() => loadConfig({ flags: opts, role: 'run' }));
    const log = createLogger({ level: config.log.level, format: config.log.format, base: { role: 'run' } });
    let embedded: EmbeddedRun;
    try {
      embedded = await startEmbedded(config, log, { version: ctflowVersion() });
    } catch (err) {
      log.error({ err }, 'cannot start');
      process.exitCode = 1;
      return;
    }
    if (embedded.telemetry)
      log.info({ url: embedded.telemetry.url }, 'metrics and health endpoints listening');
    const removeHandlers = onShutdownSignal(
      log,
      config.run.shutdownTimeout,
      (signal) => {
        log.info({ signal }, 'stopping: ending open flows as forced end, flushing');
        void embedded.stop();
      },
      () => embedded.stopPhase(),
    );
    try {
      const summary = await embedded.done;
      log.info(summary, 'stopped');
    } catch (err) {
      log.error({ err }, 'run failed');
      process.exitCode = 1;
    } finally {
      removeHandlers();
    }
  });
}
