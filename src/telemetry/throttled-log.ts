/**
 * Error logging that cannot flood: a collector that is down makes the exporter fail every message,
 * and one warning (with its stack) per message is thousands of lines a second that say nothing new
 * and cost memory and CPU. What was dropped is counted in metrics either way; the log says that it
 * happens, and how often.
 */
import { isCtflowError } from '../errors.js';
import type { Logger } from './logger.js';

/** Which errors are "the same" for throttling: code, collector and reason, else the message. */
function errorKind(err: unknown): string {
  if (isCtflowError(err)) {
    const d = err.details as Record<string, unknown>;
    return `${err.code}|${String(d.collector ?? '')}|${String(d.reason ?? '')}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * A warn-level error logger that logs the first error of each kind at once, then at most one per
 * `intervalMs` for that kind, with the number of like errors left out since the last line
 * (`suppressed`).
 */
export function throttledErrorLog(
  log: Pick<Logger, 'warn'>,
  msg: string,
  intervalMs = 10_000,
  now: () => number = Date.now,
): (err: unknown) => void {
  const kinds = new Map<string, { lastMs: number; suppressed: number }>();
  return (err) => {
    const kind = errorKind(err);
    const t = now();
    const seen = kinds.get(kind);
    if (seen !== undefined && t - seen.lastMs < intervalMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    kinds.set(kind, { lastMs: t, suppressed: 0 });
    log.warn(suppressed > 0 ? { err, suppressed } : { err }, msg);
  };
}
