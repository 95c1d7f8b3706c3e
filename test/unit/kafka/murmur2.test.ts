/** murmur2 and the key partitioner against Apache Kafka's own Java client (fixture made by the Java client). */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { murmur2, partitionForKey, toPositive } from '../../../src/kafka/murmur2.js';

interface JavaCase {
  keyHex: string;
  murmur2: number;
  partitions: Record<string, number>;
}
const cases = JSON.parse(
  readFileSync(new URL('../../fixtures/kafka/murmur2-java.json', import.meta.url), 'utf8'),
) as JavaCase[];

describe('murmur2 (Java Utils.murmur2 compatible)', () => {
  it('has a fixture covering every tail length, empty, multi-byte UTF-8 and high bytes', () => {
    const lengths = new Set(cases.map((c) => (c.keyHex.length / 2) % 4));
    expect([...lengths].sort()).toEqual([0, 1, 2, 3]);
    expect(cases.length).toBeGreaterThan(90);
  });

  it.each(cases.map((c) => [c.keyHex, c] as const))('hash of key %s equals the Java client', (_hex, c) => {
    expect(murmur2(Buffer.from(c.keyHex, 'hex'))).toBe(c.murmur2);
  });

  it.each(cases.map((c) => [c.keyHex, c] as const))(
    'partition of key %s equals the Java client',
    (_hex, c) => {
      for (const [n, partition] of Object.entries(c.partitions)) {
        expect(partitionForKey(Buffer.from(c.keyHex, 'hex'), Number(n))).toBe(partition);
      }
    },
  );

  it('hashes a string key as its UTF-8 bytes (Kafka StringSerializer)', () => {
    const s = '\u6d41\u91cf';
    const java = cases.find((c) => c.keyHex === Buffer.from(s, 'utf8').toString('hex'));
    expect(java).toBeDefined();
    expect(partitionForKey(s, 12)).toBe(java?.partitions['12']);
  });

  it('toPositive clears the sign bit like Java (not Math.abs)', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(5)).toBe(5);
  });

  it('returns a signed 32-bit int and a partition in range for any key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
        const h = murmur2(key);
        expect(h).toBe(h | 0);
        const p = partitionForKey(key, n);
        expect(p >= 0 && p < n && Number.isInteger(p)).toBe(true);
      }),
    );
  });

  it('refuses a partition count below 1', () => {
    const err = (() => {
      try {
        partitionForKey('k', 0);
      } catch (e) {
        return e;
      }
    })();
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
  });
});
