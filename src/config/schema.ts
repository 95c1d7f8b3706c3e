/**
 * The one declaration of ctflow's configuration, for every role (run, agent, processor, replay,
 * collect, topics). Strict objects (an unknown key is an error), a description on every field,
 * defaults in the schema; docs/configuration.md is generated from it (scripts/gen-config-docs.ts).
 * Durations are in seconds (fractions allowed); sizes in bytes.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { BROKER_EXPECTED, COLLECTOR_URL_EXPECTED, parseCollectorUrl, parseHostPort } from './addresses.js';

/** Metadata ctflow attaches to schema fields (exported to JSON Schema and the docs). */
export interface FieldMeta {
  /** Never printed or logged: redacted in `ctflow config print`, logs and errors. */
  secret?: boolean;
  /** How the docs show a default computed at run time (e.g. the host name). */
  docDefault?: string;
}

const seconds = (description: string) => z.number().positive().describe(`${description} (seconds)`);
const filePath = (description: string) => z.string().min(1).describe(description);
const collectorUrl = z
  .string()
  .refine((u) => parseCollectorUrl(u) !== undefined, { message: COLLECTOR_URL_EXPECTED })
  .describe('Collector URL');
const brokerAddress = z
  .string()
  .refine((b) => parseHostPort(b) !== undefined, { message: BROKER_EXPECTED })
  .describe('Broker HOST:PORT');

const nodeSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .default(() => hostname())
      .meta({ docDefault: 'the host name' })
      .describe(
        'Node name written into every observation; stable across restarts (in Kubernetes, the node name from the downward API).',
      ),
    observationDomainId: z
      .number()
      .int()
      .min(1)
      .max(0xffffffff)
      .optional()
      .describe(
        'IPFIX Observation Domain ID of this node (RFC 7011 §3.1, non-zero uint32). Default: derived from the node name (FNV-1a 32-bit), so it is stable.',
      ),
  })
  .prefault({})
  .describe('This node (agent and run roles).');

const conntrackSchema = z
  .strictObject({
    pollInterval: z
      .number()
      .min(1)
      .default(5)
      .describe('Interval between full conntrack table dumps (seconds, fractions allowed, at least 1)'),
    events: z
      .boolean()
      .default(true)
      .describe(
        'Follow the conntrack event stream (NEW, UPDATE, DESTROY) to time starts and ends between polls.',
      ),
    enableSysctls: z
      .boolean()
      .default(false)
      .describe(
        'Set net.netfilter.nf_conntrack_acct=1 and nf_conntrack_timestamp=1 at start (needs root); otherwise warn once when they are off.',
      ),
    reader: z
      .enum(['auto', 'conntrack-tools', 'ctnetlink'])
      .default('auto')
      .describe(
        "What reads the table and its events: ctnetlink, ctflow's own netlink reader (tools/ctnetlink, built by scripts/build-ctnetlink.sh; it diffs each dump itself, so a poll of 100,000 unchanged entries costs about half a bare `conntrack -L`), or conntrack-tools (the `conntrack` CLI). auto: ctnetlink when its binary is built, else conntrack-tools.",
      ),
    ctnetlinkPath: filePath('Path of the ctnetlink reader binary (reader ctnetlink).')
      .default('.cache/ctnetlink')
      .describe(
        'Path of the ctnetlink reader binary (reader ctnetlink or auto), built by scripts/build-ctnetlink.sh; a relative path is looked up from the working directory, then from the ctflow package.',
      ),
  })
  .prefault({})
  .describe('Reading the kernel conntrack table (agent and run roles).');

