import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CtflowError } from '../../../src/errors.js';
import { rigPath } from '../prerequisites.js';

/** Process groups of collectors still running, killed on exit if a test forgot (or crashed before) stop(). */
const live = new Set<number>();
process.once('exit', () => {
  for (const pgid of live) killGroup(pgid, 'SIGKILL');
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** The repository root (this file is test/rig/collectors/process.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where scripts/install-goflow2.sh puts goflow2 (CTFLOW_CACHE_BIN overrides, as in the script). */
export function cacheBinDir(): string {
  return process.env.CTFLOW_CACHE_BIN ?? join(REPO_ROOT, '.cache', 'bin');
}

/**
 * Absolute path of `bin`, searched in `extraDirs` then PATH (with the sbin directories), or a
 * PREREQUISITE error that says how to get it (`remedy`, e.g. the Debian package or the install script).
 */
export async function requireBinary(bin: string, remedy: string, extraDirs: string[] = []): Promise<string> {
  const dirs = [...extraDirs, ...rigPath().split(delimiter)];
  for (const dir of dirs) {
    const candidate = join(dir, bin);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new CtflowError('PREREQUISITE', `collector rig: '${bin}' not found; ${remedy}`, {
    details: { binary: bin, searched: dirs },
  });
}

/** A private temporary directory for one collector run. */
export function makeTempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `ctflow-${name}-`));
}

/** A collector process started by the rig, in its own process group, with its output kept. */
export class CollectorProcess {
  /** Everything written to stdout so far. */
  stdoutText = '';
  /** Everything written to stderr so far. */
  stderrText = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null; error?: string } | undefined;
  private readonly exitPromise: Promise<void>;
  private readonly child: ChildProcess;

  /** Starts `argv` with env TZ=UTC (collectors print local times) and LC_ALL=C. */
  constructor(argv: readonly string[], options: { cwd: string; env?: Record<string, string> }) {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('CollectorProcess: empty command');
    this.child = spawn(file, args, {
      cwd: options.cwd,
      // Own process group: nfacctd forks plugin processes, tshark runs dumpcap; one kill reaches them all.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: rigPath(), TZ: 'UTC', LC_ALL: 'C', ...options.env },
    });
    const pid = this.child.pid;
    if (pid !== undefined) live.add(pid);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdoutText += chunk;
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrText += chunk;
    });
    this.exitPromise = new Promise((resolveExit) => {
      this.child.once('error', (err) => {
        this.exited = { code: null, signal: null, error: err.message };
        resolveExit();
      });
      this.child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        if (pid !== undefined) live.delete(pid);
        resolveExit();
      });
    });
  }

  /** How the process ended, once it has. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null; error?: string } | undefined {
    return this.exited;
  }

  /** A short report: command state and the tail of its output, for failure messages. */
  describe(): string {
    const state =
      this.exited === undefined
        ? 'running'
        : `exited (code ${this.exited.code}, signal ${this.exited.signal}${this.exited.error ? `, ${this.exited.error}` : ''})`;
    const tail = (s: string): string => (s.length > 4000 ? `...${s.slice(-4000)}` : s);
    return `process ${state}\n--- stderr ---\n${tail(this.stderrText)}\n--- stdout ---\n${tail(this.stdoutText)}`;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  async stop(graceMs = 3000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    if (this.exited === undefined) {
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await this.exitPromise;
      clearTimeout(timer);
    }
    killGroup(pid, 'SIGKILL'); // children (plugins, dumpcap) may outlive the leader
    live.delete(pid);
  }
}

/** Removes a collector's temporary directory (never fails a test's clean-up). */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
