/**
 * Loading the effective configuration, in one place: schema defaults < file (--config or
 * CTFLOW_CONFIG) < environment (CTFLOW_...) < flags. Throws CtflowError('CONFIG_INVALID').
 */
import { CONFIG_FILE_ENV, envLayer } from './env.js';
import { configError, problemsFromIssues } from './errors.js';
import { fileLayer } from './file.js';
import { flagLayer } from './flags.js';
import { emptyLayer, mergeLayers, originOf, valueAt } from './layers.js';
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
  return loadConfigWithOrigins(options).config;
}

/** The effective configuration and where each setting came from. */
export interface ConfigWithOrigins {
  config: Config;
  /**
   * Where the value of a dotted key came from: "file PATH", "environment CTFLOW_...",
   * "flag --x" or "default" (e.g. to tell an explicit kafka.partitions from the default).
   */
  originOf(key: string): string;
}

/** Like {@link loadConfig}, also telling which settings were given explicitly and where. */
export function loadConfigWithOrigins(options: LoadConfigOptions = {}): ConfigWithOrigins {
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
  return {
    config: result.data,
    originOf: (key) => {
      const path = key.split('.');
      // A file provides values only for the keys it contains; the rest are defaults.
      return valueAt(merged.values, path) === undefined ? 'default' : originOf(merged, path);
    },
  };
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
