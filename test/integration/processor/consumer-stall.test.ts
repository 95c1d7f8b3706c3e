/**
 * Consumer liveness: a group consumer that stops handing out batches while its partitions hold unread input
 * (as kafkajs was seen to do after a broker restart) is restarted by the processor. The stall is made here
 * by pausing the processor's first consumer behind its back: to the processor that looks exactly like a
 * consumer that stopped fetching. Nothing may be lost, and the restart is counted.
 */
import { afterEach, expect, test } from 'vitest';
import { createGroupConsumer, type GroupConsumer } from '../../../src/kafka/consumer.js';
import { waitFor } from '../kafka/helpers.js';
import { ProcessorHarness } from './harness.js';
import { Workload } from './workload.js';

let harness: ProcessorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

test('a consumer that stops fetching with input unread is restarted: nothing lost, restart counted', async () => {
  const partitions = 2;
  harness = await ProcessorHarness.started(partitions);
  const h = harness;
  const topic = h.topics.observations;
  const workload = new Workload({ nodes: 2, flowsPerNode: 30, steps: 20 });
  const consumers: GroupConsumer[] = [];
  const p = await h.startProcessor(
    {},
    {
      // kafkajs fetches the input here: pausing its consumer is the stall.
      input: 'kafkajs',
      group: { stallTimeoutMs: 3000, livenessCheckMs: 250 },
      createConsumer: async (client, options) => {
        const c = await createGroupConsumer(client, options);
        consumers.push(c);
        return c;
      },
    },
  );
  await workload.write(h.producer, topic, partitions, 0, 8);
  await waitFor('records at the collector', () => h.collector.records.length > 0, 60_000);
  let firstPart = 0;
  for (let step = 0; step < 8; step++) firstPart += workload.messagesAt(step, partitions).length;
  await waitFor('the first part consumed', () => p.processor.stats().completed >= firstPart, 60_000);
  expect(consumers).toHaveLength(1);
  expect(p.processor.stats().consumerRestarts).toBe(0);

  // The first consumer stops handing out batches; the input goes on.
  consumers[0]!.pause(topic, [0, 1]);
  const stalledAt = p.processor.stats().completed;
  await workload.write(h.producer, topic, partitions, 8, 20);
  await h.producer.send(topic, workload.finalMessages(partitions));

  const problems = await h.settle(workload, 120_000);
  expect(problems).toEqual([]);
  const stats = p.processor.stats();
  expect(stats.consumerRestarts).toBe(1);
  expect(consumers).toHaveLength(2);
  expect(stats.completed).toBeGreaterThan(stalledAt);
  expect(h.collector.duplicates()).toBeLessThanOrEqual(stats.possibleDuplicates);
  // The processor kept its states over the restart (nobody else wrote their changelog partitions).
  expect(stats.keptAfterRebalance + stats.restores).toBeGreaterThanOrEqual(2);
});
