/**
 * The real `ctflow` CLI as a child process for the operations tests (signals, exit codes, metrics): its
 * JSON log lines on stderr, its stdout lines, how and when it ended. Optionally inside a network namespace.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inNetns } from '../../rig/netns.js';

const BIN = fileURLToPath(new URL('../../../bin/ctflow.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A running `ctflow` command. */
export interface CtflowChild {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** stderr lines that parse as JSON (pino). */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the first log line whose msg contains `text`. */
  waitForLog(text: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal name) and when it exited (performance.now()). */
  readonly exited: Promise<{ code: number | string; atMs: number }>;
  /** Sends `signal`; resolves with the exit and the time from the signal to the exit, ms. */
  signal(signal: NodeJS.Signals): Promise<{ code: number | string; afterMs: number }>;
}

function lineSplitter(into: string[]): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    into.push(...parts);
  };
}

/** Starts `ctflow ...args` (inside namespace `ns` when given). CTFLOW_CONFIG is cleared. */
export function spawnCtflow(args: readonly string[], ns?: string): CtflowChild {
  const argv = [process.execPath, BIN, ...args];
  const full = ns === undefined ? argv : inNetns(ns, argv);
  const child = spawn(full[0]!, full.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CTFLOW_CONFIG: '' },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout?.on('data', lineSplitter(stdout));
  child.stderr?.on('data', lineSplitter(stderr));
  const exited = new Promise<{ code: number | string; atMs: number }>((resolve) => {
    child.on('exit', (code, sig) => resolve({ code: code ?? sig ?? -1, atMs: performance.now() }));
  });
  const logs = () =>
    stderr.flatMap((l) => {
      try {
        const v = JSON.parse(l) as unknown;
        return typeof v === 'object' && v !== null ? [v as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  return {
    child,
    stdout,
    stderr,
    logs,
    waitForLog: async (text, timeoutMs = 30_000) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs().find((l) => String(l['msg'] ?? '').includes(text));
        if (hit) return hit;
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > end) {
          throw new Error(
            `no log "${text}" from ctflow ${args[0]}; stderr:\n${stderr.slice(-30).join('\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
    signal: async (signal) => {
      const at = performance.now();
      child.kill(signal);
      const e = await exited;
      return { code: e.code, afterMs: e.atMs - at };
    },
  };
}

/** Kills `c` with SIGKILL if it still runs (test clean-up). */
export async function killIfRunning(c: CtflowChild | undefined): Promise<void> {
  if (c === undefined || c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGKILL');
  await c.exited;
}
