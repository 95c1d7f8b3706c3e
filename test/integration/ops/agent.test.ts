/**
 * The agent role's metrics and health over HTTP (issue 7): the real agent wiring (startAgent, as
 * `ctflow agent` runs it) reads the conntrack table of a network namespace with live traffic and
 * publishes to the test broker. Then the broker becomes unreachable (an iptables rule resets every
 * connection to its port): /readyz turns 503, the agent buffers, drops past its bound by reason, and
 * recovers when the broker is back. Finally the bounded stop.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, expect, inject, test } from 'vitest';
import { type AgentService, startAgent } from '../../../src/agent/agent.js';
import { parseConfig } from '../../../src/config/load.js';
import { deleteTopics } from '../../../src/kafka/admin.js';
import { ensureTopics } from '../../../src/kafka/topics.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import {
  createNetnsPair,
  inNetns,
  type NetnsPair,
  RIG_ADDRESSES,
  sweepStaleNamespaces,
} from '../../rig/netns.js';
import { startTrafficAgent, type TrafficAgent } from '../../rig/traffic.js';
import { testKafka, uniqueName } from '../kafka/helpers.js';
import { httpGet, type Samples, scrape, value } from './scrape.js';

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const admin = testKafka('ctflow-ops-agent-test');
const topics = (() => {
  const base = uniqueName('ctflow-ops-agent');
  return { observations: `${base}.observations`, flowState: `${base}.flowstate`, deadLetter: `${base}.dl` };
})();
const brokerPort = Number(inject('kafkaBrokers').split(',')[0]!.split(':').at(-1));
/** Resets every local TCP connection to the broker's port: Kafka unreachable for this machine's clients. */
const OUTAGE_RULE = [
  'OUTPUT',
  '-o',
  'lo',
  '-p',
  'tcp',
  '--dport',
  String(brokerPort),
  '-j',
  'REJECT',
  '--reject-with',
  'tcp-reset',
];

let pair: NetnsPair | undefined;
let client: TrafficAgent | undefined;
let server: TrafficAgent | undefined;
let agent: AgentService | undefined;
let outage = false;

afterAll(async () => {
  if (outage) await exec('iptables', ['-D', ...OUTAGE_RULE]).catch(() => {});
  await agent?.stop(2000).catch(() => {});
  await client?.dispose();
  await server?.dispose();
  await pair?.dispose();
  await deleteTopics(admin, [topics.observations, topics.flowState, topics.deadLetter]).catch(() => {});
});

async function until(what: string, base: string, pred: (s: Samples, ready: number) => boolean, ms: number) {
  const end = Date.now() + ms;
  for (;;) {
    const s = await scrape(base);
    const ready = (await httpGet(`${base}/readyz`)).status;
    if (pred(s, ready)) return { s, ready };
    if (Date.now() > end) {
      const shown = [...s].filter(([k]) => /ctflow_(kafka|ready|observations)/.test(k));
      throw new Error(`timed out waiting for ${what}: readyz ${ready}, ${JSON.stringify(shown)}`);
    }
    await sleep(300);
  }
}

