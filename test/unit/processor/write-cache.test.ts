import { describe, expect, test } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { createFlowEngine } from '../../../src/flow/engine.js';
import { applyMessages } from '../../../src/processor/apply.js';
import type { FlowRecord, StateValue } from '../../../src/flow/types.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { CtflowError } from '../../../src/errors.js';
import { WriteCache } from '../../../src/processor/write-cache.js';
import { ctr, obs, SEC, T0, tuple, wm } from '../flow/helpers.js';

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
    expect(cache.hasChanges).toBe(false);
    cache.absorb({ records: [record(1)], changes: [] }, false);
    expect(cache.hasChanges).toBe(false);
    cache.absorb({ records: [], changes: [{ key: 'a', state: node(1) }] }, false);
    expect(cache.hasChanges).toBe(true);
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
    expect(cache.hasChanges).toBe(true);
    const out = cache.take();
    expect(cache.hasChanges).toBe(false);
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

  test('without a FlowEngine: counts distinct message keys (not messages) toward maxStates; keyless ones do not count', () => {
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

describe('WriteCache with a FlowEngine', () => {
  const codec = new AvroCodec();
  const obsMessage = (offset: number, o: Parameters<typeof obs>[0]): ConsumedMessage => ({
    ...message(offset, null),
    value: Buffer.from(codec.encodeObservation(obs(o))),
  });

  test("counts the engine's pending changes (at least what the commit writes), not message keys", () => {
    const engine = createFlowEngine();
    const cache = new WriteCache(engine);
    // Three flows of one node, each observed twice, in messages without keys: 3 flows + 1 node state pending.
    const batch: ConsumedMessage[] = [];
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 3; i++)
        batch.push(
          obsMessage(batch.length, {
            timeUs: T0 + round * SEC + i,
            conntrackId: i + 1,
            orig: tuple(`10.0.0.${i + 1}`, 1000, '10.0.0.9', 80),
            counters: ctr(round + 1),
          }),
        );
    applyMessages(engine, codec, batch);
    cache.applied(batch, 0, batch.length, batch.length, [], 0);
    expect(cache.states).toBe(engine.pendingChanges);
    expect(cache.states).toBeGreaterThanOrEqual(4);
    expect(cache.due({ intervalMs: 1000, maxStates: 4 }, 0, false)).toBe(true);
    expect(cache.due({ intervalMs: 1000, maxStates: 10 }, 0, false)).toBe(false);
    // Drained changes move from the engine's count to the cache's, and stay counted until the commit.
    const pending = cache.states;
    const drained = engine.drain();
    expect(drained.changes.length).toBeLessThanOrEqual(pending);
    cache.absorb(drained, false);
    expect(engine.pendingChanges).toBe(0);
    expect(cache.states).toBe(drained.changes.length);
    cache.take();
    expect(cache.states).toBe(0);
  });

  test('the pending count bounds what drain() returns, ended flows (tombstones) included', () => {
    const engine = createFlowEngine();
    const batch: ConsumedMessage[] = [];
    for (let i = 0; i < 5; i++) {
      const orig = tuple(`10.0.1.${i + 1}`, 2000, '10.0.0.9', 443);
      batch.push(obsMessage(batch.length, { timeUs: T0 + i, conntrackId: 10 + i, orig, counters: ctr(1) }));
      batch.push(
        obsMessage(batch.length, {
          timeUs: T0 + SEC + i,
          conntrackId: 10 + i,
          orig,
          kind: 'DESTROY',
          counters: ctr(2),
        }),
      );
    }
    applyMessages(engine, codec, batch);
    engine.watermark(wm(T0 + 600 * SEC));
    const pending = engine.pendingChanges;
    const out = engine.drain();
    expect(out.changes.some((c) => c.state === null)).toBe(true);
    expect(out.changes.length).toBeLessThanOrEqual(pending);
    expect(out.changes.length).toBeGreaterThan(0);
  });
});
