/**
 * Generated observation streams for the flow engine's properties: a small simulated kernel per
 * node (connections on a few tuples, with counters that only grow, TCP closes, destroys, id reuse,
 * counter resets, reboots, missed events) turned into the observations and watermarks an agent
 * would send, plus the truth the engine must reproduce: per flow key, each connection's start and
 * last observed absolute counters.
 */
import fc from 'fast-check';
import type { Counters, Observation, TcpState, Tuple, Watermark } from '../../../src/flow/types.js';
import { SEC, T0, tuple } from './helpers.js';

/** One input of the engine. */
export type Input = { type: 'obs'; value: Observation } | { type: 'wm'; value: Watermark };

/** What one connection (incarnation of a flow key) must add up to. */
export interface Truth {
  /** Expected flowStart of its first record. */
  startUs: number;
  /** Last absolute counters the engine was shown (null on a node without accounting). */
  last: Counters | null;
}

/** A generated stream and its truth, per flow key, in incarnation order. */
export interface Scenario {
  inputs: Input[];
  truth: Map<string, Truth[]>;
}

const KINDS = [
  ...[
    'poll',
    'poll',
    'poll',
    'poll',
    'poll',
    'poll',
    'poll',
    'poll',
    'new',
    'new',
    'new',
    'update',
    'update',
  ],
  ...['update', 'close', 'destroy', 'wm', 'wm', 'short', 'reset', 'vanish', 'reboot', 'jump'],
] as const;
type StepKind = (typeof KINDS)[number];

/** One step of the plan fast-check generates. */
export interface Step {
  node: number;
  kind: StepKind;
  dt: number;
  pick: number;
  grow: number[];
  flags: number;
}

/** fast-check arbitrary of plans. */
export function planArb(maxSteps = 120): fc.Arbitrary<Step[]> {
  return fc.array(
    fc.record({
      node: fc.nat(2),
      kind: fc.constantFrom(...KINDS),
      dt: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 30 * SEC }),
        fc.integer({ min: 1, max: 3 * SEC }),
      ),
      pick: fc.nat(),
      grow: fc.array(fc.nat(4), { minLength: 4, maxLength: 4 }),
      flags: fc.nat(31),
    }),
    { maxLength: maxSteps, size: 'max' },
  );
}

interface TupleSpec {
  protocol: number;
  orig: Tuple;
  reply: Tuple;
}

function natReply(o: Tuple): Tuple {
  return {
    ...o,
    src: o.dst === '10.96.0.10' ? '10.244.1.7' : o.dst,
    dst: o.src,
    srcPort: o.dstPort,
    dstPort: o.srcPort,
  };
}

/** Per node: TCP, TCP with DNAT, UDP, ICMP echo, TCP over IPv6. */
function tuples(n: number): TupleSpec[] {
  const a = `10.0.${n}.1`;
  const tcp = tuple(a, 40000, '10.0.9.9', 80);
  const dnat = tuple(a, 40001, '10.96.0.10', 443);
  const udp = tuple(a, 5353, '10.0.9.53', 53);
  const icmp: Tuple = {
    src: a,
    dst: '10.0.9.9',
    srcPort: 0,
    dstPort: 0,
    icmpType: 8,
    icmpCode: 0,
    icmpId: 77,
  };
  const v6 = tuple(`fd00::${n + 1}`, 40002, 'fd00::99', 8080);
  const inv = (t: Tuple): Tuple => ({ ...t, src: t.dst, dst: t.src, srcPort: t.dstPort, dstPort: t.srcPort });
  return [
    { protocol: 6, orig: tcp, reply: inv(tcp) },
    { protocol: 6, orig: dnat, reply: natReply(dnat) },
    { protocol: 17, orig: udp, reply: inv(udp) },
    { protocol: 1, orig: icmp, reply: { ...inv(icmp), icmpType: 0 } },
    { protocol: 6, orig: v6, reply: inv(v6) },
  ];
}

interface Conn {
  spec: number;
  id: number;
  counters: Counters;
  kstart: number | null;
  state: TcpState | null;
  truth: Truth;
  /** Seen by the engine at least once. */
  seen: boolean;
  kindOfFirst: 'NEW' | 'POLL';
}

