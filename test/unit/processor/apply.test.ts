import { expect, test } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { createFlowEngine } from '../../../src/flow/engine.js';
import type { FlowEngineApi } from '../../../src/flow/types.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { applyMessages } from '../../../src/processor/apply.js';
import { obs, SEC, T0, wm } from '../flow/helpers.js';

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
