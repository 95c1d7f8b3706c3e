/** Reading secrets named by the configuration (files mounted from Kubernetes Secrets, etc.). */
import { readFileSync } from 'node:fs';
import { CtflowError } from '../errors.js';
import type { Config } from './schema.js';

/** Contents of a secret file, without a trailing newline; CONFIG_INVALID naming the setting. */
export function readSecretFile(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new CtflowError(
      'CONFIG_INVALID',
      `invalid configuration: ${key} = "${path}": cannot read the file (${(cause as NodeJS.ErrnoException).code ?? 'error'}), expected a readable file`,
      { details: { key, path }, cause },
    );
  }
}

/** The SASL password: kafka.sasl.password, or the contents of kafka.sasl.passwordFile. */
export function saslPassword(config: Config): string | undefined {
  const sasl = config.kafka.sasl;
  if (sasl === undefined) return undefined;
  if (sasl.password !== undefined) return sasl.password;
  return sasl.passwordFile === undefined
    ? undefined
    : readSecretFile(sasl.passwordFile, 'kafka.sasl.passwordFile');
}
