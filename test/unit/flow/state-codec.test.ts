import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../../src/codec/canonical.js';
import { fingerprintBytesLE } from '../../../src/codec/rabin.js';
import { loadSchemaFile, schemasDir } from '../../../src/codec/schema-files.js';
import { FlowEngine } from '../../../src/flow/engine.js';
import { resolveEngineOptions } from '../../../src/flow/options.js';
import { FLOWSTATE_V1, FLOWSTATE_V2, FlowStateCodec } from '../../../src/flow/state-codec.js';
import type { NodeState } from '../../../src/flow/types.js';
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
