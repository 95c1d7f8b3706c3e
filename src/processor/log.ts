/** The logging the processor and replay need: a pino-compatible subset, so a pino logger fits as is. */

/** One log method: structured fields first, then the message (pino's argument order). */
export type LogMethod = (fields: Record<string, unknown>, message: string) => void;

/** A logger (pino.Logger satisfies it). */
export interface RoleLog {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

const nothing: LogMethod = () => {};

/** A logger that drops everything (the default in library use and tests). */
export const SILENT_LOG: RoleLog = { debug: nothing, info: nothing, warn: nothing, error: nothing };
