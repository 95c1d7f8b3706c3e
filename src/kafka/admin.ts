/**
 * Cluster administration that several parts need: topic partition counts and configs, deleting topics and
 * groups (tests clean up with these). Each call opens and closes its own admin connection, unless the client
 * is held (holdAdmin): then the calls share one connected admin.
 */
import kafkajs from './kafkajs.js';
import type { Admin } from 'kafkajs';
import { CtflowError } from '../errors.js';
import { type KafkaClient, kafkajsOf } from './client.js';
import { describeKafkaError, kafkaSecurityProblem } from './errors.js';

/** A connected admin kept for a held client (holdAdmin), and how many holders it has. */
interface HeldAdmin {
  holders: number;
  admin: Promise<Admin> | undefined;
}

const held = new WeakMap<KafkaClient, HeldAdmin>();

/**
 * Keeps one connected kafkajs admin for `client` until the returned release is called (holders are counted):
 * withAdmin() calls on the client use it instead of connecting an admin each (a connect is an ApiVersions,
 * a Metadata and, with SASL, a handshake: 10-300 ms per call on a busy broker). The processor holds its
 * client for its life: it asks offsets at every assignment, restore and liveness check. An admin whose call
 * failed is disconnected and replaced at the next call (a restarted broker, a lost connection).
 */
export function holdAdmin(client: KafkaClient): () => Promise<void> {
  let h = held.get(client);
  if (h === undefined) {
    h = { holders: 0, admin: undefined };
    held.set(client, h);
  }
  h.holders++;
  let released = false;
  const entry = h;
  return async () => {
    if (released) return;
    released = true;
    entry.holders--;
    if (entry.holders > 0 || entry.admin === undefined) return;
    const admin = entry.admin;
    entry.admin = undefined;
    await (await admin.catch(() => undefined))?.disconnect().catch(() => {});
  };
}

/** The held admin of `client` (connected on first use), or undefined when nobody holds the client. */
function heldAdmin(client: KafkaClient): { entry: HeldAdmin; admin: Promise<Admin> } | undefined {
  const entry = held.get(client);
  if (entry === undefined || entry.holders === 0) return undefined;
  if (entry.admin === undefined) {
    const admin = kafkajsOf(client).admin();
    const connected = admin.connect().then(() => admin);
    entry.admin = connected;
    connected.catch(() => {
      if (entry.admin === connected) entry.admin = undefined;
    });
  }
  return { entry, admin: entry.admin };
}

/**
 * Runs `fn` with a connected kafkajs admin client: the held one (holdAdmin), else its own, always
 * disconnected after. For src/kafka only.
 */
export async function withAdmin<T>(
  client: KafkaClient,
  what: string,
  fn: (admin: Admin) => Promise<T>,
): Promise<T> {
  const shared = heldAdmin(client);
  const own = shared === undefined ? kafkajsOf(client).admin() : undefined;
  try {
    const admin = own ?? (await shared!.admin);
    if (own !== undefined) await own.connect();
    return await fn(admin);
  } catch (err) {
    if (shared !== undefined && shared.entry.admin === shared.admin) {
      // Whatever failed (the connection, the broker), the next call starts from a new admin.
      shared.entry.admin = undefined;
      void shared.admin.then((a) => a.disconnect()).catch(() => {});
    }
    if (err instanceof CtflowError) throw err;
    throw new CtflowError(
      'KAFKA',
      `${what} failed on ${client.brokers.join(',')}: ${describeKafkaError(err)}`,
      {
        details: { brokers: client.brokers, operation: what, security: kafkaSecurityProblem(err) },
        cause: err,
        retriable: (err as { retriable?: boolean }).retriable ?? false,
      },
    );
  } finally {
    if (own !== undefined) await own.disconnect().catch(() => {});
  }
}

/** A topic to create. */
export interface NewTopic {
  topic: string;
  numPartitions: number;
  /** Default: the broker's default.replication.factor. */
  replicationFactor?: number;
  config?: Record<string, string>;
}

