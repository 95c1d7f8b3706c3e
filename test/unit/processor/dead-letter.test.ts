import { expect, test } from 'vitest';
import { CtflowError } from '../../../src/errors.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import {
  DEAD_LETTER_HEADERS,
  deadLetterMessage,
  deadLetterReason,
  errorCodeOf,
} from '../../../src/processor/dead-letter.js';

const source: ConsumedMessage = {
  topic: 'ctflow.observations',
  partition: 4,
  offset: 1234,
  timestampMs: 1_700_000_000_123,
  key: Buffer.from('n1|0|17|10.0.0.1|1|10.0.0.2|2|||'),
  value: Buffer.from([0xc3, 0x01, 1, 2, 3]),
  headers: {},
};

test('keeps key and value byte for byte, names the source and the reason', () => {
  const err = new CtflowError('CODEC_DECODE', 'unknown fingerprint 0102030405060708', {
    details: { reason: 'unknown_schema' },
  });
  const m = deadLetterMessage(source, err);
  expect(m.key).toBe(source.key);
  expect(m.value).toBe(source.value);
  expect(m.timestampMs).toBe(source.timestampMs);
  expect(m.partition).toBeUndefined();
  expect(m.headers).toEqual({
    [DEAD_LETTER_HEADERS.topic]: 'ctflow.observations',
    [DEAD_LETTER_HEADERS.partition]: '4',
    [DEAD_LETTER_HEADERS.offset]: '1234',
    [DEAD_LETTER_HEADERS.timestamp]: '1700000000123',
    [DEAD_LETTER_HEADERS.code]: 'CODEC_DECODE',
    [DEAD_LETTER_HEADERS.reason]: 'unknown_schema',
    [DEAD_LETTER_HEADERS.message]: 'unknown fingerprint 0102030405060708',
  });
});

test('cuts very long messages and labels foreign errors UNKNOWN', () => {
  const m = deadLetterMessage(source, new Error('x'.repeat(5000)));
  expect(String(m.headers?.[DEAD_LETTER_HEADERS.message]).length).toBe(1001);
  expect(m.headers?.[DEAD_LETTER_HEADERS.code]).toBe('UNKNOWN');
  expect(m.headers?.[DEAD_LETTER_HEADERS.reason]).toBe('unknown');
  expect(errorCodeOf(new CtflowError('OBSERVATION_INVALID', 'x'))).toBe('OBSERVATION_INVALID');
  expect(deadLetterReason(new CtflowError('OBSERVATION_INVALID', 'x'))).toBe('observation_invalid');
});
