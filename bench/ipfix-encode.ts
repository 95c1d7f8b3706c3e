/**
 * IPFIX encoding benchmark: data records encoded per second on one core for ctflow's realistic biflow
 * template (IPv4, ports, ms timestamps, forward + RFC 5103 reverse delta counters, flowEndReason,
 * biflowDirection, ctflow enterprise elements: 18 fields, 78 octets), and in the same run:
 *   - the encoder alone (FlowRecord → record octets into one preallocated buffer),
 *   - the exporting process's message assembly (ExportSession: variant choice, template, sets,
 *     header, MTU batching into 1472-octet messages, one fresh buffer per message),
 *   - the ceiling: a plain Buffer copy of the same message octets,
 *   - vmware/go-ipfix v0.12.0 encoding the same records the way its exporting process does
 *     (bench/go-ipfix, built with `go build`).
 * Run: npx tsx bench/ipfix-encode.ts [--seconds 2] [--no-go]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { FlowRecord } from '../src/flow/types.js';
import { FlowTemplates, variantOf } from '../src/ipfix/flow-templates.js';
import { ExportSession } from '../src/ipfix/session.js';
import { statsTemplate } from '../src/ipfix/stats-template.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 2) || 2;
const withGo = !args.includes('--no-go');
const N = 4096;

/** The same deterministic records as bench/go-ipfix/main.go (same LCG, same order of draws). */
function makeRecords(n: number): FlowRecord[] {
  let seed = 12345;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  const out: FlowRecord[] = [];
  for (let k = 0; k < n; k++) {
    const a = next();
    const b = next();
    const startMs = 1_795_680_000_000 + (next() % 3_600_000);
    const srcPort = 32768 + (next() % 28000);
    const dstPort = [443, 80, 53, 5432][k % 4]!;
    const endMs = startMs + (next() % 60_000);
    const delta = {
      origBytes: next() % 10_000_000,
      origPackets: next() % 10_000,
      replyBytes: next() % 100_000_000,
      replyPackets: next() % 100_000,
    };
    const src = `10.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
    const dst = `172.16.${(b >>> 8) & 255}.${b & 255}`;
    const tuple = (s: string, d: string, sp: number, dp: number) => ({
      src: s,
      dst: d,
      srcPort: sp,
      dstPort: dp,
      icmpType: null,
      icmpCode: null,
      icmpId: null,
    });
    out.push({
      key: `n|0|6|${src}|${dst}|${srcPort}|${dstPort}`,
      node: 'n',
      observationDomainId: 7,
      conntrackId: next(),
      zone: 0,
      family: 'IPV4',
      protocol: 6,
      orig: tuple(src, dst, srcPort, dstPort),
      reply: tuple(dst, src, dstPort, srcPort),
      nat: false,
      startUs: startMs * 1000,
      endUs: endMs * 1000,
      delta,
      total: delta,
      endReason: ((k % 5) + 1) as FlowRecord['endReason'],
      firstSeenMidLife: k % 17 === 0,
      recordIndex: k % 100,
      tcpState: 'ESTABLISHED',
      mark: 0,
    });
  }
  return out;
}

/**
 * Runs `body(batch)` in `windows` windows of about `secs / windows` each and returns the best rate in
 * operations per CPU-second of this process (process.cpuUsage: user + system, GC threads included).
 * CPU time rather than wall time, and the best window, because the machine is shared: other
 * processes take the core (or its hyperthread sibling) for a while, which is not the encoder's cost.
 */
function measure(
  secs: number,
  batch: number,
  body: (n: number) => void,
  windows = 5,
): { perSec: number; total: number } {
  const warm = performance.now() + 300;
  while (performance.now() < warm) body(batch);
  let best = 0;
  let total = 0;
  for (let w = 0; w < windows; w++) {
    let n = 0;
    const c0 = process.cpuUsage();
    const end = performance.now() + (secs * 1000) / windows;
    while (performance.now() < end) {
      body(batch);
      n += batch;
    }
    const c = process.cpuUsage(c0);
    best = Math.max(best, n / ((c.user + c.system) / 1e6));
    total += n;
  }
  return { perSec: best, total };
}

const records = makeRecords(N);
const ft = new FlowTemplates();
const variant = variantOf(records[0]!);
const recLen = ft.recordLength(variant);

// 1. Encoder alone: records into one preallocated buffer.
const scratch = Buffer.alloc(65536);
let pos = 0;
let k1 = 0;
const encoder = measure(seconds, 1024, (n) => {
  for (let i = 0; i < n; i++) {
    if (pos + recLen > scratch.length) pos = 0;
    pos += ft.write(scratch, pos, records[k1++ & (N - 1)]!, variant);
  }
});

// 2. Message assembly as the exporter runs it (emit = hand the message over; here: count it).
let msgBytes = 0;
let messages = 0;
const sample: Buffer[] = [];
const session = new ExportSession({
  flowTemplates: ft,
  statsTemplate: statsTemplate(ft.registry, 280),
  maxMessageSize: 1472,
  clock: () => 1_795_680_010_000,
  refreshTemplates: true,
  templateRefreshMs: 600_000,
  templateRefreshMessages: 0,
  emit: (m) => {
    msgBytes += m.buf.length;
    messages++;
    if (sample.length < 64) sample.push(m.buf);
  },
});
let k2 = 0;
const exporter = measure(seconds, 1024, (n) => {
  for (let i = 0; i < n; i++) session.add(records[k2++ & (N - 1)]!);
});
session.flush();
const bytesPerRecord = msgBytes / exporter.total;

// 3. Ceiling: a plain Buffer copy of the same message octets into a preallocated buffer.
const target = Buffer.alloc(65536);
let k3 = 0;
const copied = measure(seconds, 256, (n) => {
  for (let i = 0; i < n; i++) sample[k3++ & 63]!.copy(target, 0);
});
const copyBytesPerSec = (copied.perSec * sample.reduce((s, b) => s + b.length, 0)) / sample.length;

// 4. vmware/go-ipfix, same records, same template, same message size.
let go: { recordsPerSec: number; bytesPerSec: number; encoder: string } | undefined;
if (withGo) {
  const dir = fileURLToPath(new URL('./go-ipfix/', import.meta.url));
  const bin = join(mkdtempSync(join(tmpdir(), 'ctflow-bench-')), 'go-ipfix-bench');
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: dir, stdio: 'inherit' });
  go = JSON.parse(
    execFileSync(bin, ['-seconds', String(seconds), '-records', String(N)], { encoding: 'utf8' }),
  );
}

const M = (x: number): string => `${(x / 1e6).toFixed(2)} M`;
const MB = (x: number): string => `${(x / 1e6).toFixed(0)} MB/s`;
const rows: [string, string, string][] = [
  [
    'ctflow encoder (FlowRecord → 78-octet record)',
    `${M(encoder.perSec)} rec/s`,
    MB(encoder.perSec * recLen),
  ],
  [
    'ctflow exporter session (+ sets, header, 1472-octet messages)',
    `${M(exporter.perSec)} rec/s`,
    MB(exporter.perSec * bytesPerRecord),
  ],
  ['plain Buffer copy of the same message octets (ceiling)', '', MB(copyBytesPerSec)],
];
if (go)
  rows.push([
    `${go.encoder} (same records, same template)`,
    `${M(go.recordsPerSec)} rec/s`,
    MB(go.bytesPerSec),
  ]);
console.log(
  `node ${process.version}, ${seconds} s per measurement (best of 5 windows, per CPU-second), ${N} distinct records, ${recLen} octets/record`,
);
for (const [what, rate, bytes] of rows)
  console.log(`${what.padEnd(64)} ${rate.padStart(14)} ${bytes.padStart(12)}`);
console.log(
  JSON.stringify({
    encoderRecordsPerSec: Math.round(encoder.perSec),
    sessionRecordsPerSec: Math.round(exporter.perSec),
    sessionBytesPerSec: Math.round(exporter.perSec * bytesPerRecord),
    bufferCopyBytesPerSec: Math.round(copyBytesPerSec),
    messages,
    goIpfixRecordsPerSec: go ? Math.round(go.recordsPerSec) : null,
  }),
);
