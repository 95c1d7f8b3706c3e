/**
 * Flow engine benchmark: heap bytes per tracked flow at N concurrent flows, and observations
 * processed per second (one core) with N flows tracked, the way a processor drives the engine
 * (drain() after every batch: records plus changelog states).
 *
 *   node --expose-gc --import tsx bench/flow-engine.ts [--flows 1000000] [--nodes 100] [--rounds 6]
 *
 * Each round is one poll of every flow by its node's agent (all observations of a node in a round
 * share the dump time, as conntrack dumps do), then a watermark per node. A third of the flows
 * grow each round; rounds are 10 s of event time apart, so idle (15 s) and active (60 s) timers
 * fire as in production.
 *
 * Phases of `--rounds` rounds each: observe() with fresh observation objects (+ drain()), observe()
 * with pooled objects ("engine only"), observeBatch() with fresh objects (+ drain()), observeBatch()
 * with pooled objects; then from Avro message bytes: AvroCodec.decode() + observe() against
 * observeEncoded() against observeEncodedBatch() (`--encoded-rounds` rounds each, default 3). Restore:
 * restore() of snapshot objects, decodeEntry() + restore() of the changelog bytes, restoreEncoded()
 * of the same bytes.
 *
 * Then a second, production-like workload on the same 1 M flows ("realistic", `--real-rounds`
 * polls, default 12 = one active timeout): polls 5 s apart, and the agent sends only the entries
 * that changed since its previous dump (its diff), so each poll carries the two thirds of the flows
 * that grew (every flow grows in two polls of three: none is idle 15 s), from message bytes as the
 * processor gets them; records come from the 60 s active timeout only (~0.125 per observation
 * instead of ~0.4-0.7 above). Each node's poll goes through observeEncoded() or
 * observeEncodedBatch(), alternating by node and round, each followed by its watermark and drain()
 * (+ FlowStateCodec.encode() of its changes, timed apart) or drainEncoded() (alternating by node pair
 * and round).
 * The workload above stays the reference figure; this one is reported beside it.
 */
import { performance } from 'node:perf_hooks';
import { AvroCodec } from '../src/codec/avro-codec.js';
import { SINGLE_OBJECT_HEADER_LENGTH } from '../src/codec/single-object.js';
import { FlowEngine } from '../src/flow/engine.js';
import { FlowStateCodec } from '../src/flow/state-codec.js';
import type { Observation } from '../src/flow/types.js';
import { engineWorkload, REAL_POLL_US, ROUND_US, T0 } from './engine-workload.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

