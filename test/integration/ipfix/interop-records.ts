import type { FlowEndReason, FlowRecord, Tuple } from '../../../src/flow/types.js';
import type { TimePrecision } from '../../../src/ipfix/flow-templates.js';
import type { DecodedFlow } from '../../rig/collectors/index.js';

/** 2025-11-26T09:40:00Z in µs: a fixed event time, so every run sends the same bytes. */
const BASE_US = 1_764_150_000_000_000;

interface Spec {
  family: 'IPV4' | 'IPV6';
  protocol: number;
  src: string;
  dst: string;
  dstPort: number;
  endReason: FlowEndReason;
}

/** IPv4 and IPv6, TCP and UDP, every flowEndReason (RFC 7012 IE 136: 1 idle .. 5 lack of resources). */
const SPECS: readonly Spec[] = [
  { family: 'IPV4', protocol: 6, src: '10.1.0.1', dst: '10.1.0.2', dstPort: 443, endReason: 3 },
  { family: 'IPV4', protocol: 17, src: '10.1.0.3', dst: '10.1.0.4', dstPort: 53, endReason: 1 },
  { family: 'IPV6', protocol: 6, src: '2001:db8::1', dst: '2001:db8::2', dstPort: 8080, endReason: 2 },
  { family: 'IPV6', protocol: 17, src: 'fd00::10', dst: 'fd00::20', dstPort: 123, endReason: 4 },
  { family: 'IPV4', protocol: 6, src: '192.0.2.1', dst: '198.51.100.1', dstPort: 22, endReason: 5 },
];

function tuple(src: string, dst: string, srcPort: number, dstPort: number): Tuple {
  return { src, dst, srcPort, dstPort, icmpType: null, icmpCode: null, icmpId: null };
}

/**
 * The known record set of the interop tests: one biflow record per SPECS entry, in observation
 * domain `domain`, source ports from `portBase` + 1 (so record sets sent together stay apart).
 * Times carry sub-millisecond and sub-second parts, so truncation to each precision is visible.
 */
export function interopRecords(domain: number, portBase: number, batch = 0): FlowRecord[] {
  return SPECS.map((s, i) => {
    const srcPort = portBase + batch * 10 + i + 1;
    const startUs = BASE_US + batch * 60_000_000 + i * 1_234_567;
    const endUs = startUs + 2_345_678 + i * 1_001;
    const delta = {
      origPackets: 10 + i,
      origBytes: 1_500 + 100 * i,
      replyPackets: 8 + i,
      replyBytes: 52_000 + 1_000 * i,
    };
    return {
      key: `interop|${domain}|${s.protocol}|${s.src}|${srcPort}|${s.dst}|${s.dstPort}`,
      node: 'interop-node',
      observationDomainId: domain,
      conntrackId: 1_000 + i,
      zone: 0,
      family: s.family,
      protocol: s.protocol,
      orig: tuple(s.src, s.dst, srcPort, s.dstPort),
      reply: tuple(s.dst, s.src, s.dstPort, srcPort),
      nat: false,
      startUs,
      endUs,
      delta,
      total: delta,
      endReason: s.endReason,
      firstSeenMidLife: false,
      recordIndex: 0,
      tcpState: s.protocol === 6 ? 'TIME_WAIT' : null,
      mark: 0,
    };
  });
}

/** Integer ms a collector should decode for a time of `us` µs sent with `precision` (truncation, RFC 7011 §6.1.7/8). */
function sentMs(us: number, precision: TimePrecision): number {
  return precision === 'seconds' ? Math.floor(us / 1e6) * 1000 : Math.floor(us / 1000);
}

/** What a collector should report for `r` sent with time elements of `precision`, in the rig's vocabulary. */
export function expectedDecode(r: FlowRecord, precision: 'seconds' | 'milliseconds'): DecodedFlow {
  const fam = r.family === 'IPV6' ? 'IPv6' : 'IPv4';
  if (r.delta === null) throw new Error('interop records always carry counters');
  return {
    [`source${fam}Address`]: r.orig.src,
    [`destination${fam}Address`]: r.orig.dst,
    sourceTransportPort: r.orig.srcPort,
    destinationTransportPort: r.orig.dstPort,
    protocolIdentifier: r.protocol,
    octetDeltaCount: r.delta.origBytes,
    packetDeltaCount: r.delta.origPackets,
    reverseOctetDeltaCount: r.delta.replyBytes,
    reversePacketDeltaCount: r.delta.replyPackets,
    flowStartMs: sentMs(r.startUs, precision),
    flowEndMs: sentMs(r.endUs, precision),
    flowEndReason: r.endReason,
    timePrecision: precision,
  };
}

/** A flow's identity in decoded form: addresses, ports and protocol. */
export function flowKeyOf(f: DecodedFlow): string {
  const src = f.sourceIPv4Address ?? f.sourceIPv6Address;
  const dst = f.destinationIPv4Address ?? f.destinationIPv6Address;
  return `${f.protocolIdentifier}|${src}|${f.sourceTransportPort}|${dst}|${f.destinationTransportPort}`;
}

/**
 * Records whose decode depends on template variants beyond the plain biflow: one NAT'd TCP flow (reply
 * tuple differs: post-NAT IEs 225-228) and one ICMP echo (icmpTypeCodeIPv4 instead of ports).
 */
export function natAndIcmpRecords(domain: number, portBase: number): FlowRecord[] {
  const [base] = interopRecords(domain, portBase);
  if (base === undefined) throw new Error('no base record');
  const nat: FlowRecord = {
    ...base,
    key: `${base.key}|nat`,
    nat: true,
    // Conntrack reply tuple after DNAT to 10.9.9.9:8443 and SNAT to 100.64.0.1:5555.
    reply: tuple('10.9.9.9', '100.64.0.1', 8443, 5555),
  };
  const icmp: FlowRecord = {
    ...base,
    key: `${base.key}|icmp`,
    protocol: 1,
    orig: { ...tuple(base.orig.src, base.orig.dst, 0, 0), icmpType: 8, icmpCode: 0, icmpId: 77 },
    reply: { ...tuple(base.orig.dst, base.orig.src, 0, 0), icmpType: 0, icmpCode: 0, icmpId: 77 },
    tcpState: null,
    endReason: 1,
  };
  return [nat, icmp];
}
