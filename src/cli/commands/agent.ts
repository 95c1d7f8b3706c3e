/**
 * `ctflow agent --brokers HOST:PORT`: this node's conntrack table to the observations topic.
 * SIGTERM/SIGINT: stop reading, publish what is buffered (bounded), exit 0. Open flows are not ended:
 * the processors end them by their timers (or as forced end once the node is presumed gone).
 */
import type { Command } from 'commander';
import { startAgent } from '../../agent/agent.js';
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
  'kafka.brokers',
  'node.name',
  'conntrack.pollInterval',
  'conntrack.enableSysctls',
  'conntrack.reader',
  'agent.watermarkInterval',
  'agent.buffer.spoolDir',
  'kafka.clientId',
  'kafka.topics.observations',
  'metrics.listen',
  'log.level',
] as const;

/** Registers `ctflow agent`. */
export function register(program: Command): void {
  const cmd = program
    .command('agent')
    .description("publish this node's conntrack observations and watermarks to Kafka")
    .addHelpText(
      'after',
      `
Needs CAP_NET_ADMIN (conntrack) and the observations topic (ctflow topics ensure).

Examples:
  ctflow agent --brokers kafka:9092
  ctflow agent --brokers k1:9092,k2:9092 --node-name "$NODE_NAME" --poll-interval 2 --spool-dir /var/spool/ctflow

Signals: SIGTERM/SIGINT stop reading and publish what is buffered, bounded by agent.shutdownTimeout
(default 30 s, --set agent.shutdownTimeout=S); what could not be published is counted as dropped.

Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure (conntrack cannot be run,
topic missing, Kafka unreachable at start), when the stop exceeds agent.shutdownTimeout or on a
second signal, 2 on invalid configuration or usage.`,
    );
  addCommonConfigOptions(cmd);
  addConfigOptions(cmd, FLAGS);
  cmd.action(async (opts: Record<string, unknown>) => {
    const config = await withConfigErrors(() => loadConfig({ flags: opts, role: 'agent' }));
    const log = createLogger({ level: config.log.level, format: config.log.format, base: { role: 'agent' } });
    let agent: Awaited<ReturnType<typeof startAgent>>;
    try {
      agent = await startAgent(config, log, { version: ctflowVersion() });
    } catch (err) {
      log.error({ err }, 'cannot start the agent');
      process.exitCode = 1;
      return;
    }
    if (agent.telemetry) log.info({ url: agent.telemetry.url }, 'metrics and health endpoints listening');
    await new Promise<void>((resolve) => {
      onShutdownSignal(log, config.agent.shutdownTimeout, (signal) => {
        log.info({ signal }, 'stopping: publishing what is buffered');
        resolve();
      });
    });
    // The publisher gets most of the bound; disconnecting and closing the server the rest.
    const stats = await agent.stop(Math.max(1000, config.agent.shutdownTimeout * 1000 - 2000));
    log.info({ stats }, 'stopped');
    process.exit(0);
  });
}
