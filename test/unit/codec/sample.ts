import type { Observation, Watermark } from '../../../src/flow/types.js';

/** The observation whose encoding is test/fixtures/codec/observation.v1.golden.hex. */
export const goldenObservation: Observation = {
  node: 'node-a',
  bootId: 'b1',
  kind: 'DESTROY',
  timeUs: 1764146400123456,
  conntrackId: 4294967295,
  zone: 1,
  family: 'IPV6',
  protocol: 6,
  orig: {
    src: '2001:db8::1',
    dst: '2001:db8::2',
    srcPort: 40000,
    dstPort: 443,
    icmpType: null,
    icmpCode: null,
    icmpId: null,
  },
  reply: {
    src: '2001:db8::2',
    dst: '2001:db8::1',
    srcPort: 443,
    dstPort: 40000,
    icmpType: null,
    icmpCode: null,
    icmpId: null,
  },
  tcpState: 'TIME_WAIT',
  status: 0x18e,
  mark: 7,
  counters: { origPackets: 10, origBytes: 1500, replyPackets: 8, replyBytes: 9000 },
  kernelStartUs: 1764146399000000,
  kernelStopUs: null,
};

/** An ICMP observation without counters or kernel stamps (nf_conntrack_acct=0, timestamp=0). */
export const icmpObservation: Observation = {
  node: 'n2',
  bootId: '0f6a3c1e-8f0b-4b7e-9d1a-0c3f5a6b7c8d',
  kind: 'NEW',
  timeUs: 1700000000000001,
  conntrackId: 1,
  zone: 0,
  family: 'IPV4',
  protocol: 1,
  orig: { src: '10.0.0.1', dst: '10.0.0.2', srcPort: 0, dstPort: 0, icmpType: 8, icmpCode: 0, icmpId: 4242 },
  reply: { src: '10.0.0.2', dst: '10.0.0.1', srcPort: 0, dstPort: 0, icmpType: 0, icmpCode: 0, icmpId: 4242 },
  tcpState: null,
  status: 0,
  mark: 0,
  counters: null,
  kernelStartUs: null,
  kernelStopUs: null,
};

/** A watermark. */
export const sampleWatermark: Watermark = { node: 'node-a', bootId: 'b1', timeUs: 1764146400123456 };
