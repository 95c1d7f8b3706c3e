/**
 * Metadata (key 3), versions 1-8 (all non-flexible; Kafka 4.0 serves 0-13): the leader of each partition of
 * one topic and the brokers' addresses.
 *
 *   Metadata Request (Version: 1-8) => [topics] allow_auto_topic_creation include_cluster_authorized_operations
 *                                      include_topic_authorized_operations
 *     topics => name STRING; allow_auto_topic_creation BOOLEAN (v4+); include_* BOOLEAN (v8+)
 *   Metadata Response (Version: 1-8) => throttle_time_ms [brokers] cluster_id controller_id [topics]
 *                                       cluster_authorized_operations
 *     throttle_time_ms INT32 (v3+)
 *     brokers => node_id INT32, host STRING, port INT32, rack NULLABLE_STRING
 *     cluster_id NULLABLE_STRING (v2+); controller_id INT32
 *     topics => error_code INT16, name STRING, is_internal BOOLEAN, [partitions], topic_authorized_operations
 *               INT32 (v8+)
 *       partitions => error_code INT16, partition_index INT32, leader_id INT32, leader_epoch INT32 (v7+),
 *                     [replica_nodes INT32], [isr_nodes INT32], [offline_replicas INT32] (v5+)
 *     cluster_authorized_operations INT32 (v8+)
 */
import { ByteReader, ByteWriter } from './bytes.js';
import type { BrokerAddress } from './connection.js';

/** API key of Metadata. */
export const METADATA_KEY = 3;
/** Versions this module speaks. */
export const METADATA_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8] as const;

/** One partition's leadership. */
export interface PartitionLeader {
  partition: number;
  errorCode: number;
  /** Node id of the leader, -1 when none. */
  leader: number;
  /** Leader epoch (v7+), -1 when unknown. */
  leaderEpoch: number;
}

/** What Metadata says about one topic. */
export interface TopicMetadata {
  brokers: Map<number, BrokerAddress>;
  /** Error of the topic (e.g. UNKNOWN_TOPIC_OR_PARTITION), 0 = none. */
  errorCode: number;
  partitions: PartitionLeader[];
}

/** Request body for one topic, never creating it. */
export function encodeMetadataRequest(version: number, topic: string): Buffer {
  const w = new ByteWriter().int32(1).string(topic);
  if (version >= 4) w.int8(0);
  if (version >= 8) w.int8(0).int8(0);
  return w.bytes();
}

/** Parses the response; `topic` picks the topic's entry. */
export function parseMetadataResponse(version: number, body: Buffer, topic: string): TopicMetadata {
  const r = new ByteReader(body);
  if (version >= 3) r.int32('throttle_time_ms');
  const brokers = new Map<number, BrokerAddress>();
  const nb = r.count('brokers');
  for (let i = 0; i < nb; i++) {
    const id = r.int32('node_id');
    const host = r.string('host') ?? '';
    const port = r.int32('port');
    r.string('rack');
    brokers.set(id, { host, port });
  }
  if (version >= 2) r.string('cluster_id');
  r.int32('controller_id');
  let found: TopicMetadata = { brokers, errorCode: 3, partitions: [] };
  const nt = r.count('topics');
  for (let t = 0; t < nt; t++) {
    const errorCode = r.int16('topic error_code');
    const name = r.string('topic name');
    r.boolean('is_internal');
    const partitions: PartitionLeader[] = [];
    const np = r.count('partitions');
    for (let i = 0; i < np; i++) {
      const pErr = r.int16('partition error_code');
      const partition = r.int32('partition_index');
      const leader = r.int32('leader_id');
      const leaderEpoch = version >= 7 ? r.int32('leader_epoch') : -1;
      for (let k = r.count('replica_nodes'); k > 0; k--) r.int32('replica');
      for (let k = r.count('isr_nodes'); k > 0; k--) r.int32('isr');
      if (version >= 5) for (let k = r.count('offline_replicas'); k > 0; k--) r.int32('offline');
      partitions.push({ partition, errorCode: pErr, leader, leaderEpoch });
    }
    if (version >= 8) r.int32('topic_authorized_operations');
    if (name === topic) found = { brokers, errorCode, partitions };
  }
  return found;
}
