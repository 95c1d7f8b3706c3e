/**
 * Engine ceiling (issue #4): what the flow engine's hot path costs in TypeScript, in WebAssembly
 * and natively, on the same messages, in one process with alternating rounds.
 *
 *   bench/engine-ceiling/build.sh && node --expose-gc --import tsx bench/engine-ceiling/run.ts \
 *     [--flows 1000000] [--nodes 100] [--rounds 12] [--check-rounds 3] [--out /tmp/engine-ceiling]
 *     [--native engine-native,engine-native-touch,engine-native-clang,engine-native-clang-thp]
 *
 * Messages: those of bench/flow-engine.ts's realistic section (its generator is copied below,
 * same values: 1 M flows on 100 nodes, polls 5 s apart, each poll carrying the two thirds of the
 * flows that grew, the same event times as that section with its default options). The flows are
 * created first from NEW messages (one per flow, at the time of the realistic section's poll 0),
 * then every poll round goes through, in an order that rotates each round:
 *   (a) FlowEngine.observeEncodedBatch() of each node's poll (CPU timed), the node's watermark
 *       (timed apart) and drainRecords() (timed apart);
 *   (b) the same three steps in bench/engine-ceiling/engine.c compiled to WebAssembly (the poll
 *       file copied into its memory before the round, not timed; the copy's CPU is reported apart);
 *   (c) the same C compiled natively, each binary named by --native (build.sh: gcc -O2, gcc with
 *       touch loads instead of prefetch, clang -O2, clang -O2 + THP) a child process reading the
 *       same poll file and reporting its own CPU time (CLOCK_PROCESS_CPUTIME_ID).
 * After the rounds: pass 1 alone (message read + key words + hash) timed once per variant,
 * `--check-rounds` more poll rounds (default 3, which include an active-timeout round) untimed
 * with the JS timer-heap pushes counted (TimerHeap.prototype.push wrapped for those rounds only),
 * and the state of >= 1000 sample flows (FlowEngine.snapshot()) compared with every C build, as
 * are records, pending changes per drain and timer pushes. Exit code 1 when anything differs.
 *
 * Poll file (little-endian): u32 magic "CEF1", u32 polls; per poll (8-byte aligned): u32 node,
 * u32 n, f64 watermark time, u32 off[n + 1] (message k = bytes[off[k], off[k + 1])), the bytes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AvroCodec } from '../../src/codec/avro-codec.js';
import { ObservationV1Reader } from '../../src/codec/observation-v1-decoder.js';
import { SINGLE_OBJECT_HEADER_LENGTH } from '../../src/codec/single-object.js';
import { FlowEngine } from '../../src/flow/engine.js';
import { nodeHash } from '../../src/flow/key-index.js';
import { TimerHeap } from '../../src/flow/timer-heap.js';
import {
  encodeKeyFields,
  encodeKeyString,
  KEY_WORDS,
  keyWordsHash,
  parseIPv4Bytes,
} from '../../src/flow/tuple-key.js';
import { engineWorkload, REAL_POLL_US, ROUND_US, T0 } from '../engine-workload.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : (process.argv[i + 1] as string);
}

const FLOWS = Number(arg('flows', '1000000'));
const NODES = Number(arg('nodes', '100'));
const ROUNDS = Number(arg('rounds', '12'));
const OUT = arg('out', '/tmp/engine-ceiling');
/** Native binaries in OUT, comma-separated (build.sh makes engine-native, -touch, -clang, -clang-thp). */
const NATIVE = arg('native', 'engine-native');
/** Poll rounds after the timed ones, untimed, with the JS engine's timer pushes counted. */
const CHECK_ROUNDS = Number(arg('check-rounds', '3'));
const START = SINGLE_OBJECT_HEADER_LENGTH;

// ---- the generator of bench/flow-engine.ts (bench/engine-workload.ts) ----
const { nodeNames, bootIds, perNode, observation, realObservation } = engineWorkload(FLOWS, NODES);
// bench/flow-engine.ts with its defaults (--rounds 6, --encoded-rounds 3): round = 4·6 + 3·3 = 33.
const realT0 = T0 + (33 + 1) * ROUND_US;

