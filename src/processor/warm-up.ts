/**
 * JIT warm-up of the changelog restore at processor start. In a fresh process the first tens of thousands
 * of restored records run in V8's interpreter (~15 µs each on a loaded 2-vCPU machine) until TurboFan's
 * code for the hot restore functions arrives; later ones take ~1.5 µs. So the processor's first partition
 * restore was ~2x slower than its later ones. Running the real restore path (record batch parsing, the
 * changelog fold with its owner fence, FlowEngine.restoreBegin/restoreRecords/restoreEnd, the value decoder,
 * the key-bytes parser) over a small synthetic changelog held in memory, in a throwaway engine, before the
 * processor joins its group, moves that cost to a moment where no partition waits for it.
 *
 * The synthetic changelog looks like a real one so that the optimised code stays valid for it: IPv4 flows
 * (narrow keys, parsed from their bytes) and IPv6 flows (wide keys, parsed from their text), TCP, UDP and
 * ICMP, several nodes, node states, tombstones, an owner claim and every record under its header, in record
 * batches as a broker returns them, handed over in several "fetches".
 */
import { createFlowEngine } from '../flow/engine.js';
import { FlowStateCodec } from '../flow/state-codec.js';
import type { EngineOptions, Observation } from '../flow/types.js';
import type { RangeResult } from '../kafka/range-reader.js';
import type { PartitionRecordReader, RecordRangeRead } from '../kafka/record-range-reader.js';
import { RecordBatchReader } from '../kafka/wire/record-batch.js';
import { encodeFetchedBatches, type RecordInput } from '../kafka/wire/record-batch-writer.js';
import { claimHeader, encodeClaim, OWNER_HEADER, OWNER_KEY } from './fence.js';
import { restorePartition } from './restore.js';

/** Warm-up settings. */
export interface WarmUpOptions {
  /** Flows in the synthetic changelog. Default 4096. */
  flows?: number;
  /** Restores of it. Default 6. */
  rounds?: number;
  /** The processor's engine options (the warmed engine must have the same shape). Default: the defaults. */
  engine?: Partial<EngineOptions>;
  /** The processor's state codec. Default: a new one. */
  codec?: FlowStateCodec;
}

/** What the warm-up cost and did. */
export interface WarmUpResult {
  /** Wall time, ms (changelog building included). */
  ms: number;
  /** CPU time of the process during it (all threads: background compiles and GC included), ms. */
  cpuMs: number;
  /** Changelog records per restore round. */
  records: number;
  /** Flows restored per round. */
  flows: number;
  rounds: number;
  /** Wall time of each restore round, ms (the first runs interpreted code, the last optimised code). */
  roundMs: number[];
}

/** Records per synthetic record batch (a producer batch of the processor holds up to 1000). */
const BATCH_RECORDS = 500;
/** Synthetic fetches per restore round: the fold hands each to the engine as a real read does. */
const FETCHES = 3;
const SEC = 1_000_000;
/**
 * Nodes of the synthetic changelog: more than the 8 that make the restore's node table (NodesByBytes, 16
 * slots) grow once. Its fields are then replaced, which V8 sees as no longer constant: optimised code that
 * assumed them constant is thrown away. Warmed with 5 nodes, the first real restore of 10 nodes lost its
 * optimised #restoreRecordChunk that way (--trace-deopt: "code dependencies") and ran unoptimised code again.
 */
export const WARM_UP_NODES = 20;

/** Observation i of the synthetic workload: 3 in 4 IPv4, 1 in 4 IPv6; mostly TCP, some UDP and ICMP. */
function syntheticObservation(i: number, nodes: number, t0: number): Observation {
  const node = i % nodes;
  const n = Math.floor(i / nodes);
  const v6 = i % 4 === 3;
  const protocol = i % 16 === 5 ? 17 : i % 32 === 7 ? (v6 ? 58 : 1) : 6;
  const icmp = protocol === 1 || protocol === 58;
  const src = v6
    ? `fd00:${node.toString(16)}::${(n & 0xffff).toString(16)}`
    : `10.${node}.${(n >> 8) & 255}.${n & 255}`;
  const dst = v6 ? 'fd00:96::a' : '10.96.0.10';
  const orig = {
    src,
    dst,
    srcPort: icmp ? 0 : 30000 + (n % 30000),
    dstPort: icmp ? 0 : protocol === 17 ? 53 : 443,
    icmpType: icmp ? 8 : null,
    icmpCode: icmp ? 0 : null,
    icmpId: icmp ? n & 0xffff : null,
  };
  const reply = icmp
    ? { ...orig, src: dst, dst: src, icmpType: 0 }
    : { ...orig, src: dst, dst: src, srcPort: orig.dstPort, dstPort: orig.srcPort };
  const big = i % 8 === 0 ? 2 ** 40 : 0;
  return {
    node: `warm-up-node-${node}`,
    bootId: `warm-up-boot-${node}`,
    kind: 'NEW',
    timeUs: t0 + i * 1000,
    conntrackId: i + 1,
    zone: 0,
    family: v6 ? 'IPV6' : 'IPV4',
    protocol,
    orig,
    reply,
    tcpState: protocol === 6 ? 'ESTABLISHED' : null,
    status: 0,
    mark: 0,
    counters: {
      origPackets: 1 + (i % 100),
      origBytes: big + 1000 * (1 + (i % 100)),
      replyPackets: i % 90,
      replyBytes: big + 3000 * (i % 90),
    },
    kernelStartUs: t0,
    kernelStopUs: null,
  } as Observation;
}

