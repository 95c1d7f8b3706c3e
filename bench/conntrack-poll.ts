/**
 * Benchmark: the conntrack source's full poll cycle (read, parse, diff) on a table of N entries
 * (default 100,000) in a network namespace, against a bare `conntrack -L` of the same table in the
 * same run. Prints a Markdown report (ratio, RSS) to stdout.
 *
 * Run as root: npx tsx bench/conntrack-poll.ts [entries]
 */
import { spawn } from 'node:child_process';
import { ConntrackSource } from '../src/conntrack/source.js';
import { buildCtnetlink } from '../test/rig/ctnetlink.js';
import { run } from '../test/rig/exec.js';
import { createNetnsPair, inNetns, RIG_ADDRESSES } from '../test/rig/netns.js';

const ENTRIES = Number(process.argv[2] ?? 100_000);
const ROUNDS = 3;

function ms(us: number): string {
  return (us / 1000).toFixed(0);
}

/** Wall time of a command with its stdout thrown away, µs. */
async function timeCommand(argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`)),
    );
  });
  return Number((process.hrtime.bigint() - t0) / 1000n);
}

/** Fills the table with `n` UDP entries (distinct destination ports from a few source sockets). */
async function fill(ns: string, n: number): Promise<void> {
  const script = `
    const dgram = require('dgram');
    const n = ${n}; const perSocket = 50000; const payload = Buffer.alloc(1);
    (async () => {
      for (let s = 0; s * perSocket < n; s++) {
        const sock = dgram.createSocket('udp4');
        await new Promise((r) => sock.bind(0, r));
        const count = Math.min(perSocket, n - s * perSocket);
        for (let i = 0; i < count; i++) {
          sock.send(payload, 1024 + i, '${RIG_ADDRESSES.peerV4}');
          if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
        }
        await new Promise((r) => setTimeout(r, 200));
        sock.close();
      }
    })();`;
  await run(inNetns(ns, [process.execPath, '-e', script]), { timeoutMs: 300_000 });
}

async function main(): Promise<void> {
  const pair = await createNetnsPair({ acct: 1, timestamp: 1 });
  try {
    // Unreplied UDP entries live 30 s by default: long enough to fill, not to measure.
    await pair.exec(pair.node, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=900']);
    await fill(pair.node, ENTRIES);
    const count = Number((await pair.exec(pair.node, ['conntrack', '-C'])).stdout.trim());
    const ctnetlinkBin = await buildCtnetlink();
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rows: string[] = [`| entries in the table (conntrack -C) | ${count} |`];
    const bare: number[] = [];
    const bareXml: number[] = [];
    const bareNetlink: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      bare.push(await timeCommand(inNetns(pair.node, ['conntrack', '-L'])));
      bareXml.push(await timeCommand(inNetns(pair.node, ['conntrack', '-L', '-o', 'xml,ktimestamp'])));
      bareNetlink.push(await timeCommand(inNetns(pair.node, [ctnetlinkBin, 'dump'])));
    }
    rows.push(`| bare \`conntrack -L\` (default format), median of ${ROUNDS} | ${ms(median(bare))} ms |`);
    rows.push(`| bare \`conntrack -L -o xml,ktimestamp\`, median | ${ms(median(bareXml))} ms |`);
    rows.push(`| bare \`ctnetlink dump\` (tools/ctnetlink), median | ${ms(median(bareNetlink))} ms |`);
    for (const reader of ['conntrack-tools', 'ctnetlink'] as const) {
      let observations = 0;
      const source = new ConntrackSource(
        {
          node: 'bench',
          pollIntervalMs: 3_600_000,
          events: false,
          commandPrefix: inNetns(pair.node, []),
          reader,
          ctnetlinkBin,
        },
        {
          onObservation: () => {
            observations++;
          },
          onWatermark: () => {},
          onError: (e) => console.error(e.message),
        },
      );
      const rssBefore = process.memoryUsage().rss;
      // start() runs the first poll: every entry is new and reported.
      const t0 = process.hrtime.bigint();
      await source.start();
      const firstUs = Number((process.hrtime.bigint() - t0) / 1000n);
      const firstObs = observations;
      const polls: number[] = [];
      const bareSameRun: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        bareSameRun.push(await timeCommand(inNetns(pair.node, ['conntrack', '-L'])));
        const t = process.hrtime.bigint();
        await source.pollOnce();
        polls.push(Number((process.hrtime.bigint() - t) / 1000n));
      }
      const rss = process.memoryUsage().rss;
      await source.stop();
      rows.push(`| **${reader}**: first poll (all ${firstObs} entries new, reported) | ${ms(firstUs)} ms |`);
      rows.push(
        `| **${reader}**: steady poll (read, parse, diff; nothing changed), median | ${ms(median(polls))} ms |`,
      );
      rows.push(
        `| **${reader}**: ratio steady poll / bare \`conntrack -L\` (interleaved) | ${(median(polls) / median(bareSameRun)).toFixed(2)} |`,
      );
      rows.push(
        `| **${reader}**: RSS after polls (before this source: ${(rssBefore / 2 ** 20).toFixed(0)} MB) | ${(rss / 2 ** 20).toFixed(0)} MB |`,
      );
    }
    rows.push(`| heap used at the end | ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB |`);
    console.log(
      `## conntrack poll, ${new Date().toISOString()}\n\n| measure | value |\n|---|---|\n${rows.join('\n')}`,
    );
  } finally {
    await pair.dispose();
  }
}

await main();