// ---- poll files ----
interface PollAt {
  node: number;
  n: number;
  wm: number;
  /** File offsets of its off[] array and of its bytes. */
  offAt: number;
  bytesAt: number;
  /** The messages as views of the file (what (a) gets). */
  views: Buffer[];
}
interface PollFile {
  buf: Buffer;
  polls: PollAt[];
  messages: number;
}

const avro = new AvroCodec();

function buildFile(polls: { node: number; wm: number; msgs: Buffer[] }[]): PollFile {
  let size = 8;
  for (const p of polls) {
    let bytes = 0;
    for (const m of p.msgs) bytes += m.length;
    size += (16 + 4 * (p.msgs.length + 1) + bytes + 7) & ~7;
  }
  const buf = Buffer.alloc(size);
  buf.write('CEF1', 0, 'latin1');
  buf.writeUInt32LE(polls.length, 4);
  let at = 8;
  const out: PollAt[] = [];
  let messages = 0;
  for (const p of polls) {
    const n = p.msgs.length;
    buf.writeUInt32LE(p.node, at);
    buf.writeUInt32LE(n, at + 4);
    buf.writeDoubleLE(p.wm, at + 8);
    const offAt = at + 16;
    const bytesAt = offAt + 4 * (n + 1);
    let o = 0;
    const views: Buffer[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const m = p.msgs[k] as Buffer;
      buf.writeUInt32LE(o, offAt + 4 * k);
      m.copy(buf, bytesAt + o);
      views[k] = buf.subarray(bytesAt + o, bytesAt + o + m.length);
      o += m.length;
    }
    buf.writeUInt32LE(o, offAt + 4 * n);
    out.push({ node: p.node, n, wm: p.wm, offAt, bytesAt, views });
    messages += n;
    at = (bytesAt + o + 7) & ~7;
  }
  return { buf, polls: out, messages };
}

/** The NEW message of every flow (each node's at realistic poll 0's time). */
function createFile(): PollFile {
  const polls = [];
  let made = 0;
  for (let node = 0; node < NODES; node++) {
    const msgs: Buffer[] = [];
    const time = realT0 + node;
    for (let i = 0; i < perNode && made < FLOWS; i++, made++) {
      msgs.push(Buffer.from(avro.encodeObservation(observation(node, i, time, 0, 'NEW'))));
    }
    polls.push({ node, wm: time + 1, msgs });
  }
  return buildFile(polls);
}

/** Poll r of the realistic section: each node's changed flows, then its watermark. */
function pollFile(r: number): PollFile {
  const time = realT0 + r * REAL_POLL_US;
  const polls = [];
  for (let node = 0; node < NODES; node++) {
    const msgs: Buffer[] = [];
    for (let i = 0; i < perNode; i++) {
      if ((r + i) % 3 === 0) continue;
      msgs.push(Buffer.from(avro.encodeObservation(realObservation(node, i, time + node, r))));
    }
    polls.push({ node, wm: time + node + 1, msgs });
  }
  return buildFile(polls);
}

// ---- the three variants ----
const cpuNs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) * 1000;
};

interface RoundResult {
  observed: number;
  obsNs: number;
  wmNs: number;
  drainNs: number;
  pending: number;
}

// (a) TypeScript
const engine = new FlowEngine({});
function runJs(file: PollFile): RoundResult {
  const r: RoundResult = { observed: 0, obsNs: 0, wmNs: 0, drainNs: 0, pending: 0 };
  for (const p of file.polls) {
    const c0 = cpuNs();
    const done = engine.observeEncodedBatch(p.views, START);
    const c1 = cpuNs();
    engine.watermark({ node: nodeNames[p.node] as string, bootId: bootIds[p.node] as string, timeUs: p.wm });
    const c2 = cpuNs();
    r.pending += engine.pendingChanges;
    engine.drainRecords();
    const c3 = cpuNs();
    if (done !== p.n) throw new Error(`observeEncodedBatch declined message ${done} of node ${p.node}`);
    r.obsNs += c1 - c0;
    r.wmNs += c2 - c1;
    r.drainNs += c3 - c2;
    r.observed += p.n;
  }
  return r;
}

