/**
 * Processor benchmark on a real broker (KAFKA_BROKERS, else the local KRaft broker of scripts/kafka-local.sh):
 * 1. the same observations topic read by a bare consumer (src/kafka group consumer, no processing) and by
 *    one ctflow processor end to end (decode, engine, changelog, IPFIX export over UDP, commits): messages/s
 *    of each and their ratio (goal ≥ 0.7);
 * 2. state restore rate from the changelog (goal ≥ 500,000 flows/s), the first restore of a fresh process, then
 *    the same restore again in that process (secondRestore*: a processor restores partitions one by one);
 * 3. the pause of a partition holding 100,000 flows when it moves to another processor: from the new
 *    member's start to its first processed batch of that partition (join + restore; goal ≤ 2 s).
 *
 * 4. (--part apply only, no broker) the processor's apply step alone, in one process: applyMessages() on one
 *    partition's share of the workload, alternating the in-place path (FlowEngine.observeEncoded) with the
 *    decode + observe() path, CPU µs per message of each (noise-resistant: same process, interleaved rounds).
 *
 *   node --import tsx bench/processor.ts [--messages 200000] [--flows 100000] [--flows-per-node 2000]
 *        [--part throughput|restore|apply] [--fetch-kib 1024] [--input wire|kafkajs]
 *        [--warm-up 1|0] [--restore-fetch-kib 8192]
 *
 * Processors are deployed with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (flow tables on transparent huge pages,
 * docs/processor.md); run the bench with it to measure that, without it for 4 KiB pages. The restore part
 * reports which (`hugePages`) and the restore's minor page faults.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { AvroCodec } from '../src/codec/avro-codec.js';
import { createFlowEngine, type FlowEngine } from '../src/flow/engine.js';
import { flowKey } from '../src/flow/key.js';
import { FlowStateCodec } from '../src/flow/state-codec.js';
import type { FlowEngineApi, Observation, Watermark } from '../src/flow/types.js';
import { createExporter } from '../src/ipfix/exporter.js';
import { deleteGroups, deleteTopics } from '../src/kafka/admin.js';
import { createKafka, type KafkaClient, parseBrokers } from '../src/kafka/client.js';
import { createGroupConsumer } from '../src/kafka/consumer.js';
import { fetchEndOffsets } from '../src/kafka/offsets.js';
import { createProducer, type OutgoingMessage, type Producer } from '../src/kafka/producer.js';
import { createRecordRangeReader } from '../src/kafka/record-range-reader.js';
import type { ConsumedMessage } from '../src/kafka/message.js';
import { ensureTopics, type TopicNames } from '../src/kafka/topics.js';
import { applyMessages } from '../src/processor/apply.js';
import { claimHeader, encodeClaim, OWNER_HEADER, OWNER_KEY } from '../src/processor/fence.js';
import { currentHugePagesMode } from '../src/processor/huge-pages.js';
import { startProcessor } from '../src/processor/processor.js';
import { restorePartition } from '../src/processor/restore.js';
import { warmUpRestoreOnce } from '../src/processor/warm-up.js';
import { startTestKafka } from '../test/rig/kafka-broker.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

const MESSAGES = arg('messages', 200_000);
const FLOWS = arg('flows', 100_000);
/** Flows per node of the throughput workload (10 nodes): how many distinct keys a fetched batch holds. */
const FLOWS_PER_NODE = arg('flows-per-node', 2000);
const PARTITIONS = 6;
/**
 * --fetch-kib N: both consumers fetch at most N KiB per partition (default 1 MiB): smaller batches, e.g. the
 * catch-up of an uncompressed input topic, where coalescing across batches (the write cache) matters.
 */
const FETCH_BYTES = process.argv.includes('--fetch-kib') ? arg('fetch-kib', 1024) * 1024 : undefined;
/** --part throughput|restore: run one part only (e.g. under --cpu-prof). Default both. */
const PART = process.argv.includes('--part') ? process.argv[process.argv.indexOf('--part') + 1] : 'all';
/**
 * --warm-up 0|1: the restore part first runs the processor's start-up JIT warm-up (src/processor/warm-up.ts),
 * as a processor does before it joins its group; its cost is reported apart (warmUp*). Default 1. With 0 the
 * pause's processor still warms up at its start (inside pauseMs).
 */
const WARM_UP = arg('warm-up', 1) !== 0;
/** --restore-fetch-kib N: the restore's fetch size (the processor's default reader: 8 MiB). */
const RESTORE_FETCH_BYTES = process.argv.includes('--restore-fetch-kib')
  ? arg('restore-fetch-kib', 8192) * 1024
  : undefined;
