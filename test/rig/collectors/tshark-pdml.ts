import { addressField, canonicalIp } from './net.js';
import type { DecodedFlow } from './types.js';

/** Wireshark cflow field -> normalised name (types.ts). Reverse (RFC 5103) variants get a `reverse` prefix. */
const FIELD_NAMES: Readonly<Record<string, string>> = {
  'cflow.srcport': 'sourceTransportPort',
  'cflow.dstport': 'destinationTransportPort',
  'cflow.protocol': 'protocolIdentifier',
  'cflow.octets': 'octetDeltaCount',
  'cflow.packets': 'packetDeltaCount',
  'cflow.flow_end_reason': 'flowEndReason',
  'cflow.abstimestart': 'flowStartMs',
  'cflow.abstimeend': 'flowEndMs',
  'cflow.permanent_octets': 'octetTotalCount',
  'cflow.permanent_packets': 'packetTotalCount',
  'cflow.post_naptsource_transport_port': 'postNAPTSourceTransportPort',
  'cflow.post_naptdestination_transport_port': 'postNAPTDestinationTransportPort',
  'cflow.icmp_type_code_ipv4': 'icmpTypeCodeIPv4',
  'cflow.icmp_type_code_ipv6': 'icmpTypeCodeIPv6',
  'cflow.biflow_direction': 'biflowDirection',
};

/** Wireshark cflow post-NAT address fields -> IANA names (values are addresses, not numbers). */
const NAT_ADDRESSES: Readonly<Record<string, string>> = {
  'cflow.post_natsource_ipv4_address': 'postNATSourceIPv4Address',
  'cflow.post_natdestination_ipv4_address': 'postNATDestinationIPv4Address',
  'cflow.post_natsource_ipv6_address': 'postNATSourceIPv6Address',
  'cflow.post_natdestination_ipv6_address': 'postNATDestinationIPv6Address',
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Wireshark's absolute time text, e.g. `Nov 26, 2025 09:40:00.123000000 UTC`, as integer ms since
 * the epoch. Sub-millisecond digits must be zero for the ms value to be exact; they are dropped.
 */
export function parseWiresharkTime(text: string): number {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}), (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? UTC$/.exec(text);
  const month = m === null ? -1 : MONTHS.indexOf(m[1] ?? '');
  if (m === null || month < 0) throw new Error(`tshark: unexpected time text '${text}' (expected UTC)`);
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  return Date.UTC(Number(m[3]), month, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
}

function unescapeXml(s: string): string {
  return s
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function attr(line: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(line);
  return m?.[1] === undefined ? undefined : unescapeXml(m[1]);
}

/** The precision named in Wireshark's duration line, e.g. `Duration: 5.333 seconds (milliseconds)`. */
function precisionOf(showname: string): string | undefined {
  return /\((seconds|milliseconds|microseconds|nanoseconds)\)\s*$/.exec(showname)?.[1];
}

/**
 * Decoded flows in tshark's PDML output (`-T pdml`), in order. PDML keeps each data record as its own
 * `Flow N` subtree and marks RFC 5103 reverse elements in the showname (`(Reverse Type 1 BYTES)`),
 * which the flat JSON outputs (`-T ek`, `-T json`) lose. Only complete `<packet>`s are read; records
 * without a source address (options data) are left out.
 */
export function parsePdmlFlows(pdml: string): DecodedFlow[] {
  const flows: DecodedFlow[] = [];
  let depth = 0;
  let current: DecodedFlow | undefined;
  let flowDepth = -1;
  let header: { sequenceNumber?: number; observationDomainId?: number } = {};
  const end = pdml.lastIndexOf('</packet>');
  if (end < 0) return flows;
  for (const raw of pdml.slice(0, end).split('\n')) {
    const line = raw.trim();
    if (line.startsWith('<packet')) header = {};
    if (line.startsWith('</field>')) {
      depth--;
      if (current !== undefined && depth === flowDepth) {
        // Options data records (e.g. exporting-process statistics) have no flow key: not a flow.
        if ('sourceIPv4Address' in current || 'sourceIPv6Address' in current) flows.push(current);
        current = undefined;
      }
      continue;
    }
    if (!line.startsWith('<field')) continue;
    const opens = !line.endsWith('/>');
    const name = attr(line, 'name') ?? '';
    const show = attr(line, 'show') ?? '';
    const showname = attr(line, 'showname') ?? '';
    if (name === '' && /^Flow \d+$/.test(show)) {
      current = { ...header };
      flowDepth = depth;
    } else if (current === undefined) {
      if (name === 'cflow.sequence') header.sequenceNumber = Number(show);
      if (name === 'cflow.od_id') header.observationDomainId = Number(show);
    } else {
      addField(current, name, show, showname);
    }
    if (opens) depth++;
  }
  return flows;
}

function addField(flow: DecodedFlow, name: string, show: string, showname: string): void {
  const reverse = /\(Reverse Type \d+/.test(showname);
  const prefixed = (n: string): string => (reverse ? `reverse${n[0]?.toUpperCase()}${n.slice(1)}` : n);
  if (name === 'cflow.timedelta') {
    const precision = precisionOf(showname);
    if (precision !== undefined) flow.timePrecision = precision;
    return;
  }
  if (/^cflow\.(src|dst)addr(_?v6)?$/.test(name)) {
    flow[prefixed(addressField(name.startsWith('cflow.src') ? 'source' : 'destination', show))] =
      canonicalIp(show);
    return;
  }
  const natAddress = NAT_ADDRESSES[name];
  if (natAddress !== undefined) {
    flow[prefixed(natAddress)] = canonicalIp(show);
    return;
  }
  const mapped = FIELD_NAMES[name];
  if (mapped === undefined) {
    flow[prefixed(name)] = show; // kept verbatim for diagnostics
  } else if (mapped === 'flowStartMs' || mapped === 'flowEndMs') {
    flow[prefixed(mapped)] = parseWiresharkTime(show);
  } else {
    flow[prefixed(mapped)] = Number(show);
  }
}

/** One IPFIX message as tshark showed it: header fields and how many data records (flow or options) it held. */
export interface PdmlMessage {
  observationDomainId: number;
  sequenceNumber: number;
  /** Data records of every data set, options data (e.g. exporting-process statistics) included. */
  dataRecords: number;
}

/**
 * The IPFIX messages in tshark's PDML output, in capture order (several per packet over TCP). Used to
 * check sequence numbers (RFC 7011 §3.1: data records sent before the message, options data included).
 */
export function parsePdmlMessages(pdml: string): PdmlMessage[] {
  const messages: PdmlMessage[] = [];
  const end = pdml.lastIndexOf('</packet>');
  if (end < 0) return messages;
  let current: PdmlMessage | undefined;
  for (const raw of pdml.slice(0, end).split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('<field')) continue;
    const name = attr(line, 'name') ?? '';
    const show = attr(line, 'show') ?? '';
    if (name === 'cflow.version') {
      current = { observationDomainId: -1, sequenceNumber: -1, dataRecords: 0 };
      messages.push(current);
    } else if (current !== undefined) {
      if (name === 'cflow.sequence') current.sequenceNumber = Number(show);
      else if (name === 'cflow.od_id') current.observationDomainId = Number(show);
      else if (name === '' && /^Flow \d+$/.test(show)) current.dataRecords++;
    }
  }
  return messages;
}
