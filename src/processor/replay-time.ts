/** Parsing replay bounds: `earliest`, an ISO-8601 time, or milliseconds since the Unix epoch. */
import { CtflowError } from '../errors.js';
import type { ReplayFrom } from './replay.js';

/** A replay bound as ms since the epoch; `earliest` only where allowed (--from). */
export function parseReplayTime(text: string, field: 'replay.from' | 'replay.to'): ReplayFrom {
  const t = text.trim();
  if (t === 'earliest' && field === 'replay.from') return 'earliest';
  if (/^\d{10,16}$/.test(t)) return Number(t);
  // Date.parse accepts much; require a date at least, as ISO-8601 writes it.
  const ms = /^\d{4}-\d{2}-\d{2}/.test(t) ? Date.parse(t) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new CtflowError('CONFIG_INVALID', `${field} = "${text}" is not a time`, {
      details: {
        field,
        value: text,
        expected: `${field === 'replay.from' ? 'earliest, ' : ''}an ISO-8601 time (2026-01-31T12:00:00Z) or ms since the epoch`,
      },
    });
  }
  return ms;
}
