/** `ctflow processor` as a child process (the real CLI), for kill -9 tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { ProcessorHarness } from './harness.js';
import { TEST_FLOW_CONFIG } from './harness.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A processor child process. */
export interface ProcessorChild {
  readonly child: ChildProcess;
  /** Everything it wrote to stderr (its logs). */
  output(): string;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>;
}

/** The `ctflow processor` arguments for the harness' group, topics and collector (test timeouts). */
export function processorCliArgs(h: ProcessorHarness): string[] {
  return [
    'processor',
    '--brokers',
    inject('kafkaBrokers'),
    '--collector',
    h.collectorUrl,
    '--group',
    h.groupId,
    '--observations-topic',
    h.topics.observations,
    '--flowstate-topic',
    h.topics.flowState,
    '--dead-letter-topic',
    h.topics.deadLetter,
    '--active-timeout',
    String(TEST_FLOW_CONFIG.activeTimeout),
    '--idle-timeout',
    String(TEST_FLOW_CONFIG.idleTimeout),
    '--session-timeout',
    '6000',
    '--heartbeat-interval',
    '300',
    '--metrics-listen',
    '127.0.0.1:0',
  ];
}

/** Starts `ctflow processor` in the harness' group, exporting to the harness' collector. */
export function spawnProcessor(h: ProcessorHarness): ProcessorChild {
  const args = ['bin/ctflow.js', ...processorCliArgs(h), '--log-level', 'debug'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CTFLOW_CONFIG: '' },
  });
  let text = '';
  const file = process.env.CTFLOW_TEST_LOG
    ? createWriteStream(`${process.env.CTFLOW_TEST_LOG}.child`, { flags: 'a' })
    : undefined;
  child.stderr?.on('data', (d: Buffer) => {
    text += d.toString();
    file?.write(d);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      file?.end();
      resolve(code ?? signal ?? -1);
    });
  });
  return { child, output: () => text, exited };
}
