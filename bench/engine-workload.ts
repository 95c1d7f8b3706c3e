/**
 * The synthetic cluster of the flow-engine benchmarks (bench/flow-engine.ts and bench/engine-ceiling/run.ts): TCP
 * flows of pods talking to services, `flows` of them spread over `nodes` nodes, with counters that grow by round.
 * One definition, so that the ceiling bench measures exactly the messages of flow-engine.ts's realistic section.
 */
import type { Observation, Tuple } from '../src/flow/types.js';

/** Event time (µs) of round 0. */
export const T0 = 1_700_000_000_000_000;
/** Event time between two rounds of the reference workload. */
export const ROUND_US = 10_000_000;
/** Event time between two polls of the realistic workload. */
export const REAL_POLL_US = 5_000_000;

/** The cluster's names and its observation generators. */
export interface EngineWorkload {
  readonly nodeNames: readonly string[];
  readonly bootIds: readonly string[];
  /** Flows per node (the last node may hold fewer). */
  readonly perNode: number;
  /** The i-th flow of a node: a pod talking to a service on one of 65,536 ports. */
  tupleOf(node: number, i: number): Tuple;
  /** Flow i of a node at `round` of the reference workload: each flow grows every third round, staggered. */
  observation(node: number, i: number, timeUs: number, round: number, kind: Observation['kind']): Observation;
  /** Counters of flow i at poll r of the realistic workload: it grows in every poll that carries it. */
  realObservation(node: number, i: number, timeUs: number, r: number): Observation;
}

export function engineWorkload(flows: number, nodes: number): EngineWorkload {
  const nodeNames = Array.from(
    { length: nodes },
    (_, i) => `node-${String(i).padStart(4, '0')}.cluster.local`,
  );
  const bootIds = nodeNames.map((_, i) => `5b1f7c3e-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const perNode = Math.ceil(flows / nodes);
  const tupleOf = (node: number, i: number): Tuple => ({
    src: `10.${(node >> 8) & 255}.${node & 255}.${(i >> 16) + 1}`,
    dst: `10.96.${(i >> 8) & 255}.${i & 255}`,
    srcPort: 32768 + (i % 28000),
    dstPort: 443,
    icmpType: null,
    icmpCode: null,
    icmpId: null,
  });
  const invert = (t: Tuple): Tuple => ({
    ...t,
    src: t.dst,
    dst: t.src,
    srcPort: t.dstPort,
    dstPort: t.srcPort,
  });
  // Built on demand: one reusable object per flow slot would defeat the memory measurement.
  const observation = (
    node: number,
    i: number,
    timeUs: number,
    round: number,
    kind: Observation['kind'],
  ): Observation => {
    const orig = tupleOf(node, i);
    const grown = Math.floor((round + (i % 3)) / 3);
    return {
      node: nodeNames[node] as string,
      bootId: bootIds[node] as string,
      kind,
      timeUs,
      conntrackId: node * perNode + i + 1,
      zone: 0,
      family: 'IPV4',
      protocol: 6,
      orig,
      reply: invert(orig),
      tcpState: 'ESTABLISHED',
      status: 0x18e,
      mark: 0,
      counters: {
        origPackets: 10 + grown * 3,
        origBytes: 1000 + grown * 900,
        replyPackets: 8 + grown * 2,
        replyBytes: 5000 + grown * 7000,
      },
      kernelStartUs: T0 - 5_000_000 + node,
      kernelStopUs: null,
    };
  };
  const realObservation = (node: number, i: number, timeUs: number, r: number): Observation => {
    const o = observation(node, i, timeUs, 0, 'POLL');
    const c = o.counters as NonNullable<Observation['counters']>;
    const g = 100 + r;
    c.origPackets += g * 3;
    c.origBytes += g * 900;
    c.replyPackets += g * 2;
    c.replyBytes += g * 7000;
    return o;
  };
  return { nodeNames, bootIds, perNode, tupleOf, observation, realObservation };
}
