import { describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { formatIpv6, writeIpv4, writeIpv6, writeMac } from '../../../src/ipfix/address.js';
import { readValue } from '../../../src/ipfix/decode-value.js';
import { checkFieldLength, writeValue } from '../../../src/ipfix/encode-value.js';
import { FlowTemplates } from '../../../src/ipfix/flow-templates.js';
import { type InformationElement, defaultRegistry } from '../../../src/ipfix/registry.js';
import { record } from './records.js';

const ie = (name: string): InformationElement => defaultRegistry.byName(name);

function refusal(f: () => unknown): { element: unknown; value: unknown; expected: unknown; message: string } {
  try {
    f();
  } catch (err) {
    expect(isCtflowError(err, 'IPFIX_ENCODE')).toBe(true);
    const e = err as { details: Record<string, unknown>; message: string };
    return {
      element: e.details['element'],
      value: e.details['value'],
      expected: e.details['expected'],
      message: e.message,
    };
  }
  throw new Error('expected an IPFIX_ENCODE refusal');
}

describe('data type encoders refuse impossible values', () => {
  const buf = new Uint8Array(64);

  it('refuses zero, negative, NaN, fractional and missing times for every dateTime type', () => {
    for (const name of ['flowStartSeconds', 'flowStartMilliseconds', 'flowStartMicroseconds']) {
      for (const v of [0, -1, Number.NaN, 1.5, undefined as unknown as number]) {
        const r = refusal(() => writeValue(buf, 0, ie(name), 8, v));
        expect(r.element).toBe(name);
        expect(r.message).toContain(name);
        expect(String(r.expected)).toMatch(/1970|integer/);
      }
    }
    expect(refusal(() => writeValue(buf, 0, ie('flowStartNanoseconds'), 8, 0n)).element).toBe(
      'flowStartNanoseconds',
    );
    expect(refusal(() => writeValue(buf, 0, ie('flowStartNanoseconds'), 8, 5)).element).toBe(
      'flowStartNanoseconds',
    );
  });

  it('refuses times the type cannot carry (dateTimeSeconds past 2106, NTP past era 0)', () => {
    expect(refusal(() => writeValue(buf, 0, ie('flowEndSeconds'), 4, 2 ** 32)).value).toBe(2 ** 32);
    const afterEra = Date.UTC(2036, 1, 8) * 1000;
    expect(refusal(() => writeValue(buf, 0, ie('flowEndMicroseconds'), 8, afterEra)).element).toBe(
      'flowEndMicroseconds',
    );
  });

  it('refuses values that do not fit, NaN floats, non-booleans, bad addresses and lone surrogates', () => {
    expect(refusal(() => writeValue(buf, 0, ie('sourceTransportPort'), 2, 65536)).expected).toContain('2^16');
    expect(refusal(() => writeValue(buf, 0, ie('octetDeltaCount'), 8, -1)).element).toBe('octetDeltaCount');
    expect(refusal(() => writeValue(buf, 0, ie('octetDeltaCount'), 8, 2 ** 64)).element).toBe(
      'octetDeltaCount',
    );
    expect(refusal(() => writeValue(buf, 0, ie('octetDeltaCount'), 4, 2 ** 32)).expected).toContain(
      '4 octets',
    );
    expect(refusal(() => writeValue(buf, 0, ie('octetDeltaCount'), 8, 2n ** 64n)).element).toBe(
      'octetDeltaCount',
    );
    expect(refusal(() => writeValue(buf, 0, ie('samplingProbability'), 8, Number.NaN)).expected).toContain(
      'NaN',
    );
    expect(refusal(() => writeValue(buf, 0, ie('dataRecordsReliability'), 1, 1)).element).toBe(
      'dataRecordsReliability',
    );
    expect(refusal(() => writeValue(buf, 0, ie('sourceIPv4Address'), 4, '10.0.0.256')).value).toBe(
      '10.0.0.256',
    );
    expect(refusal(() => writeValue(buf, 0, ie('sourceIPv6Address'), 16, '1::2::3')).value).toBe('1::2::3');
    expect(refusal(() => writeValue(buf, 0, ie('sourceMacAddress'), 6, 'zz:00:00:00:00:00')).element).toBe(
      'sourceMacAddress',
    );
    expect(refusal(() => writeValue(buf, 0, ie('interfaceName'), 65535, 'a\uD800b')).expected).toContain(
      'Unicode',
    );
  });

  it('allows reduced-size encoding for counters only (RFC 7011 §6.2)', () => {
    expect(() => checkFieldLength(ie('octetDeltaCount'), 4)).not.toThrow();
    expect(() => checkFieldLength(ie('packetTotalCount'), 1)).not.toThrow();
    expect(() => checkFieldLength(ie('flowId'), 4)).toThrow(/cannot have length 4/);
    expect(() => checkFieldLength(ie('flowStartMilliseconds'), 4)).toThrow(/cannot have length 4/);
    expect(() => checkFieldLength(ie('samplingProbability'), 4)).toThrow();
    expect(() => checkFieldLength(ie('octetDeltaCount'), 9)).toThrow();
    writeValue(buf, 0, ie('octetDeltaCount'), 3, 0xabcdef);
    expect(readValue(buf, 0, ie('octetDeltaCount'), 3)).toBe(0xabcdefn);
  });
});

describe('seed regression (antrea#1417: Go zero time as 8 octets in dateTimeSeconds, shown as 2106)', () => {
  const SEED = Buffer.from('fffffff1886e0900', 'hex');
  const goZeroTimeS = -62135596800;

  it('dateTimeSeconds is 4 octets: template length and encoder output', () => {
    const ft = new FlowTemplates({ timestamps: ['seconds'] });
    const t = ft.templateFor(record());
    const start = t.fields.find((f) => f.ie.name === 'flowStartSeconds');
    expect(start?.length).toBe(4);
    expect(t.fields.find((f) => f.ie.name === 'flowEndSeconds')?.length).toBe(4);
    expect(writeValue(new Uint8Array(8), 0, ie('flowStartSeconds'), 4, 1_795_680_000)).toBe(4);
  });

  it("the seed's value (Go zero time) is refused in every time type", () => {
    const buf = new Uint8Array(16);
    expect(refusal(() => writeValue(buf, 0, ie('flowStartSeconds'), 4, goZeroTimeS)).value).toBe(goZeroTimeS);
    expect(
      refusal(() => writeValue(buf, 0, ie('flowStartMilliseconds'), 8, goZeroTimeS * 1000)).element,
    ).toBe('flowStartMilliseconds');
    expect(refusal(() => writeValue(buf, 0, ie('flowStartMicroseconds'), 8, goZeroTimeS * 1e6)).element).toBe(
      'flowStartMicroseconds',
    );
  });

  it('a record whose start is zero, missing or before 1970 is refused, naming the element', () => {
    for (const precision of ['seconds', 'milliseconds', 'microseconds', 'nanoseconds'] as const) {
      const ft = new FlowTemplates({ timestamps: [precision] });
      for (const startUs of [0, -1, Number.NaN, undefined as unknown as number, goZeroTimeS * 1e6]) {
        const r = record({ startUs });
        const out = new Uint8Array(256);
        const e = refusal(() => ft.write(out, 0, r, 2));
        expect(String(e.element)).toMatch(/^flowStart/);
        expect(Buffer.from(out).includes(SEED)).toBe(false);
      }
    }
  });

  it('an end before the start is refused', () => {
    const ft = new FlowTemplates();
    const r = record({ endUs: record().startUs - 1 });
    expect(refusal(() => ft.write(new Uint8Array(256), 0, r, 2)).element).toBe('flowStart');
  });
});

describe('addresses', () => {
  it('parses IPv4 strictly', () => {
    const b = new Uint8Array(4);
    expect(writeIpv4(b, 0, '192.168.0.255')).toBe(true);
    expect([...b]).toEqual([192, 168, 0, 255]);
    for (const bad of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.a', '', '1..2.3', '256.1.1.1', ' 1.2.3.4']) {
      expect(writeIpv4(b, 0, bad)).toBe(false);
    }
  });

  it('parses IPv6 forms and prints RFC 5952 text', () => {
    const b = new Uint8Array(16);
    const cases: [string, string][] = [
      ['::', '::'],
      ['::1', '::1'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['fe80::', 'fe80::'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ];
    for (const [text, canonical] of cases) {
      expect(writeIpv6(b, 0, text)).toBe(true);
      expect(formatIpv6(b, 0)).toBe(canonical);
    }
    for (const bad of [
      ':',
      ':1',
      '1:',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '12345::',
      'g::',
      '1:2:3:4:5:6:7::8',
      'fe80::1%eth0',
    ]) {
      expect(writeIpv6(b, 0, bad)).toBe(false);
    }
  });

  it('parses MAC addresses', () => {
    const b = new Uint8Array(6);
    expect(writeMac(b, 0, '00:1A:2b:3c:4d:5e')).toBe(true);
    expect([...b]).toEqual([0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]);
    expect(writeMac(b, 0, '00:1a:2b:3c:4d')).toBe(false);
  });
});
