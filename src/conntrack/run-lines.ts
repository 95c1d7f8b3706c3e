import { spawn } from 'node:child_process';
import { CtflowError } from '../errors.js';
import type { ClockUs } from './clock.js';
import { LineSplitter } from './lines.js';

/** How a finished command went. */
export interface RunLinesResult {
  lines: number;
  /** When the last output arrived (end of stdout), µs. */
  endUs: number;
  stderr: string;
}

/** Longest stderr kept for error messages. */
const MAX_STDERR = 4096;

/**
 * The error for a conntrack command that could not run, with the fix when the cause is known
 * (missing binary, missing privilege).
 */
export function commandError(argv: readonly string[], detail: string, cause?: unknown): CtflowError {
  let hint = '';
  if (/ENOENT|not found|No such file/i.test(detail)) hint = ' (install it: apt-get install -y conntrack)';
  else if (/not permitted|EPERM|EACCES|Permission denied|must be root|CAP_NET_ADMIN/i.test(detail)) {
    hint = ' (reading conntrack needs CAP_NET_ADMIN: run as root or grant the capability)';
  }
  return new CtflowError('CONNTRACK_SOURCE', `${argv.join(' ')}: ${detail.trim()}${hint}`, {
    details: { command: argv.join(' '), detail: detail.trim() },
    cause,
    retriable: hint === '',
  });
}

/**
 * Runs `argv` and hands every stdout line to `onLine` as it arrives, with the time its chunk was
 * received (an upper bound of when the kernel produced it). Resolves when the command exits 0;
 * rejects with CONNTRACK_SOURCE otherwise.
 */
export function runLines(
  argv: readonly string[],
  clock: ClockUs,
  onLine: (line: string, lineNo: number, receivedUs: number) => void,
): Promise<RunLinesResult> {
  return runByteLines(argv, clock, (line, lineNo, receivedUs) =>
    onLine(line.toString('latin1'), lineNo, receivedUs),
  );
}

/**
 * Flow control of a reader's output: called after each chunk; a promise pauses reading (the writer
 * then blocks on the full pipe) until it resolves.
 */
export type ReadGate = () => Promise<void> | null;

/**
 * runLines() handing over each line as bytes (a view into the output chunk, valid during the call);
 * `gate` may pause reading between chunks.
 */
export function runByteLines(
  argv: readonly string[],
  clock: ClockUs,
  onLine: (line: Buffer, lineNo: number, receivedUs: number) => void,
  gate?: ReadGate,
): Promise<RunLinesResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(commandError(argv, 'empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const splitter = new LineSplitter();
    let stderr = '';
    let endUs = 0;
    let failed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      const receivedUs = clock();
      try {
        splitter.push(chunk, (line, n) => onLine(line, n, receivedUs));
      } catch (err) {
        // onLine must not throw; if it does, stop the command rather than lose lines silently.
        failed = true;
        child.kill('SIGKILL');
        reject(err);
        return;
      }
      const wait = gate?.();
      if (wait) {
        child.stdout.pause();
        void wait.then(() => child.stdout.resume());
      }
    });
    child.stdout.on('end', () => {
      endUs = clock();
      splitter.end((line, n) => onLine(line, n, endUs));
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_STDERR) stderr += d;
    });
    child.on('error', (err) => {
      failed = true;
      reject(commandError(argv, err.message, err));
    });
    child.on('close', (code, signal) => {
      if (failed) return;
      if (code !== 0) {
        reject(commandError(argv, `exited with ${code ?? signal}: ${stderr}`));
        return;
      }
      resolve({ lines: splitter.lines, endUs: endUs || clock(), stderr });
    });
  });
}