// (b) WebAssembly
interface Wasm {
  memory: { readonly buffer: ArrayBuffer };
  ce_alloc(n: number): number;
  ce_init(cap: number): number;
  ce_observe(base: number, off: number, from: number, to: number, start: number): number;
  ce_read_only(base: number, off: number, from: number, to: number, start: number): number;
  ce_watermark(node: number, t: number): void;
  ce_drain(): number;
  ce_lookup(node: number, w: number, out: number): number;
  ce_stat(i: number): number;
  ce_size(): number;
}
const STAT_NAMES = [
  'records',
  'pushes',
  'unsupported',
  'late',
  'conflicts',
  'created',
  'applied',
  'invalid',
  'dirtyFlows',
  'dirtyNodes',
] as const;
type Stats = Record<(typeof STAT_NAMES)[number], number> & { size: number };

mkdirSync(OUT, { recursive: true });
/** The WebAssembly API of Node (not in this project's TypeScript lib, which has no DOM types). */
const WA = (
  globalThis as unknown as {
    WebAssembly: {
      compile(bytes: Uint8Array): Promise<object>;
      instantiate(module: object, imports: object): Promise<{ exports: object }>;
    };
  }
).WebAssembly;
const wasmModule = await WA.compile(readFileSync(join(OUT, 'engine.wasm')));
const wasm = (await WA.instantiate(wasmModule, {})).exports as unknown as Wasm;
if (wasm.ce_init(FLOWS + 1024) !== 1) throw new Error('wasm ce_init failed');
let region = 0;
let regionSize = 0;
const scratch = wasm.ce_alloc(16 * 8 + KEY_WORDS * 4);

function wasmStats(): Stats {
  const s = Object.fromEntries(STAT_NAMES.map((n, i) => [n, wasm.ce_stat(i)])) as Stats;
  s.size = wasm.ce_size();
  return s;
}

/** Copies the poll file into the module's memory (before timing). */
function wasmLoad(file: PollFile): void {
  if (file.buf.length > regionSize) {
    regionSize = Math.ceil(file.buf.length * 1.1);
    region = wasm.ce_alloc(regionSize);
    if (region === 0) throw new Error('wasm out of memory');
  }
  new Uint8Array(wasm.memory.buffer, region, file.buf.length).set(file.buf);
}

/** CPU time of the copies of poll files into the module's memory (not in the observe figure). */
let wasmCopyNs = 0;
let wasmCopied = 0;
function runWasm(file: PollFile): RoundResult & { declined: number } {
  const c = cpuNs();
  wasmLoad(file);
  wasmCopyNs += cpuNs() - c;
  wasmCopied += file.messages;
  const r = { observed: 0, obsNs: 0, wmNs: 0, drainNs: 0, pending: 0, declined: 0 };
  for (const p of file.polls) {
    const c0 = cpuNs();
    const done = wasm.ce_observe(region + p.bytesAt, region + p.offAt, 0, p.n, START);
    const c1 = cpuNs();
    wasm.ce_watermark(p.node, p.wm);
    const c2 = cpuNs();
    r.pending += wasm.ce_drain();
    const c3 = cpuNs();
    r.obsNs += c1 - c0;
    r.wmNs += c2 - c1;
    r.drainNs += c3 - c2;
    r.observed += done;
    r.declined += p.n - done;
  }
  return r;
}

// (c) native: one child process per binary named by --native (same protocol, same poll file)
class Native {
  readonly name: string;
  readonly #child;
  readonly #lines;
  /** Stats after its last poll round. */
  stats: Stats | undefined;

  constructor(name: string) {
    this.name = name;
    this.#child = spawn(join(OUT, name), [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async cmd(line: string): Promise<Record<string, number> & { values?: number[][] }> {
    this.#child.stdin.write(`${line}\n`);
    const next = await this.#lines.next();
    if (next.done) throw new Error(`${this.name} exited`);
    const v = JSON.parse(next.value as string);
    if (v.error !== undefined) throw new Error(`${this.name}: ${v.error}`);
    return v;
  }

