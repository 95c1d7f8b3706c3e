/**
 * The topics ctflow needs, created or checked in one idempotent call:
 * - observations: the agents' input, keyed by flow key;
 * - flow state: the processors' changelog, compacted, partitioned exactly like the input (a processor
 *   restores partition p's state from changelog partition p, so the counts must match);
 * - dead letter: messages that could not be decoded, with the reason.
 */
import { CtflowError } from '../errors.js';
import { createTopics, type NewTopic, topicConfig, topicPartitionCounts } from './admin.js';
import type { KafkaClient } from './client.js';

/** Names of ctflow's topics. */
export interface TopicNames {
  observations: string;
  flowState: string;
  deadLetter: string;
}

/** The default topic names. */
export const DEFAULT_TOPIC_NAMES: Readonly<TopicNames> = Object.freeze({
  observations: 'ctflow.observations',
  flowState: 'ctflow.flowstate',
  deadLetter: 'ctflow.deadletter',
});

/** Partition count used when neither the caller nor an existing topic decides it (as kafka.partitions). */
export const DEFAULT_PARTITIONS = 12;

/** What ensureTopics should create or check. */
export interface EnsureTopicsOptions {
  /** Topic names; each one not given takes its default. */
  topics?: Partial<TopicNames>;
  /**
   * Partitions of the observations and flow-state topics. When omitted, an existing topic's count is kept,
   * else DEFAULT_PARTITIONS. When given and an existing topic has another count, the call is refused.
   */
  partitions?: number;
  /** Partitions of new observations/flow-state topics when `partitions` is not given. Default DEFAULT_PARTITIONS. */
  defaultPartitions?: number;
  /** Partitions of a new dead-letter topic. Default 1. An existing one is left as it is. */
  deadLetterPartitions?: number;
  /** Replication factor of new topics. Default: the broker's default.replication.factor. */
  replicationFactor?: number;
  /** Extra topic configs for a new observations topic (e.g. retention.ms). */
  observationsConfig?: Record<string, string>;
  /** Extra topic configs for a new flow-state topic; cleanup.policy is always compact. */
  flowStateConfig?: Record<string, string>;
  /** Extra topic configs for a new dead-letter topic. */
  deadLetterConfig?: Record<string, string>;
}

/** What ensureTopics found or made for one topic. */
export interface TopicState {
  name: string;
  partitions: number;
  /** True when this call created it. */
  created: boolean;
}

/** The three topics after ensureTopics. */
export interface EnsuredTopics {
  observations: TopicState;
  flowState: TopicState;
  deadLetter: TopicState;
}

function positiveInt(value: number | undefined, field: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new CtflowError('CONFIG_INVALID', `${field} must be a positive integer, got ${value}`, {
      details: { field, value, expected: 'integer >= 1' },
    });
  }
}

/**
 * Decides the partition count of the observations and flow-state topics from what was asked and what
 * exists, or throws (pure; exported for unit tests).
 */
export function planPartitions(
  names: TopicNames,
  asked: number | undefined,
  existing: ReadonlyMap<string, number>,
  fallback: number = DEFAULT_PARTITIONS,
): number {
  const obs = existing.get(names.observations);
  const state = existing.get(names.flowState);
  if (obs !== undefined && state !== undefined && obs !== state) {
    throw new CtflowError(
      'KAFKA',
      `partition count mismatch: input topic ${names.observations} has ${obs} partitions but changelog ${names.flowState} has ${state}; ` +
        'they must be equal because a processor restores partition p from changelog partition p. ' +
        `Recreate ${names.flowState} with ${obs} partitions (its state is rebuilt from new input) or use another state topic.`,
      {
        details: {
          observationsTopic: names.observations,
          observationsPartitions: obs,
          flowStateTopic: names.flowState,
          flowStatePartitions: state,
        },
      },
    );
  }
  const found = obs ?? state;
  if (asked !== undefined && found !== undefined && asked !== found) {
    const which = obs !== undefined ? names.observations : names.flowState;
    throw new CtflowError(
      'KAFKA',
      `partition count mismatch: ${which} exists with ${found} partitions but ${asked} were asked; ` +
        'changing it would move flows to other partitions and split their state. ' +
        `Ask for ${found} partitions, or use new topic names.`,
      { details: { topic: which, existingPartitions: found, askedPartitions: asked } },
    );
  }
  return asked ?? found ?? fallback;
}

/**
 * Creates the missing topics and checks the existing ones. Idempotent: a second call with the same
 * options changes nothing. Refuses (CtflowError KAFKA) a partition-count mismatch between input and
 * changelog, a count other than the one asked, and a changelog that is not compacted.
 */
export async function ensureTopics(
  client: KafkaClient,
  options: EnsureTopicsOptions = {},
): Promise<EnsuredTopics> {
  const names: TopicNames = { ...DEFAULT_TOPIC_NAMES, ...options.topics };
  positiveInt(options.partitions, 'partitions');
  positiveInt(options.defaultPartitions, 'defaultPartitions');
  positiveInt(options.deadLetterPartitions, 'deadLetterPartitions');
  if (new Set([names.observations, names.flowState, names.deadLetter]).size !== 3) {
    throw new CtflowError(
      'CONFIG_INVALID',
      'the observations, flow-state and dead-letter topics must be distinct',
      {
        details: { field: 'topics', value: names, expected: 'three different names' },
      },
    );
  }

  const existing = await topicPartitionCounts(client, [
    names.observations,
    names.flowState,
    names.deadLetter,
  ]);
  const partitions = planPartitions(names, options.partitions, existing, options.defaultPartitions);
  if (existing.has(names.flowState)) {
    const policy = (await topicConfig(client, names.flowState)).get('cleanup.policy') ?? '';
    if (!policy.split(',').includes('compact')) {
      throw new CtflowError(
        'KAFKA',
        `changelog topic ${names.flowState} has cleanup.policy=${policy || '(unset)'}; it must include "compact" or flow state is lost when old segments are deleted`,
        { details: { topic: names.flowState, field: 'cleanup.policy', value: policy, expected: 'compact' } },
      );
    }
  }

  const common =
    options.replicationFactor === undefined ? {} : { replicationFactor: options.replicationFactor };
  const toCreate: NewTopic[] = [];
  if (!existing.has(names.observations)) {
    toCreate.push({
      topic: names.observations,
      numPartitions: partitions,
      ...common,
      config: { ...options.observationsConfig },
    });
  }
  if (!existing.has(names.flowState)) {
    toCreate.push({
      topic: names.flowState,
      numPartitions: partitions,
      ...common,
      config: { ...options.flowStateConfig, 'cleanup.policy': 'compact' },
    });
  }
  const deadLetterPartitions = existing.get(names.deadLetter) ?? options.deadLetterPartitions ?? 1;
  if (!existing.has(names.deadLetter)) {
    toCreate.push({
      topic: names.deadLetter,
      numPartitions: deadLetterPartitions,
      ...common,
      config: { ...options.deadLetterConfig },
    });
  }

  // A topic another process created meanwhile is not created again (and not reported as created here).
  const created = new Set(await createTopics(client, toCreate));
  if (toCreate.length > 0) {
    // ... but it may have another partition count: check the result.
    planPartitions(
      names,
      partitions,
      await topicPartitionCounts(client, [names.observations, names.flowState]),
    );
  }

  return {
    observations: { name: names.observations, partitions, created: created.has(names.observations) },
    flowState: { name: names.flowState, partitions, created: created.has(names.flowState) },
    deadLetter: {
      name: names.deadLetter,
      partitions: deadLetterPartitions,
      created: created.has(names.deadLetter),
    },
  };
}
