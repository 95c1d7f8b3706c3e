/**
 * Replay: `ctflow replay --from earliest` re-derives exactly the live run's data records (every field but
 * the message header's export time and sequence number), and time bounds select the offsets whose record
 * timestamps fall in the range.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, inject, test } from 'vitest';
import { fetchEndOffsets } from '../../../src/kafka/offsets.js';
import { replayRanges } from '../../../src/processor/replay.js';
import { TestCollector } from './collector.js';
import { ProcessorHarness, TEST_FLOW_CONFIG } from './harness.js';
import { Workload } from './workload.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let harness: ProcessorHarness | undefined;
const extra: TestCollector[] = [];

afterEach(async () => {
  for (const c of extra.splice(0)) await c.close();
  await harness?.close();
  harness = undefined;
});

function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/ctflow.js', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CTFLOW_CONFIG: '' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

const recordKey = (r: { domain: number; fields: Record<string, string> }) =>
  JSON.stringify([r.domain, Object.entries(r.fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);

test('ctflow replay --from earliest gives the same data records as the live run', async () => {
  const partitions = 3;
  harness = await ProcessorHarness.started(partitions);
  const h = harness;
  const topic = h.topics.observations;
  const workload = new Workload({
    nodes: 2,
    flowsPerNode: 40,
    steps: 30,
  });
  await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 0, 30, 5);
  await h.producer.send(topic, workload.finalMessages(partitions));
  expect(await h.settle(workload)).toEqual([]);
  const live = h.collector.records.map(recordKey).sort();

  const replayCollector = new TestCollector();
  extra.push(replayCollector);
  const url = await replayCollector.start();
  const { code, stderr } = await runCli([
    'replay',
    '--brokers',
    inject('kafkaBrokers'),
    '--from',
    'earliest',
    '--collector',
    url,
    '--observations-topic',
    topic,
    '--active-timeout',
    String(TEST_FLOW_CONFIG.activeTimeout),
    '--idle-timeout',
    String(TEST_FLOW_CONFIG.idleTimeout),
  ]);
  expect(code, stderr).toBe(0);
  // Plain progress lines when stderr is not a terminal.
  expect(stderr).toMatch(/replay: \d+\/\d+ offsets \(100\.0%\)/);
  const replayed = replayCollector.records.map(recordKey).sort();
  expect(replayed.length).toBe(live.length);
  expect(replayed).toEqual(live);

  // Time bounds: record timestamps are event times, so [step 10, step 20) selects those steps' messages.
  const fromMs = workload.timeOf(10) / 1000;
  const toMs = workload.timeOf(20) / 1000;
  const ranges = await replayRanges(h.client, topic, fromMs, toMs);
  const all = await fetchEndOffsets(h.client, topic);
  let selected = 0;
  for (const r of ranges) {
    expect(r.from).toBeGreaterThan(0);
    expect(r.to).toBeLessThan(all.find((a) => a.partition === r.partition)!.high);
    selected += r.to - r.from;
  }
  let expected = 0;
  for (let s = 10; s < 20; s++) expected += workload.messagesAt(s, partitions).length;
  expect(selected).toBe(expected);
});
