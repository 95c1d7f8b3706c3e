/**
 * Flow engine restore benchmark (issue #4 restore rate, issue #6's engine share): one changelog of N flows
 * restored alternately by
 * - `restoreEncoded()` of (key string, value Buffer) pairs built beforehand (not timed), and
 * - `restoreBegin()` + `restoreRecords()` + `restoreEnd()` from the records' positions in "fetched" buffers of
 *   8 MiB (one call per buffer, as src/processor/restore.ts does per fetch response), no object per record.
 * Rates are flows per CPU second of the process (GC helper threads included), each round in a fresh engine
 * after a full GC; rounds alternate so both see the same machine load.
 *
 *   node --expose-gc --import tsx bench/restore-engine.ts [--flows 1000000] [--nodes 100] [--rounds 3]
 */
import { FlowEngine } from '../src/flow/engine.js';
import { FlowStateCodec } from '../src/flow/state-codec.js';
import type { Observation } from '../src/flow/types.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

const FLOWS = arg('flows', 1_000_000);
const NODES = arg('nodes', 100);
const ROUNDS = arg('rounds', 3);
const FETCH_BYTES = 8 * 1_048_576;
const SEC = 1_000_000;
const T0 = (Math.floor(Date.now() / 1000) - 86_400) * SEC;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function observation(node: number, i: number): Observation {
  const orig = {
    src: `10.${node & 255}.${(i >> 8) & 255}.${i & 255}`,
    dst: `10.96.${(i >> 16) & 255}.10`,
    srcPort: 30000 + (i % 30000),
    dstPort: 443,
    icmpType: null,
    icmpCode: null,
    icmpId: null,
  };
  return {
    node: `node-${node}`,
    bootId: `boot-${node}`,
    kind: 'NEW',
    timeUs: T0 + i,
    conntrackId: i + 1,
    zone: 0,
    family: 'IPV4',
    protocol: 6,
    orig,
    reply: { ...orig, src: orig.dst, dst: orig.src, srcPort: orig.dstPort, dstPort: orig.srcPort },
    tcpState: 'ESTABLISHED',
    status: 0,
    mark: 0,
    counters: { origPackets: 3, origBytes: 3000, replyPackets: 2, replyBytes: 6000 },
    kernelStartUs: T0,
    kernelStopUs: null,
  };
}

const codec = new FlowStateCodec();
// The changelog: one value per flow and node, in the order a processor's drains write them.
const pairs: [string, Buffer | null][] = [];
{
  const writer = new FlowEngine();
  for (let i = 0; i < FLOWS; i++) writer.observe(observation(i % NODES, Math.floor(i / NODES)));
  for (const c of writer.drain().changes) pairs.push([c.key, codec.encode(c.state)]);
}
// The same records in fetch-sized buffers, each record as in a RecordBatch: a few header bytes, key, value.
const bufs: Buffer[] = [];
const pos = new Int32Array(pairs.length * 6);
const bounds: number[] = [0];
{
  let parts: Buffer[] = [];
  let size = 0;
  pairs.forEach(([key, value], i) => {
    const k = Buffer.from(key);
    const v = value as Buffer;
    if (size + k.length + v.length + 12 > FETCH_BYTES) {
      bufs.push(Buffer.concat(parts));
      bounds.push(i);
      parts = [];
      size = 0;
    }
    const p = i * 6;
    pos[p] = bufs.length;
    pos[p + 1] = size + 6;
    pos[p + 2] = k.length;
    pos[p + 3] = bufs.length;
    pos[p + 4] = size + 6 + k.length + 6;
    pos[p + 5] = v.length;
    parts.push(Buffer.alloc(6), k, Buffer.alloc(6), v);
    size += 12 + k.length + v.length;
  });
  bufs.push(Buffer.concat(parts));
  bounds.push(pairs.length);
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function timed(run: () => FlowEngine): { flows: number; cpuMs: number; wallMs: number } {
  gc();
  const c0 = cpuMs();
  const t0 = performance.now();
  const e = run();
  const wallMs = performance.now() - t0;
  const used = cpuMs() - c0;
  if (e.size !== FLOWS) throw new Error(`restored ${e.size} flows, expected ${FLOWS}`);
  return { flows: e.size, cpuMs: used, wallMs };
}

const results: Record<string, number[]> = { restoreEncoded: [], restoreRecords: [] };
const walls: Record<string, number[]> = { restoreEncoded: [], restoreRecords: [] };
for (let round = 0; round < ROUNDS; round++) {
  const a = timed(() => {
    const e = new FlowEngine();
    e.restoreEncoded(pairs, codec);
    return e;
  });
  const b = timed(() => {
    const e = new FlowEngine();
    e.restoreBegin(pairs.length);
    for (let f = 0; f + 1 < bounds.length; f++) {
      e.restoreRecords(bufs, pos, bounds[f] as number, bounds[f + 1] as number, codec, 'bench');
    }
    e.restoreEnd();
    return e;
  });
  results.restoreEncoded?.push(Math.round(a.flows / (a.cpuMs / 1000)));
  results.restoreRecords?.push(Math.round(b.flows / (b.cpuMs / 1000)));
  walls.restoreEncoded?.push(Math.round(a.flows / (a.wallMs / 1000)));
  walls.restoreRecords?.push(Math.round(b.flows / (b.wallMs / 1000)));
}
process.stdout.write(
  `${JSON.stringify({
    flows: FLOWS,
    nodes: NODES,
    changelogRecords: pairs.length,
    fetches: bufs.length,
    flowsPerCpuSecond: results,
    flowsPerWallSecond: walls,
  })}\n`,
);
