/** Builds an exported FlowRecord from a slot. */
import { F_STRIDE, Flag, type FlowTable, Fx, tcpStateOf, U_STRIDE, Ux } from './flow-table.js';
import { parseFlowKey } from './key.js';
import { keyOfWords, protocolOfWords, tupleOfWords, zoneOfWords } from './tuple-key.js';
import type { Counters, FlowEndReason, FlowRecord, Tuple } from './types.js';

/** The reply tuple conntrack shows when nothing rewrites the connection. */
export function invertedTuple(o: Tuple): Tuple {
  return {
    src: o.dst,
    dst: o.src,
    srcPort: o.dstPort,
    dstPort: o.srcPort,
    icmpType: o.icmpType,
    icmpCode: o.icmpCode,
    icmpId: o.icmpId,
  };
}

/** True when `reply` is exactly invertedTuple(orig) (then it need not be stored). */
export function isPlainInversion(orig: Tuple, reply: Tuple): boolean {
  return (
    reply.src === orig.dst &&
    reply.dst === orig.src &&
    reply.srcPort === orig.dstPort &&
    reply.dstPort === orig.srcPort &&
    reply.icmpType === orig.icmpType &&
    reply.icmpCode === orig.icmpCode &&
    reply.icmpId === orig.icmpId
  );
}

/** True when the reply tuple shows address or port translation (NAT). */
export function isNat(orig: Tuple, reply: Tuple): boolean {
  return (
    reply.src !== orig.dst ||
    reply.dst !== orig.src ||
    reply.srcPort !== orig.dstPort ||
    reply.dstPort !== orig.srcPort
  );
}

function at(f: Float64Array, i: number): Counters {
  return {
    origPackets: f[i] as number,
    origBytes: f[i + 1] as number,
    replyPackets: f[i + 2] as number,
    replyBytes: f[i + 3] as number,
  };
}

/**
 * The record of `slot` covering [startUs, endUs] with the counters grown since its previous
 * record. Moves the delta base (exported counters) up to the current counters.
 */
export function buildRecord(
  t: FlowTable,
  slot: number,
  reason: FlowEndReason,
  startUs: number,
  endUs: number,
  firstSeenMidLife: boolean,
  node: { readonly name: string; readonly domainId: number },
): FlowRecord {
  const f = t.f;
  const b = slot * F_STRIDE;
  const ub = slot * U_STRIDE;
  let zone: number;
  let protocol: number;
  let orig: Tuple;
  let family: FlowRecord['family'];
  let key: string;
  if (t.isWide(slot)) {
    key = t.keyOf(slot);
    const k = parseFlowKey(key);
    zone = k.zone;
    protocol = k.protocol;
    orig = k.orig;
    family = k.family;
  } else {
    zone = zoneOfWords(t.u, ub + Ux.key);
    protocol = protocolOfWords(t.u, ub + Ux.key);
    orig = tupleOfWords(t.u, ub + Ux.key);
    family = 'IPV4';
    // The key written from the words (same text as flowKey()): no join() of ten pieces.
    key = keyOfWords(node.name, t.u, ub + Ux.key);
  }
  const word = t.u[ub + Ux.flags] as number;
  let delta: Counters | null = null;
  let total: Counters | null = null;
  if (word & Flag.hasCounters) {
    const c = b + Fx.cur;
    const e = b + Fx.exp;
    total = at(f, c);
    delta = {
      origPackets: total.origPackets - (f[e] as number),
      origBytes: total.origBytes - (f[e + 1] as number),
      replyPackets: total.replyPackets - (f[e + 2] as number),
      replyBytes: total.replyBytes - (f[e + 3] as number),
    };
    f[e] = total.origPackets;
    f[e + 1] = total.origBytes;
    f[e + 2] = total.replyPackets;
    f[e + 3] = total.replyBytes;
  }
  return {
    key,
    node: node.name,
    observationDomainId: node.domainId,
    conntrackId: t.u[ub + Ux.conntrackId] as number,
    zone,
    family,
    protocol,
    orig,
    reply: t.replies.get(slot) ?? invertedTuple(orig),
    nat: (word & Flag.nat) !== 0,
    startUs,
    endUs,
    delta,
    total,
    endReason: reason,
    firstSeenMidLife,
    recordIndex: t.u[ub + Ux.recordIndex] as number,
    tcpState: tcpStateOf((word >>> 16) & 15),
    mark: t.u[ub + Ux.mark] as number,
  };
}
