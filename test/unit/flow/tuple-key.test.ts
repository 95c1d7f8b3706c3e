import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowKey } from '../../../src/flow/key.js';
import {
  encodeKey,
  encodeKeyString,
  formatIPv4,
  KEY_WORDS,
  keyOfWords,
  parseIPv4,
  protocolOfWords,
  tupleOfWords,
  zoneOfWords,
} from '../../../src/flow/tuple-key.js';
import type { Tuple } from '../../../src/flow/types.js';

describe('IPv4 text', () => {
  it('parses canonical dotted quads only', () => {
    expect(parseIPv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIPv4('0.0.0.0')).toBe(0);
    for (const bad of [
      '010.0.0.1',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '1..2.3',
      '1.2.3.',
      'fd00::1',
      '1.2.3.4 ',
      '',
    ]) {
      expect(parseIPv4(bad)).toBe(-1);
    }
  });

  it('formats back to the same text', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(formatIPv4(parseIPv4(ip))).toBe(ip);
      }),
    );
  });
});

const num = fc.oneof(
  fc.nat(70_000),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(1.5, 65535, 65536, 255, 256),
);
const nullableNum = fc.option(num, { nil: null });
const addr = fc.oneof(fc.ipV4(), fc.constantFrom('fd00::1', '010.1.1.1', '2001:db8::2'));
const tupleArb: fc.Arbitrary<Tuple> = fc.record({
  src: addr,
  dst: addr,
  srcPort: num,
  dstPort: num,
  icmpType: nullableNum,
  icmpCode: nullableNum,
  icmpId: nullableNum,
});

describe('key words', () => {
  it('an observation and its flowKey() agree on narrow/wide, and the words give the key back', () => {
    fc.assert(
      fc.property(tupleArb, num, num, (orig, zone, protocol) => {
        const a = new Uint32Array(KEY_WORDS + 1);
        const b = new Uint32Array(KEY_WORDS + 1);
        const key = flowKey({ node: 'node-a', zone, protocol, orig });
        const narrow = encodeKey(zone, protocol, orig, a, 1);
        expect(encodeKeyString(key, b, 1)).toBe(narrow);
        if (narrow) {
          expect([...b]).toEqual([...a]);
          expect(keyOfWords('node-a', a, 1)).toBe(key);
          expect(tupleOfWords(a, 1)).toEqual(orig);
          expect(zoneOfWords(a, 1)).toBe(zone);
          expect(protocolOfWords(a, 1)).toBe(protocol);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('keyOfWords() equals flowKey() for any node name (Latin-1 bytes, wider text, alternating)', () => {
    const nodeArb = fc.oneof(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.constantFrom('node-a', 'nöde-ß', 'узел-1', '节点', 'n😀', 'x'.repeat(300)),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(nodeArb, tupleArb, num, num), { minLength: 1, maxLength: 8 }),
        (flows) => {
          const w = new Uint32Array(KEY_WORDS);
          for (const [node, orig, zone, protocol] of flows) {
            if (!encodeKey(zone, protocol, orig, w, 0)) continue;
            expect(keyOfWords(node, w, 0)).toBe(flowKey({ node, zone, protocol, orig }));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keyOfWords() writes the widest field values', () => {
    const orig: Tuple = {
      src: '255.255.255.255',
      dst: '0.0.0.0',
      srcPort: 65535,
      dstPort: 0,
      icmpType: 255,
      icmpCode: 0,
      icmpId: 65535,
    };
    const w = new Uint32Array(KEY_WORDS);
    expect(encodeKey(65535, 255, orig, w, 0)).toBe(true);
    expect(keyOfWords('n', w, 0)).toBe('n|65535|255|255.255.255.255|65535|0.0.0.0|0|255|0|65535');
    expect(keyOfWords('n', w, 0)).toBe(flowKey({ node: 'n', zone: 65535, protocol: 255, orig }));
  });

  it('keys that flowKey() cannot produce stay wide', () => {
    const w = new Uint32Array(KEY_WORDS);
    expect(encodeKeyString('n||6|10.0.0.1|1|10.0.0.2|2|||', w, 0)).toBe(false);
    expect(encodeKeyString('n|0|6|10.0.0.1|01|10.0.0.2|2|||', w, 0)).toBe(false);
    expect(encodeKeyString('n|0|6|10.0.0.1|1|10.0.0.2|2||', w, 0)).toBe(false);
    expect(encodeKeyString('n|0|6|10.0.0.1|1|10.0.0.2|2|||', w, 0)).toBe(true);
  });
});
