/**
 * The flow engine's inputs and outputs. These types mirror the Avro schemas in schemas/
 * (observation.v1.avsc, watermark.v1.avsc, flowstate.v1.avsc): an Avro-decoded value *is* one of these.
 *
 * All times are event times in integer microseconds since the Unix epoch (`...Us`). They come from the
 * kernel's conntrack stamps or from the agent's observation of the table, never from a processor clock.
 */

/** What the agent saw happen to a conntrack entry. POLL = seen in a periodic dump (no event). */
export type EventKind = 'NEW' | 'UPDATE' | 'DESTROY' | 'POLL';

/** Address family of the tracked connection. */
export type Family = 'IPV4' | 'IPV6';

/** Conntrack's TCP states (nf_conntrack_proto_tcp.c), as printed by conntrack-tools. */
export type TcpState =
  | 'NONE'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'ESTABLISHED'
  | 'FIN_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSE'
  | 'SYN_SENT2';

/**
 * One direction of a conntrack entry. Addresses are in canonical text form (IPv4 dotted quad,
 * IPv6 RFC 5952). Ports are 0 for protocols without ports; ICMP fields are null for non-ICMP.
 */
export interface Tuple {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  icmpType: number | null;
  icmpCode: number | null;
  icmpId: number | null;
}

/** Absolute conntrack counters (nf_conntrack_acct=1), per direction, since the entry was created. */
export interface Counters {
  origPackets: number;
  origBytes: number;
  replyPackets: number;
  replyBytes: number;
}

/** One observation of one conntrack entry by the agent of `node`. */
export interface Observation {
  /** Node name (stable across restarts; Kubernetes node name in a cluster). */
  node: string;
  /** /proc/sys/kernel/random/boot_id of the node: a change means a reboot, so conntrack ids restart. */
  bootId: string;
  kind: EventKind;
  /** When the agent observed this (event time for events, dump time for polls), µs since epoch. */
  timeUs: number;
  /** Conntrack entry id (uint32); ids are reused by the kernel. */
  conntrackId: number;
  zone: number;
  family: Family;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, ...). */
  protocol: number;
  orig: Tuple;
  /** Reply direction; differs from the inverted original tuple under NAT. */
  reply: Tuple;
  tcpState: TcpState | null;
  /** Conntrack status bits (IPS_* in nf_conntrack_common.h). */
  status: number;
  mark: number;
  /** Absolute counters, or null when the node has nf_conntrack_acct=0. */
  counters: Counters | null;
  /** Kernel start stamp (nf_conntrack_timestamp=1), µs since epoch; null when absent. */
  kernelStartUs: number | null;
  /** Kernel stop stamp (DESTROY with timestamps). Informational: never used as flowEnd. */
  kernelStopUs: number | null;
}

/** A node's event-time progress: the agent has observed everything up to `timeUs`. */
export interface Watermark {
  node: string;
  bootId: string;
  timeUs: number;
}

/** flowEndReason, IANA IE 136 (RFC 7012 §5.11.6... ipfix registry "flowEndReason"). */
export const FlowEndReason = {
  idleTimeout: 1,
  activeTimeout: 2,
  endOfFlow: 3,
  forcedEnd: 4,
  lackOfResources: 5,
} as const;
export type FlowEndReason = (typeof FlowEndReason)[keyof typeof FlowEndReason];

/**
 * One exported flow record: what happened to one flow since its previous record (delta counters,
 * RFC 7012 §3.2.3), with event-time start/end of that interval.
 */
export interface FlowRecord {
  /** Flow key (see flowKey()): node, zone, protocol, original tuple. */
  key: string;
  node: string;
  observationDomainId: number;
  conntrackId: number;
  zone: number;
  family: Family;
  protocol: number;
  orig: Tuple;
  /** Post-NAT view comes from here when `nat` is true. */
  reply: Tuple;
  /** True when the reply tuple is not the inverted original tuple (NAT). */
  nat: boolean;
  /** First packet of this interval seen, µs since epoch. > 0 always. */
  startUs: number;
  /** Last packet of this interval seen, µs since epoch. startUs ≤ endUs. */
  endUs: number;
  /** Counters since the previous record of this flow; null when the node has no accounting. */
  delta: Counters | null;
  /** Absolute counters at endUs; null when the node has no accounting. */
  total: Counters | null;
  endReason: FlowEndReason;
  /**
   * True for the first record of a flow that existed before ctflow first saw it: startUs is then the
   * first observation (not the connection's start) and `delta` includes traffic from before it.
   */
  firstSeenMidLife: boolean;
  /** 0 for a flow's first record, then 1, 2, ...: lets collectors and tests see gaps and repeats. */
  recordIndex: number;
  tcpState: TcpState | null;
  mark: number;
}

/**
 * Serialisable per-flow state, one changelog value (schemas/flowstate.v1.avsc). The flow engine
 * owns its shape; the processor only stores it keyed by `key` and hands it back on restore.
 */
export interface FlowStateEntry {
  key: string;
  /** Avro-encodable state; null = tombstone (flow ended and forgotten). */
  state: Record<string, unknown> | null;
}

/** Engine output since the previous drain(). */
export interface EngineOutput {
  records: FlowRecord[];
  /** Changed flow states in order (last one per key wins), for the compacted changelog. */
  changes: FlowStateEntry[];
}

/** Engine settings: all durations in µs of event time. */
export interface EngineOptions {
  activeTimeoutUs: number;
  idleTimeoutUs: number;
  maxLifeUs: number;
  /** A node whose event time lags the newest node's by this much is presumed gone: forced end. */
  nodeTimeoutUs: number;
  /** Skip active-timeout records whose deltas are all zero (default true). */
  suppressZeroDeltaActive: boolean;
  /** Observation domain id for a node (stable, non-zero uint32). */
  observationDomainId: (node: string) => number;
}

/**
 * The flow engine contract: a pure, deterministic function of its inputs (no clock, no I/O).
 * One instance per Kafka partition in the processor; one in embedded mode.
 */
export interface FlowEngineApi {
  observe(obs: Observation): void;
  watermark(wm: Watermark): void;
  /** Ends every open flow as forced end (reason 4) at each node's current event time. */
  shutdown(): void;
  /** Records and state changes produced since the last drain. */
  drain(): EngineOutput;
  /** Every live flow's state (for tests and full snapshots). */
  snapshot(): FlowStateEntry[];
  /** Load states (from the changelog) into an empty engine. */
  restore(entries: Iterable<FlowStateEntry>): void;
  /** Number of flows tracked. */
  readonly size: number;
}

/** Where the engine's records go: the IPFIX exporting process implements this. */
export interface RecordSink {
  /** Hand records over (non-blocking; the sink batches and counts what it must drop). */
  write(records: readonly FlowRecord[]): void;
  /** Resolves when everything written so far has been sent (or counted as dropped). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
