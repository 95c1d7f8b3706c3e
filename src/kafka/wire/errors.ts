/**
 * The Kafka error codes ctflow's own requests (wire/) act on, by name (protocol guide, "Error Codes").
 * Unlisted codes are reported by number.
 */

/** Error codes handled by name. */
export const KafkaErrorCode = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  REPLICA_NOT_AVAILABLE: 9,
  TOPIC_AUTHORIZATION_FAILED: 29,
  UNSUPPORTED_VERSION: 35,
  KAFKA_STORAGE_ERROR: 56,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  OFFSET_NOT_AVAILABLE: 78,
} as const;

const NAMES = new Map<number, string>(Object.entries(KafkaErrorCode).map(([k, v]) => [v, k]));

/** "NOT_LEADER_OR_FOLLOWER (6)", or "error 42" for an unlisted code. */
export function kafkaErrorName(code: number): string {
  const name = NAMES.get(code);
  return name === undefined ? `error ${code}` : `${name} (${code})`;
}

/** Codes after which a metadata refresh and a retry may succeed (leadership moved or not settled yet). */
export function isLeadershipError(code: number): boolean {
  return (
    code === KafkaErrorCode.LEADER_NOT_AVAILABLE ||
    code === KafkaErrorCode.NOT_LEADER_OR_FOLLOWER ||
    code === KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
    code === KafkaErrorCode.FENCED_LEADER_EPOCH ||
    code === KafkaErrorCode.UNKNOWN_LEADER_EPOCH ||
    code === KafkaErrorCode.REPLICA_NOT_AVAILABLE ||
    code === KafkaErrorCode.KAFKA_STORAGE_ERROR ||
    code === KafkaErrorCode.REQUEST_TIMED_OUT
  );
}
