/**
 * Broker restart mid-stream: a dedicated broker (scripts/kafka-local.sh; the shared one serves other tests)
 * is stopped while the synthetic agent writes and a processor works, then started again on the same port
 * and data dir (`stop --keep-data`, then `start`). The agent's producer and the processor wait and go on:
 * no byte is lost; records re-derived after a failed batch are counted as possible duplicates.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { waitFor } from '../kafka/helpers.js';
import { compareTotals } from './collector.js';
import { ProcessorHarness } from './harness.js';
import { Workload } from './workload.js';

const SCRIPT = fileURLToPath(new URL('../../../scripts/kafka-local.sh', import.meta.url));
const stateDir = mkdtempSync(join(tmpdir(), 'ctflow-broker-restart-'));
let harness: ProcessorHarness | undefined;

/** Runs a kafka-local.sh command for this test's broker; resolves with its stdout. */
function kafkaLocal(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args, '--state-dir', stateDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`kafka-local.sh ${args[0]}: ${err.trim()}`)),
    );
  });
}

let brokers = '';

beforeAll(async () => {
  brokers = await kafkaLocal('start', '--timeout', '150', '--watch-pid', String(process.pid));
});

afterAll(async () => {
  await harness?.close();
  await kafkaLocal('stop').catch(() => {});
  rmSync(stateDir, { recursive: true, force: true });
});

// In ~2 of 3 full-suite runs (2026-11-26) kafkajs stopped fetching for good after the restart (no error, no
// rebalance); the processor's consumer liveness check (src/processor/liveness.ts) now restarts such a consumer.
// The test asserts that input is processed again within a bound that a stalled kafkajs consumer never meets
// (it used to stay stalled past 120 s), and prints whether a restart was needed. When flows are missing it
// prints the processor's stats and exporter counts (CTFLOW_TEST_LOG=FILE adds its logs).
test('broker restart mid-stream: nothing lost, repeats only from failed batches and counted', {
  timeout: 420_000,
}, async () => {
  const partitions = 2;
  harness = await ProcessorHarness.started(partitions, brokers);
  const h = harness;
  const topic = h.topics.observations;
  const workload = new Workload({
    nodes: 2,
    flowsPerNode: 40,
    steps: 30,
  });
  const p = await h.startProcessor();
  await workload.write(h.producer, topic, partitions, 0, 10);
  await waitFor('records at the collector', () => h.collector.records.length > 0, 60_000);

  // The agent keeps writing through the outage (its sends wait for the broker).
  const writing = workload.write(h.producer, topic, partitions, 10, 30, 200);
  writing.catch(() => {}); // awaited below; a failure must not be reported before that
  await new Promise((r) => setTimeout(r, 500));
  await kafkaLocal('stop', '--keep-data');
  const down = h.collector.records.length;
  const completedDown = p.processor.stats().completed;
  await new Promise((r) => setTimeout(r, 2000));
  expect(await kafkaLocal('start', '--timeout', '150')).toBe(brokers);
  const upAt = Date.now();
  // Input is processed again: kafkajs recovers by itself, or the liveness check restarts it (at most its stall
  // time of 3 × 100 ms + 10 s after kafkajs' last crash, a check interval, a session timeout to rejoin).
  let resumeMs = -1;
  const resumed = waitFor(
    'input processed after the restart',
    () => p.processor.stats().completed > completedDown,
    60_000,
  ).then(() => {
    resumeMs = Date.now() - upAt;
  });
  resumed.catch(() => {}); // awaited below
  await writing;
  await resumed;
  await h.producer.send(topic, workload.finalMessages(partitions));

  await waitFor(
    'every flow at the collector',
    () => compareTotals(workload.truth(), h.collector.dedupedTotals()).length === 0,
    120_000,
  ).catch(() => {});
  const problems = compareTotals(workload.truth(), h.collector.dedupedTotals());
  if (problems.length > 0) {
    process.stderr.write(
      `broker restart: ${problems.length} flows wrong; processor stats ${JSON.stringify(p.processor.stats())}; exporter ${JSON.stringify(p.exporter.stats().collectors)}; records at the collector ${h.collector.records.length} (${down} when the broker stopped)\n`,
    );
  }
  expect(problems).toEqual([]);
  // Records kept coming after the restart, and the processor is still the one working.
  expect(h.collector.records.length).toBeGreaterThan(down);
  const stats = p.processor.stats();
  expect(h.collector.duplicates()).toBeLessThanOrEqual(stats.possibleDuplicates);
  expect(p.exporter.stats().collectors[0]!.droppedRecords).toBe(0);
  process.stderr.write(
    `broker restart: input processed again ${resumeMs} ms after the broker was up, ${stats.consumerRestarts} consumer restarts (liveness), ${h.collector.duplicates()} records repeated, ${stats.possibleDuplicates} possible duplicates counted, ${stats.restores} restores, ${stats.commitFailures} failed commits\n`,
  );
  expect(resumeMs).toBeGreaterThanOrEqual(0);
});
