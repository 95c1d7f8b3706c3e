/**
 * Shared pieces of the agent-with-Kafka tests: an agent reading a namespace's conntrack table and
 * publishing to a topic, and a reader of everything on that topic, decoded with the Avro codec.
 */
import { type AgentService, startAgent } from '../../../src/agent/agent.js';
import { AvroCodec, type Decoded } from '../../../src/codec/avro-codec.js';
import { parseConfig } from '../../../src/config/load.js';
import { createGroupConsumer } from '../../../src/kafka/consumer.js';
import type { KafkaClient } from '../../../src/kafka/client.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { inNetns } from '../../rig/netns.js';
import { uniqueName, waitFor } from '../kafka/helpers.js';

/** Starts an agent on namespace `ns`'s table, publishing to `topic` on `brokers`. */
export function agentFor(
  ns: string,
  brokers: string,
  topic: string,
  buffer: { maxEntries?: number } = {},
): Promise<AgentService> {
  const config = parseConfig(
    {
      node: { name: uniqueName('agent') },
      kafka: { brokers: brokers.split(','), topics: { observations: topic } },
      conntrack: { pollInterval: 1 },
      agent: { watermarkInterval: 0.5, buffer },
      metrics: { enabled: false },
      log: { level: 'error' },
    },
    'agent',
  );
  const log = createLogger({ level: 'fatal', format: 'json', base: { role: 'agent-test' } });
  return startAgent(config, log, { commandPrefix: inNetns(ns, []) });
}

/** One message of the topic, decoded. */
export interface DecodedMessage {
  partition: number;
  key: string | null;
  decoded: Decoded;
}

/** Reads `topic` from the beginning until `done` holds for what was read (or the timeout). */
export async function readTopic(
  client: KafkaClient,
  topic: string,
  done: (msgs: DecodedMessage[]) => boolean,
  timeoutMs = 60_000,
): Promise<DecodedMessage[]> {
  const codec = new AvroCodec();
  const msgs: DecodedMessage[] = [];
  const consumer = await createGroupConsumer(client, {
    groupId: uniqueName('agent-read'),
    topics: [topic],
    fromBeginning: true,
  });
  try {
    await consumer.run(async (batch) => {
      for (const m of batch.messages as ConsumedMessage[]) {
        if (m.value === null) continue;
        msgs.push({
          partition: m.partition,
          key: m.key?.toString() ?? null,
          decoded: codec.decode(m.value, `${topic}/${m.partition}@${m.offset}`),
        });
      }
    });
    await waitFor(`messages of ${topic}`, () => done(msgs), timeoutMs);
  } finally {
    await consumer.disconnect();
  }
  return msgs;
}
