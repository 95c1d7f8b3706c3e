/**
 * The shutdown bound (issue 7): a collector that accepts the TCP connection but never reads must not
 * keep `ctflow run` alive. The exporter cannot flush (the socket's buffers are full), so the graceful
 * stop cannot finish; past run.shutdownTimeout the process exits 1 (documented in docs/cli.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, expect, test } from 'vitest';
import { observationToJsonLine } from '../../../src/codec/json-lines.js';
import type { Observation } from '../../../src/flow/types.js';
import { killIfRunning, spawnCtflow, type CtflowChild } from './cli.js';

const FLOWS = 40_000;
const TIMEOUT_S = 3;
const RECORDING = join(tmpdir(), `ctflow-ops-stuck-${process.pid}.jsonl`);

let collector: ChildProcess | undefined;
let run: CtflowChild | undefined;

afterAll(async () => {
  await killIfRunning(run);
  collector?.kill('SIGKILL');
  rmSync(RECORDING, { force: true });
});

/** A TCP listener with a tiny receive buffer that accepts and then never reads. */
async function stuckCollector(): Promise<number> {
  const code = [
    'import socket, time',
    's = socket.socket()',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
    "s.bind(('127.0.0.1', 0))",
    's.listen()',
    'print(s.getsockname()[1], flush=True)',
    'conns = []',
    'while True:',
    '    c, _ = s.accept()',
    '    conns.append(c)',
  ].join('\n');
  collector = spawn('python3', ['-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: collector!.stdout! }).once('line', resolve),
  );
  return Number(line);
}

/** A recording of FLOWS distinct UDP flows, each seen once: FLOWS forced-end records at the end. */
async function writeRecording(): Promise<void> {
  const out = createWriteStream(RECORDING);
  const t0 = (Math.floor(Date.now() / 1000) - 600) * 1_000_000;
  for (let i = 0; i < FLOWS; i++) {
    const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const obs: Observation = {
      node: 'stuck',
      bootId: 'boot-1',
      kind: 'POLL',
      timeUs: t0 + i,
      conntrackId: i + 1,
      zone: 0,
      family: 'IPV4',
      protocol: 17,
      orig: {
        src,
        dst: '192.0.2.1',
        srcPort: 40000,
        dstPort: 53,
        icmpType: null,
        icmpCode: null,
        icmpId: null,
      },
      reply: {
        src: '192.0.2.1',
        dst: src,
        srcPort: 53,
        dstPort: 40000,
        icmpType: null,
        icmpCode: null,
        icmpId: null,
      },
      tcpState: null,
      status: 0,
      mark: 0,
      counters: { origPackets: 1, origBytes: 80, replyPackets: 1, replyBytes: 120 },
      kernelStartUs: null,
      kernelStopUs: null,
    };
    if (!out.write(`${observationToJsonLine(obs)}\n`))
      await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

test(`ctflow run: a collector that never reads cannot hold the stop past run.shutdownTimeout (exit 1)`, async () => {
  const port = await stuckCollector();
  await writeRecording();
  run = spawnCtflow([
    'run',
    '--source',
    `file:${RECORDING}`,
    '--collector',
    `tcp://127.0.0.1:${port}`,
    '--set',
    `run.shutdownTimeout=${TIMEOUT_S}`,
    '--set',
    'metrics.enabled=false',
    '--log-level',
    'info',
  ]);
  await run.waitForLog('replaying recording');
  // The recording is read in well under this; the forced-end records then wait for the collector forever.
  await new Promise((r) => setTimeout(r, 8000));
  expect(run.child.exitCode).toBe(null);
  const stop = await run.signal('SIGTERM');
  process.stderr.write(
    `ctflow run, stuck collector: SIGTERM -> exit ${stop.code} after ${stop.afterMs.toFixed(0)} ms\n`,
  );
  expect(stop.code).toBe(1);
  expect(stop.afterMs).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 100);
  expect(stop.afterMs).toBeLessThan(TIMEOUT_S * 1000 + 3000);
  const overrun = run.logs().find((l) => String(l['msg']).includes('did not finish within shutdownTimeout'));
  // The log names the part of the stop that was stuck: the forced-end records wait for the collector.
  expect(overrun?.['phase']).toBe('flows');
});
