/** Mapping between a FlowTable slot and its changelog value (FlowState). */
import { F_STRIDE, Flag, type FlowTable, Fx, tcpCode, tcpStateOf, U_STRIDE, Ux } from './flow-table.js';
import type { Counters, FlowState } from './types.js';

function counters(f: Float64Array, at: number): Counters {
  return {
    origPackets: f[at] as number,
    origBytes: f[at + 1] as number,
    replyPackets: f[at + 2] as number,
    replyBytes: f[at + 3] as number,
  };
}

function setCounters(f: Float64Array, at: number, c: Counters): void {
  f[at] = c.origPackets;
  f[at + 1] = c.origBytes;
  f[at + 2] = c.replyPackets;
  f[at + 3] = c.replyBytes;
}

/** The FlowState of a live slot. */
export function readFlowState(t: FlowTable, slot: number): FlowState {
  const f = t.f;
  const b = slot * F_STRIDE;
  const ub = slot * U_STRIDE;
  const word = t.u[ub + Ux.flags] as number;
  const flags = word & 0xffff;
  return {
    conntrackId: t.u[ub + Ux.conntrackId] as number,
    seq: f[b + Fx.seq] as number,
    flags: flags & ~Flag.live,
    tcpState: tcpStateOf(word >>> 16),
    mark: t.u[ub + Ux.mark] as number,
    recordIndex: t.u[ub + Ux.recordIndex] as number,
    connStartUs: f[b + Fx.connStart] as number,
    originUs: f[b + Fx.origin] as number,
    intervalStartUs: f[b + Fx.intervalStart] as number,
    lastChangeUs: f[b + Fx.lastChange] as number,
    lastSeenUs: f[b + Fx.lastSeen] as number,
    endMarkUs: f[b + Fx.endMark] as number,
    nextActiveUs: f[b + Fx.nextActive] as number,
    counters:
      flags & Flag.hasCounters
        ? { current: counters(f, b + Fx.cur), exported: counters(f, b + Fx.exp) }
        : null,
    reply: t.replies.get(slot) ?? null,
  };
}

/** Loads a FlowState into a freshly allocated slot of node `nodeIdx` (heapDeadline left 0). */
export function writeFlowState(t: FlowTable, slot: number, s: FlowState, nodeIdx: number): void {
  const f = t.f;
  const b = slot * F_STRIDE;
  const ub = slot * U_STRIDE;
  t.u[ub + Ux.conntrackId] = s.conntrackId;
  t.u[ub + Ux.mark] = s.mark;
  t.u[ub + Ux.recordIndex] = s.recordIndex;
  t.u[ub + Ux.flags] = ((s.flags & 0xffff) | Flag.live | (tcpCode(s.tcpState) << 16)) >>> 0;
  t.u[ub + Ux.node] = nodeIdx;
  f[b + Fx.seq] = s.seq;
  f[b + Fx.connStart] = s.connStartUs;
  f[b + Fx.origin] = s.originUs;
  f[b + Fx.intervalStart] = s.intervalStartUs;
  f[b + Fx.lastChange] = s.lastChangeUs;
  f[b + Fx.lastSeen] = s.lastSeenUs;
  f[b + Fx.endMark] = s.endMarkUs;
  f[b + Fx.nextActive] = s.nextActiveUs;
  if (s.counters !== null) {
    setCounters(f, b + Fx.cur, s.counters.current);
    setCounters(f, b + Fx.exp, s.counters.exported);
  }
  if (s.reply !== null) t.replies.set(slot, s.reply);
}
