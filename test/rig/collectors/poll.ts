import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `probe` every `intervalMs` until it returns a value other than `undefined`, or rejects with
 * `describe()`'s message after `timeoutMs`. Used where a collector gives no event to wait for
 * (a file it writes, a socket it binds).
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; intervalMs?: number; describe: () => Promise<string> | string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(await options.describe());
    await sleep(options.intervalMs ?? 200);
  }
}
