import { describe, expect, it } from 'vitest';
import { wallClockUs } from '../../../src/conntrack/clock.js';
import { runByteLines } from '../../../src/conntrack/run-lines.js';

describe('runByteLines flow control', () => {
  it('pauses reading while the gate holds, and loses no line', async () => {
    let held = 0;
    let linesWhileHeld = 0;
    let holding = false;
    const seen: number[] = [];
    const result = await runByteLines(
      ['seq', '1', '200000'],
      wallClockUs,
      (line) => {
        if (holding) linesWhileHeld++;
        seen.push(Number(line.toString('latin1')));
      },
      () => {
        if (held >= 3) return null;
        held++;
        holding = true;
        return new Promise<void>((resolve) =>
          setTimeout(() => {
            holding = false;
            resolve();
          }, 20),
        );
      },
    );
    expect(held).toBe(3);
    expect(linesWhileHeld).toBe(0);
    expect(result.lines).toBe(200_000);
    expect(seen.length).toBe(200_000);
    expect(seen.every((n, i) => n === i + 1)).toBe(true);
  });
});
