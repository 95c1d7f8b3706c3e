import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { withStdinLifeline } from '../../../src/conntrack/lifeline.js';

/** Whether process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

const started: number[] = [];

/** Runs `argv` under the lifeline; resolves with the shell and the pid the command prints first. */
async function start(argv: readonly string[]): Promise<{ sh: ChildProcess; pid: number; out: string[] }> {
  const sh = spawn('sh', withStdinLifeline(argv).slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const out: string[] = [];
  const pid = await new Promise<number>((resolve) => {
    sh.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out.push(d);
      resolve(Number(out.join('').split('\n')[0]));
    });
  });
  started.push(pid);
  return { sh, pid, out };
}

/** A command that prints its pid, then lives long (exec: the pid stays the same). */
const LONG = ['sh', '-c', 'echo $$; exec sleep 600'];

describe('stdin lifeline (conntrack -E)', () => {
  afterEach(() => {
    for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('ends the command when its stdin reaches EOF (the parent died), and the shell with it', async () => {
    const { sh, pid } = await start(LONG);
    expect(alive(pid)).toBe(true);
    const exited = new Promise<number | null>((r) => sh.once('exit', (code) => r(code)));
    sh.stdin?.end();
    expect(await until(() => !alive(pid), 2000)).toBe(true);
    await exited;
  });

  it('SIGTERM to the shell ends the command before the shell exits', async () => {
    const { sh, pid } = await start(LONG);
    const exited = new Promise<void>((r) => sh.once('exit', () => r()));
    sh.kill('SIGTERM');
    await exited;
    expect(alive(pid)).toBe(false);
  });

  it("passes the command's output and exit status through; the pipes close when it exits", async () => {
    const { sh, out } = await start(['sh', '-c', 'echo $$; echo line; exit 3']);
    const [code] = await new Promise<[number | null]>((r) => sh.once('close', (c) => r([c])));
    expect(code).toBe(3);
    expect(out.join('').split('\n').slice(1)).toEqual(['line', '']);
  });
});
