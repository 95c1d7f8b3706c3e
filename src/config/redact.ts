/** Secrets (marked `secret` in the schema) never leave the process: redaction for printing and logs. */
import { secretKeys } from './settings.js';

/** What a redacted secret prints as. */
export const REDACTED = '<redacted>';

/** A deep copy of `config` with every secret that is set replaced by {@link REDACTED}. */
export function redactConfig<T>(config: T): T {
  const copy = structuredClone(config) as unknown;
  for (const key of secretKeys()) {
    const path = key.split('.');
    let node = copy as Record<string, unknown> | undefined;
    for (const seg of path.slice(0, -1)) {
      const next = node?.[seg];
      node = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : undefined;
    }
    const last = path[path.length - 1]!;
    if (node !== undefined && node[last] !== undefined) node[last] = REDACTED;
  }
  return copy as T;
}

/**
 * pino redact paths for secrets: each secret key under a logged `config` object, plus any
 * `password`/`passwordFile`-adjacent field one or two levels deep in log objects.
 */
export function secretLogPaths(): string[] {
  return [
    ...secretKeys().map((k) => `config.${k}`),
    ...secretKeys(),
    'password',
    '*.password',
    '*.*.password',
    'sasl.password',
  ];
}
