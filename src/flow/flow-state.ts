/** Mapping between a FlowTable slot and its changelog value (FlowState). */
import {
  DIRTY,
  F_STRIDE,
  Flag,
  type FlowTable,
  Fx,
  TCP_NULL,
  tcpCode,
  tcpStateOf,
  U_STRIDE,
  Ux,
} from './flow-table.js';
import { type DecodedState, SN } from './state-codec.js';
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
    seq: t.u[ub + Ux.seq] as number,
    flags: flags & ~Flag.live,
    tcpState: tcpStateOf((word >>> 16) & 15),
    mark: t.u[ub + Ux.mark] as number,
    recordIndex: t.u[ub + Ux.recordIndex] as number,
    connStartUs: f[b + Fx.connStart] as number,
    originUs: f[b + Fx.origin] as number,
    intervalStartUs: f[b + Fx.intervalStart] as number,
    lastChangeUs: f[b + Fx.lastChange] as number,
    lastSeenUs: f[b + Fx.lastSeen] as number,
    endMarkUs: f[b + Fx.endMark] as number,
    nextActiveUs: t.nextActive(slot),
    counters:
      flags & Flag.hasCounters
        ? { current: counters(f, b + Fx.cur), exported: counters(f, b + Fx.exp) }
        : null,
    reply: t.replies.get(slot) ?? null,
  };
}

/** Loads a FlowState into a freshly allocated slot (heapDeadline left 0). */
export function writeFlowState(t: FlowTable, slot: number, s: FlowState): void {
  const f = t.f;
  const b = slot * F_STRIDE;
  const ub = slot * U_STRIDE;
  t.u[ub + Ux.conntrackId] = s.conntrackId;
  t.u[ub + Ux.mark] = s.mark;
  t.u[ub + Ux.recordIndex] = s.recordIndex;
  const dirty = (t.u[ub + Ux.flags] as number) & DIRTY;
  t.u[ub + Ux.flags] = (dirty | (s.flags & 0xffff) | Flag.live | (tcpCode(s.tcpState) << 16)) >>> 0;
  // Mod 2^32 (a node would need 2^32 flows for two live ones to share it).
  t.u[ub + Ux.seq] = s.seq >>> 0;
  f[b + Fx.connStart] = s.connStartUs;
  f[b + Fx.origin] = s.originUs;
  f[b + Fx.intervalStart] = s.intervalStartUs;
  f[b + Fx.lastChange] = s.lastChangeUs;
  f[b + Fx.lastSeen] = s.lastSeenUs;
  f[b + Fx.endMark] = s.endMarkUs;
  t.setNextActive(slot, s.nextActiveUs);
  if (s.counters !== null) {
    setCounters(f, b + Fx.cur, s.counters.current);
    setCounters(f, b + Fx.exp, s.counters.exported);
  }
  if (s.reply !== null) t.replies.set(slot, s.reply);
}

/** writeFlowState() from a value decoded by decodeStateInto() (restore fast path): same row. */
export function writeDecodedState(t: FlowTable, slot: number, d: DecodedState): void {
  const f = t.f;
  const n = d.n;
  const b = slot * F_STRIDE;
  const ub = slot * U_STRIDE;
  t.u[ub + Ux.conntrackId] = n[SN.conntrackId] as number;
  t.u[ub + Ux.mark] = n[SN.mark] as number;
  t.u[ub + Ux.recordIndex] = n[SN.recordIndex] as number;
  const dirty = (t.u[ub + Ux.flags] as number) & DIRTY;
  const tcp = d.tcp < 0 ? TCP_NULL : d.tcp;
  t.u[ub + Ux.flags] = (dirty | ((n[SN.flags] as number) & 0xffff) | Flag.live | (tcp << 16)) >>> 0;
  t.u[ub + Ux.seq] = (n[SN.seq] as number) >>> 0;
  f[b + Fx.connStart] = n[SN.connStartUs] as number;
  f[b + Fx.origin] = n[SN.originUs] as number;
  f[b + Fx.intervalStart] = n[SN.intervalStartUs] as number;
  f[b + Fx.lastChange] = n[SN.lastChangeUs] as number;
  f[b + Fx.lastSeen] = n[SN.lastSeenUs] as number;
  f[b + Fx.endMark] = n[SN.endMarkUs] as number;
  t.setNextActive(slot, n[SN.nextActiveUs] as number);
  if (d.hasCounters) for (let i = 0; i < 8; i++) f[b + Fx.cur + i] = n[SN.cur + i] as number;
  if (d.reply !== null) t.replies.set(slot, d.reply);
}
