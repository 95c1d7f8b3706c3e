import { expect, test } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { parseReplayTime } from '../../../src/processor/replay-time.js';

test('earliest, ISO-8601 and epoch milliseconds', () => {
  expect(parseReplayTime('earliest', 'replay.from')).toBe('earliest');
  expect(parseReplayTime('2026-01-31T12:00:00Z', 'replay.from')).toBe(Date.UTC(2026, 0, 31, 12));
  expect(parseReplayTime('2026-01-31T13:00:00+01:00', 'replay.to')).toBe(Date.UTC(2026, 0, 31, 12));
  expect(parseReplayTime('1700000000123', 'replay.to')).toBe(1_700_000_000_123);
});

test.each([
  ['earliest', 'replay.to'],
  ['yesterday', 'replay.from'],
  ['2026-13-45T99:00:00Z', 'replay.from'],
  ['12', 'replay.to'],
] as const)('refuses %s for %s with CONFIG_INVALID naming the field', (text, field) => {
  let error: unknown;
  try {
    parseReplayTime(text, field);
  } catch (err) {
    error = err;
  }
  expect(isCtflowError(error, 'CONFIG_INVALID')).toBe(true);
  expect((error as Error).message).toContain(field);
});
