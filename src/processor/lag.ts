/**
 * ctflow_consumer_lag: per assigned partition of the observations topic, the messages between the group's
 * committed offset and the partition's end (what a KEDA ScaledObject or an alert on lag reads).
 */
import type { KafkaClient } from '../kafka/client.js';
import { fetchCommittedOffsets, fetchEndOffsets } from '../kafka/offsets.js';
import type { Metrics } from '../telemetry/metrics.js';

/** Lag of each partition in `partitions`: end offset − committed offset (− low offset when nothing committed). */
export async function consumerLag(
  client: KafkaClient,
  groupId: string,
  topic: string,
  partitions: readonly number[],
): Promise<Map<number, number>> {
  const [ends, committed] = await Promise.all([
    fetchEndOffsets(client, topic),
    fetchCommittedOffsets(client, groupId, topic),
  ]);
  const out = new Map<number, number>();
  for (const p of partitions) {
    const end = ends.find((e) => e.partition === p);
    if (end === undefined) continue;
    const c = committed.find((x) => x.partition === p)?.offset ?? -1;
    out.set(p, Math.max(0, end.high - (c >= 0 ? c : end.low)));
  }
  return out;
}

/**
 * Returns a function that sets ctflow_consumer_lag for the partitions assigned now and removes the series
 * of partitions this processor no longer has (so a dashboard's sum over processors stays right).
 */
export function consumerLagSync(
  metrics: Metrics,
  client: KafkaClient,
  groupId: string,
  topic: string,
  assigned: () => readonly number[],
): () => Promise<void> {
  let shown = new Set<number>();
  return async () => {
    const lag = await consumerLag(client, groupId, topic, assigned());
    for (const p of shown) if (!lag.has(p)) metrics.consumerLag.remove({ partition: String(p) });
    for (const [p, n] of lag) metrics.consumerLag.set({ partition: String(p) }, n);
    shown = new Set(lag.keys());
  };
}