  /** A poll file already written to poll.bin. */
  async run(): Promise<RoundResult & { declined: number }> {
    const v = await this.cmd(`R ${fileOf('poll.bin')}`);
    this.stats = Object.fromEntries([...STAT_NAMES, 'size'].map((n) => [n, v[n] as number])) as Stats;
    return {
      observed: v.observed as number,
      obsNs: v.obsNs as number,
      wmNs: v.wmNs as number,
      drainNs: v.drainNs as number,
      pending: v.pending as number,
      declined: v.declined as number,
    };
  }

  async quit(): Promise<void> {
    this.#child.stdin.write('Q\n');
    this.#child.stdin.end();
    await once(this.#child, 'exit');
  }
}
const fileOf = (name: string): string => join(OUT, name);
const natives = NATIVE.split(',').map((n) => new Native(n));
for (const n of natives)
  if ((await n.cmd(`I ${FLOWS + 1024}`)).ok !== 1) throw new Error(`${n.name}: ce_init failed`);
const nativeOf = (name: string): Native => natives.find((n) => n.name === name) as Native;

/** Runs variant `v` on poll file `file` (poll.bin holds it for the native ones). */
async function runVariant(v: string, file: PollFile): Promise<RoundResult & { declined?: number }> {
  if (v === 'js') return runJs(file);
  if (v === 'wasm') return runWasm(file);
  return nativeOf(v).run();
}

// ---- run ----
const gc = (globalThis as { gc?: () => void }).gc;
const load = [
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
];
const tAll = Date.now();
const variants = ['js', 'wasm', ...natives.map((n) => n.name)];
const mismatches: string[] = [];

/** One poll file through every variant (in the order given); pending changes must agree. */
async function round(
  label: string,
  file: PollFile,
  order: readonly string[],
): Promise<Map<string, RoundResult>> {
  writeFileSync(fileOf('poll.bin'), file.buf);
  const res = new Map<string, RoundResult>();
  for (const v of order) {
    const x = await runVariant(v, file);
    if ((x.declined ?? 0) !== 0) mismatches.push(`${label}: ${v} declined ${x.declined} messages`);
    res.set(v, x);
  }
  const js = res.get('js') as RoundResult;
  for (const [v, x] of res) {
    if (x.pending !== js.pending)
      mismatches.push(`${label}: pending changes js ${js.pending}, ${v} ${x.pending}`);
  }
  return res;
}

await round('setup', createFile(), variants);
for (const n of natives) {
  if (n.stats?.size !== FLOWS) throw new Error(`${n.name}: ${n.stats?.size} flows`);
}
if (engine.size !== FLOWS || wasm.ce_size() !== FLOWS) {
  throw new Error(`flows: js ${engine.size}, wasm ${wasm.ce_size()}`);
}

const totals = new Map(variants.map((v) => [v, { observed: 0, obsNs: 0, wmNs: 0, drainNs: 0 }]));
const rate = (x: { observed: number; obsNs: number }): number => Math.round(x.observed / (x.obsNs / 1e9));
const perRound: Record<string, number | string>[] = [];
let f: PollFile | undefined;
for (let r = 1; r <= ROUNDS; r++) {
  f = pollFile(r);
  gc?.();
  const order = variants.map((_, k) => variants[(k + r) % variants.length] as string);
  const res = await round(`round ${r}`, f, order);
  const row: Record<string, number | string> = { r, order: order.join(',') };
  for (const [v, x] of res) {
    const t = totals.get(v) as { observed: number; obsNs: number; wmNs: number; drainNs: number };
    t.observed += x.observed;
    t.obsNs += x.obsNs;
    t.wmNs += x.wmNs;
    t.drainNs += x.drainNs;
    row[v] = rate(x);
  }
  perRound.push(row);
  console.error(JSON.stringify(row));
}
load.push(
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
);
if (f === undefined) throw new Error('--rounds must be at least 1');

// ---- pass 1 alone (message read, key words, hash) on the last poll round ----
const reader = new ObservationV1Reader();
const kwScratch = new Uint32Array(KEY_WORDS);
const nodeHashes = nodeNames.map(nodeHash);
function jsReadOnly(file: PollFile): number {
  let sink = 0;
  for (const p of file.polls) {
    const nh = nodeHashes[p.node] as number;
    for (const b of p.views) {
      if (!reader.read(b, START)) throw new Error('declined');
      const o = reader.obs;
      const t = reader.orig;
      const src = parseIPv4Bytes(b, t.srcFrom, t.srcTo);
      const dst = parseIPv4Bytes(b, t.dstFrom, t.dstTo);
      const oo = o.orig;
      if (
        encodeKeyFields(
          o.zone,
          o.protocol,
          src,
          dst,
          oo.srcPort,
          oo.dstPort,
          oo.icmpType,
          oo.icmpCode,
          oo.icmpId,
          kwScratch,
          0,
        )
      )
        sink ^= keyWordsHash(nh, kwScratch, 0);
    }
  }
  return sink;
}
const readOnly = new Map<string, number>();
for (let k = 0; k < 2; k++) {
  // the second pass counts (the first warms the JS reader path up outside the engine)
  let c0 = cpuNs();
  jsReadOnly(f);
  readOnly.set('js', cpuNs() - c0);
  wasmLoad(f);
  c0 = cpuNs();
  for (const p of f.polls) wasm.ce_read_only(region + p.bytesAt, region + p.offAt, 0, p.n, START);
  readOnly.set('wasm', cpuNs() - c0);
  for (const n of natives) readOnly.set(n.name, (await n.cmd(`T ${fileOf('poll.bin')}`)).obsNs as number);
}

// ---- check rounds: timer pushes counted in the JS engine too ----
const proto = TimerHeap.prototype as unknown as { push(d: number, s: number, l: number): void };
const origPush = proto.push;
let jsPushes = 0;
proto.push = function (this: TimerHeap, d: number, s: number, l: number): void {
  jsPushes++;
  origPush.call(this, d, s, l);
};
const pushes0 = new Map<string, number>([['wasm', wasm.ce_stat(1)]]);
for (const n of natives) pushes0.set(n.name, n.stats?.pushes ?? 0);
const checkPending = new Map<string, number>(variants.map((v) => [v, 0]));
for (let r = ROUNDS + 1; r <= ROUNDS + CHECK_ROUNDS; r++) {
  for (const [v, x] of await round(`check round ${r}`, pollFile(r), variants)) {
    checkPending.set(v, (checkPending.get(v) as number) + x.pending);
  }
}
proto.push = origPush;
const pushes: Record<string, number> = {
  js: jsPushes,
  wasm: wasm.ce_stat(1) - (pushes0.get('wasm') as number),
};
for (const n of natives) pushes[n.name] = (n.stats?.pushes ?? 0) - (pushes0.get(n.name) as number);
for (const [v, p] of Object.entries(pushes)) {
  if (p !== jsPushes) mismatches.push(`check rounds: timer pushes js ${jsPushes}, ${v} ${p}`);
}

// ---- sample flows: FlowEngine.snapshot() against every C build ----
const snap = engine.snapshot().filter((e) => e.state?.flow != null);
const step = Math.max(1, Math.floor(snap.length / 1200));
const sample = snap.filter((_, k) => k % step === 0);
const sampleBuf = Buffer.alloc(4 + 24 * sample.length);
sampleBuf.writeUInt32LE(sample.length, 0);
const expected: number[][] = [];
const values = new Map<string, number[][]>([['wasm', []]]);
const w = new Uint32Array(KEY_WORDS);
sample.forEach((e, k) => {
  const fs = e.state?.flow;
  if (fs == null || fs.counters === null) throw new Error(`no counters: ${e.key}`);
  if (!encodeKeyString(e.key, w, 0)) throw new Error(`not a narrow key: ${e.key}`);
  const node = nodeNames.indexOf(e.key.slice(0, e.key.indexOf('|')));
  sampleBuf.writeUInt32LE(node, 4 + 24 * k);
  for (let i = 0; i < KEY_WORDS; i++) sampleBuf.writeUInt32LE(w[i] as number, 8 + 24 * k + 4 * i);
  const c = fs.counters;
  expected.push([
    1,
    c.current.origPackets,
    c.current.origBytes,
    c.current.replyPackets,
    c.current.replyBytes,
    c.exported.origPackets,
    c.exported.origBytes,
    c.exported.replyPackets,
    c.exported.replyBytes,
    fs.lastSeenUs,
    fs.lastChangeUs,
    fs.intervalStartUs,
    fs.recordIndex,
    fs.flags,
    fs.nextActiveUs,
    fs.connStartUs,
    fs.originUs,
  ]);
  new Uint32Array(wasm.memory.buffer, scratch + 16 * 8, KEY_WORDS).set(w);
  const found = wasm.ce_lookup(node, scratch + 16 * 8, scratch);
  values.get('wasm')?.push([found, ...new Float64Array(wasm.memory.buffer, scratch, 16)]);
});
writeFileSync(fileOf('sample.bin'), sampleBuf);
for (const n of natives) values.set(n.name, (await n.cmd(`V ${fileOf('sample.bin')}`)).values as number[][]);
const sampleMismatches: Record<string, number> = {};
for (const [v, vals] of values) {
  let bad = 0;
  for (let k = 0; k < sample.length; k++) {
    const e = JSON.stringify(expected[k]);
    const got = JSON.stringify(vals[k]);
    if (got !== e && bad++ < 3) mismatches.push(`flow ${sample[k]?.key}: js ${e}, ${v} ${got}`);
  }
  sampleMismatches[v] = bad;
}
const cStats: Record<string, Stats> = { wasm: wasmStats() };
for (const n of natives) cStats[n.name] = n.stats as Stats;
const jsRecords = engine.stats.records;
for (const [v, s] of Object.entries(cStats)) {
  if (s.records !== jsRecords) mismatches.push(`records: js ${jsRecords}, ${v} ${s.records}`);
  if (s.unsupported !== 0 || s.invalid !== 0 || s.late !== 0) {
    mismatches.push(`${v}: unsupported ${s.unsupported}, invalid ${s.invalid}, late ${s.late}`);
  }
}
for (const n of natives) await n.quit();

const pick = (fn: (v: string) => number): Record<string, number> =>
  Object.fromEntries(variants.map((v) => [v, fn(v)]));
const tot = (v: string): { observed: number; obsNs: number; wmNs: number; drainNs: number } =>
  totals.get(v) as { observed: number; obsNs: number; wmNs: number; drainNs: number };
const nsPer = (ns: number, n: number): number => Number((ns / n).toFixed(1));
const rates = pick((v) => rate(tot(v)));
const result = {
  flows: FLOWS,
  nodes: NODES,
  rounds: ROUNDS,
  observationsPerVariant: tot('js').observed,
  observePerCpuSec: rates,
  ratioOverJs: pick((v) => Number(((rates[v] as number) / (rates.js as number)).toFixed(2))),
  nsPerObservation: {
    observe: pick((v) => nsPer(tot(v).obsNs, tot(v).observed)),
    watermark: pick((v) => nsPer(tot(v).wmNs, tot(v).observed)),
    drain: pick((v) => nsPer(tot(v).drainNs, tot(v).observed)),
    readPassOnly: pick((v) => nsPer(readOnly.get(v) as number, f.messages)),
    // The copy of the message bytes into wasm memory (one memcpy per poll file: untimed above).
    wasmCopyIn: nsPer(wasmCopyNs, wasmCopied),
  },
  perRound,
  check: {
    sampleFlows: sample.length,
    sampleMismatches,
    records: { js: jsRecords, ...Object.fromEntries(Object.entries(cStats).map(([v, s]) => [v, s.records])) },
    checkRounds: CHECK_ROUNDS,
    timerPushesInCheckRounds: pushes,
    pendingChangesInCheckRounds: Object.fromEntries(checkPending),
    cStats,
    mismatches,
    ok: mismatches.length === 0,
  },
  loadAverage: load,
  wallSeconds: Math.round((Date.now() - tAll) / 1000),
  node: process.version,
};
console.log(JSON.stringify(result, null, 2));
if (mismatches.length > 0) process.exitCode = 1;
