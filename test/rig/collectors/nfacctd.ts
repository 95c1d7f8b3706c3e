import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addressField, canonicalIp, freePort, RIG_HOST } from './net.js';
import { CollectorProcess, makeTempDir, requireBinary } from './process.js';
import type { CollectorHandle, DecodedFlow, StartCollectorOptions } from './types.js';
import { superviseUdpCollector } from './udp-collector.js';

/**
 * Custom primitives (aggregate_primitives): nfacctd has no built-in primitive for flowEndReason (136),
 * the RFC 5103 reverse counters (PEN 29305, IE 1 and 2) nor icmpTypeCodeIPv4/IPv6 (32/139).
 */
const PRIMITIVES = [
  'name=flow_end_reason\tfield_type=136\tlen=1\tsemantics=u_int',
  'name=rev_octets\tfield_type=29305:1\tlen=8\tsemantics=u_int',
  'name=rev_packets\tfield_type=29305:2\tlen=8\tsemantics=u_int',
  'name=icmp_tc4\tfield_type=32\tlen=2\tsemantics=u_int',
  'name=icmp_tc6\tfield_type=139\tlen=2\tsemantics=u_int',
].join('\n');

/**
 * The aggregation key. nfacctd sums records that share it within a refresh interval, so it holds every
 * field that tells two records apart (5-tuple, both times, sequence number of the carrying message).
 */
const AGGREGATE = [
  'src_host',
  'dst_host',
  'src_port',
  'dst_port',
  'proto',
  'timestamp_start',
  'timestamp_end',
  'export_proto_seqno',
  'flow_end_reason',
  'rev_octets',
  'rev_packets',
  'icmp_tc4',
  'icmp_tc6',
  'post_nat_src_host',
  'post_nat_dst_host',
  'post_nat_src_port',
  'post_nat_dst_port',
].join(', ');

function config(dir: string, port: number): string {
  return [
    'daemonize: false',
    `nfacctd_ip: ${RIG_HOST}`,
    `nfacctd_port: ${port}`,
    `logfile: ${join(dir, 'nfacctd.log')}`,
    `aggregate_primitives: ${join(dir, 'primitives.lst')}`,
    'plugins: print[rig]',
    `aggregate[rig]: ${AGGREGATE}`,
    'print_output[rig]: json',
    `print_output_file[rig]: ${join(dir, 'flows.json')}`,
    'print_output_file_append[rig]: true',
    'print_refresh_time[rig]: 1',
    'print_num_protos[rig]: true',
    'timestamps_since_epoch: true',
    'timestamps_utc: true',
    '',
  ].join('\n');
}

/** nfacctd's `SECONDS.MICROS` epoch time as integer ms (string arithmetic: exact). */
function epochMs(text: unknown): number {
  const m = typeof text === 'string' ? /^(\d+)(?:\.(\d{1,6}))?$/.exec(text) : null;
  if (m === null) throw new Error(`nfacctd: unexpected time ${JSON.stringify(text)}`);
  return Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 3));
}

/** One line of nfacctd's print plugin JSON, normalised. Custom primitives arrive as strings. */
export function normaliseNfacctdRecord(r: Record<string, unknown>): DecodedFlow {
  const flow: DecodedFlow = {};
  if (typeof r.ip_src === 'string') flow[addressField('source', r.ip_src)] = canonicalIp(r.ip_src);
  if (typeof r.ip_dst === 'string') flow[addressField('destination', r.ip_dst)] = canonicalIp(r.ip_dst);
  const numbers: Array<[string, string]> = [
    ['port_src', 'sourceTransportPort'],
    ['port_dst', 'destinationTransportPort'],
    ['ip_proto', 'protocolIdentifier'],
    ['bytes', 'octetDeltaCount'],
    ['packets', 'packetDeltaCount'],
    ['rev_octets', 'reverseOctetDeltaCount'],
    ['rev_packets', 'reversePacketDeltaCount'],
    ['flow_end_reason', 'flowEndReason'],
    ['export_proto_seqno', 'sequenceNumber'],
    ['post_nat_port_src', 'postNAPTSourceTransportPort'],
    ['post_nat_port_dst', 'postNAPTDestinationTransportPort'],
  ];
  for (const [from, to] of numbers) {
    const v = r[from];
    if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) flow[to] = Number(v);
  }
  // Post-NAT addresses print as "" when the record has none; ICMP type/code as our custom primitives.
  for (const [from, side] of [
    ['post_nat_ip_src', 'Source'],
    ['post_nat_ip_dst', 'Destination'],
  ] as const) {
    const v = r[from];
    if (typeof v === 'string' && v !== '') {
      flow[`postNAT${side}${v.includes(':') ? 'IPv6' : 'IPv4'}Address`] = canonicalIp(v);
    }
  }
  if (flow.postNATSourceIPv4Address === undefined && flow.postNATSourceIPv6Address === undefined) {
    delete flow.postNAPTSourceTransportPort;
    delete flow.postNAPTDestinationTransportPort;
  }
  const proto = Number(r.ip_proto);
  if (proto === 1 && r.icmp_tc4 !== undefined) flow.icmpTypeCodeIPv4 = Number(r.icmp_tc4);
  if (proto === 58 && r.icmp_tc6 !== undefined) flow.icmpTypeCodeIPv6 = Number(r.icmp_tc6);
  if (r.timestamp_start !== undefined) flow.flowStartMs = epochMs(r.timestamp_start);
  if (r.timestamp_end !== undefined) flow.flowEndMs = epochMs(r.timestamp_end);
  return flow;
}

/**
 * Starts pmacct's nfacctd with a generated config: print plugin, JSON lines appended to a file every
 * second, custom primitives for flowEndReason and the reverse counters. nfacctd 1.7 receives
 * NetFlow/IPFIX over UDP only (DTLS aside). Ready once the port is bound (/proc/net/udp) and the print
 * plugin has purged once (its log says so).
 */
export async function startNfacctd(options: StartCollectorOptions = {}): Promise<CollectorHandle> {
  const transport = options.transport ?? 'udp';
  if (transport !== 'udp') throw new Error('nfacctd (pmacct 1.7) receives IPFIX over UDP only');
  const bin = await requireBinary('nfacctd', 'install the Debian package: apt-get install -y pmacct');
  const dir = await makeTempDir('nfacctd');
  const port = options.port ?? (await freePort('udp'));
  await writeFile(join(dir, 'primitives.lst'), `${PRIMITIVES}\n`);
  await writeFile(join(dir, 'nfacctd.conf'), config(dir, port));
  const proc = new CollectorProcess([bin, '-f', join(dir, 'nfacctd.conf')], { cwd: dir });
  const log = async (): Promise<string> => readFile(join(dir, 'nfacctd.log'), 'utf8').catch(() => '');
  const describe = async (): Promise<string> => `${proc.describe()}\n--- nfacctd.log ---\n${await log()}`;
  const decoded = async (): Promise<DecodedFlow[]> => {
    const text = await readFile(join(dir, 'flows.json'), 'utf8').catch(() => '');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    return complete
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.event_type === 'purge')
      .map((r) => normaliseNfacctdRecord(r));
  };
  return superviseUdpCollector({
    name: 'nfacctd',
    proc,
    dir,
    port,
    startTimeoutMs: options.startTimeoutMs ?? 20_000,
    // Bound is not enough: records that arrive before the print plugin runs are lost. The plugin's
    // first (empty) purge, one refresh interval after start, says it is up.
    ready: async () => (await log()).includes('Purging cache - END'),
    decoded,
    pollIntervalMs: 250,
    describe,
  });
}
