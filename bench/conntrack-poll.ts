/**
 * Benchmark: the conntrack source's full poll cycle (read, parse, diff) on a table of N entries
 * (default 100,000) in a network namespace, against a bare `conntrack -L` of the same table in the
 * same run. Prints a Markdown report (ratio, RSS of the Node process and of the reader process) to stdout.
 *
 * Each reader runs in a fresh Node process of its own (same runner: node --expose-gc --import tsx), so
 * one reader's heap does not inflate the next one's RSS:
 * - conntrack-tools: `conntrack -L -o xml,ktimestamp` per poll;
 * - ctnetlink, one-shot: `ctnetlink dump` per poll, every line handed to Node (the reader before diffing);
 * - ctnetlink, diffed: one `ctnetlink serve` kept between polls, which diffs each dump itself and
 *   prints only new and changed entries (the default for reader ctnetlink).
 *
 * Run as root: node --expose-gc --import tsx bench/conntrack-poll.ts [entries] [--before-bin PATH]
 * --before-bin adds a column: the one-shot path with another ctnetlink binary, e.g. one built from an
 * earlier commit (git show REV:tools/ctnetlink/main.go ...), to compare before/after in the same run.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ConntrackSource } from '../src/conntrack/source.js';
import { buildCtnetlink } from '../test/rig/ctnetlink.js';
import { run } from '../test/rig/exec.js';
import { createNetnsPair, inNetns } from '../test/rig/netns.js';
import { fillUdpEntries, processRss } from './conntrack-table.js';

const ROUNDS = 5;
const VARIANTS = ['conntrack-tools', 'ctnetlink-oneshot', 'ctnetlink-diff'] as const;
type Variant = (typeof VARIANTS)[number];
/**
 * The diffed reader once more with V8's young generation capped (semi-space 2 MB instead of growing
 * to 16 MB while the first poll builds the table): the Node flag an agent process can run with.
 */
const SMALL_YOUNG_GEN = '--max-semi-space-size=2';
/** And with V8 optimising for memory (node's --optimize-for-size): what it costs per poll. */
const FOR_SIZE = '--optimize-for-size';

