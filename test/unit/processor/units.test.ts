/** Cutting a batch into units bounded by distinct keys. */
import { describe, expect, it } from 'vitest';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { splitUnits } from '../../../src/processor/units.js';

function msg(offset: number, key: string | null): ConsumedMessage {
  return {
    topic: 't',
    partition: 0,
    offset,
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from('v'),
    timestampMs: 0,
    headers: {},
  };
}

const offsets = (units: ConsumedMessage[][]) => units.map((u) => u.map((m) => m.offset));

describe('splitUnits', () => {
  it('keeps a batch whole while its distinct keys stay within the bound', () => {
    const batch = [msg(0, 'a'), msg(1, 'b'), msg(2, 'a'), msg(3, null), msg(4, 'b')];
    expect(offsets(splitUnits(batch, 2))).toEqual([[0, 1, 2, 3, 4]]);
  });

  it('cuts before the message that would bring one key too many, in order, nothing lost', () => {
    const batch = [
      msg(0, 'a'),
      msg(1, 'b'),
      msg(2, null),
      msg(3, 'c'),
      msg(4, 'a'),
      msg(5, 'd'),
      msg(6, 'e'),
    ];
    expect(offsets(splitUnits(batch, 2))).toEqual([
      [0, 1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('returns no unit for no message', () => {
    expect(splitUnits([], 3)).toEqual([]);
  });
});
