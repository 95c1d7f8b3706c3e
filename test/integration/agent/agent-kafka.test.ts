import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTopics, deleteTopics } from '../../../src/kafka/admin.js';
import { createKafka, parseBrokers } from '../../../src/kafka/client.js';
import { partitionForKey } from '../../../src/kafka/murmur2.js';
import { flowKey } from '../../../src/flow/key.js';
import type { Observation } from '../../../src/flow/types.js';
import { readConntrackTable } from '../../rig/conntrack-table.js';
import { createNetnsPair, RIG_ADDRESSES, sweepStaleNamespaces } from '../../rig/netns.js';
import { startTrafficAgent, type TrafficAgent } from '../../rig/traffic.js';
import { uniqueName } from '../kafka/helpers.js';
import { agentFor, type DecodedMessage, readTopic } from './kafka-agent.js';

/**
 * The agent role against a real Apache Kafka broker, reading a real conntrack table (issue 5, "Tests"):
 * observations decode with the schema, are keyed by flow key in the partition murmur2 gives that key,
 * watermarks reach every partition, and a broker outage loses nothing within the buffer bound while a
 * tiny bound drops, and counts, what does not fit.
 */

const PARTITIONS = 4;
const ROOT = join(import.meta.dirname, '..', '..', '..');
const run = promisify(execFile);
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
});

const observations = (msgs: DecodedMessage[]) =>
  msgs.flatMap((m) => (m.decoded.type === 'observation' ? [{ ...m, obs: m.decoded.value }] : []));

async function traffic(client: TrafficAgent, server: TrafficAgent, rounds: number) {
  const tcp = await server.tcpServer({ host: '::', port: 0, replyBytes: 700 });
  const udp = await server.udpServer({ host: '::', port: 0 });
  const done = [];
  for (let i = 0; i < rounds; i++) {
    done.push(
      client.tcpClient({
        host: RIG_ADDRESSES.peerV4,
        port: tcp.port,
        bytes: 300 + i,
        chunks: 1,
        intervalMs: 0,
      }),
      client.udpClient({ host: RIG_ADDRESSES.peerV6, port: udp.port, requests: 2, size: 40, intervalMs: 0 }),
    );
  }
  return Promise.all(done);
}

async function setup(brokers: string) {
  await sweepStaleNamespaces();
  const pair = await createNetnsPair({ acct: 1, timestamp: 1 });
  cleanups.push(() => pair.dispose());
  const client = await startTrafficAgent(pair.node);
  cleanups.push(() => client.dispose());
  const server = await startTrafficAgent(pair.peer);
  cleanups.push(() => server.dispose());
  const kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'agent-test' });
  const topic = uniqueName('agent-obs');
  await createTopics(kafka, [{ topic, numPartitions: PARTITIONS }]);
  cleanups.push(() => deleteTopics(kafka, [topic]));
  return { pair, client, server, kafka, topic };
}