/** What a worker measured for one variant. */
interface WorkerResult {
  variant: Variant;
  label: string;
  nodeFlags: string[];
  firstPollUs: number;
  firstObservations: number;
  steadyPollUs: number[];
  bareSameRunUs: number[];
  /** Node CPU time (user + system) of the median steady poll, µs. */
  steadyPollCpuUs: number;
  rssBaseBytes: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Reader process (ctnetlink serve) resident set after the polls; null for one-shot readers. */
  readerRssBytes: number | null;
  readerPeakRssBytes: number | null;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (us: number): string => (us / 1000).toFixed(0);
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

/** Wall time of a command with its stdout thrown away, µs. */
async function timeCommand(argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`)),
    );
  });
  return Number((process.hrtime.bigint() - t0) / 1000n);
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** One variant in this (fresh) process: first poll, then steady polls interleaved with bare `conntrack -L`. */
async function worker(variant: Variant, ns: string, ctnetlinkBin: string): Promise<WorkerResult> {
  gc();
  const rssBaseBytes = process.memoryUsage().rss;
  let observations = 0;
  const source = new ConntrackSource(
    {
      node: 'bench',
      pollIntervalMs: 3_600_000,
      events: false,
      commandPrefix: inNetns(ns, []),
      reader: variant === 'conntrack-tools' ? 'conntrack-tools' : 'ctnetlink',
      ctnetlinkBin,
      diffDumps: variant === 'ctnetlink-diff',
    },
    {
      onObservation: () => {
        observations++;
      },
      onWatermark: () => {},
      onError: (e) => console.error(e.message),
    },
  );
  // start() runs the first poll: every entry is new and reported.
  const t0 = process.hrtime.bigint();
  await source.start();
  const firstPollUs = Number((process.hrtime.bigint() - t0) / 1000n);
  const firstObservations = observations;
  const steadyPollUs: number[] = [];
  const cpu: number[] = [];
  const bareSameRunUs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    bareSameRunUs.push(await timeCommand(inNetns(ns, ['conntrack', '-L'])));
    const c = process.cpuUsage();
    const t = process.hrtime.bigint();
    await source.pollOnce();
    steadyPollUs.push(Number((process.hrtime.bigint() - t) / 1000n));
    const d = process.cpuUsage(c);
    cpu.push(d.user + d.system);
  }
  gc();
  const mem = process.memoryUsage();
  const pid = source.readerPid;
  const reader = pid === undefined ? null : processRss(pid);
  await source.stop();
  return {
    variant,
    label: variant,
    nodeFlags: process.execArgv.filter((a) => a.startsWith('--max-semi') || a === FOR_SIZE),
    firstPollUs,
    firstObservations,
    steadyPollUs,
    bareSameRunUs,
    steadyPollCpuUs: median(cpu),
    rssBaseBytes,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    readerRssBytes: reader?.rss ?? null,
    readerPeakRssBytes: reader?.peak ?? null,
  };
}

/** Runs one variant in a fresh Node process (this file with --worker) and returns its result. */
async function inFreshProcess(
  variant: Variant,
  ns: string,
  ctnetlinkBin: string,
  nodeFlags: string[] = [],
): Promise<WorkerResult> {
  const argv = [
    ...process.execArgv,
    ...nodeFlags,
    process.argv[1] as string,
    '--worker',
    variant,
    ns,
    ctnetlinkBin,
  ];
  const { stdout, stderr } = await run([process.execPath, ...argv], { timeoutMs: 600_000 });
  if (stderr.trim() !== '') console.error(`${variant}: ${stderr.trim()}`);
  return JSON.parse(stdout.trim().split('\n').pop() as string) as WorkerResult;
}

function report(count: number, bare: number[], bareNetlink: number[], results: WorkerResult[]): string {
  const col = (f: (r: WorkerResult) => string): string => results.map(f).join(' | ');
  const rows = [
    `| measure | ${results.map((r) => [r.label, ...r.nodeFlags].join(', ')).join(' | ')} |`,
    `|---|${results.map(() => '---').join('|')}|`,
    `| first poll (all entries new, reported) | ${col((r) => `${ms(r.firstPollUs)} ms (${r.firstObservations})`)} |`,
    `| steady poll (read, parse, diff; nothing changed), median of ${ROUNDS} | ${col((r) => `${ms(median(r.steadyPollUs))} ms`)} |`,
    `| bare \`conntrack -L\`, interleaved with those polls, median | ${col((r) => `${ms(median(r.bareSameRunUs))} ms`)} |`,
    `| **ratio steady poll / bare \`conntrack -L\`** (goal ≤ 1.0) | ${col((r) => `**${(median(r.steadyPollUs) / median(r.bareSameRunUs)).toFixed(2)}**`)} |`,
    `| Node CPU per steady poll (user+sys), median | ${col((r) => `${ms(r.steadyPollCpuUs)} ms`)} |`,
    `| Node RSS before the source (runner alone) | ${col((r) => `${mb(r.rssBaseBytes)} MB`)} |`,
    `| Node RSS after the polls | ${col((r) => `${mb(r.rssBytes)} MB`)} |`,
    `| Node heap used after the polls (after gc) | ${col((r) => `${mb(r.heapUsedBytes)} MB`)} |`,
    `| reader process RSS (peak) | ${col((r) => (r.readerRssBytes === null ? 'none kept' : `${mb(r.readerRssBytes)} MB (${mb(r.readerPeakRssBytes ?? 0)} MB)`))} |`,
    `| **total RSS, Node + reader** (goal ≤ 150 MB) | ${col((r) => `**${mb(r.rssBytes + (r.readerRssBytes ?? 0))} MB**`)} |`,
  ];
  return [
    `## conntrack poll, ${new Date().toISOString()}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    '',
    `Entries in the table (conntrack -C): ${count}. Bare \`conntrack -L\`, median of ${ROUNDS} before the readers: ${ms(median(bare))} ms; bare \`ctnetlink dump\`: ${ms(median(bareNetlink))} ms.`,
    '',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--before-bin');
  const beforeBin = at >= 0 ? args.splice(at, 2)[1] : undefined;
  const entries = Number(args[0] ?? 100_000);
  const pair = await createNetnsPair({ acct: 1, timestamp: 1 });
  try {
    // Unreplied UDP entries live 30 s by default: long enough to fill, not to measure.
    await pair.exec(pair.node, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=900']);
    await fillUdpEntries(pair.node, entries);
    const count = Number((await pair.exec(pair.node, ['conntrack', '-C'])).stdout.trim());
    const ctnetlinkBin = await buildCtnetlink();
    const bare: number[] = [];
    const bareNetlink: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      bare.push(await timeCommand(inNetns(pair.node, ['conntrack', '-L'])));
      bareNetlink.push(await timeCommand(inNetns(pair.node, [ctnetlinkBin, 'dump'])));
    }
    const results: WorkerResult[] = [];
    if (beforeBin !== undefined) {
      const before = await inFreshProcess('ctnetlink-oneshot', pair.node, beforeBin);
      results.push({ ...before, label: 'ctnetlink-oneshot, --before-bin' });
    }
    for (const variant of VARIANTS) results.push(await inFreshProcess(variant, pair.node, ctnetlinkBin));
    results.push(await inFreshProcess('ctnetlink-diff', pair.node, ctnetlinkBin, [SMALL_YOUNG_GEN]));
    results.push(
      await inFreshProcess('ctnetlink-diff', pair.node, ctnetlinkBin, [SMALL_YOUNG_GEN, FOR_SIZE]),
    );
    console.log(report(count, bare, bareNetlink, results));
  } finally {
    await pair.dispose();
  }
}

if (process.argv[2] === '--worker') {
  const [variant, ns, bin] = process.argv.slice(3) as [Variant, string, string];
  console.log(JSON.stringify(await worker(variant, ns, bin)));
} else {
  await main();
}
