import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalAddress } from '../../../src/conntrack/address.js';

describe('canonicalAddress', () => {
  it.each([
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // RFC 5952 §4.1, §4.3
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3: first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: one zero group is not compressed
    ['2001:db8::0:1', '2001:db8::1'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fd00::0:0:2', 'fd00::2'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'], // §5: IPv4-mapped in mixed notation
    ['::ffff:a01:203', '::ffff:10.1.2.3'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // longest run wins
  ])('IPv6 %s -> %s', (input, expected) => {
    expect(canonicalAddress(input, 'IPV6')).toBe(expected);
  });

  it.each(['1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', '', ':::'])('rejects IPv6 %j', (bad) => {
    expect(canonicalAddress(bad, 'IPV6')).toBeNull();
  });

  it.each([
    ['10.201.0.1', '10.201.0.1'],
    ['255.255.255.255', '255.255.255.255'],
  ])('IPv4 %s', (input, expected) => {
    expect(canonicalAddress(input, 'IPV4')).toBe(expected);
  });

  it.each(['256.1.1.1', '1.2.3', '1.2.3.4.5', 'a.b.c.d', '::1'])('rejects IPv4 %j', (bad) => {
    expect(canonicalAddress(bad, 'IPV4')).toBeNull();
  });

  it('agrees with the WHATWG URL serializer (an independent RFC 5952 compressor) on any IPv6 address', () => {
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.boolean(), (groups, padded) => {
        // IPv4-mapped addresses are written in mixed notation (§5), which the URL serializer does not do.
        fc.pre(!(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff));
        const text = groups
          .map((g) => (padded ? g.toString(16).padStart(4, '0').toUpperCase() : g.toString(16)))
          .join(':');
        const oracle = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        expect(canonicalAddress(text, 'IPV6')).toBe(oracle);
        expect(canonicalAddress(oracle, 'IPV6')).toBe(oracle);
      }),
    );
  });
});
