/**
 * `ctflow config`: inspect the effective configuration. `config print` shows it after every source
 * (defaults, file, environment, flags) was applied, with secrets redacted; invalid configuration
 * exits with status 2 and the problems on stderr.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { z } from 'zod';
import {
  addCommonConfigOptions,
  addConfigOptions,
  ConfigSchema,
  configSettings,
  FLAG_SPECS,
  loadConfigWithOrigins,
  ROLES,
  type Role,
  redactConfig,
  withConfigErrors,
} from '../../config/index.js';
import { valueAt } from '../../config/layers.js';

/** One line per setting: `key = value  # origin`, for --origins. */
function originLines(config: unknown, originOf: (key: string) => string): string {
  return configSettings()
    .map((s) => {
      const value = valueAt(config, s.path);
      return `${s.key} = ${value === undefined ? '(unset)' : JSON.stringify(value)}  # ${originOf(s.key)}`;
    })
    .join('\n');
}

/** Registers `ctflow config print`. */
export function register(program: Command): void {
  const config = program
    .command('config')
    .description('show and check the configuration (see docs/configuration.md)');

  const print = config
    .command('print')
    .description(
      'print the effective configuration (defaults < file < CTFLOW_* environment < flags), secrets redacted',
    )
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .option('--role <role>', `also check what this role needs (${ROLES.join(', ')})`)
    .option(
      '--origins',
      'print one line per setting with where its value came from (file, environment, flag, default)',
    )
    .addHelpText(
      'after',
      `
Examples:
  ctflow config print --config ctflow.yaml
  CTFLOW_KAFKA__BROKERS=k1:9092,k2:9092 ctflow config print --role agent
  ctflow config print --set flow.activeTimeout=30 --output json
  ctflow config print --origins --config ctflow.yaml

Exit status: 0 valid, 2 invalid configuration (the problems are printed on stderr).`,
    );
  addCommonConfigOptions(print);
  addConfigOptions(
    print,
    FLAG_SPECS.map((f) => f.key).filter((k) => k !== 'collect.format'),
  );
  print.action(async (opts: Record<string, unknown>) => {
    await withConfigErrors(() => {
      const role = opts['role'] as string | undefined;
      if (role !== undefined && !ROLES.includes(role as Role)) {
        process.stderr.write(`ctflow: --role ${role}: expected one of ${ROLES.join(', ')}\n`);
        process.exit(2);
      }
      const loaded = loadConfigWithOrigins({ flags: opts, ...(role ? { role: role as Role } : {}) });
      const effective = redactConfig(loaded.config);
      const output = opts['origins']
        ? `${originLines(effective, loaded.originOf)}\n`
        : opts['output'] === 'json'
          ? `${JSON.stringify(effective, null, 2)}\n`
          : stringify(effective);
      process.stdout.write(output);
    });
  });

  config
    .command('schema')
    .description('print the JSON Schema of the configuration file (for editors and CI validation)')
    .action(() => {
      const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' });
      process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    });
}
