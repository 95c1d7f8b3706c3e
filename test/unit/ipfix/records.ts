/** FlowRecord builders for the IPFIX tests. */
import type { Counters, FlowRecord, Tuple } from '../../../src/flow/types.js';

/** A tuple with ports (no ICMP fields). */
export function tuple(src: string, dst: string, srcPort: number, dstPort: number): Tuple {
  return { src, dst, srcPort, dstPort, icmpType: null, icmpCode: null, icmpId: null };
}

/** 2026-11-26T08:00:00.123456Z in µs. */
export const T0_US = 1_795_680_000_123_456;

/** A TCP IPv4 biflow record (no NAT) with counters; `over` replaces any field. */
export function record(over: Partial<FlowRecord> = {}): FlowRecord {
  const orig = tuple('10.0.0.1', '10.0.0.2', 40000, 443);
  const delta: Counters = { origPackets: 10, origBytes: 1500, replyPackets: 8, replyBytes: 9000 };
  return {
    key: 'node-a|0|6|10.0.0.1|10.0.0.2|40000|443',
    node: 'node-a',
    observationDomainId: 7,
    conntrackId: 123456,
    zone: 0,
    family: 'IPV4',
    protocol: 6,
    orig,
    reply: tuple('10.0.0.2', '10.0.0.1', 443, 40000),
    nat: false,
    startUs: T0_US,
    endUs: T0_US + 2_500_000,
    delta,
    total: { origPackets: 20, origBytes: 3000, replyPackets: 16, replyBytes: 18000 },
    endReason: 3,
    firstSeenMidLife: false,
    recordIndex: 1,
    tcpState: 'TIME_WAIT',
    mark: 0,
    ...over,
  };
}

/** An IPv6 UDP biflow record. */
export function record6(over: Partial<FlowRecord> = {}): FlowRecord {
  return record({
    key: 'node-a|0|17|2001:db8::1|2001:db8::2|5353|53',
    family: 'IPV6',
    protocol: 17,
    orig: tuple('2001:db8::1', '2001:db8::2', 5353, 53),
    reply: tuple('2001:db8::2', '2001:db8::1', 53, 5353),
    endReason: 1,
    ...over,
  });
}
