/**
 * `ctflow run`: the embedded mode — this machine's conntrack (or a recording) to IPFIX collectors in
 * one process, no Kafka. SIGINT/SIGTERM: stop reading, end open flows as forced end, flush, exit 0.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { startEmbedded } from '../../agent/embedded.js';
import {
  addCommonConfigOptions,
  addConfigOptions,
  loadConfig,
  withConfigErrors,
} from '../../config/index.js';

const FLAGS = [
  'run.source',
  'ipfix.collectors',
  'run.record',
  'conntrack.pollInterval',
  'conntrack.enableSysctls',
  'flow.activeTimeout',
  'flow.idleTimeout',
  'flow.maxLife',
  'node.name',
  'node.observationDomainId',
  'ipfix.templateRefresh',
  'ipfix.mtu',
  'ipfix.timestampPrecision',
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

Exit status: 0 after a clean stop (SIGINT/SIGTERM) or the end of a recording, 1 on a runtime
failure (e.g. conntrack cannot be run), 2 on invalid configuration.`,
    );
  addCommonConfigOptions(run);
  addConfigOptions(run, FLAGS);
  run.action(async (opts: Record<string, unknown>) => {
    const config = await withConfigErrors(() => loadConfig({ flags: opts, role: 'run' }));
    const log = pino({ level: config.log.level }, pino.destination(2));
    let embedded: Awaited<ReturnType<typeof startEmbedded>>;
    try {
      embedded = await startEmbedded(config, log);
    } catch (err) {
      log.error({ err }, 'cannot start');
      process.exitCode = 1;
      return;
    }
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping: ending open flows as forced end, flushing');
      void embedded.stop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const summary = await embedded.done;
    log.info(summary, 'stopped');
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  });
}