const flowSchema = z
  .strictObject({
    activeTimeout: seconds(
      'Active timeout: a long-lived flow is reported every this many seconds, counted from its own start',
    ).default(60),
    idleTimeout: seconds('Idle timeout: a flow whose counters did not change for this long is ended').default(
      15,
    ),
    maxLife: seconds('Maximum life: a flow older than this is ended and starts again as a new flow').default(
      86400,
    ),
    nodeTimeout: seconds(
      "Node timeout: a node whose event time lags the newest node's by this much is presumed gone and its flows are ended (forced end)",
    ).default(300),
    suppressZeroDeltaActive: z
      .boolean()
      .default(true)
      .describe('Skip active-timeout records whose delta counters are all zero.'),
    endGrace: seconds(
      'TCP end of flow: the record is sent this long after the change to TIME_WAIT/CLOSE (or at DESTROY if sooner), so the closing packets counted just after it are included',
    ).default(5),
    forgetAfter: seconds(
      'A flow not observed at all for this long is forgotten (its conntrack entry is gone without a DESTROY being seen)',
    ).default(600),
  })
  .prefault({})
  .describe('Flow engine timers, on event time (run, processor and replay roles).');

const tlsFilesSchema = z
  .strictObject({
    ca: filePath('PEM file of the CA that signs the peer certificate; default: the system CAs.').optional(),
    cert: filePath('PEM client certificate file, for mutual TLS.').optional(),
    key: filePath('PEM private key file of the client certificate.').optional(),
  })
  .prefault({})
  .describe('TLS files.');

const ipfixSchema = z
  .strictObject({
    collectors: z
      .array(collectorUrl)
      .default([])
      .describe(
        'IPFIX collectors to export to: udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (several allowed).',
      ),
    templateRefresh: z
      .number()
      .min(1)
      .default(600)
      .describe(
        'UDP template refresh: templates are re-sent this often (seconds; RFC 7011 §8.4 templateRefreshTimeout)',
      ),
    mtu: z
      .number()
      .int()
      .min(512)
      .max(65535)
      .default(1500)
      .describe(
        'Path MTU to the collectors in bytes; IPFIX messages over UDP are sized to fit it after IP/UDP headers (RFC 7011 §10.3.3; use 512 when unknown).',
      ),
    timestampPrecision: z
      .enum(['milliseconds', 'seconds', 'both'])
      .default('milliseconds')
      .describe(
        'Which flow start/end elements the template carries: flowStart/EndMilliseconds (IE 152/153), flowStart/EndSeconds (IE 150/151), or both.',
      ),
    tcpBufferBytes: z
      .number()
      .int()
      .min(65536)
      .default(16 * 1024 * 1024)
      .describe(
        'Bytes of IPFIX messages buffered per TCP/TLS collector while it is unreachable; past it, records are dropped and counted.',
      ),
    tcpResendWindow: z
      .number()
      .positive()
      .max(60)
      .default(0.25)
      .describe(
        'TCP/TLS: messages stay re-sendable this long after the kernel accepted them (seconds). A connection that fails within it gets them written again after the reconnect, with their sequence numbers (possible duplicates, counted in ctflow_ipfix_records_resent_total); bytes a kernel accepted are not bytes a collector read.',
      ),
    observationDomains: z
      .record(z.string().min(1), z.number().int().min(1).max(0xffffffff))
      .default({})
      .describe(
        'Observation Domain IDs by node name, for processors and replays: nodes not listed get the stable ID derived from their name (the agent of a node with node.observationDomainId set should be listed here too).',
      ),
    tls: tlsFilesSchema.describe(
      'TLS for tls:// collectors (RFC 7011 §11: TLS 1.2 or later, mutual authentication).',
    ),
  })
  .prefault({})
  .describe('IPFIX export (run, processor and replay roles).');

const saslSchema = z
  .strictObject({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism.'),
    username: z.string().min(1).describe('SASL user name.'),
    password: z
      .string()
      .min(1)
      .optional()
      .meta({ secret: true })
      .describe('SASL password. Prefer passwordFile or the environment (CTFLOW_KAFKA__SASL__PASSWORD).'),
    passwordFile: filePath(
      'File holding the SASL password (e.g. a mounted Kubernetes Secret); trailing newline ignored.',
    ).optional(),
  })
  .refine((s) => (s.password === undefined) !== (s.passwordFile === undefined), {
    message: 'exactly one of password or passwordFile',
  })
  .describe('SASL authentication (PLAIN or SCRAM).');

