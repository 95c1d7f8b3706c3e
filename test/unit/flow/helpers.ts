/** Builders of observations and watermarks for flow engine tests. */
import type { Counters, Observation, Tuple, Watermark } from '../../../src/flow/types.js';

/** 2023-11-14T22:13:20Z in µs: a plausible "now" for tests. */
export const T0 = 1_700_000_000_000_000;
/** One second in µs. */
export const SEC = 1_000_000;

/** Counters with `n` packets of 100 bytes each way (reply half as many). */
export function ctr(origPackets: number, replyPackets = origPackets): Counters {
  return { origPackets, origBytes: origPackets * 100, replyPackets, replyBytes: replyPackets * 100 };
}

/** The tuple src:sport -> dst:dport (no ICMP fields). */
export function tuple(src: string, srcPort: number, dst: string, dstPort: number): Tuple {
  return { src, dst, srcPort, dstPort, icmpType: null, icmpCode: null, icmpId: null };
}

/** The reply tuple of `t` without NAT. */
export function inverted(t: Tuple): Tuple {
  return { ...t, src: t.dst, dst: t.src, srcPort: t.dstPort, dstPort: t.srcPort };
}

/** An observation with defaults: node n1, TCP 10.0.0.1:40000 -> 10.0.0.2:80, ESTABLISHED, POLL. */
export function obs(o: Partial<Observation> & { timeUs: number }): Observation {
  const orig = o.orig ?? tuple('10.0.0.1', 40000, '10.0.0.2', 80);
  const protocol = o.protocol ?? 6;
  return {
    node: 'n1',
    bootId: 'boot-1',
    kind: 'POLL',
    conntrackId: 1,
    zone: 0,
    family: orig.src.includes(':') ? 'IPV6' : 'IPV4',
    protocol,
    orig,
    reply: inverted(orig),
    tcpState: protocol === 6 ? 'ESTABLISHED' : null,
    status: 0,
    mark: 0,
    counters: ctr(1),
    kernelStartUs: null,
    kernelStopUs: null,
    ...o,
  };
}

/** A watermark of `node` (default n1, boot-1). */
export function wm(timeUs: number, node = 'n1', bootId = 'boot-1'): Watermark {
  return { node, bootId, timeUs };
}
