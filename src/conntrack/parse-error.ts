import { CtflowError } from '../errors.js';

/** Longest part of an offending line quoted in an error (lines are short; this bounds log size). */
const MAX_QUOTED = 400;

/**
 * The error for a conntrack line that cannot be parsed: names the source (dump/events), the line
 * number within that output, what was wrong, and the line itself.
 */
export function parseError(source: string, lineNo: number, text: string, reason: string): CtflowError {
  const quoted = text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}...` : text;
  return new CtflowError('CONNTRACK_PARSE', `conntrack ${source} line ${lineNo}: ${reason}: ${quoted}`, {
    details: { source, line: lineNo, reason, text: quoted },
  });
}

/** Thrown inside the parsers; the caller adds where the line came from. */
export class LineFormatError extends Error {
  override readonly name = 'LineFormatError';
}

/** Parses a decimal integer that must be a safe non-negative integer. */
export function uint(text: string | undefined, what: string): number {
  if (text === undefined || text.length === 0 || text.length > 16)
    throw new LineFormatError(`bad ${what}: ${text}`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) throw new LineFormatError(`bad ${what}: ${text}`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new LineFormatError(`${what} beyond 2^53: ${text}`);
  return n;
}

/** Kernel ns stamp (up to 20 digits, beyond 2^53) to µs, floor, without losing precision. */
export function nsToUs(text: string | undefined, what: string): number {
  if (text === undefined || text.length < 4 || text.length > 20 || !/^\d+$/.test(text)) {
    throw new LineFormatError(`bad ${what}: ${text}`);
  }
  return uint(text.slice(0, -3), what);
}
