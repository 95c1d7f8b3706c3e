/**
 * The flow engine: conntrack observations in, flow records and changelog states out. Pure and
 * deterministic: no clock, no I/O; time arrives as data. The same engine serves the embedded mode,
 * each Kafka processor partition and replay (docs/timestamps.md explains the rules with examples).
 *
 * Design decisions (normative text: DESIGN.md "Timestamp semantics", "Export semantics"):
 *
 * - Flow = flowKey(): node, zone, protocol, original tuple. Within a key, a different conntrack id,
 *   a different kernel start stamp, counters going backwards, or a new boot id of the node means a
 *   new connection: the old one is ended as end of flow (3) with what is known, then the new one
 *   starts from zero, so no delta is ever negative or double counted.
 * - Event time per node = max(observation times, watermarks) of that node; each node has its own
 *   timer heap and its flows' timers fire on its time. Per node, input must be in time order: an
 *   observation older than its node's event time is late (replayed/duplicate) and ignored,
 *   counted in stats.lateObservations. A node whose event time lags the newest node's by
 *   nodeTimeoutUs is presumed gone: its flows are force-ended (4) and dropped.
 * - Idempotent: an observation at the same instant as the flow's newest one only merges
 *   (counters max per direction, no identity change); anything older is late. A flow's state is
 *   only dropped once its node's time has passed its last observation, so a duplicate can never
 *   resurrect it.
 * - Timers per flow (one valid heap entry per flow, O(log n); lazy deletion, deadlines that move
 *   later are not re-pushed): idle = last growth + idle timeout; active at origin + k·A (origin =
 *   the flow's own start, so reports spread); max life at origin + maxLife (cuts the series,
 *   reason 2, the next traffic starts a new series with recordIndex 0); TCP end of flow at
 *   TIME_WAIT/CLOSE + endGrace (or at DESTROY if sooner); removal after DESTROY (when the node's
 *   time passes it) or after forgetAfter without observation once nothing is left to report.
 * - Times: a counter growth is attributed to the observation that revealed it, except: after
 *   TIME_WAIT/CLOSE it is attributed to the close (late final ACKs), and growth first revealed by
 *   a DESTROY is attributed to the flow's previous observation (the destroy comes a conntrack
 *   timeout after the last packet; the kernel stop stamp is never used). Record start = the
 *   connection start for a connection's first record (kernel stamp, else NEW time, else first
 *   observation, then firstSeenMidLife = true), else the first growth of the interval; record end
 *   = the close for end of flow of a closed TCP flow, else the newest growth. Hence
 *   0 < start ≤ end ≤ the releasing node time, and records of a flow never overlap.
 * - TCP end of flow: the end-of-flow record goes out endGrace after TIME_WAIT/CLOSE (or at DESTROY);
 *   the flow then stays as a closed remnant until DESTROY, so final counters that grow after the
 *   record (final ACK, retransmitted FIN) are reported in one more end-of-flow record (start = end
 *   = the close) at DESTROY. Deltas thus add up exactly to the kernel's final counters.
 * - Counters: delta = current − exported per direction; active records with zero delta are
 *   suppressed unless suppressZeroDeltaActive = false; a node without accounting yields records
 *   with delta/total null, and "activity" is then its events and TCP state changes.
 * - State: per-flow FlowState and per-node NodeState (node clock, boot id, seq counter), emitted by
 *   drain() at most once per changed key; restore() rebuilds heaps from them, and because timers
 *   are ordered by (deadline, seq) a restored engine behaves exactly like one that never stopped.
 */
import { CtflowError } from '../errors.js';
import { F_STRIDE, Flag, FlowTable, Fx, tcpCode, U_STRIDE, Ux } from './flow-table.js';
import { readFlowState, writeFlowState } from './flow-state.js';
import { checkNodeName, flowKey, isNodeStateKey, nodeOfFlowKey, nodeStateKey } from './key.js';
import { flowHash, flowHashOfKey } from './key-index.js';
import { NodeClock } from './node-clock.js';
import { resolveEngineOptions } from './options.js';
import { buildRecord, isNat, isPlainInversion } from './record.js';
import {
  type Counters,
  type EngineOptions,
  type EngineOutput,
  type EngineStats,
  FlowEndReason,
  type FlowEngineApi,
  type FlowRecord,
  type FlowStateEntry,
  type Observation,
  type Watermark,
} from './types.js';