const FLOWS = arg('flows', 1_000_000);
const NODES = arg('nodes', 100);
const ROUNDS = arg('rounds', 6);
const BATCH = 10_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heapBytes(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const { nodeNames, bootIds, perNode, observation, realObservation } = engineWorkload(FLOWS, NODES);

const engine = new FlowEngine({});
let records = 0;
let changes = 0;
const drain = (): void => {
  const out = engine.drain();
  records += out.records.length;
  changes += out.changes.length;
};

// ---- 1. memory per tracked flow ----
const before = heapBytes();
let n = 0;
for (let node = 0; node < NODES; node++) {
  for (let i = 0; i < perNode && n < FLOWS; i++, n++) {
    engine.observe(observation(node, i, T0 + node, 0, 'NEW'));
    if (n % BATCH === 0) drain();
  }
}
drain();
const after = heapBytes();
const bytesPerFlow = (after - before) / engine.size;

// ---- 2. throughput with N flows tracked ----
// A decoder hands the engine a fresh object per message; building them is timed separately.
let observeMs = 0;
let drainMs = 0;
let observeCpuMs = 0;
let drainCpuMs = 0;
/** CPU time of this process in ms (the machine is shared: wall time alone would lie). */
const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
let buildMs = 0;
let observed = 0;
for (let round = 1; round <= ROUNDS; round++) {
  const time = T0 + round * ROUND_US;
  for (let node = 0; node < NODES; node++) {
    const tb = performance.now();
    const batch: Observation[] = new Array(perNode);
    for (let i = 0; i < perNode; i++) batch[i] = observation(node, i, time + node, round, 'POLL');
    const t1 = performance.now();
    const c1 = cpuMs();
    buildMs += t1 - tb;
    for (let i = 0; i < perNode; i++) engine.observe(batch[i] as Observation);
    engine.watermark({
      node: nodeNames[node] as string,
      bootId: bootIds[node] as string,
      timeUs: time + node + 1,
    });
    const t2 = performance.now();
    const c2 = cpuMs();
    observeMs += t2 - t1;
    observeCpuMs += c2 - c1;
    drain();
    drainMs += performance.now() - t2;
    drainCpuMs += cpuMs() - c2;
    observed += perNode;
  }
}

// ---- 2b. observeBatch(): the same rounds, each node's poll handed over as one batch ----
// Fresh observation objects per round as a decoder makes them (with drain); before the pools
// below exist, like section 2, so that both pay the same GC.
let batchCpuMs = 0;
let batchDrainCpuMs = 0;
let batchObserved = 0;
for (let round = ROUNDS + 1; round <= 2 * ROUNDS; round++) {
  const time = T0 + round * ROUND_US;
  for (let node = 0; node < NODES; node++) {
    const batch: Observation[] = new Array(perNode);
    for (let i = 0; i < perNode; i++) batch[i] = observation(node, i, time + node, round, 'POLL');
    const c1 = cpuMs();
    engine.observeBatch(batch);
    engine.watermark({
      node: nodeNames[node] as string,
      bootId: bootIds[node] as string,
      timeUs: time + node + 1,
    });
    const c2 = cpuMs();
    batchCpuMs += c2 - c1;
    drain();
    batchDrainCpuMs += cpuMs() - c2;
    batchObserved += perNode;
  }
}
// ---- 2c. the engine alone: observation objects built once and updated in place ----
// Same work for the engine, but no garbage from building observations: what the engine itself
// costs per observation, without the GC a decoder's fresh objects cause.
const pools: Observation[][] = [];
for (let node = 0; node < NODES; node++) {
  const pool: Observation[] = new Array(perNode);
  for (let i = 0; i < perNode; i++) pool[i] = observation(node, i, T0, 0, 'POLL');
  pools.push(pool);
}
heapBytes();
let engineOnlyCpuMs = 0;
let engineOnlyObserved = 0;
for (let round = 2 * ROUNDS + 1; round <= 3 * ROUNDS; round++) {
  const time = T0 + round * ROUND_US;
  for (let node = 0; node < NODES; node++) {
    const pool = pools[node] as Observation[];
    for (let i = 0; i < perNode; i++) {
      const o = pool[i] as Observation;
      const c = o.counters as NonNullable<Observation['counters']>;
      const grown = Math.floor((round + (i % 3)) / 3);
      o.timeUs = time + node;
      c.origPackets = 10 + grown * 3;
      c.origBytes = 1000 + grown * 900;
      c.replyPackets = 8 + grown * 2;
      c.replyBytes = 5000 + grown * 7000;
    }
    const c1 = cpuMs();
    for (let i = 0; i < perNode; i++) engine.observe(pool[i] as Observation);
    engine.watermark({
      node: nodeNames[node] as string,
      bootId: bootIds[node] as string,
      timeUs: time + node + 1,
    });
    engineOnlyCpuMs += cpuMs() - c1;
    engineOnlyObserved += perNode;
    drain();
  }
}

// observeBatch() with the pooled objects (engine only).
let batchEngineOnlyCpuMs = 0;
let batchEngineOnlyObserved = 0;
for (let round = 3 * ROUNDS + 1; round <= 4 * ROUNDS; round++) {
  const time = T0 + round * ROUND_US;
  for (let node = 0; node < NODES; node++) {
    const pool = pools[node] as Observation[];
    for (let i = 0; i < perNode; i++) {
      const o = pool[i] as Observation;
      const c = o.counters as NonNullable<Observation['counters']>;
      const grown = Math.floor((round + (i % 3)) / 3);
      o.timeUs = time + node;
      c.origPackets = 10 + grown * 3;
      c.origBytes = 1000 + grown * 900;
      c.replyPackets = 8 + grown * 2;
      c.replyBytes = 5000 + grown * 7000;
    }
    const c1 = cpuMs();
    engine.observeBatch(pool);
    engine.watermark({
      node: nodeNames[node] as string,
      bootId: bootIds[node] as string,
      timeUs: time + node + 1,
    });
    batchEngineOnlyCpuMs += cpuMs() - c1;
    batchEngineOnlyObserved += perNode;
    drain();
  }
}
pools.length = 0;

// ---- 2d. from Avro bytes, as the processor gets them: AvroCodec.decode() + observe() against
// observeEncoded() (the engine reads the message bytes itself). Message bytes are built per node
// and round beforehand (not timed); both variants drain after every node's batch.
const avro = new AvroCodec();
const ENC_ROUNDS = arg('encoded-rounds', 3);
let round = 4 * ROUNDS;
function encodedBatch(node: number, time: number, r: number): Buffer[] {
  const out: Buffer[] = new Array(perNode);
  for (let i = 0; i < perNode; i++)
    out[i] = Buffer.from(avro.encodeObservation(observation(node, i, time + node, r, 'POLL')));
  return out;
}
let decodeObserveCpuMs = 0;
let decodeObserved = 0;
let encodedCpuMs = 0;
let encodedObserved = 0;
let encodedBatchCpuMs = 0;
let encodedBatchObserved = 0;
for (let phase = 0; phase < 3; phase++) {
  for (let k = 0; k < ENC_ROUNDS; k++) {
    round++;
    const time = T0 + round * ROUND_US;
    for (let node = 0; node < NODES; node++) {
      const msgs = encodedBatch(node, time, round);
      const c1 = cpuMs();
      if (phase === 0) {
        for (const m of msgs) {
          const d = avro.decode(m);
          if (d.type === 'observation') engine.observe(d.value);
        }
      } else if (phase === 1) {
        for (const m of msgs) {
          if (!engine.observeEncoded(m, SINGLE_OBJECT_HEADER_LENGTH))
            throw new Error('observeEncoded declined');
        }
      } else if (engine.observeEncodedBatch(msgs, SINGLE_OBJECT_HEADER_LENGTH) !== msgs.length) {
        throw new Error('observeEncodedBatch declined');
      }
      engine.watermark({
        node: nodeNames[node] as string,
        bootId: bootIds[node] as string,
        timeUs: time + node + 1,
      });
      const used = cpuMs() - c1;
      if (phase === 0) {
        decodeObserveCpuMs += used;
        decodeObserved += perNode;
      } else if (phase === 1) {
        encodedCpuMs += used;
        encodedObserved += perNode;
      } else {
        encodedBatchCpuMs += used;
        encodedBatchObserved += perNode;
      }
      drain();
    }
  }
}

// ---- 3. restore speed (a processor taking over a partition) ----
let snapshot = engine.snapshot();
let restored: FlowEngine | undefined = new FlowEngine({});
let c0 = cpuMs();
restored.restore(snapshot);
const restoreCpuMs = cpuMs() - c0;
if (restored.size !== engine.size) throw new Error('restore lost flows');
restored = undefined;
// Avro decode of changelog values (the other half of restoring), on a sample.
const codec = new FlowStateCodec();
// The changelog as a processor folds it: newest value bytes per key.
const changelog = new Map<string, Buffer | null>();
// Keys as a consumer decodes them from message bytes (flat strings, not the engine's own objects).
for (const e of snapshot) changelog.set(Buffer.from(e.key, 'utf8').toString('utf8'), codec.encode(e.state));
const sample = [...changelog.values()].slice(0, 200_000) as Buffer[];
snapshot = [];
c0 = cpuMs();
for (const b of sample) codec.decode(b);
const decodeCpuMs = cpuMs() - c0;
const stateBytes = sample.reduce((n, b) => n + b.length, 0) / sample.length;
// The old path from bytes: decodeEntry() per value, then restore().
heapBytes();
restored = new FlowEngine({});
c0 = cpuMs();
restored.restore([...changelog].map(([key, value]) => codec.decodeEntry(key, value)));
const decodeRestoreCpuMs = cpuMs() - c0;
restored = undefined;
heapBytes();
// The fast path: restoreEncoded() of the same bytes (decode included).
restored = new FlowEngine({});
c0 = cpuMs();
restored.restoreEncoded(changelog, codec);
const restoreEncodedCpuMs = cpuMs() - c0;
if (restored.size !== engine.size) throw new Error('restoreEncoded lost flows');
restored = undefined;
changelog.clear();

// ---- 4. calibration: the cost of one random Map<string, number>.get over N keys here ----
// Machine-independent reading of the figures above: observe() cost in units of this lookup.
const calib = new Map<string, number>();
for (let i = 0; i < FLOWS; i++) calib.set(`k${i}`, i);
const probes = Array.from({ length: 1_000_000 }, (_, i) => `k${(i * 7919) % FLOWS}`);
c0 = cpuMs();
let sink = 0;
for (const k of probes) sink += calib.get(k) ?? 0;
const mapGetNs = ((cpuMs() - c0) * 1e6) / probes.length;
calib.clear();

// ---- 5. realistic workload: 5 s polls, only changed flows sent, records from the active timeout ----
const REAL_ROUNDS = arg('real-rounds', 12);
// Continues after the event time of section 2 (the engine's node clocks).
const realT0 = T0 + (round + 1) * ROUND_US;
const real = [
  { cpuMs: 0, drainCpuMs: 0, observed: 0, records: 0, changes: 0 },
  { cpuMs: 0, drainCpuMs: 0, observed: 0, records: 0, changes: 0 },
];
/**
 * The drain after each node's poll: drain() (then FlowStateCodec.encode() of every change, as the
 * processor writes the changelog: timed apart) or drainEncoded() (the changelog messages as bytes), by
 * (node / 2 + poll) parity, so both see both observe variants.
 */
const realDrain = [
  { cpuMs: 0, encodeCpuMs: 0, changes: 0, observed: 0 },
  { cpuMs: 0, encodeCpuMs: 0, changes: 0, observed: 0 },
];
for (let r = 1; r <= REAL_ROUNDS; r++) {
  const time = realT0 + r * REAL_POLL_US;
  for (let node = 0; node < NODES; node++) {
    const msgs: Buffer[] = [];
    for (let i = 0; i < perNode; i++) {
      if ((r + i) % 3 === 0) continue; // unchanged since the previous dump: not sent
      msgs.push(Buffer.from(avro.encodeObservation(realObservation(node, i, time + node, r))));
    }
    const variant = (node + r) % 2; // 0: observeEncoded(), 1: observeEncodedBatch()
    const v = real[variant] as (typeof real)[number];
    const c1 = cpuMs();
    if (variant === 0) {
      for (const m of msgs) {
        if (!engine.observeEncoded(m, SINGLE_OBJECT_HEADER_LENGTH))
          throw new Error('observeEncoded declined');
      }
    } else if (engine.observeEncodedBatch(msgs, SINGLE_OBJECT_HEADER_LENGTH) !== msgs.length) {
      throw new Error('observeEncodedBatch declined');
    }
    engine.watermark({
      node: nodeNames[node] as string,
      bootId: bootIds[node] as string,
      timeUs: time + node + 1,
    });
    const c2 = cpuMs();
    const dk = (Math.floor(node / 2) + r) % 2;
    const d = realDrain[dk] as (typeof realDrain)[number];
    let nRecords: number;
    let nChanges: number;
    let drained: number;
    if (dk === 0) {
      const out = engine.drain();
      const c3 = cpuMs();
      drained = c3 - c2;
      for (const c of out.changes) codec.encode(c.state);
      d.encodeCpuMs += cpuMs() - c3;
      nRecords = out.records.length;
      nChanges = out.changes.length;
    } else {
      const out = engine.drainEncoded(codec);
      drained = cpuMs() - c2;
      nRecords = out.records.length;
      nChanges = out.changes.count;
    }
    d.cpuMs += drained;
    v.drainCpuMs += drained;
    v.cpuMs += c2 - c1;
    v.observed += msgs.length;
    v.records += nRecords;
    v.changes += nChanges;
    d.changes += nChanges;
    d.observed += msgs.length;
  }
}
const [realOne, realBatch] = real as [(typeof real)[number], (typeof real)[number]];
const [drainObjects, drainBytes] = realDrain as [(typeof realDrain)[number], (typeof realDrain)[number]];
/** Observations per CPU second of an observe variant followed by a drain variant. */
const withDrain = (o: (typeof real)[number], d: (typeof realDrain)[number]): number =>
  Math.round(1e9 / ((o.cpuMs * 1e6) / o.observed + (d.cpuMs * 1e6) / d.observed));

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const result = {
  flows: engine.size,
  nodes: NODES,
  heapPerFlowBytes: Math.round(bytesPerFlow),
  heapForFlows: mb(after - before),
  observations: observed,
  records,
  changelogEntries: changes,
  observePerSec: Math.round(observed / (observeMs / 1000)),
  observePlusDrainPerSec: Math.round(observed / ((observeMs + drainMs) / 1000)),
  observePerCpuSec: Math.round(observed / (observeCpuMs / 1000)),
  observePlusDrainPerCpuSec: Math.round(observed / ((observeCpuMs + drainCpuMs) / 1000)),
  engineOnlyObservePerCpuSec: Math.round(engineOnlyObserved / (engineOnlyCpuMs / 1000)),
  observeBatchPerCpuSec: Math.round(batchObserved / (batchCpuMs / 1000)),
  observeBatchPlusDrainPerCpuSec: Math.round(batchObserved / ((batchCpuMs + batchDrainCpuMs) / 1000)),
  engineOnlyObserveBatchPerCpuSec: Math.round(batchEngineOnlyObserved / (batchEngineOnlyCpuMs / 1000)),
  decodePlusObservePerCpuSec: Math.round(decodeObserved / (decodeObserveCpuMs / 1000)),
  observeEncodedPerCpuSec: Math.round(encodedObserved / (encodedCpuMs / 1000)),
  observeEncodedBatchPerCpuSec: Math.round(encodedBatchObserved / (encodedBatchCpuMs / 1000)),
  realistic: {
    polls: REAL_ROUNDS,
    observations: realOne.observed + realBatch.observed,
    recordsPerObservation: Number(
      ((realOne.records + realBatch.records) / (realOne.observed + realBatch.observed)).toFixed(3),
    ),
    observeEncodedPerCpuSec: Math.round(realOne.observed / (realOne.cpuMs / 1000)),
    // With drain() (its CPU per observation from the polls drained with drain()).
    observeEncodedPlusDrainPerCpuSec: withDrain(realOne, drainObjects),
    observeEncodedBatchPerCpuSec: Math.round(realBatch.observed / (realBatch.cpuMs / 1000)),
    observeEncodedBatchPlusDrainPerCpuSec: withDrain(realBatch, drainObjects),
    // Per changelog state: drain() alone, the processor's encode of its states, drainEncoded().
    drainNsPerChange: Math.round((drainObjects.cpuMs * 1e6) / drainObjects.changes),
    drainEncodeNsPerChange: Math.round((drainObjects.encodeCpuMs * 1e6) / drainObjects.changes),
    drainEncodedNsPerChange: Math.round((drainBytes.cpuMs * 1e6) / drainBytes.changes),
    // With drainEncoded() instead (what a processor using it would pay per observation).
    observeEncodedPlusDrainEncodedPerCpuSec: withDrain(realOne, drainBytes),
    observeEncodedBatchPlusDrainEncodedPerCpuSec: withDrain(realBatch, drainBytes),
  },
  observeMs: Math.round(observeMs),
  drainMs: Math.round(drainMs),
  observeCpuMs: Math.round(observeCpuMs),
  drainCpuMs: Math.round(drainCpuMs),
  buildObservationObjectsMs: Math.round(buildMs),
  restoreFlowsPerCpuSec: Math.round(engine.size / (restoreCpuMs / 1000)),
  decodeEntryPlusRestoreFlowsPerCpuSec: Math.round(engine.size / (decodeRestoreCpuMs / 1000)),
  restoreEncodedFlowsPerCpuSec: Math.round(engine.size / (restoreEncodedCpuMs / 1000)),
  decodeStatesPerCpuSec: Math.round(sample.length / (decodeCpuMs / 1000)),
  avgStateValueBytes: Math.round(stateBytes),
  calibrationMapGetNs: Math.round(mapGetNs),
  observeCostInMapGets: Number((1e9 / (engineOnlyObserved / (engineOnlyCpuMs / 1000)) / mapGetNs).toFixed(2)),
  observeBatchCostInMapGets: Number(
    (1e9 / (batchEngineOnlyObserved / (batchEngineOnlyCpuMs / 1000)) / mapGetNs).toFixed(2),
  ),
  calibrationSink: sink > 0,
  loadAverage: (await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' '),
  node: process.version,
};
console.log(JSON.stringify(result, null, 2));
