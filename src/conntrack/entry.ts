import { type Observation, TCP_STATE_NAMES, type TcpState, type Tuple } from '../flow/types.js';

/**
 * One conntrack entry as printed by conntrack-tools, already in ctflow's vocabulary: what an
 * Observation carries about the entry, without who observed it and when. Status bits are rebuilt
 * from what conntrack-tools prints (see status.ts); kernel stamps are µs (floor of the ns stamp).
 */
export type ConntrackEntry = Omit<Observation, 'node' | 'bootId' | 'kind' | 'timeUs'>;

/** Conntrack event types as printed by `conntrack -E`. */
export type ConntrackEventKind = 'NEW' | 'UPDATE' | 'DESTROY';

/** One line of `conntrack -E -o timestamp,extended,id`. */
export interface ConntrackEvent {
  kind: ConntrackEventKind;
  /** The time conntrack printed the event (its `timestamp` option), µs since epoch. */
  timeUs: number;
  entry: ConntrackEntry;
}

/**
 * Conntrack's TCP state names (nf_conntrack_proto_tcp.c) mapped to TcpState values. Looking the
 * parsed text up here also yields a shared constant instead of a substring of the input line.
 */
export const TCP_STATES: ReadonlyMap<string, TcpState> = new Map<string, TcpState>(
  TCP_STATE_NAMES.map((s) => [s, s]),
);

/** IP protocol numbers the parsers treat specially. */
export const IPPROTO = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  GRE: 47,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136,
} as const;

/** True for ICMP and ICMPv6, whose tuples carry type/code/id instead of ports. */
export function isIcmp(protocol: number): boolean {
  return protocol === IPPROTO.ICMP || protocol === IPPROTO.ICMPV6;
}

/** A tuple with ports/ICMP fields unset. */
export function emptyTuple(src: string, dst: string): Tuple {
  return { src, dst, srcPort: 0, dstPort: 0, icmpType: null, icmpCode: null, icmpId: null };
}