/** Kernel start stamps before 2000-01-01 are treated as absent (e.g. a zero time). */
const MIN_PLAUSIBLE_US = 946_684_800_000_000;
const TIME_WAIT = tcpCode('TIME_WAIT');
const CLOSE = tcpCode('CLOSE');
const TCP = 6;
/** Progress rank of TCP state codes (index = tcpCode), for merging observations of one instant. */
const TCP_RANK: readonly number[] = [0, 1, 3, 4, 5, 6, 7, 8, 9, 2, 0, 0, 0, 0, 0, -1];

function badObservation(obs: Observation, field: string, value: unknown, expected: string): CtflowError {
  return new CtflowError('OBSERVATION_INVALID', `observation of ${obs.node}: ${field} = ${String(value)}`, {
    details: { node: obs.node, conntrackId: obs.conntrackId, field, value, expected },
  });
}

function checkTime(obs: Observation | Watermark, t: number): void {
  if (!Number.isSafeInteger(t) || t <= 0) {
    throw new CtflowError('OBSERVATION_INVALID', `time of ${obs.node} = ${t}`, {
      details: {
        node: obs.node,
        field: 'timeUs',
        value: t,
        expected: 'a positive integer µs since the epoch',
      },
    });
  }
}

function checkCounters(obs: Observation, c: Counters): void {
  if (
    !(Number.isSafeInteger(c.origPackets) && c.origPackets >= 0) ||
    !(Number.isSafeInteger(c.origBytes) && c.origBytes >= 0) ||
    !(Number.isSafeInteger(c.replyPackets) && c.replyPackets >= 0) ||
    !(Number.isSafeInteger(c.replyBytes) && c.replyBytes >= 0)
  ) {
    throw badObservation(obs, 'counters', JSON.stringify(c), 'non-negative integers');
  }
}

/** A usable kernel start stamp of `obs`, or 0. */
function kernelStart(obs: Observation): number {
  const k = obs.kernelStartUs;
  return k !== null && k >= MIN_PLAUSIBLE_US && k <= obs.timeUs ? k : 0;
}

