/**
 * Agent publishing benchmark on a real broker (KAFKA_BROKERS, else the local KRaft broker): the same
 * encoded observations sent (1) by a bare kafkajs producer (idempotent, acks=all, GZIP, keyed with
 * the Java-compatible partitioner, batches of the same size) and (2) through the agent's Publisher
 * (encoding included, bounded buffer, watermarks off), in the same process, alternating rounds.
 * Reports messages/s of each and the ratio publisher / bare (goal ≥ 0.8).
 *
 *   node --import tsx bench/agent-publish.ts [--messages 100000] [--rounds 3]
 */
import kafkajs from 'kafkajs';
import { Publisher } from '../src/agent/publisher.js';
import { AvroCodec } from '../src/codec/avro-codec.js';
import { flowKey } from '../src/flow/key.js';
import type { Observation } from '../src/flow/types.js';
import { deleteTopics } from '../src/kafka/admin.js';
import { createKafka, parseBrokers } from '../src/kafka/client.js';
import { createProducer } from '../src/kafka/producer.js';
import { ensureTopics } from '../src/kafka/topics.js';
import { startTestKafka } from '../test/rig/kafka-broker.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}
const MESSAGES = arg('messages', 100_000);
const ROUNDS = arg('rounds', 3);
const BATCH = 1000;
const PARTITIONS = 6;

function observation(i: number): Observation {
  const port = 1024 + (i % 60_000);
  const host = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return {
    node: 'bench-node-1',
    bootId: '6f1c0a9e-1b7d-4c55-9d0e-3f6a2b1c4d5e',
    kind: 'POLL',
    timeUs: 1_790_000_000_000_000 + i,
    conntrackId: i,
    zone: 0,
    family: 'IPV4',
    protocol: 6,
    orig: {
      src: host,
      dst: '10.250.0.1',
      srcPort: port,
      dstPort: 443,
      icmpType: null,
      icmpCode: null,
      icmpId: null,
    },
    reply: {
      src: '10.250.0.1',
      dst: host,
      srcPort: 443,
      dstPort: port,
      icmpType: null,
      icmpCode: null,
      icmpId: null,
    },
    tcpState: 'ESTABLISHED',
    status: 14,
    mark: 0,
    counters: { origPackets: i, origBytes: i * 1400, replyPackets: i, replyBytes: i * 90 },
    kernelStartUs: 1_789_999_999_000_000,
    kernelStopUs: null,
  };
}

const kafka = await startTestKafka();
const brokers = parseBrokers(kafka.brokers);
const client = createKafka({ brokers, clientId: 'bench-agent' });
const topic = `bench.agent.${process.pid}`;
await ensureTopics(client, {
  topics: { observations: topic, flowState: `${topic}.state`, deadLetter: `${topic}.dlq` },
  partitions: PARTITIONS,
});

const codec = new AvroCodec();
const observations = Array.from({ length: MESSAGES }, (_, i) => observation(i));
const encoded = observations.map((o) => ({
  key: Buffer.from(flowKey(o)),
  value: Buffer.from(codec.encodeObservation(o)),
}));
const bytes = encoded.reduce((s, m) => s + m.key.length + m.value.length, 0);

// Baseline: kafkajs itself, same settings as the agent's producer.
const bare = new kafkajs.Kafka({ brokers, clientId: 'bench-bare', logLevel: kafkajs.logLevel.NOTHING });
const bareProducer = bare.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
});
await bareProducer.connect();
async function runBare(): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < encoded.length; i += BATCH) {
    await bareProducer.send({
      topic,
      acks: -1,
      compression: kafkajs.CompressionTypes.GZIP,
      messages: encoded.slice(i, i + BATCH),
    });
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const producer = await createProducer(client);
async function runPublisher(): Promise<number> {
  const t0 = process.hrtime.bigint();
  const p = new Publisher(producer, codec, {
    topic,
    partitions: PARTITIONS,
    maxEntries: MESSAGES + 1,
    maxBytes: 1 << 30,
    watermarkIntervalMs: 1000,
    batchMessages: BATCH,
  });
  for (const o of observations) p.observation(o);
  const stats = await p.close(600_000);
  if (stats.published !== MESSAGES) throw new Error(`published ${stats.published} of ${MESSAGES}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const bareTimes: number[] = [];
const pubTimes: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  bareTimes.push(await runBare());
  pubTimes.push(await runPublisher());
}
const best = (xs: number[]) => Math.min(...xs);
const bareRate = MESSAGES / best(bareTimes);
const pubRate = MESSAGES / best(pubTimes);
console.log(
  JSON.stringify(
    {
      messages: MESSAGES,
      avgMessageBytes: Math.round(bytes / MESSAGES),
      bareMessagesPerS: Math.round(bareRate),
      publisherMessagesPerS: Math.round(pubRate),
      ratio: Number((pubRate / bareRate).toFixed(2)),
      bareSeconds: bareTimes.map((t) => Number(t.toFixed(2))),
      publisherSeconds: pubTimes.map((t) => Number(t.toFixed(2))),
    },
    null,
    2,
  ),
);
await bareProducer.disconnect();
await producer.disconnect();
await deleteTopics(client, [topic, `${topic}.state`, `${topic}.dlq`]).catch(() => {});
await kafka.stop();
