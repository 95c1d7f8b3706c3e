/**
 * Benchmark: resident memory of the agent as it runs, with N conntrack entries (default 100,000) in a
 * network namespace. Each configuration runs the real CLI (`ctflow run`, the embedded agent: source,
 * flow engine and exporter in one process) inside the namespace for a number of polls, and samples
 * VmRSS of the ctflow process and of every process it started (the ctnetlink reader, `conntrack -E`)
 * once a second. Reported: the peak of the sum and the sum at the end, per configuration, all in the
 * same run on the same table:
 * - runtime `dist` (the compiled CLI production runs) or `tsx` (the sources through tsx, development);
 * - reader `ctnetlink` (ctflow's netlink reader, diffing dumps itself) or `conntrack-tools`;
 * - NODE_OPTIONS empty or `--max-semi-space-size=2` (V8's young generation kept small), and node's
 *   `--optimize-for-size` (V8 grows its heap less eagerly and collects sooner; not allowed in
 *   NODE_OPTIONS: it goes on node's command line).
 *
 * With --agent, also `ctflow agent` (compiled; source and Kafka publishing, no engine) against a real
 * broker (KAFKA_BROKERS, else the local KRaft broker), publishing every observation of the table.
 *
 * With --agent-only, only the `ctflow agent` configurations run (the issue's goal is the agent's).
 *
 * Run as root (needs `npm run build` for the dist runtime and Go for the ctnetlink reader):
 *   node --import tsx bench/agent-rss.ts [entries] [--seconds S] [--poll-interval S] [--agent|--agent-only]
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildCtnetlink } from '../test/rig/ctnetlink.js';
import { run } from '../test/rig/exec.js';
import { startTestKafka } from '../test/rig/kafka-broker.js';
import { createNetnsPair, inNetns } from '../test/rig/netns.js';
import { fillUdpEntries, processRss } from './conntrack-table.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** V8's young generation capped at 2 MB semi-spaces (default: grows to 16 MB and stays). */
const SMALL_YOUNG_GEN = '--max-semi-space-size=2';
/** V8 optimising for memory rather than speed (a command-line flag: NODE_OPTIONS refuses it). */
const FOR_SIZE = ['--optimize-for-size'];
interface Config {
  /** `run`: the embedded mode (source, engine, exporter); `agent`: source and Kafka publishing. */
  role: 'run' | 'agent';
  runtime: 'dist' | 'tsx';
  reader: 'ctnetlink' | 'conntrack-tools';
  nodeOptions: string;
  /** Flags on node's command line. */
  nodeFlags?: string[];
}
const RUN_CONFIGS: Config[] = [
  { role: 'run', runtime: 'dist', reader: 'ctnetlink', nodeOptions: '' },
  { role: 'run', runtime: 'dist', reader: 'ctnetlink', nodeOptions: SMALL_YOUNG_GEN },
  { role: 'run', runtime: 'dist', reader: 'ctnetlink', nodeOptions: SMALL_YOUNG_GEN, nodeFlags: FOR_SIZE },
  { role: 'run', runtime: 'dist', reader: 'conntrack-tools', nodeOptions: '' },
  { role: 'run', runtime: 'tsx', reader: 'ctnetlink', nodeOptions: '' },
  { role: 'run', runtime: 'tsx', reader: 'conntrack-tools', nodeOptions: '' },
];
/** The agent role runs compiled, as production does (its Kafka client needs the root namespace). */
const AGENT_CONFIGS: Config[] = [
  { role: 'agent', runtime: 'dist', reader: 'ctnetlink', nodeOptions: '' },
  { role: 'agent', runtime: 'dist', reader: 'ctnetlink', nodeOptions: SMALL_YOUNG_GEN },
  { role: 'agent', runtime: 'dist', reader: 'ctnetlink', nodeOptions: SMALL_YOUNG_GEN, nodeFlags: FOR_SIZE },
  { role: 'agent', runtime: 'dist', reader: 'conntrack-tools', nodeOptions: '' },
  {
    role: 'agent',
    runtime: 'dist',
    reader: 'conntrack-tools',
    nodeOptions: SMALL_YOUNG_GEN,
    nodeFlags: FOR_SIZE,
  },
];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

