/**
 * Flow keys: the identity of a flow across the pipeline. The same string is the Kafka message key
 * of ctflow.observations (so every observation of a flow lands in one partition, in order) and the
 * changelog key of its state in ctflow.flowstate.
 */
import { CtflowError } from '../errors.js';
import type { Family, Observation, Tuple } from './types.js';

/** Separator of key fields; never part of a node name, an address or a number. */
const SEP = '|';

/**
 * The flow key of an observation: node, zone, protocol and original tuple, `|`-separated:
 * `node|zone|protocol|src|srcPort|dst|dstPort|icmpType|icmpCode|icmpId` (absent ICMP fields empty).
 * The conntrack id is deliberately not part of it: the kernel reuses ids, and a new connection
 * on the same tuple must meet (and end) the old flow's state rather than live beside it.
 */
export function flowKey(obs: Pick<Observation, 'node' | 'zone' | 'protocol' | 'orig'>): string {
  const o = obs.orig;
  // join() builds one flat string (null → ''); a template literal builds a rope of ~10 pieces,
  // garbage per record and changelog key, flattened again wherever the key is hashed.
  return [
    obs.node,
    obs.zone,
    obs.protocol,
    o.src,
    o.srcPort,
    o.dst,
    o.dstPort,
    o.icmpType ?? '',
    o.icmpCode ?? '',
    o.icmpId ?? '',
  ].join(SEP);
}

/**
 * Changelog key of a node's clock (NodeState). It has no `|`, so it can never equal a flow key
 * (node names are checked not to contain `|`).
 */
export function nodeStateKey(node: string): string {
  return `@${node}`;
}

/** True when a changelog key is a nodeStateKey() rather than a flow key. */
export function isNodeStateKey(key: string): boolean {
  return key.indexOf(SEP) < 0;
}

/** The node name a flow key starts with. */
export function nodeOfFlowKey(key: string): string {
  const i = key.indexOf(SEP);
  return i < 0 ? key : key.slice(0, i);
}

/** What a flow key says about its flow. */
export interface ParsedFlowKey {
  node: string;
  zone: number;
  protocol: number;
  family: Family;
  orig: Tuple;
}

function optionalInt(s: string): number | null {
  return s === '' ? null : Number(s);
}

/** Parses a flowKey() back into its parts; throws OBSERVATION_INVALID on a malformed key. */
export function parseFlowKey(key: string): ParsedFlowKey {
  const p = key.split(SEP);
  if (p.length !== 10) {
    throw new CtflowError('OBSERVATION_INVALID', `malformed flow key ${JSON.stringify(key)}`, {
      details: { key, fields: p.length, expected: 'node|zone|protocol|src|srcPort|dst|dstPort|icmp×3' },
    });
  }
  const src = p[3] as string;
  return {
    node: p[0] as string,
    zone: Number(p[1]),
    protocol: Number(p[2]),
    family: src.includes(':') ? 'IPV6' : 'IPV4',
    orig: {
      src,
      srcPort: Number(p[4]),
      dst: p[5] as string,
      dstPort: Number(p[6]),
      icmpType: optionalInt(p[7] as string),
      icmpCode: optionalInt(p[8] as string),
      icmpId: optionalInt(p[9] as string),
    },
  };
}

/** Checks a node name once, when the engine first meets it. */
export function checkNodeName(node: string): void {
  if (node.length === 0 || node.includes(SEP) || node.startsWith('@')) {
    throw new CtflowError('OBSERVATION_INVALID', `invalid node name ${JSON.stringify(node)}`, {
      details: { field: 'node', value: node, expected: "a non-empty name without '|' not starting with '@'" },
    });
  }
}