const METADATA_NOT_READY = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Creates topics and waits until the broker serves metadata with a leader for every partition. Resolves with
 * the names this call created (those that already existed are left as they are).
 *
 * kafkajs' own waitForLeaders tolerates only LEADER_NOT_AVAILABLE, but a KRaft broker answers
 * UNKNOWN_TOPIC_OR_PARTITION until its metadata cache has caught up with the controller that just created
 * the topic; so the wait is done here.
 */
export async function createTopics(
  client: KafkaClient,
  topics: readonly NewTopic[],
  timeoutMs = 30_000,
): Promise<string[]> {
  if (topics.length === 0) return [];
  const names = topics.map((t) => t.topic);
  return withAdmin(client, `creating topics ${names.join(', ')}`, async (admin) => {
    const before = new Set(await admin.listTopics());
    await admin.createTopics({
      waitForLeaders: false,
      topics: topics.map((t) => ({
        topic: t.topic,
        numPartitions: t.numPartitions,
        replicationFactor: t.replicationFactor ?? -1,
        configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const listed = new Set(await admin.listTopics());
        if (names.every((n) => listed.has(n))) {
          const meta = await admin.fetchTopicMetadata({ topics: names });
          if (meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)))
            break;
        }
      } catch (err) {
        if (!METADATA_NOT_READY.has((err as { type?: string }).type ?? '')) throw err;
      }
      if (Date.now() > deadline) {
        throw new CtflowError('KAFKA', `topics ${names.join(', ')} have no leaders after ${timeoutMs} ms`, {
          details: { topics: names, timeoutMs },
          retriable: true,
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return names.filter((n) => !before.has(n));
  });
}

/** Partition count of each named topic that exists; topics that do not exist are absent from the map. */
export async function topicPartitionCounts(
  client: KafkaClient,
  topics: readonly string[],
): Promise<Map<string, number>> {
  return withAdmin(client, 'reading topic metadata', async (admin) => {
    const existing = new Set(await admin.listTopics());
    const wanted = topics.filter((t) => existing.has(t));
    const counts = new Map<string, number>();
    if (wanted.length === 0) return counts;
    const meta = await admin.fetchTopicMetadata({ topics: wanted });
    for (const t of meta.topics) counts.set(t.name, t.partitions.length);
    return counts;
  });
}

/** Current (non-default and default) config values of a topic, e.g. `cleanup.policy`. */
export async function topicConfig(client: KafkaClient, topic: string): Promise<Map<string, string>> {
  return withAdmin(client, `reading the config of topic ${topic}`, async (admin) => {
    const res = await admin.describeConfigs({
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic }],
      includeSynonyms: false,
    });
    const config = new Map<string, string>();
    for (const entry of res.resources[0]?.configEntries ?? [])
      config.set(entry.configName, entry.configValue);
    return config;
  });
}

/** Deletes topics that exist (missing ones are ignored). */
export async function deleteTopics(client: KafkaClient, topics: readonly string[]): Promise<void> {
  await withAdmin(client, 'deleting topics', async (admin) => {
    const existing = new Set(await admin.listTopics());
    const doomed = topics.filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
  });
}

/** Deletes consumer groups (they must have no active members). Unknown groups are ignored. */
export async function deleteGroups(client: KafkaClient, groupIds: readonly string[]): Promise<void> {
  if (groupIds.length === 0) return;
  await withAdmin(client, 'deleting consumer groups', async (admin) => {
    try {
      await admin.deleteGroups([...groupIds]);
    } catch (err) {
      // kafkajs throws one error for the batch; a group that never existed is not a failure here.
      const groups = (err as { groups?: Array<{ error?: { type?: string } }> }).groups ?? [];
      const real = groups.filter((g) => g.error && g.error.type !== 'GROUP_ID_NOT_FOUND');
      if (groups.length === 0 || real.length > 0) throw err;
    }
  });
}
