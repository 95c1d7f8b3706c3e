/**
 * The partitioner ctflow's producer uses: an explicit partition wins; a keyed message goes where Apache
 * Kafka's Java client would put it (murmur2 of the key bytes over all partitions); a message without a key
 * goes round robin over partitions that have a leader.
 */
import { partitionForKey } from './murmur2.js';

/** What the partitioner needs to know about a topic's partitions. */
export interface PartitionInfo {
  partitionId: number;
  /** Broker id of the leader; negative when the partition has none right now. */
  leader: number;
}

/** Picks a partition for one message. Stateful only for the round robin of keyless messages. */
export type Partitioner = (
  topic: string,
  partitions: readonly PartitionInfo[],
  key: Uint8Array | string | null | undefined,
  partition: number | undefined,
) => number;

/** Creates a partitioner with its own round-robin counters. */
export function createJavaCompatiblePartitioner(): Partitioner {
  const counters = new Map<string, number>();
  return (topic, partitions, key, partition) => {
    if (partition !== undefined) return partition;
    if (key !== null && key !== undefined) return partitionForKey(key, partitions.length);
    const available = partitions.filter((p) => p.leader >= 0);
    const pool = available.length > 0 ? available : partitions;
    const next = ((counters.get(topic) ?? -1) + 1) & 0x7fffffff;
    counters.set(topic, next);
    return pool[next % pool.length]?.partitionId ?? 0;
  };
}
