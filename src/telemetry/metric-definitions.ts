/**
 * Every Prometheus metric ctflow exposes, declared once: name, help, type, labels and the roles
 * that report it. metrics.ts builds prom-client objects from this table and docs/metrics.md is
 * rendered from it (scripts/gen-metrics-docs.ts), so code, docs and dashboards share one list.
 */

/** The roles that run long enough to be scraped. */
export type MetricRole = 'agent' | 'run' | 'processor' | 'replay';

interface Base {
  name: string;
  help: string;
  labels: readonly string[];
  roles: readonly MetricRole[];
}

/** A counter (monotonic; name ends in _total). */
export interface CounterDef extends Base {
  type: 'counter';
}

/** A gauge (a current value). */
export interface GaugeDef extends Base {
  type: 'gauge';
}

/** A histogram with fixed buckets (seconds). */
export interface HistogramDef extends Base {
  type: 'histogram';
  buckets: readonly number[];
}

/** One metric definition. */
export type MetricDef = CounterDef | GaugeDef | HistogramDef;

const AGENT: MetricRole[] = ['agent', 'run'];
const EXPORT: MetricRole[] = ['run', 'processor', 'replay'];
const KAFKA_IN: MetricRole[] = ['processor', 'replay'];
const ALL: MetricRole[] = ['agent', 'run', 'processor', 'replay'];

/** Bucket bounds for durations from milliseconds to minutes. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** flowEndReason (IANA IE 136) as metric label values. */
export const END_REASON_LABELS = {
  1: 'idle_timeout',
  2: 'active_timeout',
  3: 'end_of_flow',
  4: 'forced_end',
  5: 'lack_of_resources',
} as const;

/** Kernel prerequisites the agent checks (ctflow_kernel_prerequisite{name}). */
export const KERNEL_PREREQUISITES = [
  'nf_conntrack_acct',
  'nf_conntrack_timestamp',
  'conntrack_binary',
] as const;

/** Observation kinds (ctflow_observations_read_total{kind}). */
export const OBSERVATION_KINDS = ['NEW', 'UPDATE', 'DESTROY', 'POLL'] as const;