interface NodeSim {
  name: string;
  boot: number;
  time: number;
  acct: boolean;
  specs: TupleSpec[];
  live: (Conn | null)[];
  lastTime: number[];
  lastId: number[];
  nextId: number;
}

function key(node: string, s: TupleSpec): string {
  const o = s.orig;
  return `${node}|0|${s.protocol}|${o.src}|${o.srcPort}|${o.dst}|${o.dstPort}|${o.icmpType ?? ''}|${o.icmpCode ?? ''}|${o.icmpId ?? ''}`;
}

/** Runs a plan through the simulated kernels. Node 2 has no accounting (counters null). */
export function simulate(plan: Step[]): Scenario {
  const nodes: NodeSim[] = [0, 1, 2].map((n) => ({
    name: `node-${n}`,
    boot: 1,
    time: T0 + n * 7 * SEC,
    acct: n !== 2,
    specs: tuples(n),
    live: [null, null, null, null, null],
    lastTime: [0, 0, 0, 0, 0],
    lastId: [0, 0, 0, 0, 0],
    nextId: 1000 * (n + 1),
  }));
  const inputs: Input[] = [];
  const truth = new Map<string, Truth[]>();

  const emit = (sim: NodeSim, c: Conn, kind: Observation['kind'], time: number): void => {
    const s = sim.specs[c.spec] as TupleSpec;
    if (!c.seen) {
      c.seen = true;
      c.truth.startUs = c.kstart ?? time;
      const k = key(sim.name, s);
      const list = truth.get(k) ?? [];
      list.push(c.truth);
      truth.set(k, list);
    }
    const counters = sim.acct ? { ...c.counters } : null;
    c.truth.last = counters;
    sim.lastTime[c.spec] = time;
    inputs.push({
      type: 'obs',
      value: {
        node: sim.name,
        bootId: `boot-${sim.boot}`,
        kind,
        timeUs: time,
        conntrackId: c.id,
        zone: 0,
        family: s.orig.src.includes(':') ? 'IPV6' : 'IPV4',
        protocol: s.protocol,
        orig: s.orig,
        reply: s.reply,
        tcpState: s.protocol === 6 ? (c.state ?? 'ESTABLISHED') : null,
        status: 0,
        mark: 0,
        counters,
        kernelStartUs: c.kstart,
        kernelStopUs: kind === 'DESTROY' && c.kstart !== null ? time : null,
      },
    });
  };
  const grow = (c: Conn, g: number[]): void => {
    const [a = 0, b = 0] = g;
    c.counters.origPackets += a;
    c.counters.origBytes += a * 60;
    c.counters.replyPackets += b;
    c.counters.replyBytes += b * 1400;
  };
  const liveIdx = (sim: NodeSim, pick: number): number => {
    const idx = sim.live.map((c, i) => (c ? i : -1)).filter((i) => i >= 0);
    return idx.length === 0 ? -1 : (idx[pick % idx.length] as number);
  };
  const open = (sim: NodeSim, spec: number, flags: number, reuseId: boolean): Conn => {
    // A new connection on a tuple only after the previous one's last observation.
    if (sim.time <= sim.lastTime[spec]!) sim.time = sim.lastTime[spec]! + 1;
    const id = reuseId && sim.lastId[spec]! > 0 ? sim.lastId[spec]! : sim.nextId++;
    sim.lastId[spec] = id;
    const withStamp = (flags & 1) !== 0;
    const s = sim.specs[spec] as TupleSpec;
    return {
      spec,
      id,
      counters: { origPackets: 1, origBytes: 60, replyPackets: 0, replyBytes: 0 },
      // A kernel stamp never predates the tuple's previous connection (it held the tuple).
      kstart: withStamp ? Math.max(sim.time - (flags & 4 ? 250 * SEC : 0), sim.lastTime[spec]! + 1) : null,
      state: s.protocol === 6 ? 'SYN_SENT' : null,
      truth: { startUs: 0, last: null },
      seen: false,
      kindOfFirst: 'NEW',
    };
  };

  for (const step of plan) {
    const sim = nodes[step.node] as NodeSim;
    sim.time += step.dt;
    switch (step.kind) {
      case 'wm':
        // flags & 8: the watermark of a dump cycle that ended before the events just sent (the agent
        // sends it after a grace for such events): older than the node's newest observation.
        inputs.push({
          type: 'wm',
          value: {
            node: sim.name,
            bootId: `boot-${sim.boot}`,
            timeUs: step.flags & 8 ? Math.max(1, sim.time - 1 - (step.pick % (2 * SEC))) : sim.time,
          },
        });
        break;
      case 'poll':
        for (const c of sim.live) {
          if (!c) continue;
          if (step.flags & 3) grow(c, step.grow);
          if (c.state === 'SYN_SENT') c.state = 'ESTABLISHED';
          emit(sim, c, 'POLL', sim.time);
        }
        break;
      case 'new': {
        const spec = step.pick % sim.specs.length;
        if (sim.live[spec]) break;
        const c = open(sim, spec, step.flags, (step.flags & 16) !== 0);
        sim.live[spec] = c;
        // flags & 2: the agent missed the NEW event; the next poll reveals the connection.
        if (!(step.flags & 2)) emit(sim, c, 'NEW', sim.time);
        break;
      }
      case 'short': {
        // A connection opened and destroyed between two polls: seen only at its DESTROY.
        const spec = step.pick % sim.specs.length;
        if (sim.live[spec]) break;
        const c = open(sim, spec, step.flags, false);
        grow(c, step.grow);
        if (c.state !== null) c.state = 'TIME_WAIT';
        emit(sim, c, 'DESTROY', sim.time);
        break;
      }
      case 'update': {
        const i = liveIdx(sim, step.pick);
        if (i < 0) break;
        const c = sim.live[i] as Conn;
        grow(c, step.grow);
        if (c.state === 'SYN_SENT') c.state = 'ESTABLISHED';
        emit(sim, c, 'UPDATE', sim.time);
        break;
      }
      case 'close': {
        const i = liveIdx(sim, step.pick);
        if (i < 0) break;
        const c = sim.live[i] as Conn;
        if (c.state === null || c.state === 'TIME_WAIT' || c.state === 'CLOSE') break;
        grow(c, step.grow);
        c.state = step.flags & 1 ? 'CLOSE' : 'TIME_WAIT';
        emit(sim, c, 'UPDATE', sim.time);
        break;
      }
      case 'destroy': {
        const i = liveIdx(sim, step.pick);
        if (i < 0) break;
        const c = sim.live[i] as Conn;
        grow(c, step.grow); // final ACK etc. counted after the last state change
        emit(sim, c, 'DESTROY', sim.time);
        sim.live[i] = null;
        break;
      }
      case 'reset': {
        // Same id, counters start again from (almost) zero: the kernel reused the id.
        const i = liveIdx(sim, step.pick);
        if (i < 0) break;
        const old = sim.live[i] as Conn;
        if (!old.seen || old.counters.origPackets === 0 || !sim.acct) break;
        if (sim.time <= sim.lastTime[i]!) sim.time = sim.lastTime[i]! + 1;
        const c: Conn = {
          ...old,
          counters: { origPackets: 0, origBytes: 0, replyPackets: 1, replyBytes: 50 },
          kstart: null,
          truth: { startUs: 0, last: null },
          seen: false,
          kindOfFirst: 'POLL',
        };
        sim.live[i] = c;
        emit(sim, c, 'POLL', sim.time);
        break;
      }
      case 'vanish': {
        // The agent missed the DESTROY; the tuple's next connection gets another id.
        const i = liveIdx(sim, step.pick);
        if (i < 0) break;
        sim.live[i] = null;
        sim.lastId[i] = 0;
        break;
      }
      case 'jump':
        // The node goes quiet for a while (its agent stalls), then speaks again.
        sim.time += 150 * SEC;
        break;
      case 'reboot':
        sim.boot++;
        sim.time += 30 * SEC;
        sim.live = [null, null, null, null, null];
        sim.lastId = [0, 0, 0, 0, 0];
        inputs.push({ type: 'wm', value: { node: sim.name, bootId: `boot-${sim.boot}`, timeUs: sim.time } });
        break;
    }
  }
  return { inputs, truth };
}
