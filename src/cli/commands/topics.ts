/**
 * `ctflow topics ensure`: creates or checks ctflow's Kafka topics (observations, compacted flow-state
 * changelog with the same partition count, dead letter). Idempotent; a partition-count mismatch or a
 * changelog that is not compacted is refused (exit 1) with both counts named.
 */
import type { Command } from 'commander';
import {
  addCommonConfigOptions,
  addConfigOptions,
  CONFIG_FILE_ENV,
  envLayer,
  flagLayer,
  loadConfig,
  withConfigErrors,
} from '../../config/index.js';
import { fileLayer } from '../../config/file.js';
import { emptyLayer, mergeLayers, valueAt } from '../../config/layers.js';
import { isCtflowError } from '../../errors.js';
import { createKafka } from '../../kafka/client.js';
import { kafkaClientOptions, topicNames } from '../../kafka/from-config.js';
import { type EnsuredTopics, ensureTopics } from '../../kafka/topics.js';
import { createLogger } from '../../telemetry/logger.js';

const KEYS = [
  'kafka.brokers',
  'kafka.clientId',
  'kafka.topics.observations',
  'kafka.topics.flowstate',
  'kafka.topics.deadLetter',
  'kafka.partitions',
  'kafka.replicationFactor',
  'log.level',
];

/**
 * True when kafka.partitions was given (flag, environment or file) rather than left at its default: only
 * then must existing topics have that count; otherwise their count is kept.
 */
function partitionsGiven(flags: Record<string, unknown>): boolean {
  const file =
    typeof flags['config'] === 'string' ? flags['config'] : process.env[CONFIG_FILE_ENV] || undefined;
  const merged = mergeLayers([
    file === undefined ? emptyLayer() : fileLayer(file),
    envLayer(process.env),
    flagLayer(flags),
  ]);
  return valueAt(merged.values, ['kafka', 'partitions']) !== undefined;
}

function describe(result: EnsuredTopics): string {
  return [result.observations, result.flowState, result.deadLetter]
    .map(
      (t) =>
        `${t.created ? 'created' : 'exists '} ${t.name} (${t.partitions} partition${t.partitions === 1 ? '' : 's'})`,
    )
    .join('\n');
}

/** Registers `ctflow topics ensure`. */
export function register(program: Command): void {
  const topics = program.command('topics').description("create or check ctflow's Kafka topics");
  const ensure = topics
    .command('ensure')
    .description(
      'create the observations, flow-state (compacted, same partition count) and dead-letter topics, or check them',
    )
    .option('--state-topic <topic>', 'same as --flowstate-topic')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      `
Without --partitions, existing topics keep their count (new ones get kafka.partitions).
Exit status: 0 topics ready, 1 refused or Kafka error, 2 invalid configuration.

Example:
  ctflow topics ensure --brokers 127.0.0.1:9092 --partitions 12`,
    );
  addCommonConfigOptions(ensure);
  addConfigOptions(ensure, KEYS);
  ensure.action(async (opts: Record<string, unknown>) => {
    const flags = { ...opts };
    if (flags['stateTopic'] !== undefined && flags['flowstateTopic'] === undefined)
      flags['flowstateTopic'] = flags['stateTopic'];
    const output = flags['output'];
    if (output !== 'text' && output !== 'json') {
      process.stderr.write(`ctflow topics ensure: --output must be text or json, not "${String(output)}"\n`);
      process.exitCode = 2;
      return;
    }
    const { config, explicit } = await withConfigErrors(() => ({
      config: loadConfig({ role: 'topics', flags }),
      explicit: partitionsGiven(flags),
    }));
    const logger = createLogger({ level: config.log.level, base: { role: 'topics' } });
    try {
      const client = createKafka(await withConfigErrors(() => kafkaClientOptions(config, logger)));
      const result = await ensureTopics(client, {
        topics: topicNames(config),
        ...(explicit
          ? { partitions: config.kafka.partitions }
          : { defaultPartitions: config.kafka.partitions }),
        replicationFactor: config.kafka.replicationFactor,
      });
      process.stdout.write(
        output === 'json' ? `${JSON.stringify(result, null, 2)}\n` : `${describe(result)}\n`,
      );
    } catch (err) {
      const message = isCtflowError(err) ? err.message : String(err);
      process.stderr.write(`ctflow topics ensure: ${message}\n`);
      process.exitCode = 1;
    }
  });
}