const SEC = 1_000_000;
const T0 = (Math.floor(Date.now() / 1000) - 86_400) * SEC;
const codec = new AvroCodec();

function observation(node: number, i: number, round: number): Observation {
  const orig = {
    src: `10.${node}.${(i >> 8) & 255}.${i & 255}`,
    dst: '10.96.0.10',
    srcPort: 30000 + (i % 30000),
    dstPort: 443,
    icmpType: null,
    icmpCode: null,
    icmpId: null,
  };
  return {
    node: `node-${node}`,
    bootId: `boot-${node}`,
    kind: round === 0 ? 'NEW' : 'POLL',
    timeUs: T0 + round * 10 * SEC,
    conntrackId: i + 1,
    zone: 0,
    family: 'IPV4',
    protocol: 6,
    orig,
    reply: { ...orig, src: orig.dst, dst: orig.src, srcPort: orig.dstPort, dstPort: orig.srcPort },
    tcpState: 'ESTABLISHED',
    status: 0,
    mark: 0,
    counters: {
      origPackets: round + 1,
      origBytes: (round + 1) * 1000,
      replyPackets: round,
      replyBytes: round * 3000,
    },
    kernelStartUs: T0,
    kernelStopUs: null,
  };
}

function watermarks(nodes: number, timeUs: number, partitions: number): OutgoingMessage[] {
  const out: OutgoingMessage[] = [];
  for (let n = 0; n < nodes; n++) {
    const w: Watermark = { node: `node-${n}`, bootId: `boot-${n}`, timeUs };
    for (let p = 0; p < partitions; p++)
      out.push({ value: Buffer.from(codec.encodeWatermark(w)), partition: p });
  }
  return out;
}

/** Writes rounds of polls of `flows` flows on `nodes` nodes until `total` messages; returns the count. */
async function writeWorkload(
  producer: Producer,
  topic: string,
  nodes: number,
  flowsPerNode: number,
  total: number,
  partitions: number,
): Promise<number> {
  let written = 0;
  for (let round = 0; written < total; round++) {
    let batch: OutgoingMessage[] = [];
    for (let n = 0; n < nodes && written + batch.length < total; n++) {
      for (let i = 0; i < flowsPerNode && written + batch.length < total; i++) {
        const o = observation(n, i, round);
        batch.push({ key: flowKey(o), value: Buffer.from(codec.encodeObservation(o)) });
      }
      if (batch.length >= 5000) {
        await producer.send(topic, batch);
        written += batch.length;
        batch = [];
      }
    }
    batch.push(...watermarks(nodes, T0 + round * 10 * SEC + 5 * SEC, partitions));
    await producer.send(topic, batch);
    written += batch.length;
  }
  return written;
}