describe('ctflow agent on a real broker', () => {
  it('publishes observations that decode, keyed by flow in murmur2 partitions, and watermarks to every partition', async () => {
    const { pair, client, server, kafka, topic } = await setup(inject('kafkaBrokers'));
    const agent = await agentFor(pair.node, inject('kafkaBrokers'), topic);
    cleanups.push(() => agent.stop());
    const made = await traffic(client, server, 10);
    await new Promise((r) => setTimeout(r, 2500)); // two polls
    const kernel = await readConntrackTable(pair.node);
    const stats = await agent.stop();
    expect(stats.dropped).toEqual({ buffer_full: 0, spool_full: 0, encode_error: 0, shutdown: 0 });

    const msgs = await readTopic(kafka, topic, (m) => observations(m).length >= stats.published);
    const obs = observations(msgs);
    expect(obs.length).toBe(agent.source.stats.observations);
    // Keyed by flow key, in the partition Kafka's Java client would pick for that key.
    const partitionOf = new Map<string, number>();
    for (const m of obs) {
      expect(m.key).toBe(flowKey(m.obs));
      expect(m.partition).toBe(partitionForKey(m.key!, PARTITIONS));
      expect(partitionOf.get(m.key!) ?? m.partition).toBe(m.partition);
      partitionOf.set(m.key!, m.partition);
    }
    // Every connection made is on the topic, its last counters the kernel's.
    for (const t of made) {
      const mine = obs.filter((m) => m.obs.orig.srcPort === t.localPort).map((m) => m.obs as Observation);
      expect(mine.length).toBeGreaterThan(0);
      const k = kernel.find((e) => e.sport === t.localPort)!;
      expect(mine.filter((o) => o.counters !== null).at(-1)!.counters).toEqual({
        origPackets: k.origPackets,
        origBytes: k.origBytes,
        replyPackets: k.replyPackets,
        replyBytes: k.replyBytes,
      });
    }
    // Watermarks on every partition, each partition's increasing.
    for (let p = 0; p < PARTITIONS; p++) {
      const wms = msgs.filter((m) => m.partition === p && m.decoded.type === 'watermark');
      expect(wms.length, `partition ${p}`).toBeGreaterThan(0);
      const times = wms.map((m) => m.decoded.value.timeUs);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
    }
  });

  it('loses nothing through a 30 s broker outage within its buffer, and counts what a tiny buffer drops', async () => {
    // A broker of its own (the shared one serves other tests), frozen for 30 s with SIGSTOP: clients
    // time out against it as against a dead host; SIGCONT brings it back with its data.
    const stateDir = await mkdtemp(join(tmpdir(), 'ctflow-agent-kafka-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const script = join(ROOT, 'scripts', 'kafka-local.sh');
    const { stdout } = await run(
      'bash',
      [script, 'start', '--state-dir', stateDir, '--watch-pid', String(process.pid)],
      {
        timeout: 120_000,
      },
    );
    cleanups.push(() => run('bash', [script, 'stop', '--state-dir', stateDir], { timeout: 60_000 }));
    const brokers = stdout.trim().split('\n').at(-1)!;
    const status = (await run('bash', [script, 'status', '--state-dir', stateDir])).stdout;
    const pid = Number(/pid (\d+)/.exec(status)?.[1]);
    expect(pid).toBeGreaterThan(0);
    cleanups.push(async () => process.kill(pid, 'SIGCONT'));

    const { pair, client, server, kafka, topic } = await setup(brokers);
    const roomy = await agentFor(pair.node, brokers, topic);
    cleanups.push(() => roomy.stop());
    const tinyTopic = uniqueName('agent-tiny');
    await createTopics(kafka, [{ topic: tinyTopic, numPartitions: PARTITIONS }]);
    const tiny = await agentFor(pair.node, brokers, tinyTopic, { maxEntries: 5 });
    cleanups.push(() => tiny.stop());
    await traffic(client, server, 3);
    await new Promise((r) => setTimeout(r, 1500));

    process.kill(pid, 'SIGSTOP');
    const outageStart = Date.now();
    // Traffic during the outage: observations pile up in the agents' buffers.
    for (let i = 0; i < 5; i++) {
      await traffic(client, server, 4);
      await new Promise((r) => setTimeout(r, 5000));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - outageStart))));
    const during = roomy.publisher.stats;
    expect(during.bufferedEntries).toBeGreaterThan(0);
    process.kill(pid, 'SIGCONT');
    await traffic(client, server, 2);
    await new Promise((r) => setTimeout(r, 2500));

    const roomyStats = await roomy.stop(60_000);
    const tinyStats = await tiny.stop(60_000);
    expect(roomyStats.dropped).toEqual({ buffer_full: 0, spool_full: 0, encode_error: 0, shutdown: 0 });
    expect(tinyStats.dropped.buffer_full).toBeGreaterThan(0);

    const roomyMsgs = observations(
      await readTopic(kafka, topic, (m) => observations(m).length >= roomyStats.published),
    );
    expect(roomyMsgs.length).toBe(roomy.source.stats.observations);
    const tinyMsgs = observations(
      await readTopic(kafka, tinyTopic, (m) => observations(m).length >= tinyStats.published),
    );
    // Everything the tiny agent observed is either on the topic or counted as dropped.
    expect(tinyMsgs.length + tinyStats.dropped.buffer_full + tinyStats.dropped.shutdown).toBe(
      tiny.source.stats.observations,
    );
    expect(tinyMsgs.length).toBeLessThan(tiny.source.stats.observations);
  });
});
