import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../rig/collectors/poll.js';
import { createNetnsPair, inNetns, RIG_ADDRESSES, sweepStaleNamespaces } from '../../rig/netns.js';
import { startTrafficAgent } from '../../rig/traffic.js';

/**
 * `ctflow run --record PATH` on live conntrack, then `ctflow run --source file:PATH`: the same engine
 * gives the same data records (times, counters, reasons), as `ctflow collect --format json` decodes them.
 * Everything runs inside one network namespace (its own 127.0.0.1 and conntrack table).
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
});

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function start(argv: string[]): Proc {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, out: () => text, exited };
}

/** Data records (flow records, not the exporter's statistics) without transport-session fields. */
function dataRecords(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"flowEndReason"'))
    .map((l) => {
      const { exporter, sequenceNumber, templateId, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify(rest);
    })
    .sort();
}

describe('ctflow run --record, then --source file:', () => {
  it('replays a live recording into the same data records', async () => {
    await sweepStaleNamespaces();
    const pair = await createNetnsPair({ acct: 1, timestamp: 1 });
    cleanups.push(() => pair.dispose());
    const dir = await mkdtemp(join(tmpdir(), 'ctflow-record-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const recording = join(dir, 'ct.jsonl');
    const ctflow = (args: string[]) => inNetns(pair.node, [process.execPath, 'bin/ctflow.js', ...args]);
    const timers = ['--active-timeout', '2', '--idle-timeout', '1', '--set', 'metrics.enabled=false'];

    const collectLive = start(ctflow(['collect', '--listen', 'udp://127.0.0.1:4739', '--format', 'json']));
    await pollUntil(() => (collectLive.out().includes('listening') ? true : undefined), {
      timeoutMs: 30_000,
      describe: () => `collector did not start: ${collectLive.out()}`,
    });
    const live = start(
      ctflow([
        'run',
        '--collector',
        'udp://127.0.0.1:4739',
        '--record',
        recording,
        '--poll-interval',
        '1',
        ...timers,
      ]),
    );
    await pollUntil(() => (live.out().includes('reading conntrack') ? true : undefined), {
      timeoutMs: 30_000,
      describe: () => `ctflow run did not start: ${live.out()}`,
    });
    const client = await startTrafficAgent(pair.node);
    cleanups.push(() => client.dispose());
    const server = await startTrafficAgent(pair.peer);
    cleanups.push(() => server.dispose());
    const tcp = await server.tcpServer({ host: '::', port: 0, replyBytes: 3000 });
    const udp = await server.udpServer({ host: '::', port: 0 });
    await Promise.all([
      client.tcpClient({
        host: RIG_ADDRESSES.peerV4,
        port: tcp.port,
        bytes: 4000,
        chunks: 8,
        intervalMs: 400,
      }),
      client.tcpClient({ host: RIG_ADDRESSES.peerV6, port: tcp.port, bytes: 500, chunks: 1, intervalMs: 0 }),
      client.udpClient({
        host: RIG_ADDRESSES.peerV4,
        port: udp.port,
        requests: 5,
        size: 50,
        intervalMs: 100,
      }),
      client.ping({ host: RIG_ADDRESSES.peerV6, count: 2, intervalMs: 200 }),
    ]);
    // A UDP flow still open at the stop: ended as forced end (4) live and at the recording's end.
    await client.udpClient({
      host: RIG_ADDRESSES.peerV4,
      port: udp.port,
      requests: 1,
      size: 10,
      intervalMs: 0,
    });
    await new Promise((r) => setTimeout(r, 300));
    live.child.kill('SIGINT');
    expect(await live.exited, live.out()).toBe(0);
    const liveRecords = await pollUntil(
      () => {
        const recs = dataRecords(collectLive.out());
        return recs.some((r) => r.includes('"flowEndReason":4')) ? recs : undefined;
      },
      { timeoutMs: 10_000, describe: () => `live records: ${collectLive.out()}` },
    );
    collectLive.child.kill('SIGTERM');
    await collectLive.exited;

    const collectReplay = start(ctflow(['collect', '--listen', 'udp://127.0.0.1:4740', '--format', 'json']));
    await pollUntil(() => (collectReplay.out().includes('listening') ? true : undefined), {
      timeoutMs: 30_000,
      describe: () => `collector did not start: ${collectReplay.out()}`,
    });
    const replay = start(
      ctflow(['run', '--source', `file:${recording}`, '--collector', 'udp://127.0.0.1:4740', ...timers]),
    );
    expect(await replay.exited, replay.out()).toBe(0);
    const replayRecords = await pollUntil(
      () => {
        const recs = dataRecords(collectReplay.out());
        return recs.length >= liveRecords.length ? recs : undefined;
      },
      { timeoutMs: 10_000, describe: () => `replay records: ${collectReplay.out()}` },
    );
    expect(liveRecords.length).toBeGreaterThan(5);
    expect(replayRecords).toEqual(liveRecords);
    // The recording holds observations and watermarks as JSON Lines.
    const lines = (await readFile(recording, 'utf8')).split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(liveRecords.length);
  });
});