/** The flow engine (see the module comment for its rules). */
export class FlowEngine implements FlowEngineApi {
  readonly #o: EngineOptions;
  readonly #t = new FlowTable();
  readonly #nodes = new Map<string, NodeClock>();
  readonly #nodeList: NodeClock[] = [];
  #records: FlowRecord[] = [];
  #dirtySlots: number[] = [];
  #dirtyNodes: NodeClock[] = [];
  #removed: string[] = [];
  #globalMaxUs = 0;
  #nextNodeCheckUs = Number.POSITIVE_INFINITY;
  readonly #stats: EngineStats = {
    lateObservations: 0,
    sameInstantConflicts: 0,
    counterResets: 0,
    connectionReplaced: 0,
    reboots: 0,
    nodesGone: 0,
    records: 0,
  };

  constructor(options: Partial<EngineOptions> = {}) {
    this.#o = resolveEngineOptions(options);
  }

  get size(): number {
    return this.#t.size;
  }

  get stats(): Readonly<EngineStats> {
    return this.#stats;
  }

  /** The resolved options. */
  get options(): Readonly<EngineOptions> {
    return this.#o;
  }

  observe(obs: Observation): void {
    const t = obs.timeUs;
    checkTime(obs, t);
    const node = this.#node(obs.node);
    if (!this.#admit(node, obs.bootId, t)) {
      this.#stats.lateObservations++;
      return;
    }
    const h = flowHash(node.hash, obs.zone, obs.protocol, obs.orig);
    const slot = this.#t.find(obs, node.idx, h);
    if (slot < 0) this.#create(obs, h, node);
    else this.#apply(slot, obs, h, node);
  }

  watermark(wm: Watermark): void {
    checkTime(wm, wm.timeUs);
    this.#admit(this.#node(wm.node), wm.bootId, wm.timeUs);
  }

  shutdown(): void {
    const nodes = [...this.#nodeList].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const node of nodes) this.#endAll(node, FlowEndReason.forcedEnd);
  }

  drain(): EngineOutput {
    const changes: FlowStateEntry[] = [];
    for (const node of this.#dirtyNodes) {
      node.dirty = false;
      changes.push({ key: nodeStateKey(node.name), state: { flow: null, node: node.toState() } });
    }
    this.#dirtyNodes = [];
    const t = this.#t;
    for (const slot of this.#dirtySlots) {
      t.dirty[slot] = 0;
      const key = t.keys[slot];
      if (key !== undefined) changes.push({ key, state: { flow: readFlowState(t, slot), node: null } });
    }
    this.#dirtySlots = [];
    if (this.#removed.length > 0) {
      for (const key of new Set(this.#removed)) {
        const node = this.#nodes.get(nodeOfFlowKey(key)) as NodeClock;
        if (t.findKey(key, node.idx, node.hash) < 0) changes.push({ key, state: null });
      }
      this.#removed = [];
    }
    const records = this.#records;
    this.#records = [];
    return { records, changes };
  }

  /**
   * Records released since the last drain, without building changelog states (the embedded mode
   * keeps no changelog). Clears the pending changes as drain() does.
   */
  drainRecords(): FlowRecord[] {
    for (const node of this.#dirtyNodes) node.dirty = false;
    this.#dirtyNodes = [];
    const t = this.#t;
    for (const slot of this.#dirtySlots) t.dirty[slot] = 0;
    this.#dirtySlots = [];
    this.#removed = [];
    const records = this.#records;
    this.#records = [];
    return records;
  }

  snapshot(): FlowStateEntry[] {
    const out: FlowStateEntry[] = [];
    for (const node of this.#nodeList) {
      out.push({ key: nodeStateKey(node.name), state: { flow: null, node: node.toState() } });
    }
    const t = this.#t;
    for (let slot = 0; slot < t.highWater; slot++) {
      const key = t.keys[slot];
      if (key !== undefined) out.push({ key, state: { flow: readFlowState(t, slot), node: null } });
    }
    return out;
  }

  restore(entries: Iterable<FlowStateEntry>): void {
    if (this.#t.size > 0 || this.#nodeList.length > 0) {
      throw new CtflowError('CONFIG_INVALID', 'restore() needs an empty flow engine', {
        details: { flows: this.#t.size, nodes: this.#nodeList.length },
      });
    }
    const t = this.#t;
    if (Array.isArray(entries)) t.reserve(entries.length);
    let node: NodeClock | undefined;
    const nodeOf = (key: string): NodeClock => {
      // Consecutive entries are mostly of one node: skip the name lookup then.
      if (node === undefined || !key.startsWith(node.name) || key.charCodeAt(node.name.length) !== 124) {
        node = this.#node(nodeOfFlowKey(key));
      }
      return node;
    };
    // The last value of a key wins: a compacted topic may still hold older values and tombstones.
    for (const { key, state } of entries) {
      if (state !== null && state.node !== null) {
        const s = state.node;
        const n = this.#node(s.node);
        n.bootId = s.bootId;
        n.eventTimeUs = Math.max(n.eventTimeUs, s.eventTimeUs);
        n.nextSeq = Math.max(n.nextSeq, s.nextSeq);
        n.gone = s.gone;
        n.horizonUs = s.horizonUs;
        continue;
      }
      if (isNodeStateKey(key)) continue;
      const n = nodeOf(key);
      const h = flowHashOfKey(n.hash, key);
      const previous = t.findKeyHashed(key, n.idx, h);
      if (previous >= 0) t.release(previous);
      if (state === null || state.flow === null) continue;
      const s = state.flow;
      const slot = t.alloc(key, n.idx, h, true);
      writeFlowState(t, slot, s, n.idx);
      if (s.seq + 1 > n.nextSeq) n.nextSeq = s.seq + 1;
      if (s.lastSeenUs > n.eventTimeUs) n.eventTimeUs = s.lastSeenUs;
    }
    for (let slot = 0; slot < t.highWater; slot++) {
      if (t.keys[slot] === undefined) continue;
      const d = this.#deadline(slot);
      const b = slot * F_STRIDE;
      t.f[b + Fx.heapDeadline] = d;
      const gi = slot * U_STRIDE + Ux.gen;
      const gen = ((t.u[gi] as number) + 1) >>> 0;
      t.u[gi] = gen;
      const node = this.#nodeList[t.u[slot * U_STRIDE + Ux.node] as number] as NodeClock;
      node.heap.append(d, t.f[b + Fx.seq] as number, slot, gen);
    }
    for (const node of this.#nodeList) {
      node.heap.heapify();
      this.#globalMaxUs = Math.max(this.#globalMaxUs, node.eventTimeUs);
    }
    this.#recomputeNodeCheck();
  }

  // ---- nodes and event time ----

  #node(name: string): NodeClock {
    let node = this.#nodes.get(name);
    if (node === undefined) {
      checkNodeName(name);
      node = new NodeClock(this.#nodeList.length, name, this.#o.observationDomainId(name));
      this.#nodes.set(name, node);
      this.#nodeList.push(node);
    }
    return node;
  }

  #markNode(node: NodeClock): void {
    if (!node.dirty) {
      node.dirty = true;
      this.#dirtyNodes.push(node);
    }
  }

  /**
   * Moves `node`'s event time to `t` (firing its due timers) unless `t` is late; handles a boot id
   * change (reboot: every flow of the node ends). False when the input is late.
   */
  #admit(node: NodeClock, bootId: string, t: number): boolean {
    if (t < node.eventTimeUs || (t === node.eventTimeUs && node.gone)) return false;
    if (node.bootId !== bootId) {
      if (node.bootId !== '') {
        // Stragglers of the old boot at the very instant we already are: late.
        if (t === node.eventTimeUs) return false;
        this.#advance(node, t);
        this.#stats.reboots++;
        this.#endAll(node, FlowEndReason.endOfFlow);
      }
      node.bootId = bootId;
      this.#markNode(node);
    }
    this.#advance(node, t);
    return true;
  }

  #advance(node: NodeClock, t: number): void {
    if (node.gone) {
      node.gone = false;
      this.#markNode(node);
    }
    if (t > node.eventTimeUs) {
      node.eventTimeUs = t;
      this.#markNode(node);
    }
    if (node.heap.topDeadline() <= t) this.#fire(node, t);
    const timeout = this.#o.nodeTimeoutUs;
    if (timeout > 0) {
      if (t + timeout < this.#nextNodeCheckUs) this.#nextNodeCheckUs = t + timeout;
      if (t > this.#globalMaxUs) {
        this.#globalMaxUs = t;
        if (t > this.#nextNodeCheckUs) this.#checkNodes();
      }
    } else if (t > this.#globalMaxUs) this.#globalMaxUs = t;
  }

  /** Nodes lagging the newest by more than nodeTimeoutUs are presumed gone: forced end. */
  #checkNodes(): void {
    const max = this.#globalMaxUs;
    const timeout = this.#o.nodeTimeoutUs;
    const gone = this.#nodeList
      .filter((n) => !n.gone && max - n.eventTimeUs > timeout)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const node of gone) {
      this.#endAll(node, FlowEndReason.forcedEnd);
      node.gone = true;
      node.horizonUs = Math.max(node.horizonUs, node.eventTimeUs);
      this.#stats.nodesGone++;
      this.#markNode(node);
    }
    this.#recomputeNodeCheck();
  }

  #recomputeNodeCheck(): void {
    let next = Number.POSITIVE_INFINITY;
    const timeout = this.#o.nodeTimeoutUs;
    if (timeout > 0) {
      for (const n of this.#nodeList)
        if (!n.gone && n.eventTimeUs + timeout < next) next = n.eventTimeUs + timeout;
    }
    this.#nextNodeCheckUs = next;
  }

  /** Ends every flow of `node` (reboot, presumed gone, shutdown) in seq order and drops them. */
  #endAll(node: NodeClock, reason: FlowEndReason): void {
    const t = this.#t;
    const slots: number[] = [];
    node.heap.forEach((slot, gen) => {
      if (this.#valid(slot, gen)) slots.push(slot);
    });
    slots.sort((a, b) => (t.f[a * F_STRIDE + Fx.seq] as number) - (t.f[b * F_STRIDE + Fx.seq] as number));
    for (const slot of slots) {
      const flags = t.u[slot * U_STRIDE + Ux.flags] as number;
      if (this.#reportable(slot))
        this.#emit(slot, flags & Flag.closed ? FlowEndReason.endOfFlow : reason, node);
      this.#remove(slot);
    }
    node.heap.clear();
  }

  // ---- timers ----

  #valid(slot: number, gen: number): boolean {
    const t = this.#t;
    return t.keys[slot] !== undefined && t.u[slot * U_STRIDE + Ux.gen] === gen;
  }

  /** Pushes the flow's one valid timer entry at `deadline` (earlier entries become stale). */
  #push(node: NodeClock, slot: number, deadline: number): void {
    const t = this.#t;
    const gi = slot * U_STRIDE + Ux.gen;
    const gen = ((t.u[gi] as number) + 1) >>> 0;
    t.u[gi] = gen;
    const b = slot * F_STRIDE;
    t.f[b + Fx.heapDeadline] = deadline;
    node.heap.push(deadline, t.f[b + Fx.seq] as number, slot, gen);
  }

  /** When the flow next needs attention (a pure function of its state). */
  #deadline(slot: number): number {
    const f = this.#t.f;
    const b = slot * F_STRIDE;
    const flags = this.#t.u[slot * U_STRIDE + Ux.flags] as number;
    const o = this.#o;
    if (flags & Flag.destroyed) return (f[b + Fx.endMark] as number) + 1;
    if (flags & Flag.closed) {
      return flags & Flag.endReported
        ? (f[b + Fx.lastSeen] as number) + o.forgetAfterUs
        : (f[b + Fx.endMark] as number) + o.endGraceUs;
    }
    if (flags & Flag.quiet) return (f[b + Fx.lastSeen] as number) + o.forgetAfterUs;
    let d = (f[b + Fx.lastChange] as number) + o.idleTimeoutUs;
    if (!o.suppressZeroDeltaActive || this.#pending(slot)) d = Math.min(d, f[b + Fx.nextActive] as number);
    if (o.maxLifeUs > 0) d = Math.min(d, (f[b + Fx.origin] as number) + o.maxLifeUs);
    return d;
  }

  #fire(node: NodeClock, now: number): void {
    const h = node.heap;
    while (h.size > 0 && h.topDeadline() <= now) {
      const d = h.topDeadline();
      const gen = h.topGen();
      const slot = h.topSlot();
      h.pop();
      if (!this.#valid(slot, gen)) continue;
      const due = this.#deadline(slot);
      if (due === d) {
        this.#expire(slot, node, now);
        if (!this.#valid(slot, gen)) continue; // removed
        this.#markSlot(slot);
      }
      // An early entry (its deadline moved later) goes back at its real deadline, even if that is
      // due too: flows then fire in (deadline, seq) order however the heap was built.
      this.#push(node, slot, due === d ? this.#deadline(slot) : due);
    }
  }

  /** Acts on the flow's earliest due timer. */
  #expire(slot: number, node: NodeClock, now: number): void {
    const t = this.#t;
    const f = t.f;
    const b = slot * F_STRIDE;
    const fi = slot * U_STRIDE + Ux.flags;
    const flags = t.u[fi] as number;
    const o = this.#o;
    if (flags & Flag.destroyed) {
      this.#remove(slot);
    } else if (flags & Flag.closed) {
      if (!(flags & Flag.endReported)) {
        this.#emit(slot, FlowEndReason.endOfFlow, node);
        t.u[fi] = (t.u[fi] as number) | Flag.endReported;
      } else {
        if (this.#pending(slot)) this.#emit(slot, FlowEndReason.endOfFlow, node);
        this.#forget(slot, node);
      }
    } else if (flags & Flag.quiet) {
      this.#forget(slot, node);
    } else {
      const pending = this.#pending(slot);
      const idleDue = (f[b + Fx.lastChange] as number) + o.idleTimeoutUs;
      const activeDue =
        pending || !o.suppressZeroDeltaActive ? (f[b + Fx.nextActive] as number) : Number.POSITIVE_INFINITY;
      const maxDue = o.maxLifeUs > 0 ? (f[b + Fx.origin] as number) + o.maxLifeUs : Number.POSITIVE_INFINITY;
      if (idleDue <= activeDue && idleDue <= maxDue) {
        if (pending) this.#emit(slot, FlowEndReason.idleTimeout, node);
        t.u[fi] = (t.u[fi] as number) | Flag.quiet;
      } else if (activeDue <= maxDue) {
        this.#emit(slot, FlowEndReason.activeTimeout, node);
        f[b + Fx.nextActive] = this.#phase(f[b + Fx.origin] as number, now);
      } else {
        // Max life: cut the series; the next growth starts a new one (recordIndex 0).
        if (pending) this.#emit(slot, FlowEndReason.activeTimeout, node);
        f[b + Fx.origin] = 0;
        t.u[fi] = ((t.u[fi] as number) | Flag.quiet) & ~(Flag.needFirst | Flag.firstSeries);
      }
    }
  }

  /** The first active-timeout instant after `t` in the phase of `origin`. */
  #phase(origin: number, t: number): number {
    const a = this.#o.activeTimeoutUs;
    return origin + a * (Math.floor((t - origin) / a) + 1);
  }

  #schedule(slot: number, node: NodeClock): void {
    const d = this.#deadline(slot);
    const cur = this.#t.f[slot * F_STRIDE + Fx.heapDeadline] as number;
    if (cur === 0 || d < cur) {
      this.#push(node, slot, d);
      // Keep "every deadline lies after the node's time" true after each input, so that a
      // duplicate input (which advances nothing) can never be what fires a timer.
      if (d <= node.eventTimeUs) this.#fire(node, node.eventTimeUs);
    }
  }

  // ---- flows ----

  #pending(slot: number): boolean {
    return (
      ((this.#t.u[slot * U_STRIDE + Ux.flags] as number) & Flag.needFirst) !== 0 ||
      (this.#t.f[slot * F_STRIDE + Fx.intervalStart] as number) > 0
    );
  }

  #reportable(slot: number): boolean {
    const flags = this.#t.u[slot * U_STRIDE + Ux.flags] as number;
    return this.#pending(slot) || (flags & (Flag.closed | Flag.endReported)) === Flag.closed;
  }

  #markSlot(slot: number): void {
    const t = this.#t;
    if (t.dirty[slot] === 0) {
      t.dirty[slot] = 1;
      this.#dirtySlots.push(slot);
    }
  }

  /** Drops a flow not observed for forgetAfter; raises the node's horizon (see NodeState). */
  #forget(slot: number, node: NodeClock): void {
    const lastSeen = this.#t.f[slot * F_STRIDE + Fx.lastSeen] as number;
    if (lastSeen > node.horizonUs) {
      node.horizonUs = lastSeen;
      this.#markNode(node);
    }
    this.#remove(slot);
  }

  #remove(slot: number): void {
    const t = this.#t;
    this.#removed.push(t.keys[slot] as string);
    t.release(slot);
  }

  #create(obs: Observation, h: number, node: NodeClock): void {
    const c = obs.counters;
    if (c !== null) checkCounters(obs, c);
    const t = this.#t;
    const slot = t.alloc(flowKey(obs), node.idx, h);
    const f = t.f;
    const b = slot * F_STRIDE;
    const ub = slot * U_STRIDE;
    const time = obs.timeUs;
    let ks = kernelStart(obs);
    // Started before a flow of its node was dropped (node presumed gone, flow forgotten): its
    // traffic may have been reported already, so its kernel stamp cannot start what we report now.
    if (ks > 0 && ks <= node.horizonUs) ks = 0;
    const connStart = ks > 0 ? ks : time;
    const destroy = obs.kind === 'DESTROY';
    const state = tcpCode(obs.tcpState);
    let flags = Flag.live | Flag.needFirst | Flag.firstSeries;
    if (c !== null) flags |= Flag.hasCounters;
    if (ks > 0) flags |= Flag.hasKernelStart;
    else if (obs.kind !== 'NEW') flags |= Flag.midLife;
    if (!isPlainInversion(obs.orig, obs.reply)) {
      t.replies.set(slot, obs.reply);
      if (isNat(obs.orig, obs.reply)) flags |= Flag.nat;
    }
    // A flow first met at its DESTROY: nothing better than its start is known about its packets.
    const a = destroy ? connStart : time;
    if (obs.protocol === TCP && !destroy && (state === TIME_WAIT || state === CLOSE)) {
      flags |= Flag.closed;
      f[b + Fx.endMark] = time;
    }
    t.u[ub + Ux.conntrackId] = obs.conntrackId >>> 0;
    t.u[ub + Ux.mark] = obs.mark >>> 0;
    t.u[ub + Ux.recordIndex] = 0;
    t.u[ub + Ux.flags] = (flags | (state << 16)) >>> 0;
    t.u[ub + Ux.node] = node.idx;
    f[b + Fx.connStart] = connStart;
    f[b + Fx.origin] = connStart;
    f[b + Fx.intervalStart] = a;
    f[b + Fx.lastChange] = a;
    f[b + Fx.lastSeen] = time;
    f[b + Fx.nextActive] = this.#phase(connStart, time);
    f[b + Fx.heapDeadline] = 0;
    f[b + Fx.seq] = node.nextSeq++;
    if (c !== null) {
      f[b + Fx.cur] = c.origPackets;
      f[b + Fx.cur + 1] = c.origBytes;
      f[b + Fx.cur + 2] = c.replyPackets;
      f[b + Fx.cur + 3] = c.replyBytes;
    }
    if (destroy) this.#destroy(slot, node, time);
    this.#markNode(node);
    this.#markSlot(slot);
    this.#schedule(slot, node);
  }

  #destroy(slot: number, node: NodeClock, time: number): void {
    const t = this.#t;
    if (this.#reportable(slot)) this.#emit(slot, FlowEndReason.endOfFlow, node);
    const fi = slot * U_STRIDE + Ux.flags;
    t.u[fi] = (t.u[fi] as number) | Flag.destroyed;
    t.f[slot * F_STRIDE + Fx.endMark] = time;
  }

  #apply(slot: number, obs: Observation, h: number, node: NodeClock): void {
    const t = this.#t;
    const f = t.f;
    const b = slot * F_STRIDE;
    const ub = slot * U_STRIDE;
    let flags = t.u[ub + Ux.flags] as number;
    if (flags & Flag.destroyed) return; // same instant as its DESTROY: a duplicate
    const time = obs.timeUs;
    const lastSeen = f[b + Fx.lastSeen] as number;
    const same = time === lastSeen;
    const c = obs.counters;
    if (c !== null) checkCounters(obs, c);
    const hasCounters = (flags & Flag.hasCounters) !== 0 && c !== null;
    if (obs.conntrackId >>> 0 !== t.u[ub + Ux.conntrackId]) {
      if (same) {
        this.#stats.sameInstantConflicts++;
        return;
      }
      this.#stats.connectionReplaced++;
      this.#replace(slot, obs, h, node);
      return;
    }
    if (!same) {
      const ks = kernelStart(obs);
      if (ks > 0 && flags & Flag.hasKernelStart && ks !== f[b + Fx.connStart]) {
        this.#stats.connectionReplaced++;
        this.#replace(slot, obs, h, node);
        return;
      }
      // Met first at its NEW event (events carry no kernel stamp): the first dump's stamp is the real
      // start, earlier than the event's print time, and still usable while nothing was reported.
      if (
        ks > 0 &&
        !(flags & Flag.hasKernelStart) &&
        (flags & (Flag.needFirst | Flag.firstSeries)) === (Flag.needFirst | Flag.firstSeries) &&
        !(flags & Flag.midLife) &&
        ks <= (f[b + Fx.connStart] as number) &&
        ks > node.horizonUs
      ) {
        f[b + Fx.connStart] = ks;
        flags |= Flag.hasKernelStart;
      }
      if (
        hasCounters &&
        (c.origPackets < (f[b + Fx.cur] as number) ||
          c.origBytes < (f[b + Fx.cur + 1] as number) ||
          c.replyPackets < (f[b + Fx.cur + 2] as number) ||
          c.replyBytes < (f[b + Fx.cur + 3] as number))
      ) {
        this.#stats.counterResets++;
        this.#replace(slot, obs, h, node);
        return;
      }
    }
    let grew = false;
    if (hasCounters) {
      const cur = b + Fx.cur;
      if (c.origPackets > (f[cur] as number)) {
        f[cur] = c.origPackets;
        grew = true;
      }
      if (c.origBytes > (f[cur + 1] as number)) {
        f[cur + 1] = c.origBytes;
        grew = true;
      }
      if (c.replyPackets > (f[cur + 2] as number)) {
        f[cur + 2] = c.replyPackets;
        grew = true;
      }
      if (c.replyBytes > (f[cur + 3] as number)) {
        f[cur + 3] = c.replyBytes;
        grew = true;
      }
    }
    const state = tcpCode(obs.tcpState);
    const oldState = flags >>> 16;
    const destroy = obs.kind === 'DESTROY';
    if (!(flags & Flag.hasCounters) && !same && (obs.kind !== 'POLL' || state !== oldState)) grew = true;
    let closedNow = false;
    if (
      obs.protocol === TCP &&
      !destroy &&
      !(flags & Flag.closed) &&
      (state === TIME_WAIT || state === CLOSE)
    ) {
      flags |= Flag.closed;
      f[b + Fx.endMark] = time;
      closedNow = true;
    }
    let changed = grew || closedNow || time > lastSeen || destroy;
    if (grew || closedNow) {
      const a =
        flags & Flag.closed
          ? (f[b + Fx.endMark] as number)
          : destroy
            ? Math.max(lastSeen, f[b + Fx.lastChange] as number)
            : time;
      if (flags & Flag.quiet) {
        flags &= ~Flag.quiet;
        if ((f[b + Fx.origin] as number) === 0) {
          // New series after max life.
          f[b + Fx.origin] = a;
          flags |= Flag.needFirst;
          t.u[ub + Ux.recordIndex] = 0;
        }
        f[b + Fx.nextActive] = this.#phase(f[b + Fx.origin] as number, time);
      }
      if ((f[b + Fx.intervalStart] as number) === 0) f[b + Fx.intervalStart] = a;
      if (a > (f[b + Fx.lastChange] as number)) f[b + Fx.lastChange] = a;
    }
    // At the same instant the order of two observations is unknown: keep the later TCP state
    // (by progress rank) and the first mark, so that duplicates commute.
    if (obs.tcpState !== null && state !== oldState && (!same || TCP_RANK[state]! > TCP_RANK[oldState]!)) {
      flags = (flags & 0xffff) | (state << 16);
      changed = true;
    }
    if (!same && obs.mark >>> 0 !== t.u[ub + Ux.mark]) {
      t.u[ub + Ux.mark] = obs.mark >>> 0;
      changed = true;
    }
    t.u[ub + Ux.flags] = flags >>> 0;
    if (time > lastSeen) f[b + Fx.lastSeen] = time;
    if (destroy) this.#destroy(slot, node, time);
    if (changed) {
      this.#markSlot(slot);
      this.#schedule(slot, node);
    }
  }

  /** The key's connection is another one now: end the old as end of flow, start the new. */
  #replace(slot: number, obs: Observation, h: number, node: NodeClock): void {
    if (this.#reportable(slot)) this.#emit(slot, FlowEndReason.endOfFlow, node);
    this.#remove(slot);
    this.#create(obs, h, node);
  }

  /** Emits the record of the flow's current interval. */
  #emit(slot: number, reason: FlowEndReason, node: NodeClock): void {
    const t = this.#t;
    const f = t.f;
    const b = slot * F_STRIDE;
    const fi = slot * U_STRIDE + Ux.flags;
    const flags = t.u[fi] as number;
    const first = (flags & (Flag.needFirst | Flag.firstSeries)) === (Flag.needFirst | Flag.firstSeries);
    const closed = (flags & Flag.closed) !== 0;
    const intervalStart = f[b + Fx.intervalStart] as number;
    const lastChange = f[b + Fx.lastChange] as number;
    const endMark = f[b + Fx.endMark] as number;
    let start: number;
    if (first) start = f[b + Fx.connStart] as number;
    else if (intervalStart > 0) start = intervalStart;
    else start = closed ? endMark : lastChange;
    let end = closed ? endMark : lastChange;
    if (end < start) end = start;
    const midLife = first && (flags & Flag.midLife) !== 0;
    this.#records.push(buildRecord(t, slot, reason, start, end, midLife, node.domainId));
    this.#stats.records++;
    t.u[slot * U_STRIDE + Ux.recordIndex] = (t.u[slot * U_STRIDE + Ux.recordIndex] as number) + 1;
    t.u[fi] = (flags & ~(Flag.needFirst | Flag.midLife)) >>> 0;
    f[b + Fx.intervalStart] = 0;
    this.#markSlot(slot);
  }
}

/** A new flow engine with `options` over the defaults (DEFAULT_ENGINE_OPTIONS). */
export function createFlowEngine(options: Partial<EngineOptions> = {}): FlowEngine {
  return new FlowEngine(options);
}
