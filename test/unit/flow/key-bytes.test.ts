import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { barAt, encodeKeyBytes, NodesByBytes, nameBytesHash } from '../../../src/flow/key-bytes.js';
import { encodeKeyString, KEY_WORDS } from '../../../src/flow/tuple-key.js';

/** encodeKeyBytes() of `key`'s UTF-8 bytes placed at `pad` inside a larger buffer (bytes around it). */
function viaBytes(key: string, pad: number): { narrow: boolean; words: number[] } {
  const k = Buffer.from(key, 'utf8');
  const buf = Buffer.concat([Buffer.alloc(pad, 0x7c), k, Buffer.from('|9|')]);
  const w = new Uint32Array(KEY_WORDS + 1);
  const bar = barAt(buf, pad, pad + k.length);
  if (bar < 0) return { narrow: false, words: [] };
  const narrow = encodeKeyBytes(buf, bar + 1, pad + k.length, w, 1);
  return { narrow, words: narrow ? [...w.subarray(1)] : [] };
}

function viaString(key: string): { narrow: boolean; words: number[] } {
  const w = new Uint32Array(KEY_WORDS + 1);
  const narrow = encodeKeyString(key, w, 1);
  return { narrow, words: narrow ? [...w.subarray(1)] : [] };
}

// Field values near every boundary encodeKeyString() checks: empty, leading zeros, limits, non-digits.
const num = fc.oneof(
  fc.constantFrom('', '0', '00', '01', '1', '255', '256', '65535', '65536', '99999999', '-1', '1a', '٣', 'é'),
  fc.nat(70_000).map(String),
);
const addr = fc.oneof(
  fc.tuple(fc.nat(260), fc.nat(260), fc.nat(260), fc.nat(260)).map((p) => p.join('.')),
  fc.constantFrom('010.0.0.1', '1.2.3', '1..2.3', '1.2.3.4.5', 'fd00::1', '10.0.0.1 ', '', '１.2.3.4'),
);
const node = fc.constantFrom('n1', 'node-7', 'nœud', '日本', '', 'a\u{1F600}b');
const keyArb = fc.oneof(
  fc.tuple(node, num, num, addr, num, addr, num, num, num, num).map((f) => f.join('|')),
  // Extra or missing fields.
  fc.tuple(node, num, num, addr, num, addr, num, num, num, num, num).map((f) => f.join('|')),
  fc.tuple(node, num, num, addr, num, addr, num, num, num).map((f) => f.join('|')),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('|', '1', '0', '.', '9', 'x'), maxLength: 40 }),
);

describe('flow key bytes', () => {
  it('encodeKeyBytes() classifies and encodes exactly like encodeKeyString() of the decoded key', () => {
    fc.assert(
      fc.property(keyArb, fc.nat(5), (key, pad) => {
        expect(viaBytes(key, pad)).toEqual(viaString(key));
      }),
      { numRuns: 3000 },
    );
    // Some of each kind were met (the property is not vacuous).
    expect(viaString('n1|0|6|10.0.0.1|1|10.0.0.2|443|||').narrow).toBe(true);
    expect(viaBytes('n1|0|1|10.0.0.1|0|10.0.0.2|0|8|0|77', 3)).toEqual(
      viaString('n1|0|1|10.0.0.1|0|10.0.0.2|0|8|0|77'),
    );
    expect(viaBytes('nœud|0|6|10.0.0.1|1|10.0.0.2|443|||', 2).narrow).toBe(true);
    for (const bad of [
      'n|0|6|10.0.0.1|1|10.0.0.2|443||',
      'n|0|6|10.0.0.1|1|10.0.0.2|443||||',
      'n|0|6|10.0.0.1|01|10.0.0.2|443|||',
      'n|0|6|fd00::1|1|fd00::2|443|||',
      'n|0|6|10.0.0.1|1|10.0.0.2|443',
    ]) {
      expect(viaBytes(bad, 1)).toEqual({ narrow: false, words: [] });
    }
  });

  it('finds nodes by the exact bytes of their name, however many', () => {
    const byBytes = new NodesByBytes<number>();
    const names = Array.from({ length: 300 }, (_, i) => Buffer.from(i % 3 === 0 ? `nœud-${i}` : `n${i}`));
    const buf = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from('|'), n])));
    let at = 0;
    names.forEach((n, i) => {
      const from = at + 1;
      const to = from + n.length;
      const h = nameBytesHash(buf, from, to);
      expect(byBytes.get(buf, from, to, h)).toBeUndefined();
      byBytes.set(buf, from, to, h, i);
      at = to;
    });
    // Found again from other bytes (a copy was kept, not a view); a name plus one byte is not found.
    names.forEach((n, i) => {
      const copy = Buffer.concat([Buffer.from('xx'), n, Buffer.from('#')]);
      expect(byBytes.get(copy, 2, 2 + n.length, nameBytesHash(copy, 2, 2 + n.length))).toBe(i);
      expect(byBytes.get(copy, 2, 3 + n.length, nameBytesHash(copy, 2, 3 + n.length))).toBeUndefined();
    });
    // The first byte of a multi-byte character alone is another name.
    const oe = Buffer.from('nœud-0');
    expect(byBytes.get(oe, 0, 2, nameBytesHash(oe, 0, 2))).toBeUndefined();
    buf.fill(0);
    const n5 = names[5] as Buffer;
    expect(byBytes.get(n5, 0, n5.length, nameBytesHash(n5, 0, n5.length))).toBe(5);
  });
});
