/** Partition offsets: where a partition begins and ends, where a time falls, what a group committed. */
import { withAdmin } from './admin.js';
import type { KafkaClient } from './client.js';
import { toOffset } from './message.js';

/** First and end offsets of one partition. */
export interface PartitionOffsets {
  partition: number;
  /** Earliest offset still in the log. */
  low: number;
  /** End offset: the offset the next record will get (the high watermark). */
  high: number;
}

/** First and end offsets of every partition of `topic`, ordered by partition. */
export async function fetchEndOffsets(client: KafkaClient, topic: string): Promise<PartitionOffsets[]> {
  return withAdmin(client, `fetching offsets of ${topic}`, async (admin) => {
    const res = await admin.fetchTopicOffsets(topic);
    return res
      .map((p) => ({
        partition: p.partition,
        low: toOffset(p.low, 'low offset'),
        high: toOffset(p.high, 'high offset'),
      }))
      .sort((a, b) => a.partition - b.partition);
  });
}

/**
 * For each partition, the first offset whose record timestamp is at or after `timestampMs`
 * (the end offset when there is none): where a replay from that time starts.
 */
export async function fetchOffsetsForTime(
  client: KafkaClient,
  topic: string,
  timestampMs: number,
): Promise<Array<{ partition: number; offset: number }>> {
  return withAdmin(
    client,
    `fetching offsets of ${topic} at ${new Date(timestampMs).toISOString()}`,
    async (admin) => {
      const res = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
      return res
        .map((p) => ({ partition: p.partition, offset: toOffset(p.offset, 'offset') }))
        .sort((a, b) => a.partition - b.partition);
    },
  );
}

/** Offsets committed by `groupId` on `topic` (the next offset to read); -1 where nothing was committed. */
export async function fetchCommittedOffsets(
  client: KafkaClient,
  groupId: string,
  topic: string,
): Promise<Array<{ partition: number; offset: number }>> {
  return withAdmin(client, `fetching offsets of group ${groupId}`, async (admin) => {
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    const partitions = res.find((t) => t.topic === topic)?.partitions ?? [];
    return partitions
      .map((p) => ({ partition: p.partition, offset: toOffset(p.offset, 'committed offset') }))
      .sort((a, b) => a.partition - b.partition);
  });
}
