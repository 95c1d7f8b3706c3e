/**
 * Avro codec benchmark: 100,000 observations (the agent's worst case per poll: every entry of a
 * 100k table changed) encoded to single-object messages and decoded back, in the same run as
 * two baselines: avsc's own `toBuffer` (one allocation per message, no header, no checks) and
 * JSON.stringify of the same values. Reports the best of several rounds (the machine is shared).
 * Run: npx tsx bench/codec.ts [--rounds 5]
 */
import { performance } from 'node:perf_hooks';
import { AvroCodec } from '../src/codec/avro-codec.js';
import { loadCurrentSchemas } from '../src/codec/schema-files.js';
import type { Observation } from '../src/flow/types.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 5) || 5;
const N = 100_000;

function observation(i: number): Observation {
  const port = 1024 + (i % 60000);
  return {
    node: 'worker-17.cluster.local',
    bootId: '2f0e5c1e-8f0b-4b7e-9d1a-0c3f5a6b7c8d',
    kind: 'POLL',
    timeUs: 1_764_146_400_000_000 + i,
    conntrackId: 3_000_000_000 + i,
    zone: 0,
    family: 'IPV4',
    protocol: 6,
    orig: {
      src: `10.1.${(i >> 8) & 255}.${i & 255}`,
      dst: '10.96.0.10',
      srcPort: port,
      dstPort: 443,
      icmpType: null,
      icmpCode: null,
      icmpId: null,
    },
    reply: {
      src: '10.96.0.10',
      dst: `10.1.${(i >> 8) & 255}.${i & 255}`,
      srcPort: 443,
      dstPort: port,
      icmpType: null,
      icmpCode: null,
      icmpId: null,
    },
    tcpState: 'ESTABLISHED',
    status: 0x18e,
    mark: 0,
    counters: { origPackets: i, origBytes: i * 120, replyPackets: i * 2, replyBytes: i * 1400 },
    kernelStartUs: 1_764_146_000_000_000 + i,
    kernelStopUs: null,
  };
}

const observations = Array.from({ length: N }, (_, i) => observation(i));
const { observation: type } = loadCurrentSchemas();

function best(label: string, fn: () => number): void {
  let min = Number.POSITIVE_INFINITY;
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    bytes = fn();
    min = Math.min(min, performance.now() - t0);
  }
  const perOp = (min * 1000) / N;
  console.log(
    `${label.padEnd(44)} ${min.toFixed(1).padStart(8)} ms/100k  ${perOp.toFixed(2).padStart(6)} µs/msg  ${(bytes / N).toFixed(1).padStart(6)} B/msg`,
  );
}

const checked = new AvroCodec({ validate: true });
const unchecked = new AvroCodec({ validate: false });
const encoded = observations.map((o) => checked.encodeObservation(o));

best('encode, schema-checked (default)', () => {
  let bytes = 0;
  for (const o of observations) bytes += checked.encodeObservation(o).length;
  return bytes;
});
best('encode, unchecked (validate: false)', () => {
  let bytes = 0;
  for (const o of observations) bytes += unchecked.encodeObservation(o).length;
  return bytes;
});
best('decode (+ schema check of the result)', () => {
  let bytes = 0;
  for (const b of encoded) {
    checked.decode(b);
    bytes += b.length;
  }
  return bytes;
});
best('baseline: avsc toBuffer (no header, no check)', () => {
  let bytes = 0;
  for (const o of observations) bytes += type.toBuffer(o).length;
  return bytes;
});
best('baseline: JSON.stringify', () => {
  let bytes = 0;
  for (const o of observations) bytes += JSON.stringify(o).length;
  return bytes;
});