/** Name (comm) of a process. */
function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** Every descendant of `pid` (children's children too). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited while listed
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

interface Sample {
  config: Config;
  peakBytes: number;
  endBytes: number;
  endParts: string;
}

/**
 * `ctflow agent` as production runs it (compiled), in the root namespace so it reaches the broker,
 * reading the namespace's table through the source's command prefix (what the CLI cannot express).
 */
function agentArgv(ns: string, config: Config, ctnetlink: string, poll: number, brokers: string): string[] {
  const script = `
    import { startAgent } from '${ROOT}dist/agent/agent.js';
    import { parseConfig } from '${ROOT}dist/config/load.js';
    import { createLogger } from '${ROOT}dist/telemetry/logger.js';
    const config = parseConfig({
      node: { name: 'bench' },
      kafka: { brokers: ['${brokers}'], topics: { observations: 'bench-agent-rss' } },
      metrics: { enabled: false },
      conntrack: { pollInterval: ${poll}, reader: '${config.reader}', ctnetlinkPath: '${ctnetlink}' },
    }, 'agent');
    await startAgent(config, createLogger({ level: 'warn' }), { commandPrefix: ['ip', 'netns', 'exec', '${ns}'] });
  `;
  return [process.execPath, ...(config.nodeFlags ?? []), '--input-type=module', '-e', script];
}

async function measure(
  ns: string,
  config: Config,
  ctnetlink: string,
  seconds: number,
  poll: number,
  brokers: string,
): Promise<Sample> {
  const argv =
    config.role === 'agent'
      ? agentArgv(ns, config, ctnetlink, poll, brokers)
      : inNetns(ns, [
          process.execPath,
          ...(config.nodeFlags ?? []),
          `${ROOT}bin/ctflow.js`,
          'run',
          '--source',
          'conntrack',
          '--reader',
          config.reader,
          '--poll-interval',
          String(poll),
          '--collector',
          'udp://127.0.0.1:4739',
          '--metrics-listen',
          '127.0.0.1:0',
          '--log-level',
          'warn',
          '--set',
          `conntrack.ctnetlinkPath=${ctnetlink}`,
        ]);
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      CTFLOW_RUNTIME: config.runtime,
      CTFLOW_CONFIG: '',
      NODE_OPTIONS: config.nodeOptions,
    },
  });
  let peak = 0;
  let end = 0;
  let endParts = '';
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    if (child.exitCode !== null)
      throw new Error(`ctflow exited ${child.exitCode} (${JSON.stringify(config)})`);
    // ip netns exec execs the command: the child's pid is ctflow's node process.
    const pids = [child.pid as number, ...descendants(child.pid as number)];
    const parts = pids.map((p) => ({ name: commOf(p), rss: processRss(p)?.rss ?? 0 }));
    const total = parts.reduce((a, p) => a + p.rss, 0);
    peak = Math.max(peak, total);
    end = total;
    endParts = parts.map((p) => `${p.name} ${(p.rss / 2 ** 20).toFixed(0)}`).join(' + ');
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('close', r));
  return { config, peakBytes: peak, endBytes: end, endParts };
}

async function main(): Promise<void> {
  const entries = Number(process.argv[2] ?? 100_000) || 100_000;
  const seconds = arg('--seconds', 30);
  const poll = arg('--poll-interval', 5);
  if (!existsSync(`${ROOT}dist/cli/main.js`)) throw new Error('run `npm run build` first (the dist runtime)');
  const ctnetlink = await buildCtnetlink();
  await using pair = await createNetnsPair();
  // UDP entries without replies live 30 s by default: keep them for the whole run.
  await pair.exec(pair.node, ['sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=3600']);
  await fillUdpEntries(pair.node, entries);
  const { stdout } = await run(inNetns(pair.node, ['conntrack', '-C']));
  const results: Sample[] = [];
  const agentOnly = process.argv.includes('--agent-only');
  const withAgent = agentOnly || process.argv.includes('--agent');
  const kafka = withAgent ? await startTestKafka() : null;
  try {
    if (kafka !== null) {
      await run(
        [
          process.execPath,
          `${ROOT}bin/ctflow.js`,
          'topics',
          'ensure',
          '--brokers',
          kafka.brokers,
          '--partitions',
          '6',
          '--set',
          'kafka.topics.observations=bench-agent-rss',
        ],
        { timeoutMs: 120_000 },
      );
    }
    for (const config of [...(agentOnly ? [] : RUN_CONFIGS), ...(withAgent ? AGENT_CONFIGS : [])]) {
      results.push(await measure(pair.node, config, ctnetlink, seconds, poll, kafka?.brokers ?? ''));
    }
  } finally {
    await kafka?.stop();
  }
  const mb = (b: number): string => (b / 2 ** 20).toFixed(0);
  const lines = [
    `agent RSS, \`ctflow run\` in a namespace with ${stdout.trim()} conntrack entries, ${seconds} s, poll every ${poll} s`,
    `(${new Date().toISOString()}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}, Node ${process.version})`,
    '',
    '| role | runtime | reader | NODE_OPTIONS, node flags | peak RSS, all processes | RSS at the end | processes at the end (MB) |',
    '|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.config.role} | ${r.config.runtime} | ${r.config.reader} | ${[r.config.nodeOptions, ...(r.config.nodeFlags ?? [])].join(' ').trim() || '(none)'} | ${mb(r.peakBytes)} MB | ${mb(r.endBytes)} MB | ${r.endParts} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
