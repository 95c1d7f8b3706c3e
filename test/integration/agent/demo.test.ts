import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_TABLE_WARNING } from '../../../src/agent/untracked-hint.js';
import { pollUntil } from '../../rig/collectors/poll.js';
import { run } from '../../rig/exec.js';
import { createNetnsPair, inNetns, RIG_ADDRESSES, sweepStaleNamespaces } from '../../rig/netns.js';
import { startTrafficAgent } from '../../rig/traffic.js';

/**
 * scripts/demo.sh, the README's main job: `ctflow collect` in the background and `ctflow run` in the
 * foreground, run inside a network namespace (its own 127.0.0.1 and conntrack table), stopped the way a
 * user stops it: SIGINT to the foreground process group (Ctrl-C).
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
});

interface Spawned {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

/** Spawns argv in its own process group (like a shell's foreground job), keeping stdout+stderr. */
function spawnGroup(argv: string[]): Spawned {
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  return { child, out: () => text, exited };
}

/** Ctrl-C: SIGINT to the whole foreground process group. */
function ctrlC(s: Spawned): void {
  process.kill(-s.child.pid!, 'SIGINT');
}

describe('scripts/demo.sh', () => {
  it('shows this machine’s flows as text records and stops both processes cleanly on Ctrl-C', async () => {
    await sweepStaleNamespaces();
    const pair = await createNetnsPair({ acct: 1, timestamp: 1 });
    cleanups.push(() => pair.dispose());
    // Whatever of the demo is left when the test fails: killing its process group (spawnGroup) ends bash
    // and ctflow run, but the collector runs under setsid in a group of its own.
    cleanups.push(async () => {
      const { stdout } = await run(['ip', 'netns', 'pids', pair.node], { allowFailure: true });
      for (const pid of stdout.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    });
    const demo = spawnGroup(
      inNetns(pair.node, [
        'bash',
        'scripts/demo.sh',
        '--poll-interval',
        '1',
        // As short as a poll: counters reach the engine only through dumps, and timers fire on the
        // watermark closing a dump, so an idle deadline between two dumps must not end the flow
        // before the dump that shows its packets (once a zero-delta record and a split flow).
        '--idle-timeout',
        '1',
        '--active-timeout',
        '5',
        // Below the 20 s this test waits for the exit: an overrun then logs the stuck phase of the stop.
        '--set',
        'run.shutdownTimeout=12',
      ]),
    );
    await pollUntil(() => (demo.out().includes('Ctrl-C stops') ? true : undefined), {
      timeoutMs: 30_000,
      describe: () => `demo did not start: ${demo.out()}`,
    });
    const client = await startTrafficAgent(pair.node);
    cleanups.push(() => client.dispose());
    const server = await startTrafficAgent(pair.peer);
    cleanups.push(() => server.dispose());
    const { port } = await server.udpServer({ host: RIG_ADDRESSES.peerV4, port: 0 });
    const r = await client.udpClient({
      host: RIG_ADDRESSES.peerV4,
      port,
      requests: 3,
      size: 100,
      intervalMs: 10,
    });
    // The UDP flow ends idle (1 s) and the collector prints it as one text line.
    const linesOfFlow = () =>
      demo
        .out()
        .split('\n')
        .filter((l) => l.includes(`sourceTransportPort=${r.localPort}`));
    const line = await pollUntil(() => linesOfFlow()[0], {
      timeoutMs: 20_000,
      describe: () => `no record of the UDP flow printed: ${demo.out()}`,
    });
    // Two more polls: still that one record (no zero-delta idle record before it, no split after).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(linesOfFlow(), demo.out()).toEqual([line]);
    expect(line).toContain(`destinationIPv4Address=${RIG_ADDRESSES.peerV4}`);
    expect(line).toContain('packetDeltaCount=3');
    expect(line).toMatch(/flowStartMilliseconds=\S+/);

    ctrlC(demo);
    const code = await Promise.race([
      demo.exited,
      new Promise<string>((r) => setTimeout(() => r('timeout'), 20_000)),
    ]);
    expect(code, demo.out()).toBe(0);
    // Nothing of the demo is left running in the namespace (collector included).
    const { stdout } = await run(['ip', 'netns', 'pids', pair.node]);
    const left = stdout.split('\n').filter(Boolean);
    const own = [client].length; // the traffic agent still runs there
    expect(left.length, `left: ${stdout}`).toBe(own);
  });

  it('ctflow run warns once, naming the fix, when nothing enables connection tracking', async () => {
    // A bare namespace: no firewall rule or NAT uses conntrack, so its table stays empty.
    const ns = `ctft-${process.pid}-bare`;
    await run(['ip', 'netns', 'add', ns]);
    cleanups.push(() => run(['ip', 'netns', 'del', ns], { allowFailure: true }));
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const ctflow = spawnGroup(
      inNetns(ns, [
        process.execPath,
        'bin/ctflow.js',
        'run',
        '--collector',
        'udp://127.0.0.1:4739',
        '--poll-interval',
        '1',
      ]),
    );
    await pollUntil(() => (ctflow.out().includes('conntrack table is empty') ? true : undefined), {
      timeoutMs: 30_000,
      describe: () => `no empty-table warning: ${ctflow.out()}`,
    });
    // Two more polls: still one warning.
    await new Promise((r) => setTimeout(r, 2500));
    ctrlC(ctflow);
    expect(await ctflow.exited, `ctflow run output:\n${ctflow.out()}`).toBe(0);
    const warnings = ctflow
      .out()
      .split('\n')
      .filter((l) => l.includes('conntrack table is empty'));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain('-m conntrack');
    expect(EMPTY_TABLE_WARNING).toContain('modprobe nf_conntrack');
  });
});
