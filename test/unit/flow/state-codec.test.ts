import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../../src/codec/canonical.js';
import { fingerprintBytesLE } from '../../../src/codec/rabin.js';
import { loadSchemaFile, schemasDir } from '../../../src/codec/schema-files.js';
import { FlowEngine } from '../../../src/flow/engine.js';
import { resolveEngineOptions } from '../../../src/flow/options.js';
import {
  DecodedState,
  decodeStateInto,
  FLOWSTATE_V1,
  FLOWSTATE_V2,
  FlowStateCodec,
} from '../../../src/flow/state-codec.js';
import type { FlowState, NodeState, StateValue } from '../../../src/flow/types.js';
import { ctr, obs, SEC, T0, tuple, wm } from './helpers.js';

describe('flow state codec (schemas/flowstate.v2.avsc, reads v1)', () => {
  const codec = new FlowStateCodec();

  it('round-trips every state the engine writes, node clocks and NAT replies included', () => {
    const e = new FlowEngine();
    e.observe(obs({ kind: 'NEW', timeUs: T0, counters: ctr(1), kernelStartUs: T0 - 5 }));
    e.observe(
      obs({
        timeUs: T0 + SEC,
        conntrackId: 2,
        counters: null,
        orig: tuple('10.244.0.5', 40000, '10.96.0.10', 53),
        reply: tuple('10.244.1.7', 53, '10.244.0.5', 40000),
        tcpState: 'TIME_WAIT',
      }),
    );
    const { changes } = e.drain();
    expect(changes.map((c) => c.key).sort()).toEqual([
      '@n1',
      'n1|0|6|10.0.0.1|40000|10.0.0.2|80|||',
      'n1|0|6|10.244.0.5|40000|10.96.0.10|53|||',
    ]);
    for (const c of changes) {
      const bytes = codec.encode(c.state);
      expect(bytes?.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
      expect(JSON.parse(JSON.stringify(codec.decode(bytes)))).toEqual(JSON.parse(JSON.stringify(c.state)));
    }
  });

  it('writes v2 (NodeState.watermarkUs) and reads values a v1 writer wrote with watermarkUs = 0', () => {
    const e = new FlowEngine();
    e.observe(obs({ kind: 'NEW', timeUs: T0, counters: ctr(1), kernelStartUs: T0 - 5 }));
    e.watermark(wm(T0 + SEC));
    const node = e.drain().changes.find((c) => c.key === '@n1')?.state?.node;
    expect(node?.watermarkUs).toBe(T0 + SEC);
    const v1 = loadSchemaFile(join(schemasDir(), 'flowstate.v1.avsc'));
    const header = Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprintBytesLE(schemaFingerprint(v1))]);
    const { watermarkUs: _w, ...v1Node } = node as NodeState;
    const bytes = Buffer.concat([header, v1.toBuffer({ flow: null, node: v1Node })]);
    expect(codec.versionOf(bytes)).toBe(FLOWSTATE_V1);
    expect(codec.versionOf(codec.encode({ flow: null, node: node as NodeState }) as Buffer)).toBe(
      FLOWSTATE_V2,
    );
    expect(codec.decode(bytes)).toEqual({ flow: null, node: { ...v1Node, watermarkUs: 0 } });
  });

  it('a tombstone is a null value both ways', () => {
    expect(codec.encode(null)).toBeNull();
    expect(codec.decodeEntry('k', null)).toEqual({ key: 'k', state: null });
  });

  it('names the problem for foreign bytes, an unknown fingerprint and a truncated body', () => {
    const e = new FlowEngine();
    e.observe(obs({ kind: 'NEW', timeUs: T0 }));
    const good = codec.encode(e.drain().changes[0]?.state ?? null) as Buffer;
    expect(() => codec.decode(Buffer.from('{"json":1}'), 'flowstate p0 o7')).toThrow(
      /flowstate p0 o7: not an Avro/,
    );
    const foreign = Buffer.from(good);
    foreign[5] = (foreign[5] as number) ^ 0xff;
    expect(() => codec.decode(foreign)).toThrow(/unknown flow state schema fingerprint/);
    expect(() => codec.decode(good.subarray(0, good.length - 3))).toThrow(/flow state/);
  });
});

describe('engine options', () => {
  it('fills defaults and refuses nonsense durations', () => {
    expect(resolveEngineOptions({}).activeTimeoutUs).toBe(60 * SEC);
    expect(() => resolveEngineOptions({ idleTimeoutUs: 0 })).toThrow(/idleTimeoutUs/);
    expect(() => resolveEngineOptions({ activeTimeoutUs: 1.5 })).toThrow(/activeTimeoutUs/);
  });
});

describe('decodeStateInto() longs (the restore reader, against avsc)', () => {
  const codec = new FlowStateCodec();
  // Every varint length from 1 to 8 bytes and past it, both signs, and the 2^53 edge.
  const long = fc.oneof(
    fc.integer({ min: -1000, max: 1000 }),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
    fc.integer({ min: 2 ** 48, max: 2 ** 53 - 2 }), // 8-byte varints (zig-zag < 2^56)
    fc.integer({ min: 2 ** 48, max: 2 ** 53 - 2 }).map((v) => -v),
    fc.constantFrom(2 ** 53 - 2, -(2 ** 53 - 2), 2 ** 27, -(2 ** 27), 2 ** 52, 1_780_000_000_000_000),
  );

  it('reads every long of a flow value as avsc does', () => {
    fc.assert(
      fc.property(fc.array(long, { minLength: 13, maxLength: 13 }), (v) => {
        const value = {
          flow: {
            conntrackId: v[0],
            seq: v[1],
            flags: 3,
            tcpState: 'ESTABLISHED',
            mark: v[2],
            recordIndex: v[3],
            connStartUs: v[4],
            originUs: v[5],
            intervalStartUs: v[6],
            lastChangeUs: v[7],
            lastSeenUs: v[8],
            endMarkUs: v[9],
            nextActiveUs: v[10],
            counters: {
              current: { origPackets: v[11], origBytes: v[12], replyPackets: v[0], replyBytes: v[4] },
              exported: { origPackets: v[5], origBytes: v[6], replyPackets: v[7], replyBytes: v[8] },
            },
            reply: null,
          },
          node: null,
        } as unknown as StateValue;
        const bytes = codec.encode(value) as Buffer;
        const d = new DecodedState();
        decodeStateInto(codec, bytes, d, 'test');
        const f = (codec.decode(bytes) as StateValue).flow as FlowState;
        const c = f.counters as NonNullable<FlowState['counters']>;
        expect(d.kind).toBe(1);
        expect([...d.n.subarray(0, 20)]).toEqual([
          f.conntrackId,
          f.seq,
          f.flags,
          f.mark,
          f.recordIndex,
          f.connStartUs,
          f.originUs,
          f.intervalStartUs,
          f.lastChangeUs,
          f.lastSeenUs,
          f.endMarkUs,
          f.nextActiveUs,
          c.current.origPackets,
          c.current.origBytes,
          c.current.replyPackets,
          c.current.replyBytes,
          c.exported.origPackets,
          c.exported.origBytes,
          c.exported.replyPackets,
          c.exported.replyBytes,
        ]);
      }),
    );
  });
});
