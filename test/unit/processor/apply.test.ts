import { expect, test, vi } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { createFlowEngine, type FlowEngine } from '../../../src/flow/engine.js';
import type { FlowEngineApi } from '../../../src/flow/types.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { applyMessages } from '../../../src/processor/apply.js';
import { ctr, obs, SEC, T0, tuple, wm } from '../flow/helpers.js';

const codec = new AvroCodec();

function message(offset: number, value: Buffer | null): ConsumedMessage {
  return { topic: 'obs', partition: 0, offset, timestampMs: 0, key: null, value, headers: {} };
}

test('observations and watermarks reach the engine; bad input is returned with its reason', () => {
  const engine = createFlowEngine();
  const good = Buffer.from(codec.encodeObservation(obs({ timeUs: T0 })));
  const unknown = Buffer.from(good);
  unknown.writeUInt32LE(0x12345678, 4);
  const messages = [
    message(0, good),
    message(1, Buffer.from('garbage')),
    message(2, unknown),
    message(3, null),
    message(4, Buffer.from(codec.encodeObservation(obs({ timeUs: T0 + SEC, node: 'a|b' })))),
    message(5, Buffer.from(codec.encodeWatermark(wm(T0 + 2 * SEC)))),
  ];
  const result = applyMessages(engine, codec, messages);
  expect(result.observations).toBe(1);
  expect(result.watermarks).toBe(1);
  expect(result.refused.map((r) => [r.message.offset, r.error.code])).toEqual([
    [1, 'CODEC_DECODE'],
    [2, 'CODEC_DECODE'],
    [3, 'CODEC_DECODE'],
    [4, 'OBSERVATION_INVALID'],
  ]);
  expect(engine.size).toBe(1);
});

test('a fault that is not about the message is thrown, never dead-lettered', () => {
  const broken = {
    observe() {
      throw new TypeError('bug');
    },
  } as unknown as FlowEngineApi;
  const messages = [message(0, Buffer.from(codec.encodeObservation(obs({ timeUs: T0 }))))];
  expect(() => applyMessages(broken, codec, messages)).toThrow(TypeError);
});

test('only messages[start, end) are applied, and a refused message is named in its error', () => {
  const engine = createFlowEngine();
  const messages = [
    message(7, Buffer.from('garbage')),
    message(8, Buffer.from(codec.encodeObservation(obs({ timeUs: T0 })))),
    message(9, Buffer.from('more garbage')),
  ];
  const result = applyMessages(engine, codec, messages, 1, 3);
  expect(result.observations).toBe(1);
  expect(result.refused.map((r) => r.message.offset)).toEqual([9]);
  expect(result.refused[0]!.error.message).toMatch(/^obs\[0\]@9: not Avro single-object encoded/);
  expect(result.refused[0]!.error.details).toMatchObject({ where: 'obs[0]@9', reason: 'not_avro' });
});

/** A FlowEngine seen only through FlowEngineApi (not instanceof FlowEngine): applyMessages decodes every message. */
function decodingOnly(engine: FlowEngine): FlowEngineApi {
  return {
    observe: (o) => engine.observe(o),
    watermark: (w) => engine.watermark(w),
  } as FlowEngineApi;
}

test('the in-place path (observeEncoded) gives what decode + observe gives: records, states, refusals', () => {
  const enc = (o: Parameters<typeof obs>[0]) => Buffer.from(codec.encodeObservation(obs(o)));
  const values: (Buffer | null)[] = [];
  for (let round = 0; round < 4; round++) {
    const t = T0 + round * 10 * SEC;
    for (let i = 0; i < 5; i++) {
      const orig = tuple(`10.0.0.${i + 1}`, 40000 + i, '10.0.0.200', 443);
      values.push(enc({ timeUs: t + i, conntrackId: i + 1, orig, counters: ctr(round + 1) }));
    }
    // IPv6 (the engine decodes it fully), a refused node name, a closed connection.
    values.push(
      enc({ timeUs: t + 7, conntrackId: 90, orig: tuple('fd00::1', 5000, 'fd00::2', 53), protocol: 17 }),
    );
    values.push(enc({ timeUs: t + 8, node: 'a|b' }));
    if (round === 2)
      values.push(
        enc({
          timeUs: t + 9,
          conntrackId: 1,
          kind: 'DESTROY',
          orig: tuple('10.0.0.1', 40000, '10.0.0.200', 443),
          counters: ctr(4),
        }),
      );
    // A v1 header with trailing bytes, and a truncated v1 body: both dead-lettered with their reason.
    const good = enc({ timeUs: t + 9, conntrackId: 2, orig: tuple('10.0.0.2', 40001, '10.0.0.200', 443) });
    values.push(Buffer.concat([good, Buffer.from([0])]));
    values.push(good.subarray(0, good.length - 3));
    values.push(Buffer.from(codec.encodeWatermark(wm(t + 5 * SEC))));
  }
  const messages = values.map((v, i) => message(i, v));
  const fast = createFlowEngine();
  const slow = createFlowEngine();
  const inPlace = vi.spyOn(fast, 'observeEncoded');
  const a = applyMessages(fast, codec, messages);
  const b = applyMessages(decodingOnly(slow), codec, messages);
  const summary = (r: typeof a) => ({
    observations: r.observations,
    watermarks: r.watermarks,
    refused: r.refused.map((x) => [x.message.offset, x.error.code, x.error.details?.reason, x.error.message]),
  });
  expect(summary(a)).toEqual(summary(b));
  expect(a.refused.map((x) => x.error.details?.reason)).toContain('trailing_bytes');
  expect(a.observations).toBeGreaterThan(20);
  // Updates of tracked IPv4 flows went in place; the declined ones (bad bytes) through the decoder.
  expect(inPlace.mock.results.filter((r) => r.value === true).length).toBeGreaterThan(15);
  expect(inPlace.mock.results.filter((r) => r.value === false).length).toBeGreaterThanOrEqual(8);
  expect({ ...fast.stats }).toEqual({ ...slow.stats });
  expect(fast.drain()).toEqual(slow.drain());
  expect(fast.snapshot()).toEqual(slow.snapshot());
});
