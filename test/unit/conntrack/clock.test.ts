import { describe, expect, it } from 'vitest';
import { wallClockUs } from '../../../src/conntrack/clock.js';

/** Spins until Date.now() ticks; returns the new ms value (realtime has just reached it). */
function nextTick(): number {
  const before = Date.now();
  let now = Date.now();
  while (now === before) now = Date.now();
  return now;
}

describe('wallClockUs', () => {
  it('stays within 1 ms of Date.now() (re-anchoring otherwise) and never goes back', () => {
    let previous = 0;
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const before = Date.now();
      const t = wallClockUs();
      const after = Date.now();
      if (!Number.isInteger(t)) wrong.push(`${t} is not an integer`);
      if (t < before * 1000 - 1000) wrong.push(`${t} µs is > 1 ms before Date.now() ${before}`);
      if (t >= after * 1000 + 2000) wrong.push(`${t} µs is > 1 ms after Date.now() ${after}`);
      if (t < previous) wrong.push(`${t} µs went back from ${previous}`);
      previous = t;
    }
    expect(wrong).toEqual([]);
  });

  it('reads the µs right at the edge of a millisecond, not up to 1 ms early', () => {
    // At a Date.now() tick realtime is W ms + (time to notice the tick). A clock anchored on an
    // arbitrary Date.now() value reads W·1000 − (0…1000) here, the same error at every tick.
    const errors: number[] = [];
    for (let i = 0; i < 21; i++) {
      const w = nextTick();
      errors.push(wallClockUs() - w * 1000);
    }
    errors.sort((a, b) => a - b);
    const median = errors[10] as number;
    expect(median).toBeGreaterThanOrEqual(-50);
    expect(median).toBeLessThan(500);
  });
});
