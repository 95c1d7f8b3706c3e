import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addressField, canonicalIp, freePort, RIG_HOST } from './net.js';
import { CollectorProcess, cacheBinDir, makeTempDir, requireBinary } from './process.js';
import type { CollectorHandle, DecodedFlow, StartCollectorOptions } from './types.js';
import { superviseUdpCollector } from './udp-collector.js';

/**
 * goflow2 mapping file (docs/mapping.md of goflow2): adds flowEndReason (136), the RFC 5103 reverse
 * counters (PEN 29305, IE 1/2) and the post-NAT elements (225-228, 281/282), which goflow2 does not
 * decode by default, and renders protocol and ethertype as numbers.
 */
const MAPPING = `formatter:
  fields: [type, sequence_num, sampler_address, time_flow_start_ns, time_flow_end_ns, bytes, packets, src_addr, dst_addr, etype, proto, src_port, dst_port, icmp_type, icmp_code, flow_end_reason, reverse_bytes, reverse_packets, post_nat_src_addr, post_nat_dst_addr, post_napt_src_port, post_napt_dst_port]
  protobuf:
    - { name: flow_end_reason, index: 1100, type: varint }
    - { name: reverse_bytes, index: 1101, type: varint }
    - { name: reverse_packets, index: 1102, type: varint }
    - { name: post_nat_src_addr, index: 1103, type: string }
    - { name: post_nat_dst_addr, index: 1104, type: string }
    - { name: post_napt_src_port, index: 1105, type: varint }
    - { name: post_napt_dst_port, index: 1106, type: varint }
  render:
    proto: none
    etype: none
    post_nat_src_addr: ip
    post_nat_dst_addr: ip
ipfix:
  mapping:
    - { field: 136, destination: flow_end_reason }
    - { field: 1, penprovided: true, pen: 29305, destination: reverse_bytes }
    - { field: 2, penprovided: true, pen: 29305, destination: reverse_packets }
    - { field: 225, destination: post_nat_src_addr }
    - { field: 226, destination: post_nat_dst_addr }
    - { field: 281, destination: post_nat_src_addr }
    - { field: 282, destination: post_nat_dst_addr }
    - { field: 227, destination: post_napt_src_port }
    - { field: 228, destination: post_napt_dst_port }
`;

/** Nanosecond times exceed 2^53: quote them before JSON.parse so no digit is lost. */
function parseLine(line: string): Record<string, unknown> {
  return JSON.parse(line.replace(/"(time_[a-z_]+_ns)":(\d+)/g, '"$1":"$2"')) as Record<string, unknown>;
}

function nsToMs(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
  const ns = BigInt(v);
  return Number(ns / 1_000_000n);
}

/**
 * One goflow2 JSON line normalised. goflow2 omits zero-valued fields; a record without time elements
 * gets the export time as start and end.
 */
export function normaliseGoflow2Record(r: Record<string, unknown>): DecodedFlow {
  const flow: DecodedFlow = {};
  if (typeof r.src_addr === 'string') flow[addressField('source', r.src_addr)] = canonicalIp(r.src_addr);
  if (typeof r.dst_addr === 'string') flow[addressField('destination', r.dst_addr)] = canonicalIp(r.dst_addr);
  const numbers: Array<[string, string]> = [
    ['src_port', 'sourceTransportPort'],
    ['dst_port', 'destinationTransportPort'],
    ['proto', 'protocolIdentifier'],
    ['bytes', 'octetDeltaCount'],
    ['packets', 'packetDeltaCount'],
    ['reverse_bytes', 'reverseOctetDeltaCount'],
    ['reverse_packets', 'reversePacketDeltaCount'],
    ['flow_end_reason', 'flowEndReason'],
    ['sequence_num', 'sequenceNumber'],
    ['post_napt_src_port', 'postNAPTSourceTransportPort'],
    ['post_napt_dst_port', 'postNAPTDestinationTransportPort'],
  ];
  for (const [from, to] of numbers) if (typeof r[from] === 'number') flow[to] = r[from];
  for (const [from, side] of [
    ['post_nat_src_addr', 'source'],
    ['post_nat_dst_addr', 'destination'],
  ] as const) {
    const v = r[from];
    if (typeof v === 'string' && v !== '')
      flow[`postNAT${addressField(side, v).replace(/^./, (c) => c.toUpperCase())}`] = canonicalIp(v);
  }
  // goflow2 splits icmpTypeCode (IE 32/139) into type and code; it omits zero values.
  if (r.proto === 1 || r.proto === 58) {
    const typeCode = Number(r.icmp_type ?? 0) * 256 + Number(r.icmp_code ?? 0);
    flow[r.proto === 1 ? 'icmpTypeCodeIPv4' : 'icmpTypeCodeIPv6'] = typeCode;
  }
  const start = nsToMs(r.time_flow_start_ns);
  const end = nsToMs(r.time_flow_end_ns);
  if (start !== undefined) flow.flowStartMs = start;
  if (end !== undefined) flow.flowEndMs = end;
  return flow;
}

/**
 * Starts goflow2 (installed by scripts/install-goflow2.sh into .cache/bin) listening for NetFlow/IPFIX
 * on `netflow://127.0.0.1:PORT?workers=1`, JSON lines to a file, HTTP server off. One worker: with
 * several, a template and the data right behind it are decoded in parallel and the data can lose the
 * race ("template error"). goflow2 receives over UDP only.
 * Ready once the port is bound (/proc/net/udp).
 */
export async function startGoflow2(options: StartCollectorOptions = {}): Promise<CollectorHandle> {
  const transport = options.transport ?? 'udp';
  if (transport !== 'udp') throw new Error('goflow2 receives NetFlow/IPFIX over UDP only');
  const bin = await requireBinary(
    'goflow2',
    'run `bash scripts/install-goflow2.sh` (go install into .cache/bin)',
    [cacheBinDir()],
  );
  const dir = await makeTempDir('goflow2');
  const port = options.port ?? (await freePort('udp'));
  const out = join(dir, 'flows.json');
  await writeFile(join(dir, 'mapping.yaml'), MAPPING);
  const proc = new CollectorProcess(
    [
      bin,
      '-listen',
      `netflow://${RIG_HOST}:${port}?workers=1`,
      '-format',
      'json',
      '-transport',
      'file',
      '-transport.file',
      out,
      '-addr',
      '',
      '-mapping',
      join(dir, 'mapping.yaml'),
    ],
    { cwd: dir },
  );
  const decoded = async (): Promise<DecodedFlow[]> => {
    const text = await readFile(out, 'utf8').catch(() => '');
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => normaliseGoflow2Record(parseLine(l)));
  };
  return superviseUdpCollector({
    name: 'goflow2',
    proc,
    dir,
    port,
    startTimeoutMs: options.startTimeoutMs ?? 20_000,
    decoded,
    pollIntervalMs: 200,
  });
}
