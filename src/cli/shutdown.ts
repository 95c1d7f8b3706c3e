/**
 * SIGINT/SIGTERM handling shared by the long-running commands: the first signal starts a graceful stop
 * bounded by the role's shutdownTimeout; past the bound, or on a second signal, the process exits 1 at
 * once (a stuck collector or broker must not keep it alive). A clean stop exits 0.
 */

/** Exit status when the graceful stop did not finish within the bound (or a second signal came). */
export const SHUTDOWN_TIMEOUT_EXIT_STATUS = 1;

/** What {@link onShutdownSignal} logs through. */
export interface ShutdownLog {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Calls `stop(signal)` on the first SIGINT/SIGTERM and arms the bound (`timeoutS` seconds). Returns a
 * function that removes the handlers (call it once the role stopped by itself).
 */
export function onShutdownSignal(
  log: ShutdownLog,
  timeoutS: number,
  stop: (signal: NodeJS.Signals) => void,
  /** Where the stop is, logged when it overruns (names the stuck part). */
  stopPhase?: () => string,
): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.error({ signal }, 'second signal during the graceful stop; exiting now');
      process.exit(SHUTDOWN_TIMEOUT_EXIT_STATUS);
    }
    stopping = true;
    // unref: a finished stop lets the process end; a stuck socket keeps the loop alive, and then this fires.
    const deadline = setTimeout(() => {
      const phase = stopPhase?.();
      log.error(
        phase === undefined ? { timeoutS } : { timeoutS, phase },
        'graceful stop did not finish within shutdownTimeout; exiting',
      );
      process.exit(SHUTDOWN_TIMEOUT_EXIT_STATUS);
    }, timeoutS * 1000);
    deadline.unref();
    stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}