async function until(
  what: string,
  predicate: () => boolean,
  timeoutMs = 600_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Wall clock and CPU time (this process, all threads) of one phase. Both consumers are timed from their
 * first fetch request (kafkajs FETCH_START, after the group join): kafkajs decodes a whole fetch response
 * (record batches, decompression, every message) before it hands out the first batch, so timing from the
 * first batch would leave the decoding of the first fetch out, and here a first fetch of 1 MiB per
 * partition holds most of the topic.
 */
class PhaseClock {
  startedAt = 0;
  #cpu0 = 0;
  seconds = 0;
  cpuSeconds = 0;

  start(): void {
    if (this.startedAt !== 0) return;
    this.startedAt = performance.now();
    // For slicing a --cpu-prof profile (its times are CLOCK_MONOTONIC microseconds, like hrtime).
    if (process.env.BENCH_MARKS) process.stderr.write(`mark start ${process.hrtime.bigint() / 1000n}\n`);
    const c = process.cpuUsage();
    this.#cpu0 = c.user + c.system;
  }

  stop(): void {
    if (this.seconds !== 0) return;
    if (process.env.BENCH_MARKS) process.stderr.write(`mark stop ${process.hrtime.bigint() / 1000n}\n`);
    this.seconds = (performance.now() - this.startedAt) / 1000;
    const c = process.cpuUsage();
    this.cpuSeconds = (c.user + c.system - this.#cpu0) / 1e6;
  }
}

/** Processor settings under test (none yet). */
/** --input wire|kafkajs: how the processor reads its input (default: the processor's default, wire). */
function processorTuning(): { input?: 'wire' | 'kafkajs' } {
  const i = process.argv.indexOf('--input');
  if (i < 0) return {};
  const mode = process.argv[i + 1];
  if (mode !== 'wire' && mode !== 'kafkajs') throw new Error('--input wire|kafkajs');
  return { input: mode };
}

function topicsFor(base: string): TopicNames {
  return {
    observations: `${base}.observations`,
    flowState: `${base}.flowstate`,
    deadLetter: `${base}.deadletter`,
  };
}

async function throughput(client: KafkaClient, sink: string): Promise<Record<string, number>> {
  const topics = topicsFor(`bench-proc-${Date.now()}`);
  await ensureTopics(client, { topics, partitions: PARTITIONS, replicationFactor: 1 });
  const producer = await createProducer(client, { lingerMs: 5, maxBatchMessages: 1000 });
  const t0 = performance.now();
  const total = await writeWorkload(producer, topics.observations, 10, FLOWS_PER_NODE, MESSAGES, PARTITIONS);
  const writeS = (performance.now() - t0) / 1000;
  await producer.disconnect();

  // Bare consumer: fetch and read every message (key and value bytes, as any consumer must), commit nothing.
  const bareGroup = `bench-bare-${Date.now()}`;
  const bare = await createGroupConsumer(client, {
    groupId: bareGroup,
    topics: [topics.observations],
    fromBeginning: true,
    maxWaitTimeMs: 100,
    ...(FETCH_BYTES === undefined ? {} : { maxBytesPerPartition: FETCH_BYTES }),
  });
  const bareClock = new PhaseClock();
  bare.onFetchStart(() => bareClock.start());
  let seen = 0;
  let checksum = 0;
  const bareRun = performance.now();
  await bare.run(async (batch) => {
    for (const m of batch.messages) {
      checksum += (m.key?.length ?? 0) + (m.key?.[0] ?? 0);
      checksum += (m.value?.length ?? 0) + (m.value?.[(m.value?.length ?? 1) - 1] ?? 0);
    }
    seen += batch.messages.length;
    if (seen >= total) bareClock.stop();
  });
  await until('the bare consumer', () => seen >= total);
  const bareJoinMs = bareClock.startedAt - bareRun;
  await bare.disconnect();

  // One processor, end to end.
  const exporter = createExporter({ collectors: [sink], observationDomainId: 1 });
  const group = `bench-processor-${Date.now()}`;
  const procClock = new PhaseClock();
  const procRun = performance.now();
  const processor = await startProcessor({
    client,
    groupId: group,
    topics,
    sink: exporter,
    group: {
      maxWaitTimeMs: 100,
      ...(FETCH_BYTES === undefined ? {} : { maxBytesPerPartition: FETCH_BYTES }),
    },
    onFetchStart: () => procClock.start(),
    ...processorTuning(),
  });
  // Done when every message's outputs are exported and acknowledged (not when its batch was taken).
  await until('the processor', () => processor.stats().completed >= total, 600_000, 2);
  procClock.stop();
  const procJoinMs = procClock.startedAt - procRun;
  const stats = processor.stats();
  await processor.stop();
  await exporter.close();
  await deleteGroups(client, [bareGroup, group]).catch(() => {});
  await deleteTopics(client, Object.values(topics)).catch(() => {});
  return {
    messages: total,
    writeMsgPerS: Math.round(total / writeS),
    bareMsgPerS: Math.round(total / bareClock.seconds),
    processorMsgPerS: Math.round(total / procClock.seconds),
    ratio: Number((bareClock.seconds / procClock.seconds).toFixed(3)),
    // CPU seconds of this process in each phase: the fair measure on a shared, noisy machine.
    bareUsPerMsgCpu: Number(((bareClock.cpuSeconds * 1e6) / total).toFixed(2)),
    processorUsPerMsgCpu: Number(((procClock.cpuSeconds * 1e6) / total).toFixed(2)),
    ratioCpu: Number((bareClock.cpuSeconds / procClock.cpuSeconds).toFixed(3)),
    bareJoinMs: Math.round(bareJoinMs),
    processorJoinMs: Math.round(procJoinMs),
    restoreMsTotal: stats.restoreMs,
    records: stats.records,
    batches: stats.batches,
    changelogWrites: stats.changelogWrites,
    commits: stats.commits,
    checksum: checksum % 1000,
  };
}

/**
 * Writes a changelog of FLOWS flows to topics.flowState partition 0 as processors write it (an owner claim, then one
 * state per flow and the node states, under the claim's header) and returns its end offset. A function of its own
 * so that the source engine and its FLOWS change objects are garbage once it returns: kept in the caller's frame
 * (an async function keeps its locals across awaits) they would be marked by every full GC of the restore
 * measured after it, which a processor does not pay (~175 MB of heap at 300,000 flows).
 */
async function writeChangelog(
  client: KafkaClient,
  topics: TopicNames,
  producer: Producer,
  stateCodec: FlowStateCodec,
): Promise<number> {
  const engine = createFlowEngine();
  for (let i = 0; i < FLOWS; i++) engine.observe(observation(i % 10, Math.floor(i / 10), 0));
  // An owner claim first, then every record under its header (src/processor/fence.ts), so that the restore
  // pays for the fencing as it does in production.
  const claim = { epoch: 0, owner: 'benchown' };
  const headers = { [OWNER_HEADER]: claimHeader(claim) };
  await producer.send(topics.flowState, [
    { key: OWNER_KEY, value: encodeClaim(claim), partition: 0, headers },
  ]);
  const changes = engine.drain().changes;
  for (let i = 0; i < changes.length; i += 5000) {
    await producer.send(
      topics.flowState,
      changes
        .slice(i, i + 5000)
        .map((c) => ({ key: c.key, value: stateCodec.encode(c.state), partition: 0, headers })),
    );
  }
  return (await fetchEndOffsets(client, topics.flowState))[0]!.high;
}

async function restoreAndPause(client: KafkaClient, sink: string): Promise<Record<string, number | string>> {
  const topics = topicsFor(`bench-restore-${Date.now()}`);
  await ensureTopics(client, { topics, partitions: 1, replicationFactor: 1 });
  const stateCodec = new FlowStateCodec();
  // Uncompressed, as processors write it (src/processor/processor.ts).
  const producer = await createProducer(client, {
    lingerMs: 5,
    maxBatchMessages: 1000,
    compression: 'none',
  });
  const end = await writeChangelog(client, topics, producer, stateCodec);

  const reader = createRecordRangeReader(client, {
    topic: topics.flowState,
    ...(RESTORE_FETCH_BYTES === undefined ? {} : { maxBytes: RESTORE_FETCH_BYTES }),
  });
  // What a processor does at start, before it joins its group (no partition waits for it): reported apart.
  // Once per process, as processors do: the pause's processor below (same process) does not warm up again.
  const warmUp = WARM_UP ? await warmUpRestoreOnce() : undefined;
  const restoreClock = new PhaseClock();
  const faultsBefore = process.resourceUsage().minorPageFault;
  restoreClock.start();
  const restored = await restorePartition({
    reader,
    codec: stateCodec,
    topic: topics.flowState,
    partition: 0,
    fromOffset: 0,
    toOffset: end,
    createEngine: () => createFlowEngine(),
  });
  restoreClock.stop();
  const restoreFaults = process.resourceUsage().minorPageFault - faultsBefore;
  // The same restore again in this process: a processor restores its partitions one after another, so every
  // restore but its first runs compiled code (the first one above is the goal's figure).
  const againClock = new PhaseClock();
  againClock.start();
  const again = await restorePartition({
    reader,
    codec: stateCodec,
    topic: topics.flowState,
    partition: 0,
    fromOffset: 0,
    toOffset: end,
    createEngine: () => createFlowEngine(),
  });
  againClock.stop();
  const fallbacks = Object.values(reader.fallbacks()).reduce((a, b) => a + b, 0);
  await reader.close();
  const restoreFlowsPerS = Math.round(restored.engine.size / (restored.durationMs / 1000));

  // The pause: a processor given this partition (state of FLOWS flows) until its first processed batch.
  await producer.send(topics.observations, watermarks(10, T0 + 5 * SEC, 1));
  await producer.disconnect();
  const exporter = createExporter({ collectors: [sink], observationDomainId: 1 });
  const started = performance.now();
  const group = `bench-pause-${Date.now()}`;
  const processor = await startProcessor({
    client,
    groupId: group,
    topics,
    sink: exporter,
    group: { maxWaitTimeMs: 100 },
  });
  await until(
    'the first batch after the restore',
    () => processor.stats().batches > 0 && processor.stats().changelogWrites > 0,
  );
  const pauseMs = Math.round(performance.now() - started);
  const stats = processor.stats();
  await processor.stop();
  await exporter.close();
  await deleteGroups(client, [group]).catch(() => {});
  await deleteTopics(client, Object.values(topics)).catch(() => {});
  return {
    flows: restored.engine.size,
    warmUpMs: warmUp?.ms ?? 0,
    warmUpCpuMs: warmUp?.cpuMs ?? 0,
    warmUpLastRoundMs: warmUp?.roundMs.at(-1) ?? 0,
    restoreMs: restored.durationMs,
    restoreReadMs: restored.readMs,
    restoreLoadMs: restored.loadMs,
    restoreCpuMs: Math.round(restoreClock.cpuSeconds * 1000),
    restoreFlowsPerS,
    restoreFlowsPerCpuS: Math.round(restored.engine.size / restoreClock.cpuSeconds),
    restoreFallbacks: fallbacks,
    restorePageFaults: restoreFaults,
    hugePages: currentHugePagesMode(),
    secondRestoreMs: again.durationMs,
    secondRestoreReadMs: again.readMs,
    secondRestoreLoadMs: again.loadMs,
    secondRestoreCpuMs: Math.round(againClock.cpuSeconds * 1000),
    secondRestoreFlowsPerS: Math.round(again.engine.size / (again.durationMs / 1000)),
    pauseMs,
    pauseRestoreMs: stats.restoreMs,
  };
}

/**
 * --part apply: CPU per message of applyMessages() (and the drains of the commits) on one partition's share of
 * the throughput workload (every 6th flow, 10 rounds, watermarks), with the engine as a FlowEngine (in-place
 * observeEncoded) and seen only through FlowEngineApi (decode + observe), in alternating rounds.
 */
function applyPart(): Record<string, number> {
  const messages: ConsumedMessage[] = [];
  const push = (value: Buffer): void => {
    messages.push({
      topic: 'o',
      partition: 0,
      offset: messages.length,
      timestampMs: 0,
      key: null,
      value,
      headers: {},
    });
  };
  for (let round = 0; messages.length < MESSAGES / PARTITIONS; round++) {
    for (let n = 0; n < 10; n++)
      for (let i = n % PARTITIONS; i < FLOWS_PER_NODE; i += PARTITIONS)
        push(Buffer.from(codec.encodeObservation(observation(n, i, round))));
    for (let n = 0; n < 10; n++)
      push(
        Buffer.from(
          codec.encodeWatermark({
            node: `node-${n}`,
            bootId: `boot-${n}`,
            timeUs: T0 + round * 10 * SEC + 5 * SEC,
          }),
        ),
      );
  }
  const once = (inPlace: boolean): number => {
    const engine = createFlowEngine();
    const seen: FlowEngineApi = inPlace
      ? engine
      : ({ observe: (o) => engine.observe(o), watermark: (w) => engine.watermark(w) } as FlowEngineApi);
    const c0 = process.cpuUsage();
    for (let i = 0; i < messages.length; i += 500) {
      applyMessages(seen, codec, messages, i, Math.min(i + 500, messages.length));
      if (i % 4000 === 0) (engine as FlowEngine).drain();
    }
    engine.drain();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / messages.length;
  };
  const decoded: number[] = [];
  const inPlace: number[] = [];
  // Round 0 warms both paths up (JIT) and is not counted; the order alternates between rounds.
  for (let r = 0; r < 6; r++) {
    const [d, e] = r % 2 === 0 ? [once(false), once(true)] : [once(true), once(false)].reverse();
    if (r === 0) continue;
    decoded.push(d!);
    inPlace.push(e!);
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  return {
    messages: messages.length,
    decodeUsPerMsgCpu: Number(median(decoded).toFixed(2)),
    inPlaceUsPerMsgCpu: Number(median(inPlace).toFixed(2)),
    speedup: Number((median(decoded) / median(inPlace)).toFixed(2)),
  };
}

if (PART === 'apply') {
  process.stdout.write(`apply ${JSON.stringify(applyPart())}\n`);
  process.exit(0);
}

const kafka = await startTestKafka();
const sinkSocket = dgram.createSocket('udp4');
await new Promise<void>((r) => sinkSocket.bind(0, '127.0.0.1', () => r()));
const sink = `udp://127.0.0.1:${sinkSocket.address().port}`;
try {
  const client = createKafka({ brokers: parseBrokers(kafka.brokers), clientId: 'ctflow-bench' });
  if (PART !== 'restore') {
    const t = await throughput(client, sink);
    process.stdout.write(`throughput ${JSON.stringify(t)}\n`);
  }
  if (PART !== 'throughput') {
    const r = await restoreAndPause(client, sink);
    process.stdout.write(`restore ${JSON.stringify(r)}\n`);
  }
} finally {
  sinkSocket.close();
  await kafka.stop();
}
