/** ensureTopics on a real broker: creation, idempotence, and the refusals that protect flow state. */
import { afterEach, describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import { createTopics, deleteTopics, topicConfig, topicPartitionCounts } from '../../../src/kafka/admin.js';
import { ensureTopics, type TopicNames } from '../../../src/kafka/topics.js';
import { testKafka, uniqueName } from './helpers.js';

const kafka = testKafka();
const created: string[] = [];

function names(prefix: string): TopicNames {
  const n = {
    observations: uniqueName(`${prefix}-obs`),
    flowState: uniqueName(`${prefix}-state`),
    deadLetter: uniqueName(`${prefix}-dlq`),
  };
  created.push(n.observations, n.flowState, n.deadLetter);
  return n;
}

async function createTopic(topic: string, numPartitions: number, config: Record<string, string> = {}) {
  await createTopics(kafka, [{ topic, numPartitions, config }]);
}

afterEach(async () => {
  await deleteTopics(kafka, created.splice(0));
});

describe('ensureTopics', () => {
  it('creates the three topics: input and compacted changelog with N partitions, dead letter with 1', async () => {
    const topics = names('t-create');
    const result = await ensureTopics(kafka, { topics, partitions: 4 });
    expect(result).toEqual({
      observations: { name: topics.observations, partitions: 4, created: true },
      flowState: { name: topics.flowState, partitions: 4, created: true },
      deadLetter: { name: topics.deadLetter, partitions: 1, created: true },
    });
    const counts = await topicPartitionCounts(kafka, Object.values(topics));
    expect(Object.fromEntries(counts)).toEqual({
      [topics.observations]: 4,
      [topics.flowState]: 4,
      [topics.deadLetter]: 1,
    });
    expect((await topicConfig(kafka, topics.flowState)).get('cleanup.policy')).toBe('compact');
    expect((await topicConfig(kafka, topics.observations)).get('cleanup.policy')).toBe('delete');
  });

  it('is idempotent: a second call creates nothing and keeps the counts, with or without --partitions', async () => {
    const topics = names('t-idem');
    await ensureTopics(kafka, { topics, partitions: 3 });
    const again = await ensureTopics(kafka, { topics, partitions: 3 });
    const implicit = await ensureTopics(kafka, { topics });
    for (const r of [again, implicit]) {
      expect([r.observations, r.flowState, r.deadLetter].map((t) => [t.partitions, t.created])).toEqual([
        [3, false],
        [3, false],
        [1, false],
      ]);
    }
  });

  it('creates a missing changelog with the partition count of the existing input topic', async () => {
    const topics = names('t-missing');
    await createTopic(topics.observations, 5);
    const result = await ensureTopics(kafka, { topics });
    expect(result.flowState).toEqual({ name: topics.flowState, partitions: 5, created: true });
    expect((await topicPartitionCounts(kafka, [topics.flowState])).get(topics.flowState)).toBe(5);
  });

  it('refuses a changelog whose partition count differs from the input, naming both counts', async () => {
    const topics = names('t-mismatch');
    await createTopic(topics.observations, 6);
    await createTopic(topics.flowState, 4, { 'cleanup.policy': 'compact' });
    const err = await ensureTopics(kafka, { topics }).catch((e: unknown) => e);
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect((err as Error).message).toContain(`input topic ${topics.observations} has 6 partitions`);
    expect((err as Error).message).toContain(`changelog ${topics.flowState} has 4`);
    // Nothing was created on the way (the dead-letter topic is checked first, created after).
    expect((await topicPartitionCounts(kafka, [topics.deadLetter])).has(topics.deadLetter)).toBe(false);
  });

  it('refuses a partition count other than the existing one', async () => {
    const topics = names('t-asked');
    await ensureTopics(kafka, { topics, partitions: 2 });
    const err = await ensureTopics(kafka, { topics, partitions: 8 }).catch((e: unknown) => e);
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect((err as Error).message).toContain(
      `${topics.observations} exists with 2 partitions but 8 were asked`,
    );
  });

  it('refuses a changelog that is not compacted', async () => {
    const topics = names('t-policy');
    await createTopic(topics.observations, 2);
    await createTopic(topics.flowState, 2);
    const err = await ensureTopics(kafka, { topics }).catch((e: unknown) => e);
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect((err as Error).message).toContain(`${topics.flowState} has cleanup.policy=delete`);
  });
});