const kafkaSchema = z
  .strictObject({
    brokers: z
      .array(brokerAddress)
      .min(1)
      .optional()
      .describe('Bootstrap brokers, HOST:PORT. Required by the agent, processor, replay and topics roles.'),
    clientId: z.string().min(1).default('ctflow').describe('Kafka client id.'),
    topics: z
      .strictObject({
        observations: z
          .string()
          .min(1)
          .default('ctflow.observations')
          .describe('Observations and watermarks (input).'),
        flowstate: z
          .string()
          .min(1)
          .default('ctflow.flowstate')
          .describe('Compacted flow-state changelog; same partition count as observations.'),
        deadLetter: z
          .string()
          .min(1)
          .default('ctflow.deadletter')
          .describe('Messages that could not be decoded or processed, with the reason.'),
      })
      .prefault({})
      .describe('Topic names.'),
    partitions: z
      .number()
      .int()
      .min(1)
      .default(12)
      .describe('Partitions of the observations and flowstate topics (`ctflow topics ensure`).'),
    replicationFactor: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Replication factor of created topics (`ctflow topics ensure`); 3 in production.'),
    compression: z.enum(['none', 'gzip']).default('gzip').describe('Producer compression codec.'),
    ssl: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Connect to the brokers over TLS.'),
        ca: filePath(
          'PEM file of the CA that signs the broker certificates; default: the system CAs.',
        ).optional(),
        cert: filePath('PEM client certificate file, for mutual TLS.').optional(),
        key: filePath('PEM private key file of the client certificate.').optional(),
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('Verify the broker certificate (turn off only for tests).'),
      })
      .prefault({})
      .describe('TLS to the brokers.'),
    sasl: saslSchema.optional(),
  })
  .prefault({})
  .describe('Kafka (agent, processor, replay and topics roles).');

const agentSchema = z
  .strictObject({
    watermarkInterval: seconds('How often the agent writes its event time to every partition').default(1),
    backpressure: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe(
        'Observations waiting for Kafka past which the agent pauses reading a dump until half of them are sent (0: never). Bounds the memory a large first poll takes; never applied while Kafka is unreachable (the buffer takes over).',
      ),
    buffer: z
      .strictObject({
        maxEntries: z
          .number()
          .int()
          .min(1)
          .default(1_000_000)
          .describe(
            'Observations kept in memory while Kafka is unreachable; past it they are dropped and counted.',
          ),
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .default(256 * 1024 * 1024)
          .describe('Bytes of encoded observations kept in memory while Kafka is unreachable.'),
        spoolDir: filePath(
          'Directory for an on-disk spool used when the memory buffer is full; default: none (drop and count).',
        ).optional(),
        spoolMaxBytes: z
          .number()
          .int()
          .min(1024)
          .default(1024 * 1024 * 1024)
          .describe('Maximum size of the on-disk spool.'),
      })
      .prefault({})
      .describe('Bounded buffer for when Kafka is unreachable.'),
    shutdownTimeout: seconds(
      'Bound on a graceful shutdown: stop reading, publish what is buffered; past it the agent exits 1',
    ).default(30),
  })
  .prefault({})
  .describe('The agent role (`ctflow agent`).');

const runSchema = z
  .strictObject({
    source: z
      .string()
      .regex(/^(conntrack|file:.+)$/, { message: 'conntrack or file:PATH' })
      .default('conntrack')
      .describe(
        'Where observations come from: conntrack (the kernel) or file:PATH (a JSON Lines recording).',
      ),
    record: filePath('Also write every observation and watermark read to this JSON Lines file.').optional(),
    shutdownTimeout: seconds(
      'Bound on a graceful shutdown: end open flows as forced end, flush the exporters; past it ctflow run exits 1',
    ).default(30),
  })
  .prefault({})
  .describe('The embedded single-process mode (`ctflow run`).');

