import { describe, expect, test } from 'vitest';
import type { FlowRecord, StateValue } from '../../../src/flow/types.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { CtflowError } from '../../../src/errors.js';
import { WriteCache } from '../../../src/processor/write-cache.js';

function message(offset: number, key: string | null): ConsumedMessage {
  return {
    topic: 'obs',
    partition: 0,
    offset,
    timestampMs: 0,
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from('v'),
    headers: {},
  };
}

const node = (t: number): StateValue => ({ flow: null, node: { t } as unknown as StateValue['node'] });
const record = (n: number): FlowRecord => ({ n }) as unknown as FlowRecord;
const policy = { intervalMs: 1000, maxStates: 3 };

describe('WriteCache', () => {
  test('keeps only the newest state of each key, all records, and the input range', () => {
    const cache = new WriteCache();
    const batch = [message(10, 'a'), message(11, 'b'), message(12, 'a')];
    cache.applied(batch, 0, 2, 12, [], 0);
    cache.absorb({ records: [record(1)], changes: [{ key: 'a', state: node(1) }] }, false);
    cache.applied(batch, 2, 3, 13, [], 5);
    cache.absorb(
      {
        records: [record(2), record(3)],
        changes: [
          { key: 'b', state: null },
          { key: 'a', state: node(2) },
        ],
      },
      false,
    );
    const out = cache.take();
    expect(out.to).toBe(13);
    expect(out.messages).toBe(3);
    expect(out.records).toEqual([record(1), record(2), record(3)]);
    expect([...out.changes]).toEqual([
      ['a', node(2)],
      ['b', null],
    ]);
    expect(cache.empty).toBe(true);
    expect(cache.take()).toMatchObject({ to: 13, messages: 0, records: [], refused: [] });
  });

  test('counts distinct message keys (not messages) toward maxStates; keyless messages do not count', () => {
    const cache = new WriteCache();
    const batch = [message(0, 'a'), message(1, 'a'), message(2, null), message(3, 'b'), message(4, 'a')];
    cache.applied(batch, 0, batch.length, 5, [], 0);
    expect(cache.messages).toBe(5);
    expect(cache.states).toBe(2);
    expect(cache.due(policy, 0, false)).toBe(false);
    cache.applied([message(5, 'c')], 0, 1, 6, [], 0);
    expect(cache.states).toBe(3);
    expect(cache.due(policy, 0, false)).toBe(true);
    cache.take();
    expect(cache.states).toBe(0);
  });

  test('is due after intervalMs from its oldest input, or when the partition caught up; never when empty', () => {
    const cache = new WriteCache();
    expect(cache.due(policy, 10_000, true)).toBe(false);
    cache.applied([message(0, 'a')], 0, 1, 1, [], 100);
    cache.applied([message(1, 'a')], 0, 1, 2, [], 900);
    expect(cache.due(policy, 1099, false)).toBe(false);
    expect(cache.due(policy, 1100, false)).toBe(true);
    expect(cache.due(policy, 200, true)).toBe(true);
    cache.take();
    cache.applied([message(2, 'a')], 0, 1, 3, [], 5000);
    expect(cache.due(policy, 5999, false)).toBe(false);
  });

  test('counts records of replayed input as possible duplicates and keeps refused messages', () => {
    const cache = new WriteCache();
    const refused = { message: message(0, 'x'), error: new CtflowError('CODEC_DECODE', 'bad') };
    cache.applied([message(0, 'x'), message(1, 'y')], 0, 2, 2, [refused], 0);
    cache.absorb({ records: [record(1), record(2)], changes: [] }, true);
    cache.absorb({ records: [record(3)], changes: [] }, false);
    const out = cache.take();
    expect(out.possibleDuplicates).toBe(2);
    expect(out.records).toHaveLength(3);
    expect(out.refused).toEqual([refused]);
  });
});