/** The metric table. Keys are the property names of the Metrics object. */
export const METRIC_DEFINITIONS = {
  buildInfo: {
    type: 'gauge',
    name: 'ctflow_build_info',
    help: 'Always 1; labels carry the ctflow version and the role of this process.',
    labels: ['version', 'role'],
    roles: ALL,
  },
  ready: {
    type: 'gauge',
    name: 'ctflow_ready',
    help: '1 when /readyz answers ready (connected and, for processors, state restored), else 0.',
    labels: [],
    roles: ALL,
  },

  // --- agent: conntrack source ---
  observationsRead: {
    type: 'counter',
    name: 'ctflow_observations_read_total',
    help: 'Observations of conntrack entries read from the kernel (events and changed poll entries), by kind.',
    labels: ['kind'],
    roles: AGENT,
  },
  pollDuration: {
    type: 'histogram',
    name: 'ctflow_poll_duration_seconds',
    help: 'Duration of one full poll cycle: dump the conntrack table, parse, diff and encode.',
    labels: [],
    roles: AGENT,
    buckets: DURATION_BUCKETS,
  },
  pollFailures: {
    type: 'counter',
    name: 'ctflow_poll_failures_total',
    help: 'Poll cycles that failed (conntrack could not be run or read); the agent retries at the next interval.',
    labels: [],
    roles: AGENT,
  },
  conntrackEntries: {
    type: 'gauge',
    name: 'ctflow_conntrack_entries',
    help: 'Entries in the conntrack table at the last poll.',
    labels: [],
    roles: AGENT,
  },
  conntrackParseErrors: {
    type: 'counter',
    name: 'ctflow_conntrack_parse_errors_total',
    help: 'conntrack output lines that could not be parsed (skipped and logged, never passed on).',
    labels: [],
    roles: AGENT,
  },
  conntrackEventOverruns: {
    type: 'counter',
    name: 'ctflow_conntrack_event_overruns_total',
    help: 'Overruns of the conntrack event stream (the kernel dropped events because the reader fell behind); the next poll reconciles what they carried, with poll-interval timing.',
    labels: [],
    roles: AGENT,
  },
  conntrackEventReadLag: {
    type: 'histogram',
    name: 'ctflow_conntrack_event_read_lag_seconds',
    help: 'Read lag of conntrack events: the agent clock when an event was handled minus its stamp (the reader receive time); large values mean the event loop, the reader pipe or the reader fell behind.',
    labels: [],
    roles: AGENT,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  },
  observationsRetimed: {
    type: 'counter',
    name: 'ctflow_observations_retimed_total',
    help: 'Observations reported at a later time than read, so that times never go back across connections (a dump chunk read just before an event already reported).',
    labels: [],
    roles: AGENT,
  },
  kernelPrerequisite: {
    type: 'gauge',
    name: 'ctflow_kernel_prerequisite',
    help: '1 when a kernel prerequisite is met (nf_conntrack_acct=1, nf_conntrack_timestamp=1, conntrack binary usable), else 0.',
    labels: ['name'],
    roles: AGENT,
  },

  // --- agent: publishing ---
  observationsPublished: {
    type: 'counter',
    name: 'ctflow_observations_published_total',
    help: 'Observations acknowledged by Kafka (acks=all).',
    labels: [],
    roles: ['agent'],
  },
  watermarksPublished: {
    type: 'counter',
    name: 'ctflow_watermarks_published_total',
    help: 'Watermark messages acknowledged by Kafka (one per partition per watermark interval).',
    labels: [],
    roles: ['agent'],
  },
  observationsBuffered: {
    type: 'gauge',
    name: 'ctflow_observations_buffered',
    help: 'Observations waiting to be published (memory buffer and spool), e.g. while Kafka is unreachable.',
    labels: [],
    roles: ['agent'],
  },
  observationsBufferedBytes: {
    type: 'gauge',
    name: 'ctflow_observations_buffered_bytes',
    help: 'Encoded bytes of the observations waiting to be published, by where they are kept.',
    labels: ['store'],
    roles: ['agent'],
  },
  observationsDropped: {
    type: 'counter',
    name: 'ctflow_observations_dropped_total',
    help: 'Observations dropped, by reason (buffer_full, spool_full, encode_error, invalid, shutdown). Never silent.',
    labels: ['reason'],
    roles: ALL,
  },
  kafkaConnected: {
    type: 'gauge',
    name: 'ctflow_kafka_connected',
    help: '1 while the Kafka client is connected to the cluster, else 0.',
    labels: [],
    roles: ['agent', 'processor', 'replay'],
  },

  // --- flow engine ---
  flowsActive: {
    type: 'gauge',
    name: 'ctflow_flows_active',
    help: 'Flows tracked by the flow engine(s) of this process.',
    labels: [],
    roles: EXPORT,
  },
  eventTime: {
    type: 'gauge',
    name: 'ctflow_event_time_seconds',
    help: "A node's event time (its latest watermark or observation) as seen by this process, Unix seconds.",
    labels: ['node'],
    roles: EXPORT,
  },
  recordsExported: {
    type: 'counter',
    name: 'ctflow_records_exported_total',
    help: 'Flow records produced by the flow engine and handed to the exporters, by flowEndReason (IE 136).',
    labels: ['reason'],
    roles: EXPORT,
  },
  duplicateRecords: {
    type: 'counter',
    name: 'ctflow_duplicate_records_total',
    help: 'Flow records exported again after a crash (within the last uncommitted interval), detected by record index.',
    labels: [],
    roles: ['processor'],
  },

  // --- IPFIX exporting process ---
  ipfixMessages: {
    type: 'counter',
    name: 'ctflow_ipfix_messages_total',
    help: 'IPFIX messages sent, per collector.',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixBytes: {
    type: 'counter',
    name: 'ctflow_ipfix_bytes_total',
    help: 'IPFIX message bytes sent, per collector.',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixRecords: {
    type: 'counter',
    name: 'ctflow_ipfix_records_total',
    help: 'IPFIX flow data records sent, per collector.',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixTemplates: {
    type: 'counter',
    name: 'ctflow_ipfix_templates_total',
    help: 'IPFIX template records sent (at start, on refresh, on reconnect), per collector.',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixReconnects: {
    type: 'counter',
    name: 'ctflow_ipfix_reconnects_total',
    help: 'Reconnections to a TCP/TLS collector.',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixRecordsDropped: {
    type: 'counter',
    name: 'ctflow_ipfix_records_dropped_total',
    help: 'Flow records dropped on the way to a collector (buffer full while it is unreachable, send errors).',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixRecordsResent: {
    type: 'counter',
    name: 'ctflow_ipfix_records_resent_total',
    help: 'Flow records written again after a TCP/TLS reconnect because the connection failed within the resend window after they were written (possible duplicates at the collector, same sequence numbers).',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixRecordsLost: {
    type: 'counter',
    name: 'ctflow_ipfix_records_lost_total',
    help: 'Flow records possibly lost after they were sent: written once into a TCP/TLS connection that failed within the resend window and not written again (exporter closed first), or in the UDP datagram a collector port answered with ICMP port unreachable.',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixBufferedBytes: {
    type: 'gauge',
    name: 'ctflow_ipfix_buffered_bytes',
    help: 'Bytes of IPFIX messages waiting for a TCP/TLS collector.',
    labels: ['collector'],
    roles: EXPORT,
  },
  ipfixCollectorUp: {
    type: 'gauge',
    name: 'ctflow_ipfix_collector_up',
    help: '1 while the transport to the collector is usable (TCP/TLS connected; UDP socket open), else 0.',
    labels: ['collector'],
    roles: EXPORT,
  },

  // --- processor (Kafka consumer group) ---
  messagesConsumed: {
    type: 'counter',
    name: 'ctflow_messages_consumed_total',
    help: 'Messages read from the observations topic, by type (observation, watermark).',
    labels: ['type'],
    roles: KAFKA_IN,
  },
  consumerLag: {
    type: 'gauge',
    name: 'ctflow_consumer_lag',
    help: 'Messages between the committed offset and the end of each assigned partition of the observations topic.',
    labels: ['partition'],
    roles: KAFKA_IN,
  },
  partitionsAssigned: {
    type: 'gauge',
    name: 'ctflow_partitions_assigned',
    help: 'Partitions of the observations topic assigned to this processor.',
    labels: [],
    roles: KAFKA_IN,
  },
  restoreDuration: {
    type: 'histogram',
    name: 'ctflow_restore_duration_seconds',
    help: "Time to restore one partition's flow state from the changelog before processing it.",
    labels: [],
    roles: ['processor'],
    buckets: DURATION_BUCKETS,
  },
  restoredFlows: {
    type: 'counter',
    name: 'ctflow_restored_flows_total',
    help: 'Flow states loaded from the changelog on partition assignment.',
    labels: [],
    roles: ['processor'],
  },
  restoreFallbacks: {
    type: 'counter',
    name: 'ctflow_processor_restore_fallbacks_total',
    help: "Changelog restores (or the rest of one) read through the Kafka client instead of ctflow's own Fetch requests, by reason (SASL, a compression codec or message format it does not read, a broker without Fetch v4-v11).",
    labels: ['reason'],
    roles: ['processor'],
  },
  inputFallbacks: {
    type: 'counter',
    name: 'ctflow_processor_input_fallbacks_total',
    help: "Input partitions that could not be read with ctflow's own Fetch requests, by reason (SASL, a compression codec or message format it does not read, a broker without Fetch v4-v11): the processor then reads its input through the Kafka client's consumer.",
    labels: ['reason'],
    roles: ['processor'],
  },
  changelogClaims: {
    type: 'counter',
    name: 'ctflow_processor_changelog_claims_total',
    help: 'Changelog partitions claimed by this processor (one owner claim per restore; fences out zombie writers).',
    labels: [],
    roles: ['processor'],
  },
  changelogStale: {
    type: 'counter',
    name: 'ctflow_processor_changelog_stale_records_total',
    help: "Changelog records a restore left out: written under an older owner claim after a newer one (a zombie processor's late writes).",
    labels: [],
    roles: ['processor'],
  },
  changelogRepairs: {
    type: 'counter',
    name: 'ctflow_processor_changelog_repairs_total',
    help: 'Changelog values written again after a restore so that no stale record stays the newest of its key.',
    labels: [],
    roles: ['processor'],
  },
  fencedCommits: {
    type: 'counter',
    name: 'ctflow_processor_fenced_commits_total',
    help: "Commits abandoned because another processor wrote to the partition's changelog since ours: nothing more exported from that state, the input is read again.",
    labels: [],
    roles: ['processor'],
  },
  consumerRestarts: {
    type: 'counter',
    name: 'ctflow_processor_consumer_restarts_total',
    help: 'Consumer group members restarted because they handed out no batch for the stall time (3 fetch waits + a session timeout) although an assigned partition had unread input.',
    labels: [],
    roles: ['processor'],
  },
  rebalances: {
    type: 'counter',
    name: 'ctflow_rebalances_total',
    help: 'Consumer group rebalances this processor took part in.',
    labels: [],
    roles: ['processor'],
  },
  changelogWrites: {
    type: 'counter',
    name: 'ctflow_changelog_writes_total',
    help: 'Flow-state changes written to the changelog topic, by kind (update, tombstone).',
    labels: ['kind'],
    roles: ['processor'],
  },
  offsetCommits: {
    type: 'counter',
    name: 'ctflow_offset_commits_total',
    help: 'Offset commits of the observations topic (after the records were exported and the changelog acknowledged).',
    labels: [],
    roles: ['processor'],
  },
  cacheCommits: {
    type: 'counter',
    name: 'ctflow_processor_cache_commits_total',
    help: 'Write-cache commits of a partition: its records exported, the newest state of each changed flow and a marker written, its offset committed (every processor.commitInterval, at processor.commitMaxStates changed flows, or when caught up).',
    labels: [],
    roles: ['processor'],
  },
  uncommittedDropped: {
    type: 'counter',
    name: 'ctflow_processor_uncommitted_dropped_total',
    help: 'Input messages applied but not yet committed when their partition was taken away or stopped: the next owner reads them again (nothing left the process for them).',
    labels: [],
    roles: ['processor'],
  },
  deadLetter: {
    type: 'counter',
    name: 'ctflow_dead_letter_total',
    help: "Messages set aside to the dead-letter topic, by reason: the codec's (not_avro, unknown_schema, incompatible_schema, corrupt, truncated, trailing_bytes) or the processor's (e.g. invalid_observation).",
    labels: ['reason'],
    roles: KAFKA_IN,
  },
  replayRemaining: {
    type: 'gauge',
    name: 'ctflow_replay_remaining_messages',
    help: 'Messages left to replay up to the end offsets taken at start.',
    labels: [],
    roles: ['replay'],
  },
} as const satisfies Record<string, MetricDef>;

/** Names of the metrics in the table. */
export type MetricKey = keyof typeof METRIC_DEFINITIONS;
