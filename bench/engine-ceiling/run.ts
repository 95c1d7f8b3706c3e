/**
 * Engine ceiling (issue #4): what the flow engine's hot path costs in TypeScript, in WebAssembly
 * and natively, on the same messages, in one process with alternating rounds.
 *
 *   bench/engine-ceiling/build.sh && node --expose-gc --import tsx bench/engine-ceiling/run.ts \
 *     [--flows 1000000] [--nodes 100] [--rounds 12] [--out /tmp/engine-ceiling]
 *
 * Messages: those of bench/flow-engine.ts's realistic section (its generator is copied below,
 * same values: 1 M flows on 100 nodes, polls 5 s apart, each poll carrying the two thirds of the
 * flows that grew, the same event times as that section with its default options). The flows are
 * created first from NEW messages (one per flow, at the time of the realistic section's poll 0),
 * then every poll round goes through, in an order that rotates each round:
 *   (a) FlowEngine.observeEncodedBatch() of each node's poll (CPU timed), the node's watermark
 *       (timed apart) and drainRecords() (timed apart);
 *   (b) the same three steps in bench/engine-ceiling/engine.c compiled to WebAssembly (the poll
 *       file copied into its memory before the round, not timed);
 *   (c) the same C compiled natively (gcc -O2), a child process reading the same poll file and
 *       reporting its own CPU time (CLOCK_PROCESS_CPUTIME_ID).
 * After the rounds: pass 1 alone (message read + key words + hash) timed once per variant, one
 * more poll round untimed with the JS timer-heap pushes counted (TimerHeap.prototype.push wrapped
 * for that round only), and the state of >= 1000 sample flows (FlowEngine.snapshot()) compared
 * with both C builds, as are records, pending changes per drain and timer pushes.
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
import type { Observation, Tuple } from '../../src/flow/types.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : (process.argv[i + 1] as string);
}

const FLOWS = Number(arg('flows', '1000000'));
const NODES = Number(arg('nodes', '100'));
const ROUNDS = Number(arg('rounds', '12'));
const OUT = arg('out', '/tmp/engine-ceiling');
const START = SINGLE_OBJECT_HEADER_LENGTH;

// ---- the generator of bench/flow-engine.ts (copied: that file runs its whole bench on import) ----
const T0 = 1_700_000_000_000_000;
const ROUND_US = 10_000_000;
const nodeNames = Array.from({ length: NODES }, (_, i) => `node-${String(i).padStart(4, '0')}.cluster.local`);
const bootIds = nodeNames.map((_, i) => `5b1f7c3e-0000-4000-8000-${String(i).padStart(12, '0')}`);
const perNode = Math.ceil(FLOWS / NODES);

function tupleOf(node: number, i: number): Tuple {
  return {
    src: `10.${(node >> 8) & 255}.${node & 255}.${(i >> 16) + 1}`,
    dst: `10.96.${(i >> 8) & 255}.${i & 255}`,
    srcPort: 32768 + (i % 28000),
    dstPort: 443,
    icmpType: null,
    icmpCode: null,
    icmpId: null,
  };
}

function invert(t: Tuple): Tuple {
  return { ...t, src: t.dst, dst: t.src, srcPort: t.dstPort, dstPort: t.srcPort };
}

function observation(
  node: number,
  i: number,
  timeUs: number,
  round: number,
  kind: Observation['kind'],
): Observation {
  const orig = tupleOf(node, i);
  const grown = Math.floor((round + (i % 3)) / 3);
  return {
    node: nodeNames[node] as string,
    bootId: bootIds[node] as string,
    kind,
    timeUs,
    conntrackId: node * perNode + i + 1,
    zone: 0,
    family: 'IPV4',
    protocol: 6,
    orig,
    reply: invert(orig),
    tcpState: 'ESTABLISHED',
    status: 0x18e,
    mark: 0,
    counters: {
      origPackets: 10 + grown * 3,
      origBytes: 1000 + grown * 900,
      replyPackets: 8 + grown * 2,
      replyBytes: 5000 + grown * 7000,
    },
    kernelStartUs: T0 - 5_000_000 + node,
    kernelStopUs: null,
  };
}

const REAL_POLL_US = 5_000_000;
function realObservation(node: number, i: number, timeUs: number, r: number): Observation {
  const o = observation(node, i, timeUs, 0, 'POLL');
  const c = o.counters as NonNullable<Observation['counters']>;
  const g = 100 + r;
  c.origPackets += g * 3;
  c.origBytes += g * 900;
  c.replyPackets += g * 2;
  c.replyBytes += g * 7000;
  return o;
}
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

function runWasm(file: PollFile): RoundResult & { declined: number } {
  wasmLoad(file);
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

// (c) native, a child process
const child = spawn(join(OUT, 'engine-native'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
async function native(cmd: string): Promise<Record<string, number> & { values?: number[][] }> {
  child.stdin.write(`${cmd}\n`);
  const next = await lines.next();
  if (next.done) throw new Error('native engine exited');
  const v = JSON.parse(next.value as string);
  if (v.error !== undefined) throw new Error(`native engine: ${v.error}`);
  return v;
}
const fileOf = (name: string): string => join(OUT, name);
if ((await native(`I ${FLOWS + 1024}`)).ok !== 1) throw new Error('native ce_init failed');

async function runNative(file: PollFile): Promise<RoundResult & { declined: number; stats: Stats }> {
  writeFileSync(fileOf('poll.bin'), file.buf);
  const v = await native(`R ${fileOf('poll.bin')}`);
  return {
    observed: v.observed as number,
    obsNs: v.obsNs as number,
    wmNs: v.wmNs as number,
    drainNs: v.drainNs as number,
    pending: v.pending as number,
    declined: v.declined as number,
    stats: Object.fromEntries([...STAT_NAMES, 'size'].map((n) => [n, v[n] as number])) as Stats,
  };
}

// ---- run ----
const gc = (globalThis as { gc?: () => void }).gc;
const load = [
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
];
const tAll = Date.now();

let f = createFile();
const setup = {
  js: runJs(f),
  wasm: runWasm(f),
  native: await runNative(f),
};
if (engine.size !== FLOWS || wasm.ce_size() !== FLOWS || setup.native.stats.size !== FLOWS) {
  throw new Error(`flows: js ${engine.size}, wasm ${wasm.ce_size()}, native ${setup.native.stats.size}`);
}

const totals = {
  js: { observed: 0, obsNs: 0, wmNs: 0, drainNs: 0 },
  wasm: { observed: 0, obsNs: 0, wmNs: 0, drainNs: 0 },
  native: { observed: 0, obsNs: 0, wmNs: 0, drainNs: 0 },
};
const perRound: { r: number; js: number; wasm: number; native: number }[] = [];
const mismatches: string[] = [];
let lastNative: Stats = setup.native.stats;
for (let r = 1; r <= ROUNDS; r++) {
  f = pollFile(r);
  gc?.();
  const res: Partial<Record<'js' | 'wasm' | 'native', RoundResult>> = {};
  const order = (['js', 'wasm', 'native'] as const).map((_, k, a) => a[(k + r) % 3] as (typeof a)[number]);
  for (const v of order) {
    if (v === 'js') res.js = runJs(f);
    else if (v === 'wasm') res.wasm = runWasm(f);
    else {
      const n = await runNative(f);
      lastNative = n.stats;
      res.native = n;
    }
  }
  const js = res.js as RoundResult;
  const wa = res.wasm as RoundResult;
  const na = res.native as RoundResult;
  for (const [name, x] of [
    ['js', js],
    ['wasm', wa],
    ['native', na],
  ] as const) {
    const t = totals[name];
    t.observed += x.observed;
    t.obsNs += x.obsNs;
    t.wmNs += x.wmNs;
    t.drainNs += x.drainNs;
  }
  if (wa.pending !== js.pending || na.pending !== js.pending) {
    mismatches.push(`round ${r}: pending changes js ${js.pending}, wasm ${wa.pending}, native ${na.pending}`);
  }
  const rate = (x: RoundResult): number => Math.round(x.observed / (x.obsNs / 1e9));
  perRound.push({ r, js: rate(js), wasm: rate(wa), native: rate(na) });
  console.error(
    `round ${r}: ${order.join(',')} per CPU s: js ${rate(js)}, wasm ${rate(wa)}, native ${rate(na)}`,
  );
}
load.push(
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
);

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
const readOnly = { js: 0, wasm: 0, native: 0, observed: f.messages };
for (let k = 0; k < 2; k++) {
  // the second pass counts (the first warms up the JS reader path outside the engine)
  let c0 = cpuNs();
  jsReadOnly(f);
  readOnly.js = cpuNs() - c0;
  wasmLoad(f);
  c0 = cpuNs();
  for (const p of f.polls) wasm.ce_read_only(region + p.bytesAt, region + p.offAt, 0, p.n, START);
  readOnly.wasm = cpuNs() - c0;
  readOnly.native = (await native(`T ${fileOf('poll.bin')}`)).obsNs as number;
}

// ---- verification round: timer pushes counted in the JS engine too ----
const proto = TimerHeap.prototype as unknown as { push(d: number, s: number, l: number): void };
const origPush = proto.push;
let jsPushes = 0;
proto.push = function (this: TimerHeap, d: number, s: number, l: number): void {
  jsPushes++;
  origPush.call(this, d, s, l);
};
f = pollFile(ROUNDS + 1);
const wasmPushes0 = wasm.ce_stat(1);
const nativePushes0 = lastNative.pushes;
const vJs = runJs(f);
const vWasm = runWasm(f);
const vNative = await runNative(f);
proto.push = origPush;
const pushes = {
  js: jsPushes,
  wasm: wasm.ce_stat(1) - wasmPushes0,
  native: vNative.stats.pushes - nativePushes0,
};
if (pushes.wasm !== pushes.js || pushes.native !== pushes.js) {
  mismatches.push(
    `verification round: timer pushes js ${pushes.js}, wasm ${pushes.wasm}, native ${pushes.native}`,
  );
}
if (vWasm.pending !== vJs.pending || vNative.pending !== vJs.pending) {
  mismatches.push(
    `verification round: pending js ${vJs.pending}, wasm ${vWasm.pending}, native ${vNative.pending}`,
  );
}

// ---- sample flows: FlowEngine.snapshot() against both C builds ----
const snap = engine.snapshot().filter((e) => e.state?.flow != null);
const step = Math.max(1, Math.floor(snap.length / 1200));
const sample = snap.filter((_, k) => k % step === 0);
const sampleBuf = Buffer.alloc(4 + 24 * sample.length);
sampleBuf.writeUInt32LE(sample.length, 0);
const expected: number[][] = [];
const wasmValues: number[][] = [];
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
  wasmValues.push([found, ...new Float64Array(wasm.memory.buffer, scratch, 16)]);
});
writeFileSync(fileOf('sample.bin'), sampleBuf);
const nativeValues = (await native(`V ${fileOf('sample.bin')}`)).values as number[][];
let sampleMismatch = 0;
for (let k = 0; k < sample.length; k++) {
  const e = JSON.stringify(expected[k]);
  if (JSON.stringify(wasmValues[k]) !== e || JSON.stringify(nativeValues[k]) !== e) {
    if (sampleMismatch++ < 5) {
      mismatches.push(
        `flow ${sample[k]?.key}: js ${e} wasm ${JSON.stringify(wasmValues[k])} native ${JSON.stringify(nativeValues[k])}`,
      );
    }
  }
}
const wasmFinal = wasmStats();
const nativeFinal = vNative.stats;
const jsRecords = engine.stats.records;
if (wasmFinal.records !== jsRecords || nativeFinal.records !== jsRecords) {
  mismatches.push(`records: js ${jsRecords}, wasm ${wasmFinal.records}, native ${nativeFinal.records}`);
}
for (const [name, s] of [
  ['wasm', wasmFinal],
  ['native', nativeFinal],
] as const) {
  if (s.unsupported !== 0 || s.invalid !== 0 || s.late !== 0) {
    mismatches.push(`${name}: unsupported ${s.unsupported}, invalid ${s.invalid}, late ${s.late}`);
  }
}
await native('Q').catch(() => undefined);
child.stdin.end();
await once(child, 'exit');

const perCpuSec = (t: { observed: number; obsNs: number }): number =>
  Math.round(t.observed / (t.obsNs / 1e9));
const rates = { js: perCpuSec(totals.js), wasm: perCpuSec(totals.wasm), native: perCpuSec(totals.native) };
const nsPer = (ns: number, n: number): number => Number((ns / n).toFixed(1));
const result = {
  flows: FLOWS,
  nodes: NODES,
  rounds: ROUNDS,
  observationsPerVariant: totals.js.observed,
  observePerCpuSec: rates,
  ratios: {
    wasmOverJs: Number((rates.wasm / rates.js).toFixed(2)),
    nativeOverJs: Number((rates.native / rates.js).toFixed(2)),
    nativeOverWasm: Number((rates.native / rates.wasm).toFixed(2)),
  },
  nsPerObservation: {
    observe: {
      js: nsPer(totals.js.obsNs, totals.js.observed),
      wasm: nsPer(totals.wasm.obsNs, totals.wasm.observed),
      native: nsPer(totals.native.obsNs, totals.native.observed),
    },
    watermark: {
      js: nsPer(totals.js.wmNs, totals.js.observed),
      wasm: nsPer(totals.wasm.wmNs, totals.wasm.observed),
      native: nsPer(totals.native.wmNs, totals.native.observed),
    },
    drain: {
      js: nsPer(totals.js.drainNs, totals.js.observed),
      wasm: nsPer(totals.wasm.drainNs, totals.wasm.observed),
      native: nsPer(totals.native.drainNs, totals.native.observed),
    },
    readPassOnly: {
      js: nsPer(readOnly.js, readOnly.observed),
      wasm: nsPer(readOnly.wasm, readOnly.observed),
      native: nsPer(readOnly.native, readOnly.observed),
    },
  },
  perRound,
  check: {
    sampleFlows: sample.length,
    sampleMismatches: sampleMismatch,
    records: { js: jsRecords, wasm: wasmFinal.records, native: nativeFinal.records },
    timerPushesVerificationRound: pushes,
    pendingChangesVerificationRound: { js: vJs.pending, wasm: vWasm.pending, native: vNative.pending },
    dirtyFlowsCleared: { wasm: wasmFinal.dirtyFlows, native: nativeFinal.dirtyFlows },
    cStats: { wasm: wasmFinal, native: nativeFinal },
    mismatches,
    ok: mismatches.length === 0,
  },
  loadAverage: load,
  wallSeconds: Math.round((Date.now() - tAll) / 1000),
  node: process.version,
};
console.log(JSON.stringify(result, null, 2));
if (mismatches.length > 0) process.exitCode = 1;
