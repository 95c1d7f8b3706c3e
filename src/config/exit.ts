/**
 * Turning configuration errors into the documented exit: the message on stderr and exit status 2
 * (the same status as a command-line usage error).
 */
import { isCtflowError } from '../errors.js';

/** Exit status of an invalid configuration (and of usage errors). */
export const CONFIG_EXIT_STATUS = 2;

/**
 * If `err` is a CONFIG_INVALID error, writes `ctflow: <message>` to `stderr` and returns 2;
 * otherwise returns undefined (the caller handles it).
 */
export function configErrorExitStatus(
  err: unknown,
  stderr: { write(text: string): unknown } = process.stderr,
): number | undefined {
  if (!isCtflowError(err, 'CONFIG_INVALID')) return undefined;
  stderr.write(`ctflow: ${err.message}\n`);
  return CONFIG_EXIT_STATUS;
}

/**
 * Runs `fn`; on CONFIG_INVALID prints the message and exits 2. Other errors propagate. For
 * command actions: `.action((opts) => withConfigErrors(() => run(loadConfig({ role, flags: opts }))))`.
 */
export async function withConfigErrors<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const status = configErrorExitStatus(err);
    if (status === undefined) throw err;
    process.exit(status);
  }
}
