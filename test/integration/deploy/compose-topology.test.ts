/**
 * The docker-compose.yml topology without Docker: the `topics`, `collector` and `processor` services run
 * as the file defines them (their commands, deploy/compose/config.yaml, the processor's replica count),
 * as processes on this machine, against the test broker. Synthetic agent traffic goes in; the collector
 * service must print every flow's records with counters that add up.
 *
 * Overridden, because one machine is not a compose network: the broker address, the collector and
 * metrics listen addresses (replicas cannot share port 9464 here), and per-test topic and group names.
 * The agent service is not run: it reads the host's conntrack table (test/integration/conntrack covers it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/index.js';
import { deleteGroups, deleteTopics } from '../../../src/kafka/admin.js';
import { createProducer } from '../../../src/kafka/producer.js';
import { testKafka, uniqueName, waitFor } from '../kafka/helpers.js';
import { Workload } from '../processor/workload.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'bin/ctflow.js');
const CONTAINER_CONFIG = '/etc/ctflow/config.yaml';

interface Service {
  command: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};

function service(name: string): Service {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

/** The service's command with the container path of its config file replaced by the repository file. */
function commandOf(name: string): string[] {
  const s = service(name);
  const mount = (s.volumes ?? []).find((v) => v.split(':')[1] === CONTAINER_CONFIG);
  const file = mount ? join(ROOT, mount.split(':')[0] ?? '') : CONTAINER_CONFIG;
  return s.command.map((a) => (a === CONTAINER_CONFIG ? file : a));
}

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

const kafka = testKafka();
const names = {
  observations: uniqueName('compose-obs'),
  flowstate: uniqueName('compose-state'),
  deadLetter: uniqueName('compose-dlq'),
  group: uniqueName('compose-group'),
};
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(
    children.map((c) =>
      c.exitCode === null ? new Promise((resolve) => c.once('exit', resolve)) : undefined,
    ),
  );
  await deleteTopics(kafka, [names.observations, names.flowstate, names.deadLetter]).catch(() => {});
  await deleteGroups(kafka, [names.group]).catch(() => {});
}, 60_000);

describe('docker-compose.yml topology (topics, processors, collector) as processes', () => {
  it('creates the topics, gets both processors ready and prints every flow at the collector', async () => {
    const udpPort = await freeUdpPort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      CTFLOW_CONFIG: '',
      CTFLOW_KAFKA__BROKERS: inject('kafkaBrokers'),
      CTFLOW_KAFKA__TOPICS__OBSERVATIONS: names.observations,
      CTFLOW_KAFKA__TOPICS__FLOWSTATE: names.flowstate,
      CTFLOW_KAFKA__TOPICS__DEAD_LETTER: names.deadLetter,
      CTFLOW_PROCESSOR__GROUP_ID: names.group,
      CTFLOW_IPFIX__COLLECTORS: `udp://127.0.0.1:${udpPort}`,
      // Short flow timers, so the synthetic flows end within the test.
      CTFLOW_FLOW__IDLE_TIMEOUT: '5',
      CTFLOW_FLOW__ACTIVE_TIMEOUT: '10',
    };

    // topics: a one-shot service, exit status 0.
    const topics = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...commandOf('topics')],
        { env, timeout: 90_000 },
        (err, _out, stderr) => {
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr });
        },
      );
    });
    expect(topics.stderr).toBe('');
    expect(topics.code).toBe(0);

    // collector: its own --listen, on a port of this machine.
    const collectArgs = commandOf('collector');
    collectArgs[collectArgs.indexOf('--listen') + 1] = `udp://127.0.0.1:${udpPort}`;
    const collector = spawn(process.execPath, [BIN, ...collectArgs], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(collector);
    let printed = '';
    collector.stdout?.on('data', (d: Buffer) => {
      printed += d.toString();
    });

    // processors: as many as deploy.replicas, each with its own metrics port.
    const replicas = service('processor').deploy?.replicas ?? 1;
    expect(replicas).toBe(2);
    const metricsUrls: string[] = [];
    for (let i = 0; i < replicas; i++) {
      const port = await freeTcpPort();
      metricsUrls.push(`http://127.0.0.1:${port}`);
      const child = spawn(process.execPath, [BIN, ...commandOf('processor')], {
        env: { ...env, CTFLOW_METRICS__LISTEN: `127.0.0.1:${port}` },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      children.push(child);
    }
    const status = async (url: string): Promise<number> => {
      try {
        return (await fetch(url)).status;
      } catch {
        return 0;
      }
    };
    const deadline = Date.now() + 90_000;
    const notReady = async () =>
      (await Promise.all(metricsUrls.map((u) => status(`${u}/readyz`)))).some((s) => s !== 200);
    while ((await notReady()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await Promise.all(metricsUrls.map((u) => status(`${u}/readyz`)))).toEqual(
      metricsUrls.map(() => 200),
    );
    for (const url of metricsUrls) expect(await status(`${url}/healthz`)).toBe(200);

    // Synthetic agent traffic, as the agent service would publish it.
    const config = loadConfig({ file: commandOf('processor')[2] ?? '', env: env as Record<string, string> });
    const partitions = config.kafka.partitions;
    const workload = new Workload({
      nodes: 2,
      flowsPerNode: 5,
      steps: 12,
      startUs: (Date.now() - 600_000) * 1000,
    });
    const producer = await createProducer(kafka, { lingerMs: 2 });
    try {
      await workload.write(producer, names.observations, partitions, 0, workload.shape.steps);
      await producer.send(names.observations, workload.finalMessages(partitions));
    } finally {
      await producer.disconnect();
    }

    // Every flow's records at the collector, adding up to the flow's final counters.
    const truth = workload.truth();
    const totals = () => {
      const sums = new Map<string, number>();
      for (const line of printed.split('\n')) {
        if (line.trim() === '') continue;
        const r = JSON.parse(line) as Record<string, unknown>;
        const id = `${r['sourceIPv4Address']}|${r['sourceTransportPort']}|${r['destinationIPv4Address']}|${r['destinationTransportPort']}|${r['protocolIdentifier']}`;
        sums.set(id, (sums.get(id) ?? 0) + Number(r['packetDeltaCount'] ?? 0));
      }
      return sums;
    };
    const complete = () => [...truth].every(([id, c]) => totals().get(id) === c.origPackets);
    await waitFor('the collector service to print every flow', complete, 90_000).catch(() => {});
    const got = totals();
    expect(
      [...truth]
        .filter(([id, c]) => got.get(id) !== c.origPackets)
        .map(([id, c]) => `${id}: ${got.get(id)} != ${c.origPackets}`),
    ).toEqual([]);
  }, 300_000);
});