const processorSchema = z
  .strictObject({
    groupId: z
      .string()
      .min(1)
      .default('ctflow-processor')
      .describe('Kafka consumer group of the processors.'),
    commitInterval: seconds(
      "Write cache: a partition's output (records, newest state per flow, offsets) is committed at most this long after the input it comes from was applied; a partition that caught up with its end offset commits at once. Input not committed when a partition moves or a processor stops is read again by the next owner",
    ).default(1),
    commitMaxStates: z
      .number()
      .int()
      .min(1)
      .default(4000)
      .describe(
        'Write cache: commit a partition once this many changelog states are pending since its last commit (flows and nodes changed, flows ended; bounds the one atomic changelog request of a commit).',
      ),
    input: z
      .enum(['wire', 'kafkajs'])
      .default('wire')
      .describe(
        "How the input partitions are read: wire = ctflow's own Fetch requests (kafkajs keeps the group membership, heartbeats and commits; about a third less CPU per message; SASL and snappy/lz4/zstd fall back to kafkajs by themselves, counted), kafkajs = the Kafka client's consumer fetches them.",
      ),
    shutdownTimeout: seconds('Bound on a graceful shutdown: end flows, flush, commit, exit').default(30),
  })
  .prefault({})
  .describe('The processor role (`ctflow processor`).');

const replaySchema = z
  .strictObject({
    from: z
      .string()
      .min(1)
      .default('earliest')
      .describe('Start of the replay: earliest, or an ISO-8601 time (messages from that timestamp on).'),
    to: z
      .string()
      .min(1)
      .optional()
      .describe('End of the replay (ISO-8601 time); default: the end offsets at start.'),
    groupId: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Consumer group of the replay; default: a new ctflow-replay-<time> group (never the live one).',
      ),
  })
  .prefault({})
  .describe('Replaying a topic (`ctflow replay`).');

const collectSchema = z
  .strictObject({
    listen: z
      .array(collectorUrl)
      .default(['udp://0.0.0.0:4739'])
      .describe('Where `ctflow collect` listens for IPFIX: udp://HOST:PORT and/or tcp://HOST:PORT.'),
    format: z.enum(['text', 'json']).default('text').describe('How decoded records are printed.'),
  })
  .prefault({})
  .describe('The debugging collector (`ctflow collect`).');

const metricsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve /metrics, /healthz and /readyz.'),
    listen: z
      .string()
      .refine((a) => parseHostPort(a, true) !== undefined, { message: 'HOST:PORT (port 0 = any free port)' })
      .default('0.0.0.0:9464')
      .describe('HOST:PORT of the metrics and health HTTP server.'),
  })
  .prefault({})
  .describe('Prometheus metrics and health endpoints (long-running roles).');

const logSchema = z
  .strictObject({
    level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('Minimum log level.'),
    format: z
      .enum(['auto', 'json', 'pretty'])
      .default('auto')
      .describe('json lines, pretty (human-readable), or auto: pretty when stdout is a terminal.'),
  })
  .prefault({})
  .describe('Logging (pino).');

/** The configuration schema of every ctflow role. */
export const ConfigSchema = z
  .strictObject({
    node: nodeSchema,
    conntrack: conntrackSchema,
    flow: flowSchema,
    ipfix: ipfixSchema,
    kafka: kafkaSchema,
    agent: agentSchema,
    run: runSchema,
    processor: processorSchema,
    replay: replaySchema,
    collect: collectSchema,
    metrics: metricsSchema,
    log: logSchema,
  })
  .describe('ctflow configuration');

/** The effective configuration (defaults applied). */
export type Config = z.infer<typeof ConfigSchema>;

/** What a configuration file may contain (every key optional where a default exists). */
export type ConfigInput = z.input<typeof ConfigSchema>;
