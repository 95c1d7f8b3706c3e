import { describe, expect, it } from 'vitest';
import type { DecodedRecord } from '../../../src/ipfix/decoder.js';
import { eventToText, recordToJson, recordToText } from '../../../src/ipfix/format-record.js';
import { maxMessageSize } from '../../../src/ipfix/message-size.js';
import { CtflowError } from '../../../src/errors.js';

const rec: DecodedRecord = {
  exporter: '192.0.2.1:4739',
  observationDomainId: 7,
  templateId: 300,
  sequenceNumber: 12,
  exportTime: 1_795_680_010,
  scopeCount: 0,
  fields: [
    { name: 'flowStartSeconds', id: 150, pen: 0, type: 'dateTimeSeconds', value: 1_795_680_000 },
    {
      name: 'flowStartMilliseconds',
      id: 152,
      pen: 0,
      type: 'dateTimeMilliseconds',
      value: 1_795_680_000_123,
    },
    {
      name: 'flowStartMicroseconds',
      id: 154,
      pen: 0,
      type: 'dateTimeMicroseconds',
      value: 1_795_680_000_123_456,
    },
    {
      name: 'flowStartNanoseconds',
      id: 156,
      pen: 0,
      type: 'dateTimeNanoseconds',
      value: 1_795_680_000_123_456_789n,
    },
    { name: 'octetDeltaCount', id: 1, pen: 0, type: 'unsigned64', value: 2n ** 63n },
    { name: 'reverseOctetDeltaCount', id: 1, pen: 29305, type: 'unsigned64', value: 5n },
    { name: 'e99.1', id: 1, pen: 99, type: 'unknown', value: new Uint8Array([0xca, 0xfe]) },
    { name: 'octetDeltaCount', id: 1, pen: 0, type: 'unsigned64', value: 1n },
  ],
};

describe('collect output lines', () => {
  it('JSON: IANA names, ISO 8601 UTC times, exact 64-bit numbers, hex octets, repeated names numbered', () => {
    const line = recordToJson(rec);
    expect(line).toContain('"octetDeltaCount":9223372036854775808');
    expect(JSON.parse(line)).toEqual({
      exporter: '192.0.2.1:4739',
      observationDomainId: 7,
      templateId: 300,
      sequenceNumber: 12,
      flowStartSeconds: '2026-11-26T08:00:00.000Z',
      flowStartMilliseconds: '2026-11-26T08:00:00.123Z',
      flowStartMicroseconds: '2026-11-26T08:00:00.123456Z',
      flowStartNanoseconds: '2026-11-26T08:00:00.123456789Z',
      octetDeltaCount: 2 ** 63, // JSON.parse reads it as the nearest double; the text check above is exact
      reverseOctetDeltaCount: 5,
      'e99.1': 'cafe',
      'octetDeltaCount#2': 1,
    });
  });

  it('text: the same content as name=value pairs', () => {
    expect(recordToText(rec)).toBe(
      '192.0.2.1:4739 domain=7 template=300 seq=12 flowStartSeconds=2026-11-26T08:00:00.000Z ' +
        'flowStartMilliseconds=2026-11-26T08:00:00.123Z flowStartMicroseconds=2026-11-26T08:00:00.123456Z ' +
        'flowStartNanoseconds=2026-11-26T08:00:00.123456789Z octetDeltaCount=9223372036854775808 ' +
        'reverseOctetDeltaCount=5 e99.1=cafe octetDeltaCount#2=1',
    );
  });

  it('stderr lines for gaps, unknown templates and malformed input; none for templates', () => {
    expect(
      eventToText({ kind: 'sequenceGap', exporter: 'x:1', domain: 1, expected: 4294967290, received: 4 }),
    ).toBe(
      'sequence gap from x:1 domain 1: expected 4294967290, received 4 (10 records missing or reordered)',
    );
    expect(
      eventToText({
        kind: 'unknownTemplate',
        exporter: 'x:1',
        domain: 1,
        templateId: 300,
        sequenceNumber: 9,
      }),
    ).toContain('unknown template 300');
    expect(
      eventToText({
        kind: 'malformed',
        exporter: 'x:1',
        error: new CtflowError('IPFIX_DECODE', 'version 9 is not IPFIX'),
      }),
    ).toBe('malformed message from x:1: version 9 is not IPFIX');
    expect(
      eventToText({
        kind: 'template',
        exporter: 'x:1',
        domain: 1,
        templateId: 300,
        fieldCount: 2,
        scopeCount: 0,
      }),
    ).toBeUndefined();
  });
});

describe('maximum message size (RFC 7011 §10.3.3)', () => {
  it('is the path MTU minus IP and UDP headers, 512 when unknown, 65535 over TCP', () => {
    expect(maxMessageSize('udp', '192.0.2.1', 1500)).toBe(1472);
    expect(maxMessageSize('udp', '2001:db8::1', 1500)).toBe(1452);
    expect(maxMessageSize('udp', 'collector.example', 1500)).toBe(1452);
    expect(maxMessageSize('udp', '192.0.2.1', 9000)).toBe(8972);
    expect(maxMessageSize('udp', '192.0.2.1', 65535 + 48)).toBe(65535);
    expect(maxMessageSize('udp', '192.0.2.1', 'unknown')).toBe(512);
    expect(maxMessageSize('tcp', '192.0.2.1', 1500)).toBe(65535);
    expect(() => maxMessageSize('udp', '192.0.2.1', 100)).toThrow(/path MTU 100 out of range/);
  });
});
