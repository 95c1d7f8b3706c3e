/**
 * The flow engine's inputs and outputs. These types mirror the Avro schemas in schemas/
 * (observation.v1.avsc, watermark.v1.avsc, flowstate.v2.avsc): an Avro-decoded value *is* one of these.
 *
 * All times are event times in integer microseconds since the Unix epoch (`...Us`). They come from the
 * kernel's conntrack stamps or from the agent's observation of the table, never from a processor clock.
 */

/** What the agent saw happen to a conntrack entry. POLL = seen in a periodic dump (no event). */
export type EventKind = 'NEW' | 'UPDATE' | 'DESTROY' | 'POLL';

/** Address family of the tracked connection. */
export type Family = 'IPV4' | 'IPV6';

/** Conntrack's TCP states (nf_conntrack_proto_tcp.c), as printed by conntrack-tools, in kernel order. */
export const TCP_STATE_NAMES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
] as const;

/** One of conntrack's TCP states. */
export type TcpState = (typeof TCP_STATE_NAMES)[number];

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

/** Per-flow counters kept by the engine: absolute counters seen and those already exported. */
export interface FlowStateCounters {
  /** Newest absolute counters incorporated. */
  current: Counters;
  /** Absolute counters at the flow's previous record (the delta base). */
  exported: Counters;
}

/**
 * One tracked flow in the changelog (schemas/flowstate.v2.avsc, record FlowState). Times in µs of
 * event time, 0 = unset. Field meanings are documented in the schema and in src/flow/engine.ts.
 */
export interface FlowState {
  conntrackId: number;
  /** Per-node creation sequence: the deterministic tie-breaker of timers that are due together. */
  seq: number;
  /** Bit set, see FlowFlags in src/flow/flow-table.ts. */
  flags: number;
  tcpState: TcpState | null;
  mark: number;
  recordIndex: number;
  connStartUs: number;
  originUs: number;
  intervalStartUs: number;
  lastChangeUs: number;
  lastSeenUs: number;
  endMarkUs: number;
  nextActiveUs: number;
  /** null when the node has no accounting (nf_conntrack_acct=0). */
  counters: FlowStateCounters | null;
  /** Reply tuple, stored only when it is not the plain inversion of the original tuple. */
  reply: Tuple | null;
}

/** One node's event-time clock in the changelog (record NodeState), keyed by nodeStateKey(node). */
export interface NodeState {
  node: string;
  bootId: string;
  /** max(observation times, watermarks) of the node: late-input checks and the node timeout. */
  eventTimeUs: number;
  /** Next FlowState.seq to hand out on this node. */
  nextSeq: number;
  /** Presumed gone (its event time lagged the newest node's by nodeTimeoutUs); flows were ended. */
  gone: boolean;
  /**
   * Newest time up to which a flow of this node may have been reported and then dropped (presumed
   * gone: the node's time; forgotten: the flow's last observation); 0 = none. A connection met
   * again whose kernel start stamp is not after it restarts as first seen mid-life, so its records
   * never overlap those reported before.
   */
  horizonUs: number;
  /**
   * Timer horizon: the node's newest watermark (0 = none yet). Flow timers fire only when it passes
   * their deadline: counters arrive only in dumps, and a watermark says a dump cycle is complete,
   * so an observation (of another flow) can never end a flow whose new packets the next dump shows.
   */
  watermarkUs: number;
}

/** A changelog value: exactly one of `flow` / `node` is set (record StateValue). */
export interface StateValue {
  flow: FlowState | null;
  node: NodeState | null;
}

/**
 * Serialisable state, one changelog entry (schemas/flowstate.v2.avsc). The flow engine owns its
 * shape; the processor only stores it keyed by `key` and hands it back on restore. Keys are flow
 * keys (flowKey()) or node keys (nodeStateKey()); the processor must write every entry to the
 * changelog partition with the number of the input partition the engine serves (node keys do not
 * hash there).
 */
export interface FlowStateEntry {
  key: string;
  /** Avro-encodable state; null = tombstone (flow ended and forgotten). */
  state: StateValue | null;
}

/** Engine output since the previous drain(). */
export interface EngineOutput {
  records: FlowRecord[];
  /** Changed states, at most one per key (the newest), for the compacted changelog. */
  changes: FlowStateEntry[];
}

/** Engine settings: all durations in µs of event time. */
export interface EngineOptions {
  activeTimeoutUs: number;
  idleTimeoutUs: number;
  /** A flow's record series is cut after this long (0 = never); the next traffic starts a new one. */
  maxLifeUs: number;
  /** A node whose event time lags the newest node's by this much is presumed gone: forced end. */
  nodeTimeoutUs: number;
  /** TCP end of flow is reported this long after TIME_WAIT/CLOSE (or at DESTROY if sooner). */
  endGraceUs: number;
  /** A flow with nothing to report and not observed for this long is forgotten. */
  forgetAfterUs: number;
  /** Skip active-timeout records whose deltas are all zero (default true). */
  suppressZeroDeltaActive: boolean;
  /** Observation domain id for a node (stable, non-zero uint32). */
  observationDomainId: (node: string) => number;
}

/** What the engine counted instead of processing (never silent). */
export interface EngineStats {
  /** Observations older than their node's event time (late, replayed or duplicate): ignored. */
  lateObservations: number;
  /** Observations at the same instant as the flow's newest one but of another connection: ignored. */
  sameInstantConflicts: number;
  /** Counters went backwards with the same conntrack id: treated as a new connection. */
  counterResets: number;
  /** Same key, different conntrack id or kernel start stamp: the old connection was ended. */
  connectionReplaced: number;
  /** Boot id changes seen: every flow of the node was ended. */
  reboots: number;
  /** Nodes presumed gone (event time lagged by nodeTimeoutUs): their flows were force-ended. */
  nodesGone: number;
  /** Records emitted. */
  records: number;
}

/**
 * The flow engine contract: a pure, deterministic function of its inputs (no clock, no I/O).
 * One instance per Kafka partition in the processor; one in embedded mode.
 */
export interface FlowEngineApi {
  observe(obs: Observation): void;
  /**
   * The same as observe() on each observation in order (same records, states, stats and errors),
   * with the flows of a batch looked up together so that their memory accesses overlap.
   */
  observeBatch(observations: readonly Observation[]): void;
  watermark(wm: Watermark): void;
  /** Ends every open flow as forced end (reason 4) at each node's current event time. */
  shutdown(): void;
  /** Records and state changes produced since the last drain. */
  drain(): EngineOutput;
  /** Records released since the last drain, without changelog states (no changelog kept). */
  drainRecords(): FlowRecord[];
  /** Every live flow's state (for tests and full snapshots). */
  snapshot(): FlowStateEntry[];
  /** Load states (from the changelog) into an empty engine. */
  restore(entries: Iterable<FlowStateEntry>): void;
  /** Number of flows tracked. */
  readonly size: number;
  /** Counters of what was ignored or treated specially. */
  readonly stats: Readonly<EngineStats>;
}

/** Where the engine's records go: the IPFIX exporting process implements this. */
export interface RecordSink {
  /** Hand records over (non-blocking; the sink batches and counts what it must drop). */
  write(records: readonly FlowRecord[]): void;
  /** Resolves when everything written so far has been sent (or counted as dropped). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
