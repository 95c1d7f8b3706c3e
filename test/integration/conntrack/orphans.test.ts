import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCtnetlink } from '../../rig/ctnetlink.js';
import { createNetnsPair, inNetns } from '../../rig/netns.js';
import { pollUntil } from '../../rig/collectors/poll.js';

/**
 * ctflow's reader processes must not outlive it. Outside a container nothing ends a process's
 * children when it is SIGKILLed: `ctnetlink events` / `ctnetlink serve` end when their stdin pipe
 * reaches EOF, `conntrack -E` runs under a shell watchdog doing the same (src/conntrack/lifeline.ts).
 */

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  cmdline: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(name), ppid: Number(fields[1]), state: fields[0] ?? '?', cmdline });
    } catch {
      // exited while listed
    }
  }
  return out;
}

/** Every live descendant of `pid`. */
function descendants(pid: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const walk = (p: number): void => {
    for (const c of all) {
      if (c.ppid !== p) continue;
      found.push(c);
      walk(c.pid);
    }
  };
  walk(pid);
  return found;
}

/** Whether `pid` still runs (a zombie waiting for its new parent to reap it has ended). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers.splice(0)) if (running(pid)) process.kill(pid, 'SIGKILL');
});

describe('reader processes end with ctflow', () => {
  for (const reader of ['ctnetlink', 'conntrack-tools'] as const) {
    it(`${reader}: SIGKILL of ctflow run leaves no reader running after 2 s`, async () => {
      const ctnetlink = await buildCtnetlink();
      await using pair = await createNetnsPair();
      const ctflow = spawn(
        'ip',
        inNetns(pair.node, [
          process.execPath,
          `${ROOT}bin/ctflow.js`,
          'run',
          '--reader',
          reader,
          '--poll-interval',
          '1',
          '--collector',
          'udp://127.0.0.1:4739',
          '--metrics-listen',
          '127.0.0.1:0',
          '--log-level',
          'warn',
          '--set',
          `conntrack.ctnetlinkPath=${ctnetlink}`,
        ]).slice(1),
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      ctflow.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const pid = ctflow.pid as number;
      leftovers.push(pid);
      const exited = new Promise<void>((r) => ctflow.once('exit', () => r()));
      // The long-lived readers: the event stream, and with ctnetlink the diffing dump reader.
      const wanted =
        reader === 'ctnetlink' ? [/ctnetlink events$/, /ctnetlink serve$/] : [/conntrack -E /, /^sh -c /];
      const children = await pollUntil(
        () => {
          const found = descendants(pid);
          return wanted.every((re) => found.some((p) => re.test(p.cmdline))) ? found : undefined;
        },
        { timeoutMs: 60_000, describe: () => `readers of ${reader} not started: ${stderr}` },
      );
      leftovers.push(...children.map((c) => c.pid));
      process.kill(pid, 'SIGKILL');
      await exited;
      const gone = await pollUntil(() => (children.every((c) => !running(c.pid)) ? true : undefined), {
        timeoutMs: 2000,
        describe: () =>
          `still running 2 s after SIGKILL of ctflow: ${children
            .filter((c) => running(c.pid))
            .map((c) => `${c.pid} ${c.cmdline}`)
            .join('; ')}`,
      });
      expect(gone).toBe(true);
    });
  }
});
