import { describe, expect, test } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { isNodeStateKey } from '../../../src/flow/key.js';
import {
  decodeMarker,
  encodeMarker,
  isMarkerKey,
  MARKER_KEY,
  resumePoint,
} from '../../../src/processor/marker.js';

describe('export markers', () => {
  test('round trip', () => {
    const m = { phase: 'exporting' as const, coveredTo: 120, to: 180 };
    expect(decodeMarker(encodeMarker(m))).toEqual(m);
  });

  test('the marker key is neither a flow key nor a node key', () => {
    expect(MARKER_KEY.includes('|')).toBe(false);
    expect(MARKER_KEY.startsWith('@')).toBe(false);
    expect(isMarkerKey(MARKER_KEY)).toBe(true);
    expect(isMarkerKey('@node-1')).toBe(false);
    // The engine would read it as a node key: the processor must keep it away (ChangelogFold does).
    expect(isNodeStateKey(MARKER_KEY)).toBe(true);
  });

  test('no marker: nothing covered, nothing possibly exported', () => {
    expect(resumePoint(undefined)).toEqual({ coveredTo: 0, duplicatesBelow: 0 });
  });

  test('exported: the state covers the input up to `to`, no duplicates', () => {
    expect(resumePoint({ phase: 'exported', coveredTo: 50, to: 50 })).toEqual({
      coveredTo: 50,
      duplicatesBelow: 0,
    });
  });

  test('exporting: the state covers up to coveredTo; records from input below `to` may repeat', () => {
    expect(resumePoint({ phase: 'exporting', coveredTo: 50, to: 90 })).toEqual({
      coveredTo: 50,
      duplicatesBelow: 90,
    });
  });

  test.each([
    ['not JSON', Buffer.from('{oops')],
    ['wrong version', Buffer.from('{"v":2,"phase":"exported","coveredTo":1,"to":1}')],
    ['bad phase', Buffer.from('{"v":1,"phase":"done","coveredTo":1,"to":1}')],
    ['negative offset', Buffer.from('{"v":1,"phase":"exported","coveredTo":-1,"to":1}')],
    ['missing field', Buffer.from('{"v":1,"phase":"exported","coveredTo":1}')],
  ])('refuses %s with CODEC_DECODE', (_name, value) => {
    let error: unknown;
    try {
      decodeMarker(value, 'flowstate[0]@7');
    } catch (err) {
      error = err;
    }
    expect(isCtflowError(error, 'CODEC_DECODE')).toBe(true);
    expect((error as Error).message).toContain('flowstate[0]@7');
  });
});
