import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../exec.js';
import { addressField, canonicalIp, freePort, RIG_HOST } from './net.js';
import { CollectorProcess, makeTempDir, requireBinary } from './process.js';
import type { CollectorHandle, DecodedFlow, StartCollectorOptions } from './types.js';
import { superviseUdpCollector } from './udp-collector.js';

const DEBIAN = 'install the Debian package: apt-get install -y nfdump';

/** Rotation interval: nfcapd writes records to a readable file only when it rotates (2 s is its minimum). */
const ROTATE_SECONDS = 2;

/** nfdump prints times as local `YYYY-MM-DDTHH:MM:SS.mmm`; the rig runs it with TZ=UTC. */
function nfdumpTime(text: unknown): number {
  if (typeof text !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/.test(text)) {
    throw new Error(`nfdump: unexpected time ${JSON.stringify(text)}`);
  }
  return Date.parse(`${text}Z`);
}

/**
 * One record of `nfdump -o json` (nfdump 1.7) normalised. nfdump maps RFC 5103 reverse counters to
 * out_bytes/out_packets (0 when absent) and keeps times to the millisecond; it stores no flowEndReason.
 * Post-NAT addresses/ports and ICMP type/code are mapped too (IANA names, icmpTypeCode = type*256+code).
 */
export function normaliseNfdumpRecord(r: Record<string, unknown>): DecodedFlow {
  const flow: DecodedFlow = {};
  const src = r.src4_addr ?? r.src6_addr;
  const dst = r.dst4_addr ?? r.dst6_addr;
  if (typeof src === 'string') flow[addressField('source', src)] = canonicalIp(src);
  if (typeof dst === 'string') flow[addressField('destination', dst)] = canonicalIp(dst);
  const numbers: Array<[string, string]> = [
    ['src_port', 'sourceTransportPort'],
    ['dst_port', 'destinationTransportPort'],
    ['proto', 'protocolIdentifier'],
    ['in_bytes', 'octetDeltaCount'],
    ['in_packets', 'packetDeltaCount'],
    ['out_bytes', 'reverseOctetDeltaCount'],
    ['out_packets', 'reversePacketDeltaCount'],
  ];
  for (const [from, to] of numbers) if (typeof r[from] === 'number') flow[to] = r[from];
  // Post-NAT view (RFC 7012 IE 225-228, 281/282) as nfdump's NSEL "xlate" fields; ports are strings.
  const fam = typeof src === 'string' && src.includes(':') ? 'IPv6' : 'IPv4';
  const xlt: Array<[string, string]> = [
    ['src4_xlt_ip', 'postNATSourceIPv4Address'],
    ['dst4_xlt_ip', 'postNATDestinationIPv4Address'],
    ['src6_xlt_ip', 'postNATSourceIPv6Address'],
    ['dst6_xlt_ip', 'postNATDestinationIPv6Address'],
  ];
  for (const [from, to] of xlt) if (typeof r[from] === 'string') flow[to] = canonicalIp(r[from] as string);
  if (r.src_xlt_port !== undefined) flow.postNAPTSourceTransportPort = Number(r.src_xlt_port);
  if (r.dst_xlt_port !== undefined) flow.postNAPTDestinationTransportPort = Number(r.dst_xlt_port);
  if (typeof r.icmp_type === 'number' && typeof r.icmp_code === 'number') {
    flow[`icmpTypeCode${fam}`] = r.icmp_type * 256 + r.icmp_code;
  }
  flow.flowStartMs = nfdumpTime(r.first);
  flow.flowEndMs = nfdumpTime(r.last);
  return flow;
}

/**
 * `nfdump -o json` output as an array. nfdump 1.7.1 is not always valid JSON: a file without flows prints
 * `[` `No matching flows` `]`, and a record with NAT fields ends with a trailing comma (measured).
 */
export function parseNfdumpJson(stdout: string): Array<Record<string, unknown>> {
  if (!stdout.includes('{')) return [];
  const parsed: unknown = JSON.parse(stdout.replace(/,(\s*[}\]])/g, '$1'));
  if (!Array.isArray(parsed)) throw new Error(`nfdump -o json printed no array: ${stdout.slice(0, 200)}`);
  return parsed as Array<Record<string, unknown>>;
}

/** Handle of nfcapd, with nfdump's count of sequence failures (RFC 7011 §3.1 sequence numbers). */
export interface NfcapdHandle extends CollectorHandle {
  /** Sum of nfdump's `Sequence failures` over the files nfcapd has written so far. */
  sequenceFailures(): Promise<number>;
}

/**
 * Starts nfdump's nfcapd (1.7: `-w dir -p port -b 127.0.0.1 -t 2`) and reads what it stored with
 * `nfdump -r FILE -o json`. nfcapd 1.7 listens on UDP only. Ready once the port is bound (/proc/net/udp).
 */
export async function startNfcapd(options: StartCollectorOptions = {}): Promise<NfcapdHandle> {
  const transport = options.transport ?? 'udp';
  if (transport !== 'udp') throw new Error('nfcapd (nfdump 1.7) receives IPFIX over UDP only');
  const nfcapd = await requireBinary('nfcapd', DEBIAN);
  const nfdump = await requireBinary('nfdump', DEBIAN);
  const dir = await makeTempDir('nfcapd');
  const port = options.port ?? (await freePort('udp'));
  const proc = new CollectorProcess(
    [nfcapd, '-w', dir, '-p', String(port), '-b', RIG_HOST, '-t', String(ROTATE_SECONDS), '-I', 'rig'],
    { cwd: dir },
  );
  // Rotated files never change again: decode each once.
  const perFile = new Map<string, DecodedFlow[]>();
  const rotatedFiles = async (): Promise<string[]> =>
    (await readdir(dir)).filter((f) => /^nfcapd\.\d{12,14}$/.test(f)).sort();
  const decoded = async (): Promise<DecodedFlow[]> => {
    for (const file of await rotatedFiles()) {
      if (perFile.has(file)) continue;
      const { stdout } = await run([nfdump, '-r', join(dir, file), '-o', 'json'], { timeoutMs: 10_000 });
      const parsed = parseNfdumpJson(stdout);
      perFile.set(
        file,
        parsed.filter((r) => r.type === 'FLOW').map((r) => normaliseNfdumpRecord(r)),
      );
    }
    return [...perFile.values()].flat();
  };
  const handle = await superviseUdpCollector({
    name: 'nfcapd',
    proc,
    dir,
    port,
    startTimeoutMs: options.startTimeoutMs ?? 20_000,
    decoded,
    pollIntervalMs: 300,
    decoderLabel: 'nfcapd/nfdump',
  });
  return {
    ...handle,
    sequenceFailures: async () => {
      let total = 0;
      for (const file of await rotatedFiles()) {
        const { stdout } = await run([nfdump, '-r', join(dir, file), '-I'], { timeoutMs: 10_000 });
        const m = /^Sequence failures:\s*(\d+)/m.exec(stdout);
        if (m === null) throw new Error(`nfdump -I printed no 'Sequence failures' for ${file}: ${stdout}`);
        total += Number(m[1]);
      }
      return total;
    },
  };
}
