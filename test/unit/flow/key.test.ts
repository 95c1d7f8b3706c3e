import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultObservationDomainId } from '../../../src/flow/domain-id.js';
import { flowHash, flowHashOfKey, keyMatches, nodeHash } from '../../../src/flow/key-index.js';
import { flowKey, isNodeStateKey, nodeOfFlowKey, nodeStateKey, parseFlowKey } from '../../../src/flow/key.js';
import type { Tuple } from '../../../src/flow/types.js';

const tupleArb: fc.Arbitrary<Tuple> = fc.record({
  src: fc.oneof(fc.ipV4(), fc.constantFrom('fd00::1', '2001:db8::2', '::1')),
  dst: fc.oneof(fc.ipV4(), fc.constantFrom('fd00::9', '2001:db8::a')),
  srcPort: fc.nat(65535),
  dstPort: fc.nat(65535),
  icmpType: fc.option(fc.nat(255)),
  icmpCode: fc.option(fc.nat(255)),
  icmpId: fc.option(fc.nat(65535)),
});
const flowArb = fc.record({
  node: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/),
  zone: fc.nat(65535),
  protocol: fc.nat(255),
  orig: tupleArb,
});

describe('flow keys', () => {
  it('flowKey has the documented layout', () => {
    const key = flowKey({
      node: 'worker-1',
      zone: 0,
      protocol: 1,
      orig: {
        src: '10.0.0.1',
        dst: '10.0.0.2',
        srcPort: 0,
        dstPort: 0,
        icmpType: 8,
        icmpCode: 0,
        icmpId: 77,
      },
    });
    expect(key).toBe('worker-1|0|1|10.0.0.1|0|10.0.0.2|0|8|0|77');
    expect(nodeOfFlowKey(key)).toBe('worker-1');
    expect(isNodeStateKey(key)).toBe(false);
    expect(isNodeStateKey(nodeStateKey('worker-1'))).toBe(true);
  });

  it('parseFlowKey inverts flowKey; keyMatches accepts its own fields; hashes agree', () => {
    fc.assert(
      fc.property(flowArb, (f) => {
        const key = flowKey(f);
        const p = parseFlowKey(key);
        expect(p).toMatchObject({ node: f.node, zone: f.zone, protocol: f.protocol, orig: f.orig });
        expect(p.family).toBe(f.orig.src.includes(':') ? 'IPV6' : 'IPV4');
        expect(keyMatches(key, f)).toBe(true);
        const h = flowHash(nodeHash(f.node), f.zone, f.protocol, f.orig);
        expect(flowHash(nodeHash(p.node), p.zone, p.protocol, p.orig)).toBe(h);
        expect(flowHashOfKey(nodeHash(f.node), key)).toBe(h);
      }),
    );
  });

  it('keyMatches rejects every other flow', () => {
    fc.assert(
      fc.property(flowArb, flowArb, (a, b) => {
        expect(keyMatches(flowKey(a), b)).toBe(flowKey(a) === flowKey(b));
      }),
    );
  });

  it('rejects a malformed key with a clear error', () => {
    expect(() => parseFlowKey('n1|0|6')).toThrow(/malformed flow key/);
  });
});

describe('observation domain id', () => {
  it('is a stable, non-zero uint32 per node name (FNV-1a)', () => {
    expect(defaultObservationDomainId('')).toBe(0x811c9dc5);
    expect(defaultObservationDomainId('a')).toBe(0xe40c292c);
    fc.assert(
      fc.property(fc.string(), (name) => {
        const id = defaultObservationDomainId(name);
        expect(Number.isInteger(id) && id > 0 && id <= 0xffffffff).toBe(true);
        expect(defaultObservationDomainId(name)).toBe(id);
      }),
    );
  });
});
