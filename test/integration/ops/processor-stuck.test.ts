/**
 * The processor's shutdown bound (issue 7): when the broker stops answering (an iptables rule drops every
 * packet to its port: requests hang instead of failing), the graceful stop cannot commit; past
 * processor.shutdownTimeout `ctflow processor` exits 1 instead of hanging (documented in docs/cli.md).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, expect, inject, test } from 'vitest';
import { waitFor } from '../kafka/helpers.js';
import { ProcessorHarness } from '../processor/harness.js';
import { Workload } from '../processor/workload.js';
import { type CtflowChild, killIfRunning } from './cli.js';
import { spawnProcessor } from './processor-child.js';

const exec = promisify(execFile);
const TIMEOUT_S = 4;
const brokerPort = Number(inject('kafkaBrokers').split(',')[0]!.split(':').at(-1));
const STUCK_RULE = ['OUTPUT', '-o', 'lo', '-p', 'tcp', '--dport', String(brokerPort), '-j', 'DROP'];

let harness: ProcessorHarness | undefined;
let child: CtflowChild | undefined;
let stuck = false;

afterEach(async () => {
  if (stuck) await exec('iptables', ['-D', ...STUCK_RULE]).catch(() => {});
  stuck = false;
  await killIfRunning(child);
  await harness?.close();
  harness = undefined;
});

test('ctflow processor: a broker that stops answering cannot hold the stop past processor.shutdownTimeout (exit 1)', async () => {
  const partitions = 2;
  harness = await ProcessorHarness.started(partitions);
  const h = harness;
  const workload = new Workload({
    nodes: 1,
    flowsPerNode: 40,
    steps: 20,
  });
  const p = spawnProcessor(h, TIMEOUT_S);
  child = p;
  await p.waitForLog('processor running', 60_000);
  await workload.write(h.producer, h.topics.observations, partitions, 0, 20);
  await waitFor('the processor to export records', () => h.collector.records.length > 10, 60_000);

  await exec('iptables', ['-I', ...STUCK_RULE]);
  stuck = true;
  const stop = await p.signal('SIGTERM');
  await exec('iptables', ['-D', ...STUCK_RULE]);
  stuck = false;
  process.stderr.write(
    `ctflow processor, broker not answering: SIGTERM -> exit ${stop.code} after ${stop.afterMs.toFixed(0)} ms\n`,
  );
  expect(stop.code).toBe(1);
  expect(stop.afterMs).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 100);
  expect(stop.afterMs).toBeLessThan(TIMEOUT_S * 1000 + 3000);
  expect(p.logs().some((l) => String(l['msg']).includes('graceful stop took too long'))).toBe(true);
});
