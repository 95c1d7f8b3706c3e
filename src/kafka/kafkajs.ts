/**
 * The one place that loads kafkajs (2.2.4, the last release): src/kafka imports it from here.
 *
 * Loading it here lets ctflow replace one internal helper before kafkajs requires it:
 * `producer/groupMessagesPerPartition.js` groups a produce request's messages per partition by spreading
 * the partition's array into a new one for every message (`[...current, message]`), so its cost and garbage
 * grow with the square of the messages to one partition: measured 4 µs per message at 1,000 messages,
 * 60 µs at 5,000, 8.4 s for one request of 20,000. The replacement gives the same result (messages in
 * order, keyed by the partition the partitioner chose) in linear time. If kafkajs was already loaded by
 * someone else (e.g. a tool importing it first), the original stays: slower, same result.
 */
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Kafkajs from 'kafkajs';
import { produceRequest } from './produce-encoding.js';

/** What kafkajs passes to groupMessagesPerPartition (producer/sendMessages.js). */
interface GroupArgs<M> {
  topic: string;
  partitionMetadata: readonly unknown[];
  messages: readonly M[];
  partitioner: (args: { topic: string; partitionMetadata: readonly unknown[]; message: M }) => number;
}

/** Linear-time groupMessagesPerPartition: { [partition]: messages in their order }. */
export function groupMessagesPerPartition<M>({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupArgs<M>): Record<number, M[]> {
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = result[partition];
    if (list === undefined) result[partition] = [message];
    else list.push(message);
  }
  return result;
}

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('kafkajs'));
const groupPath = join(root, 'src', 'producer', 'groupMessagesPerPartition.js');
const sendMessagesPath = join(root, 'src', 'producer', 'sendMessages.js');

/** Marks the replacement, whichever copy of this module (test isolation re-evaluates modules) installed it. */
const LINEAR = Symbol.for('ctflow.kafka.linearGrouping');

if (require.cache[sendMessagesPath] === undefined && require.cache[groupPath] === undefined) {
  const replacement = new Module(groupPath);
  replacement.filename = groupPath;
  replacement.loaded = true;
  replacement.exports = Object.assign((args: GroupArgs<unknown>) => groupMessagesPerPartition(args), {
    [LINEAR]: true,
  });
  require.cache[groupPath] = replacement;
}

/**
 * The Produce request encoder (kafkajs' produce/v3/request.js, which v4-v7 reuse) is replaced the same way by
 * produce-encoding.ts: the same bytes in one buffer per batch instead of an Encoder per record (~20 µs of CPU
 * per message before). CTFLOW_KAFKAJS_PRODUCE_ENCODER=kafkajs keeps kafkajs' own (for comparisons), and so
 * does a process that loaded kafkajs before this module.
 */
const produceV3Path = join(root, 'src', 'protocol', 'requests', 'produce', 'v3', 'request.js');
const OWN_PRODUCE = Symbol.for('ctflow.kafka.ownProduceEncoding');
// Not when kafkajs itself was loaded first (e.g. a bare-kafkajs baseline in a bench): it keeps its own, as
// with the grouping above.
if (
  require.cache[require.resolve('kafkajs')] === undefined &&
  require.cache[produceV3Path] === undefined &&
  process.env.CTFLOW_KAFKAJS_PRODUCE_ENCODER !== 'kafkajs'
) {
  const replacement = new Module(produceV3Path);
  replacement.filename = produceV3Path;
  replacement.loaded = true;
  replacement.exports = Object.assign((args: Parameters<typeof produceRequest>[0]) => produceRequest(args), {
    [OWN_PRODUCE]: true,
  });
  require.cache[produceV3Path] = replacement;
}

/** The kafkajs module. */
const kafkajs: typeof Kafkajs = require('kafkajs');
export default kafkajs;

/** True when kafkajs' producer groups with the linear function above (false: kafkajs was loaded first). */
export const linearProducerGrouping: boolean =
  (require.cache[groupPath]?.exports as Record<symbol, unknown> | undefined)?.[LINEAR] === true;

/** True when kafkajs' Produce requests are encoded by produce-encoding.ts (false: kafkajs' own encoder). */
export const ownProduceEncoding: boolean =
  (require.cache[produceV3Path]?.exports as Record<symbol, unknown> | undefined)?.[OWN_PRODUCE] === true;