/** A synthetic changelog partition held in memory. */
export interface WarmUpChangelog {
  /** Fetch responses' record sections: whole record batches, offsets 0..records-1 in order. */
  fetches: Buffer[];
  records: number;
  /** Flows live after a restore of it (tombstoned ones left out). */
  flows: number;
}

/**
 * The synthetic changelog of the warm-up, as FETCHES fetch buffers of record batches: an owner claim, then
 * the states of `flows` flows (WARM_UP_NODES nodes) and of their nodes under the claim's header, then tombstones of every
 * 16th flow.
 */
export function syntheticChangelog(
  flows: number,
  engineOptions: Partial<EngineOptions>,
  codec: FlowStateCodec,
): WarmUpChangelog {
  const engine = createFlowEngine(engineOptions);
  const t0 = (Math.floor(Date.now() / 1000) - 3600) * SEC;
  for (let i = 0; i < flows; i++) engine.observe(syntheticObservation(i, WARM_UP_NODES, t0));
  const claim = { epoch: 0, owner: 'warm-up' };
  const headers = { [OWNER_HEADER]: claimHeader(claim) };
  const records: RecordInput[] = [{ key: OWNER_KEY, value: encodeClaim(claim), headers }];
  const changes = engine.drain().changes;
  for (const c of changes) records.push({ key: c.key, value: codec.encode(c.state), headers });
  let tombstones = 0;
  for (let i = 0; i < changes.length; i += 16) {
    const change = changes[i] as (typeof changes)[number];
    if (change.key.startsWith('@')) continue; // node states stay
    records.push({ key: change.key, value: null, headers });
    tombstones++;
  }
  const batches = encodeFetchedBatches(records, BATCH_RECORDS, Date.now());
  const fetches: Buffer[] = [];
  const perFetch = Math.ceil(batches.length / FETCHES);
  for (let i = 0; i < batches.length; i += perFetch)
    fetches.push(Buffer.concat(batches.slice(i, i + perFetch)));
  return { fetches, records: records.length, flows: engine.size - tombstones };
}

/** A PartitionRecordReader over fetch buffers held in memory, read with the wire reader's batch parser. */
export class MemoryRecordReader implements PartitionRecordReader {
  readonly #fetches: readonly Buffer[];

  constructor(fetches: readonly Buffer[]) {
    this.#fetches = fetches;
  }

  async readRecords(range: RecordRangeRead): Promise<RangeResult> {
    const reader = new RecordBatchReader(range.fromOffset, range.toOffset, 'warm-up changelog');
    for (const buf of this.#fetches) {
      if (reader.done) break;
      reader.read(buf, 0, buf.length, range.onRecord);
      await range.onProgress?.(reader.records);
    }
    return {
      partition: range.partition,
      records: reader.records,
      lastOffset: reader.lastOffset,
      complete: reader.done,
    };
  }

  fallbacks(): Record<string, number> {
    return {};
  }

  async close(): Promise<void> {}
}

/**
 * Runs the processor's restore path `rounds` times over a synthetic changelog of `flows` flows held in
 * memory (no broker), each into a throwaway engine, so that V8 optimises it before a partition waits for it.
 * Yields to the event loop between rounds (background compiles finish and are installed).
 */
export async function warmUpRestore(options: WarmUpOptions = {}): Promise<WarmUpResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const flows = options.flows ?? 4096;
  const rounds = options.rounds ?? 6;
  const engineOptions = options.engine ?? {};
  const codec = options.codec ?? new FlowStateCodec();
  const { fetches, records } = syntheticChangelog(flows, engineOptions, codec);
  const reader = new MemoryRecordReader(fetches);
  const roundMs: number[] = [];
  let restored = 0;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const result = await restorePartition({
      reader,
      codec,
      topic: 'warm-up',
      partition: 0,
      fromOffset: 0,
      toOffset: records,
      createEngine: () => createFlowEngine(engineOptions),
    });
    restored = result.entries;
    roundMs.push(Math.round((performance.now() - t) * 10) / 10);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(cpu);
  return {
    ms: Math.round(performance.now() - started),
    cpuMs: Math.round((used.user + used.system) / 1000),
    records,
    flows: restored,
    rounds,
    roundMs,
  };
}

let once: Promise<WarmUpResult> | undefined;

/**
 * warmUpRestore() once per process (later calls get the first call's result): a process that starts several
 * processors (a restart after a crash, tests) warms the restore path once. A failed warm-up is not cached.
 */
export function warmUpRestoreOnce(options: WarmUpOptions = {}): Promise<WarmUpResult> {
  if (once === undefined) {
    once = warmUpRestore(options);
    once.catch(() => {
      once = undefined;
    });
  }
  return once;
}
