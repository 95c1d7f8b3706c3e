import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/kafka/murmur2.js';
import { createJavaCompatiblePartitioner, type PartitionInfo } from '../../../src/kafka/partitioner.js';

const six: PartitionInfo[] = Array.from({ length: 6 }, (_, i) => ({ partitionId: i, leader: 1 }));

describe('createJavaCompatiblePartitioner', () => {
  it('uses an explicit partition whatever the key', () => {
    const p = createJavaCompatiblePartitioner();
    expect(p('t', six, 'flow-1', 4)).toBe(4);
    expect(p('t', six, null, 0)).toBe(0);
  });

  it('puts a keyed message where murmur2 says, counting all partitions (even leaderless ones)', () => {
    const p = createJavaCompatiblePartitioner();
    const withDown = six.map((x) => (x.partitionId === 3 ? { ...x, leader: -1 } : x));
    for (let i = 0; i < 50; i++) {
      const key = `flow-${i}`;
      expect(p('t', withDown, key, undefined)).toBe(partitionForKey(key, 6));
    }
  });

  it('spreads keyless messages round robin over partitions with a leader, per topic', () => {
    const p = createJavaCompatiblePartitioner();
    const withDown = six.map((x) => (x.partitionId === 3 ? { ...x, leader: -1 } : x));
    const picks = Array.from({ length: 10 }, () => p('a', withDown, undefined, undefined));
    expect(picks).toEqual([0, 1, 2, 4, 5, 0, 1, 2, 4, 5]);
    expect(p('b', six, null, undefined)).toBe(0);
  });
});