test('ctflow agent: metrics move, /readyz follows Kafka, drops counted by reason, bounded stop', async () => {
  await sweepStaleNamespaces();
  await ensureTopics(admin, { topics, partitions: 2, replicationFactor: 1 });
  pair = await createNetnsPair({ acct: 1, timestamp: 1 });
  [client, server] = await Promise.all([startTrafficAgent(pair.node), startTrafficAgent(pair.peer)]);
  const config = parseConfig({
    node: { name: 'ops-agent' },
    kafka: { brokers: [inject('kafkaBrokers')], topics: { observations: topics.observations } },
    conntrack: { pollInterval: 1 },
    agent: { watermarkInterval: 1, buffer: { maxEntries: 100 } },
    metrics: { listen: '127.0.0.1:0' },
  });
  // The outage makes kafkajs log connection errors by design: only fatal lines.
  const log = createLogger({ level: 'fatal', format: 'json' });
  agent = await startAgent(config, log, { commandPrefix: inNetns(pair.node, []), version: '0.1.0' });
  const base = agent.telemetry!.url;
  expect((await httpGet(`${base}/healthz`)).status).toBe(200);

  const tcp = await server.tcpServer({ host: '0.0.0.0', port: 0, replyBytes: 1000 });
  const udp = await server.udpServer({ host: '0.0.0.0', port: 0 });
  const peer = RIG_ADDRESSES.peerV4;
  const burst = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await client!.tcpClient({ host: peer, port: tcp.port, bytes: 800, chunks: 1, intervalMs: 0 });
      await sleep(20);
    }
  };
  await Promise.all([
    burst(20),
    client.udpClient({ host: peer, port: udp.port, requests: 20, size: 100, intervalMs: 100 }),
  ]);
  // Closed TCP entries linger in TIME_WAIT for minutes: delete the UDP entries for a DESTROY now.
  await pair.exec(pair.node, ['conntrack', '-D', '-p', 'udp'], { allowFailure: true });

  // Connected: observations read by kind, polls, published, watermarks; ready.
  const up = await until(
    'observations published',
    base,
    (s) =>
      value(s, 'ctflow_observations_published_total') >= 60 &&
      value(s, 'ctflow_poll_duration_seconds_count') >= 2 &&
      value(s, 'ctflow_observations_read_total{kind="DESTROY"}') > 0,
    30_000,
  );
  expect(up.ready).toBe(200);
  for (const kind of ['NEW', 'UPDATE', 'DESTROY', 'POLL'])
    expect(value(up.s, `ctflow_observations_read_total{kind="${kind}"}`), kind).toBeGreaterThan(0);
  expect(value(up.s, 'ctflow_watermarks_published_total')).toBeGreaterThan(0);
  expect(value(up.s, 'ctflow_kernel_prerequisite{name="nf_conntrack_acct"}')).toBe(1);
  expect(value(up.s, 'ctflow_kernel_prerequisite{name="nf_conntrack_timestamp"}')).toBe(1);
  expect(value(up.s, 'ctflow_kernel_prerequisite{name="conntrack_binary"}')).toBe(1);
  expect(value(up.s, 'ctflow_kafka_connected')).toBe(1);
  // Only what is in flight is buffered while connected.
  expect(value(up.s, 'ctflow_observations_buffered')).toBeLessThan(100);
  expect(value(up.s, 'ctflow_build_info{role="agent",version="0.1.0"}')).toBe(1);

  // Kafka unreachable: not ready, buffering, and past 100 buffered observations dropped (buffer_full).
  await exec('iptables', ['-I', ...OUTAGE_RULE]);
  outage = true;
  await burst(60);
  const down = await until(
    'the agent to notice Kafka is unreachable',
    base,
    (s, ready) =>
      ready === 503 &&
      value(s, 'ctflow_kafka_connected') === 0 &&
      value(s, 'ctflow_observations_dropped_total{reason="buffer_full"}') > 0,
    60_000,
  );
  expect(value(down.s, 'ctflow_ready')).toBe(0);
  expect(value(down.s, 'ctflow_observations_buffered')).toBeGreaterThan(0);
  expect(value(down.s, 'ctflow_observations_buffered')).toBeLessThanOrEqual(100);
  expect(value(down.s, 'ctflow_observations_buffered_bytes{store="memory"}')).toBeGreaterThan(0);
  const readyText = (await httpGet(`${base}/readyz`)).body;
  expect(readyText).toContain('Kafka unreachable');

  // Back: ready again, the buffer drains into Kafka.
  await exec('iptables', ['-D', ...OUTAGE_RULE]);
  outage = false;
  const back = await until(
    'the agent to publish its buffer',
    base,
    (s, ready) =>
      ready === 200 &&
      value(s, 'ctflow_kafka_connected') === 1 &&
      value(s, 'ctflow_observations_buffered') === 0,
    90_000,
  );
  expect(value(back.s, 'ctflow_observations_published_total')).toBeGreaterThan(
    value(down.s, 'ctflow_observations_published_total'),
  );

  const started = performance.now();
  const stats = await agent.stop(10_000);
  const ms = performance.now() - started;
  agent = undefined;
  process.stderr.write(
    `agent: stop took ${ms.toFixed(0)} ms, ${stats.published} published, dropped ${JSON.stringify(stats.dropped)}\n`,
  );
  expect(ms).toBeLessThan(10_000);
});
