import { describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { fromKafkajs, toOffset } from '../../../src/kafka/message.js';

describe('toOffset', () => {
  it('converts exact offsets and refuses ones above 2^53', () => {
    expect(toOffset('0', 'offset')).toBe(0);
    expect(toOffset('9007199254740991', 'offset')).toBe(Number.MAX_SAFE_INTEGER);
    let err: unknown;
    try {
      toOffset('9007199254740993', 'offset');
    } catch (e) {
      err = e;
    }
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
  });
});

describe('fromKafkajs', () => {
  it('converts offsets and timestamps to numbers, keeps null values (tombstones) and header bytes', () => {
    const m = fromKafkajs('t', 2, {
      offset: '41',
      timestamp: '1764115200000',
      key: Buffer.from('k'),
      value: null,
      headers: { reason: Buffer.from('bad avro'), twice: [Buffer.from('a'), Buffer.from('b')], text: 'x' },
    });
    expect(m).toEqual({
      topic: 't',
      partition: 2,
      offset: 41,
      timestampMs: 1764115200000,
      key: Buffer.from('k'),
      value: null,
      headers: { reason: Buffer.from('bad avro'), twice: Buffer.from('b'), text: Buffer.from('x') },
    });
  });
});
