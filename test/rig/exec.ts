import { spawn } from 'node:child_process';

/** Result of a finished command. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs `argv` (no shell) and collects its output. Rejects when it cannot be started or exits non-zero
 * (unless `allowFailure`), with the command line and stderr in the message so a failing rig step says
 * exactly what went wrong.
 */
export function run(
  argv: readonly string[],
  options: { allowFailure?: boolean; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('run: empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (err) =>
      reject(new Error(`cannot run ${argv.join(' ')}: ${err.message}`, { cause: err })),
    );
    child.on('close', (code) => {
      if (code !== 0 && !options.allowFailure) {
        reject(new Error(`${argv.join(' ')} exited with ${code}: ${stderr.trim()}`));
      } else {
        resolve({ stdout, stderr, code });
      }
    });
    // A command that exits without reading its input must not crash the test with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Wall-clock time in integer microseconds since the Unix epoch (µs precision from the monotonic clock). */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
