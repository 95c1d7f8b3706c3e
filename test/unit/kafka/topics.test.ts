import { describe, expect, it } from 'vitest';
import { CtflowError } from '../../../src/errors.js';
import { DEFAULT_PARTITIONS, DEFAULT_TOPIC_NAMES, planPartitions } from '../../../src/kafka/topics.js';

const names = DEFAULT_TOPIC_NAMES;
const none = new Map<string, number>();

function error(fn: () => unknown): CtflowError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CtflowError) return e;
    throw e;
  }
  throw new Error('expected a CtflowError');
}

describe('planPartitions', () => {
  it('takes the asked count, else the existing one, else the default', () => {
    expect(planPartitions(names, 12, none)).toBe(12);
    expect(planPartitions(names, undefined, new Map([[names.observations, 9]]))).toBe(9);
    expect(planPartitions(names, undefined, new Map([[names.flowState, 7]]))).toBe(7);
    expect(planPartitions(names, undefined, none)).toBe(DEFAULT_PARTITIONS);
    expect(planPartitions(names, undefined, none, 3)).toBe(3);
    expect(planPartitions(names, undefined, new Map([[names.observations, 9]]), 3)).toBe(9);
    expect(
      planPartitions(
        names,
        4,
        new Map([
          [names.observations, 4],
          [names.flowState, 4],
        ]),
      ),
    ).toBe(4);
  });

  it('refuses input and changelog with different counts, naming both topics and counts', () => {
    const err = error(() =>
      planPartitions(
        names,
        undefined,
        new Map([
          [names.observations, 6],
          [names.flowState, 3],
        ]),
      ),
    );
    expect(err.code).toBe('KAFKA');
    expect(err.message).toContain('ctflow.observations has 6 partitions');
    expect(err.message).toContain('ctflow.flowstate has 3');
    expect(err.details).toMatchObject({ observationsPartitions: 6, flowStatePartitions: 3 });
  });

  it('refuses an asked count that differs from an existing topic', () => {
    const err = error(() => planPartitions(names, 8, new Map([[names.flowState, 6]])));
    expect(err.message).toContain('ctflow.flowstate exists with 6 partitions but 8 were asked');
    expect(err.details).toMatchObject({ existingPartitions: 6, askedPartitions: 8 });
  });
});
