/**
 * The key hash of Apache Kafka's Java client: MurmurHash2 (32-bit, seed 0x9747b28c), as in
 * org.apache.kafka.common.utils.Utils.murmur2, and the default partitioner's choice of partition
 * (BuiltInPartitioner.partitionForKey: toPositive(murmur2(keyBytes)) % numPartitions).
 * Keys partitioned here land where a Java producer (or Kafka Streams) would put them.
 */

import { CtflowError } from '../errors.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const encoder = new TextEncoder();

/** MurmurHash2 of `data`, as the signed 32-bit int Java's Utils.murmur2 returns. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    // Little-endian 4-byte blocks.
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  // The tail: Java's switch falls through from case 3 to case 1.
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's Utils.toPositive: clears the sign bit (not Math.abs, which differs for negative values). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** Bytes of a message key as Kafka's StringSerializer would send them (UTF-8). */
export function keyBytes(key: Uint8Array | string): Uint8Array {
  return typeof key === 'string' ? encoder.encode(key) : key;
}

/** The partition Kafka's default partitioner picks for a non-null key among `numPartitions`. */
export function partitionForKey(key: Uint8Array | string, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new CtflowError('KAFKA', `numPartitions must be a positive integer, got ${numPartitions}`, {
      details: { field: 'numPartitions', value: numPartitions, expected: 'integer >= 1' },
    });
  }
  return toPositive(murmur2(keyBytes(key))) % numPartitions;
}
