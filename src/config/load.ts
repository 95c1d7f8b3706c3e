/**
 * Loading the effective configuration, in one place: schema defaults < file (--config or
 * CTFLOW_CONFIG) < environment (CTFLOW_...) < flags. Throws CtflowError('CONFIG_INVALID').
 */
import { CONFIG_FILE_ENV, envLayer } from './env.js';
import { configError, problemsFromIssues } from './errors.js';
import { fileLayer } from './file.js';
import { flagLayer } from './flags.js';
import { emptyLayer, mergeLayers } from './layers.js';
import { type Role, roleProblems } from './roles.js';
import { type Config, ConfigSchema } from './schema.js';

/** Inputs of {@link loadConfig}; each one optional. */
export interface LoadConfigOptions {
  /** Check the settings this role needs (e.g. brokers for the agent). */
  role?: Role;
  /** Configuration file; default: flags.config, then env CTFLOW_CONFIG. */
  file?: string;
  /** Environment; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Parsed commander options of the command (see addConfigOptions / addCommonConfigOptions). */
  flags?: Readonly<Record<string, unknown>>;
}

/** The effective configuration, validated. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const flagFile = typeof flags['config'] === 'string' ? flags['config'] : undefined;
  const file = options.file ?? flagFile ?? (env[CONFIG_FILE_ENV] || undefined);
  const merged = mergeLayers([
    file === undefined ? emptyLayer() : fileLayer(file),
    envLayer(env),
    flagLayer(flags),
  ]);
  const result = ConfigSchema.safeParse(merged.values);
  if (!result.success) throw configError(problemsFromIssues(result.error.issues, merged), result.error);
  if (options.role !== undefined) {
    const problems = roleProblems(result.data, options.role);
    if (problems.length > 0) throw configError(problems);
  }
  return result.data;
}

/** Validates an in-memory configuration object (e.g. in tests), defaults applied. */
export function parseConfig(values: unknown, role?: Role): Config {
  const layer = { values: (values ?? {}) as Record<string, unknown>, origins: new Map([['', 'input']]) };
  const result = ConfigSchema.safeParse(layer.values);
  if (!result.success) throw configError(problemsFromIssues(result.error.issues, layer), result.error);
  if (role !== undefined) {
    const problems = roleProblems(result.data, role);
    if (problems.length > 0) throw configError(problems);
  }
  return result.data;
}
