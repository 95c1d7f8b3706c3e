import { expect, test, vi } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { createFlowEngine, type FlowEngine } from '../../../src/flow/engine.js';
import type { FlowEngineApi } from '../../../src/flow/types.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { type ApplyResult, applyMessages, BATCH_MIN_FLOWS } from '../../../src/processor/apply.js';
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

const summary = (r: ApplyResult) => ({
  observations: r.observations,
  watermarks: r.watermarks,
  refused: r.refused.map((x) => [x.message.offset, x.error.code, x.error.details?.reason, x.error.message]),
});

/** A FlowEngine seen only through FlowEngineApi (not instanceof FlowEngine): applyMessages decodes every message. */
function decodingOnly(engine: FlowEngine): FlowEngineApi {
  return {
    observe: (o) => engine.observe(o),
    watermark: (w) => engine.watermark(w),
  } as FlowEngineApi;
}

/** Rounds of v1 observations with declined (bad bytes), refused (node name), IPv6 and watermark messages. */
function mixedValues(): (Buffer | null)[] {
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
  return values;
}

test('the in-place path (observeEncoded) gives what decode + observe gives: records, states, refusals', () => {
  const values = mixedValues();
  const messages = values.map((v, i) => message(i, v));
  const fast = createFlowEngine();
  const slow = createFlowEngine();
  const inPlace = vi.spyOn(fast, 'observeEncoded');
  const a = applyMessages(fast, codec, messages);
  const b = applyMessages(decodingOnly(slow), codec, messages);
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

test('runs through observeEncodedBatch (a large engine) give what decode + observe gives, refusals found', () => {
  const values = mixedValues();
  const messages = values.map((v, i) => message(i, v));
  const fast = createFlowEngine();
  const slow = createFlowEngine();
  const inPlace = vi.spyOn(fast, 'observeEncodedBatch');
  const decoded = vi.spyOn(fast, 'observe');
  const a = applyMessages(fast, codec, messages, 0, messages.length, 0);
  const b = applyMessages(decodingOnly(slow), codec, messages);
  expect(summary(a)).toEqual(summary(b));
  expect(a.refused.map((x) => x.error.details?.reason)).toContain('trailing_bytes');
  expect(a.refused.map((x) => x.error.code)).toContain('OBSERVATION_INVALID');
  expect(a.observations).toBeGreaterThan(20);
  // Runs of v1 observations went in place; each declined one (bad bytes) ended a call, then went to the decoder.
  const calls = inPlace.mock.calls.map((c, k) => ({
    from: c[2] ?? 0,
    to: c[3] ?? c[0].length,
    result: inPlace.mock.results[k]!,
  }));
  const returned = calls.filter((c) => c.result.type === 'return');
  expect(a.observations - decoded.mock.calls.length).toBeGreaterThan(15);
  expect(returned.filter((c) => c.result.value !== c.to).length).toBeGreaterThanOrEqual(8);
  // The refused node name (once per round) was thrown by the batch, found, and the run went on after it.
  expect(calls.filter((c) => c.result.type === 'throw').length).toBe(4);
  expect({ ...fast.stats }).toEqual({ ...slow.stats });
  expect(fast.drain()).toEqual(slow.drain());
  expect(fast.snapshot()).toEqual(slow.snapshot());
});

test('runs of v1 observations across chunk boundaries, sub-ranges, declines and refusals equal decode + observe', () => {
  // Deterministic pseudo-random stream (LCG), long enough for several of the engine's 256-message chunks.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed >>> 12) % n;
  };
  const enc = (o: Parameters<typeof obs>[0]) => Buffer.from(codec.encodeObservation(obs(o)));
  const values: (Buffer | null)[] = [];
  let t = T0;
  for (let k = 0; k < 1500; k++) {
    t += 1000;
    const i = rand(60);
    const o = {
      timeUs: t,
      conntrackId: i + 1,
      orig: tuple(`10.0.${i >> 4}.${i & 15}`, 30000 + i, '10.9.9.9', 80),
    };
    const kind = rand(100);
    const bad = { ...ctr(1), origBytes: -1 };
    if (kind < 76) values.push(enc({ ...o, counters: ctr(1 + (k >> 4)) }));
    else if (kind < 80)
      values.push(values.at(-1) ?? null); // a duplicate (or null first)
    else if (kind < 83) values.push(Buffer.from(codec.encodeWatermark(wm(t))));
    else if (kind < 86)
      values.push(enc({ ...o, timeUs: t - 50 * SEC })); // late: ignored by the engine
    else if (kind < 88)
      values.push(enc({ ...o, node: `bad|${i}` })); // refused: OBSERVATION_INVALID
    else if (kind < 90)
      values.push(enc({ ...o, counters: bad })); // refused: OBSERVATION_INVALID
    else if (kind < 91)
      values.push(enc({ ...o, timeUs: t - 50 * SEC, counters: bad })); // late: ignored
    else if (kind < 93)
      values.push(enc({ ...o, counters: ctr(1 + (k >> 4)) }).subarray(0, 20)); // declined
    else if (kind < 95)
      values.push(Buffer.concat([enc(o), Buffer.from([7])])); // declined: trailing bytes
    else if (kind < 96) values.push(Buffer.from('garbage'));
    else if (kind < 97) values.push(null);
    else values.push(enc({ ...o, orig: tuple(`fd00::${i + 1}`, 5000, 'fd00::99', 53), protocol: 17 }));
  }
  const messages = values.map((v, i) => message(i, v));
  for (const [chunk, minFlows] of [
    [messages.length, 0],
    [500, 0],
    [256, 0],
    [257, 0],
    [37, 0],
    [500, BATCH_MIN_FLOWS],
    [37, 20],
  ] as const) {
    const fast = createFlowEngine();
    const slow = createFlowEngine();
    const merged = { observations: 0, watermarks: 0, refused: [] } as ApplyResult;
    const expected = { observations: 0, watermarks: 0, refused: [] } as ApplyResult;
    for (let i = 0; i < messages.length; i += chunk) {
      const end = Math.min(messages.length, i + chunk);
      for (const [into, r] of [
        [merged, applyMessages(fast, codec, messages, i, end, minFlows)],
        [expected, applyMessages(decodingOnly(slow), codec, messages, i, end)],
      ] as const) {
        into.observations += r.observations;
        into.watermarks += r.watermarks;
        into.refused.push(...r.refused);
      }
    }
    expect(summary(merged)).toEqual(summary(expected));
    expect(merged.refused.length).toBeGreaterThan(40);
    const invalid = merged.refused.filter((r) => r.error.code === 'OBSERVATION_INVALID');
    expect(invalid.map((r) => r.error.details?.field)).toEqual(expect.arrayContaining(['counters', 'node']));
    expect({ ...fast.stats }).toEqual({ ...slow.stats });
    expect(fast.stats.lateObservations).toBeGreaterThan(0);
    expect(fast.drain()).toEqual(slow.drain());
    expect(fast.snapshot()).toEqual(slow.snapshot());
  }
});
