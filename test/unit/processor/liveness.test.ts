import { describe, expect, it } from 'vitest';
import {
  ConsumerLiveness,
  defaultLivenessPolicy,
  partitionsWithLag,
} from '../../../src/processor/liveness.js';

describe('defaultLivenessPolicy', () => {
  it('waits 3 fetch waits plus a session timeout, checking a quarter of that (0.25-5 s)', () => {
    expect(defaultLivenessPolicy(500, 30_000)).toEqual({ stallMs: 31_500, checkIntervalMs: 5000 });
    expect(defaultLivenessPolicy(100, 10_000)).toEqual({ stallMs: 10_300, checkIntervalMs: 2575 });
    expect(defaultLivenessPolicy(10, 500)).toEqual({ stallMs: 530, checkIntervalMs: 250 });
  });
});

describe('ConsumerLiveness', () => {
  const policy = { stallMs: 1000, checkIntervalMs: 250 };

  it('is quiet once nothing happened for the stall time', () => {
    const l = new ConsumerLiveness(policy, 0);
    expect(l.quiet(999)).toBe(false);
    expect(l.quiet(1000)).toBe(true);
    l.progress(1500);
    expect(l.quietFor(2000)).toBe(500);
    expect(l.quiet(2499)).toBe(false);
    expect(l.quiet(2500)).toBe(true);
  });

  it('is never quiet while a batch handler runs (a restore may take long)', () => {
    const l = new ConsumerLiveness(policy, 0);
    l.busy(10);
    expect(l.quiet(100_000)).toBe(false);
    l.idle(100_000);
    expect(l.quiet(100_999)).toBe(false);
    expect(l.quiet(101_000)).toBe(true);
    l.idle(101_000); // an extra idle() never makes it busy-negative
    l.busy(101_000);
    expect(l.quiet(500_000)).toBe(false);
  });
});

describe('partitionsWithLag', () => {
  const ends = [
    { partition: 0, low: 0, high: 100 },
    { partition: 1, low: 50, high: 80 },
    { partition: 2, low: 0, high: 0 },
  ];

  it('compares the end offset with the position after the last batch handed out', () => {
    expect(
      partitionsWithLag(
        [0, 1],
        new Map([
          [0, 100],
          [1, 70],
        ]),
        [],
        ends,
      ),
    ).toEqual([1]);
    expect(
      partitionsWithLag(
        [0, 1],
        new Map([
          [0, 100],
          [1, 80],
        ]),
        [],
        ends,
      ),
    ).toEqual([]);
  });

  it('falls back to the committed offset, then to the first offset', () => {
    const committed = [
      { partition: 0, offset: 100 },
      { partition: 1, offset: -1 },
      { partition: 2, offset: -1 },
    ];
    expect(partitionsWithLag([0, 1, 2], new Map(), committed, ends)).toEqual([1]);
    expect(partitionsWithLag([0], new Map(), [{ partition: 0, offset: 99 }], ends)).toEqual([0]);
  });

  it('counts a position below the first offset (log truncated) as the first offset', () => {
    expect(partitionsWithLag([1], new Map([[1, 10]]), [], ends)).toEqual([1]);
    expect(partitionsWithLag([1], new Map([[1, 10]]), [], [{ partition: 1, low: 80, high: 80 }])).toEqual([]);
  });

  it('ignores partitions not assigned or without offsets', () => {
    expect(partitionsWithLag([0, 7], new Map(), [], ends)).toEqual([0]);
    expect(partitionsWithLag([], new Map(), [], ends)).toEqual([]);
  });
});
