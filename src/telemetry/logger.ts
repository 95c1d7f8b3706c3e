/**
 * Structured logs (pino): JSON lines, or human-readable (pino-pretty) on a terminal. Logs go to
 * stderr by default so commands that print data on stdout (`ctflow collect`, `config print`) stay
 * pipeable. Secret configuration values are redacted by path.
 */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import pretty from 'pino-pretty';
import { REDACTED, secretLogPaths } from '../config/redact.js';

/** A ctflow logger (pino). */
export type { Logger };

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Minimum level; default info. */
  level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** json, pretty, or auto (pretty when the destination is a terminal); default auto. */
  format?: 'auto' | 'json' | 'pretty';
  /** Fields on every line, e.g. { role: 'agent', node: 'n1' }. */
  base?: Record<string, unknown>;
  /** Where lines go; default process.stderr. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** pino options shared by both formats: level, ISO times, secrets redacted. */
export function loggerOptions(options: CreateLoggerOptions = {}): LoggerOptions {
  return {
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: secretLogPaths(), censor: REDACTED },
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** Creates a logger. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const format = options.format ?? 'auto';
  const usePretty = format === 'pretty' || (format === 'auto' && destination.isTTY === true);
  const stream: DestinationStream = usePretty
    ? pretty({
        destination,
        colorize: destination.isTTY === true,
        sync: true,
        translateTime: 'SYS:HH:MM:ss.l',
      })
    : (destination as DestinationStream);
  return pino(loggerOptions(options), stream);
}
