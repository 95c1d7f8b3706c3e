/**
 * What each role needs beyond the schema: a setting that is optional in general (e.g.
 * kafka.brokers, unused by `ctflow run`) is required by the roles that use it.
 */
import type { ConfigProblem } from './errors.js';
import type { Config } from './schema.js';

/** The ctflow roles (subcommands) that read configuration. */
export type Role = 'run' | 'agent' | 'processor' | 'replay' | 'collect' | 'topics' | 'config';

/** All roles, for help texts and validation. */
export const ROLES: readonly Role[] = ['run', 'agent', 'processor', 'replay', 'collect', 'topics', 'config'];

const HOW_BROKERS = 'flag --brokers, env CTFLOW_KAFKA__BROKERS or kafka.brokers in the config file';
const HOW_COLLECTORS =
  'flag --collector, env CTFLOW_IPFIX__COLLECTORS or ipfix.collectors in the config file';

/** Problems of `config` for `role` (empty when it can run). */
export function roleProblems(config: Config, role: Role): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const needsKafka = role === 'agent' || role === 'processor' || role === 'replay' || role === 'topics';
  if (needsKafka && (config.kafka.brokers === undefined || config.kafka.brokers.length === 0)) {
    problems.push({
      path: 'kafka.brokers',
      value: 'missing',
      expected: `at least one broker HOST:PORT for the ${role} role (${HOW_BROKERS})`,
      origin: 'default',
    });
  }
  const needsCollector = role === 'processor' || role === 'replay';
  const runWithoutOutput =
    role === 'run' && config.ipfix.collectors.length === 0 && config.run.record === undefined;
  if ((needsCollector && config.ipfix.collectors.length === 0) || runWithoutOutput) {
    problems.push({
      path: 'ipfix.collectors',
      value: '[]',
      expected: `at least one collector URL for the ${role} role (${HOW_COLLECTORS})${role === 'run' ? ', or run.record (--record PATH)' : ''}`,
      origin: 'default',
    });
  }
  return problems;
}
