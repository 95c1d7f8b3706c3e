/**
 * Generates deploy/grafana/ctflow-dashboard.json from the table of panels below, so that panel ids and
 * the grid layout are computed, never hand-edited. test/unit/deploy/grafana.test.ts fails when the
 * checked-in JSON is stale, and when a query names a metric src/telemetry/metrics.ts does not define.
 *
 *   npx tsx scripts/grafana-dashboard.ts          rewrite deploy/grafana/ctflow-dashboard.json
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where the generated dashboard is checked in. */
export const DASHBOARD_PATH = fileURLToPath(
  new URL('../deploy/grafana/ctflow-dashboard.json', import.meta.url),
);

/** One query of a panel: PromQL and the series' legend. */
interface Query {
  expr: string;
  legend: string;
}

/**
 * A time-series or stat panel; `width` in grid columns (24 per row). A stat panel with `states` shows
 * 0 and 1 as those two words (off/on, down/up).
 */
interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  kind?: 'timeseries' | 'stat';
  states?: [string, string];
  width?: number;
}

/** A group of panels. */
interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

// Every query is limited to the jobs chosen in the $job variable; rates use Grafana's $__rate_interval.
const sel = (extra = '') => `{job=~"$job"${extra ? `, ${extra}` : ''}}`;
const rate = (metric: string, by: string) => `sum by (${by}) (rate(${metric}${sel()}[$__rate_interval]))`;
const increase = (metric: string, by: string) =>
  `sum by (${by}) (increase(${metric}${sel()}[$__rate_interval]))`;
const gauge = (metric: string, by: string, agg = 'sum') => `${agg} by (${by}) (${metric}${sel()})`;
const quantile = (q: number, metric: string) =>
  `histogram_quantile(${q}, sum by (le) (rate(${metric}_bucket${sel()}[$__rate_interval])))`;
const q = (expr: string, legend: string): Query => ({ expr, legend });

/** The dashboard's content: an overview, then one row per pipeline stage. */
export const ROWS: RowSpec[] = [
  {
    title: 'Overview',
    panels: [
      {
        title: 'Ready',
        description: 'Processes whose /readyz answers ready (connected; processors: state restored).',
        unit: 'short',
        kind: 'stat',
        states: ['not ready', 'ready'],
        queries: [q(gauge('ctflow_ready', 'job, instance', 'min'), '{{job}} {{instance}}')],
      },
      {
        title: 'Kafka connected',
        description: 'Processes whose Kafka client is connected to the cluster.',
        unit: 'short',
        kind: 'stat',
        states: ['down', 'up'],
        queries: [q(gauge('ctflow_kafka_connected', 'job, instance', 'min'), '{{job}} {{instance}}')],
      },
      {
        title: 'Collectors up',
        description:
          'Transport to each IPFIX collector usable (TCP/TLS connected, UDP socket open), worst process.',
        unit: 'short',
        kind: 'stat',
        states: ['down', 'up'],
        queries: [q(gauge('ctflow_ipfix_collector_up', 'collector', 'min'), '{{collector}}')],
      },
      {
        title: 'Versions and roles',
        description: 'Running ctflow processes by version and role.',
        unit: 'short',
        queries: [q(gauge('ctflow_build_info', 'version, role', 'count'), '{{role}} {{version}}')],
      },
      {
        title: 'Flows tracked',
        description: 'Flows held by the flow engines, per process.',
        unit: 'short',
        queries: [q(gauge('ctflow_flows_active', 'instance'), '{{instance}}')],
      },
      {
        title: 'Event time behind wall clock',
        description:
          "How far each node's event time (latest watermark or observation) is behind this Prometheus' clock: " +
          'Kafka delay, a quiet or gone node, or clock skew on that node.',
        unit: 's',
        queries: [q(`time() - ${gauge('ctflow_event_time_seconds', 'node', 'max')}`, '{{node}}')],
      },
    ],
  },
  {
    title: 'Agents: conntrack to Kafka',
    panels: [
      {
        title: 'Observations read',
        description: 'Conntrack events and changed poll entries read from the kernel, by kind.',
        unit: 'ops',
        queries: [q(rate('ctflow_observations_read_total', 'kind'), '{{kind}}')],
      },
      {
        title: 'Published to Kafka',
        description: 'Observations and watermark messages acknowledged by Kafka.',
        unit: 'ops',
        queries: [
          q(rate('ctflow_observations_published_total', 'job'), 'observations'),
          q(rate('ctflow_watermarks_published_total', 'job'), 'watermarks'),
        ],
      },
      {
        title: 'Observations dropped',
        description: 'Observations dropped, by reason. Anything above zero lost data.',
        unit: 'ops',
        queries: [q(rate('ctflow_observations_dropped_total', 'reason'), '{{reason}}')],
      },
      {
        title: 'Observations buffered',
        description:
          'Observations waiting to be published (memory and spool), e.g. while Kafka is unreachable.',
        unit: 'short',
        queries: [q(gauge('ctflow_observations_buffered', 'instance'), '{{instance}}')],
      },
      {
        title: 'Buffered bytes',
        description: 'Encoded bytes waiting to be published, by where they are kept.',
        unit: 'bytes',
        queries: [q(gauge('ctflow_observations_buffered_bytes', 'store'), '{{store}}')],
      },
      {
        title: 'Conntrack entries',
        description: 'Entries in the conntrack table at the last poll, per node.',
        unit: 'short',
        queries: [q(gauge('ctflow_conntrack_entries', 'instance'), '{{instance}}')],
      },
      {
        title: 'Conntrack poll duration',
        description:
          'One full poll cycle: dump the table, parse, diff and encode (p50 and p99 over all nodes).',
        unit: 's',
        queries: [
          q(quantile(0.5, 'ctflow_poll_duration_seconds'), 'p50'),
          q(quantile(0.99, 'ctflow_poll_duration_seconds'), 'p99'),
        ],
      },
      {
        title: 'Poll failures and parse errors',
        description:
          'Failed poll cycles (retried) and conntrack output lines that could not be parsed (skipped).',
        unit: 'short',
        queries: [
          q(increase('ctflow_poll_failures_total', 'instance'), 'poll failures {{instance}}'),
          q(increase('ctflow_conntrack_parse_errors_total', 'instance'), 'parse errors {{instance}}'),
        ],
      },
      {
        title: 'Event overruns and re-timed observations',
        description:
          'Event stream overruns (events the kernel dropped; the next poll reconciles them) and observations reported later than read so that times never go back.',
        unit: 'short',
        queries: [
          q(increase('ctflow_conntrack_event_overruns_total', 'instance'), 'overruns {{instance}}'),
          q(increase('ctflow_observations_retimed_total', 'instance'), 're-timed {{instance}}'),
        ],
      },
      {
        title: 'Event read lag',
        description:
          'Time from the reader receiving a conntrack event to the agent handling it. Without kernel stamps (nf_conntrack_timestamp=0) the receive time is the event time, so this shows how far behind the agent runs, not an error in the times.',
        unit: 's',
        queries: [
          q(quantile(0.5, 'ctflow_conntrack_event_read_lag_seconds'), 'p50'),
          q(quantile(0.99, 'ctflow_conntrack_event_read_lag_seconds'), 'p99'),
        ],
      },
      {
        title: 'Kernel prerequisites',
        description:
          'Nodes where a prerequisite is off, worst node shown: nf_conntrack_acct (counters), ' +
          'nf_conntrack_timestamp (kernel start times), the conntrack binary.',
        unit: 'short',
        kind: 'stat',
        states: ['off', 'on'],
        queries: [q(gauge('ctflow_kernel_prerequisite', 'name', 'min'), '{{name}}')],
      },
    ],
  },
  {
    title: 'Processors: Kafka to flow records',
    panels: [
      {
        title: 'Records exported',
        description: 'Flow records handed to the exporters, by flowEndReason (IE 136).',
        unit: 'ops',
        queries: [q(rate('ctflow_records_exported_total', 'reason'), '{{reason}}')],
      },
      {
        title: 'Messages consumed',
        description: 'Messages read from the observations topic, by type.',
        unit: 'ops',
        queries: [q(rate('ctflow_messages_consumed_total', 'type'), '{{type}}')],
      },
      {
        title: 'Consumer lag',
        description: 'Messages between the committed offset and the end of each observations partition.',
        unit: 'short',
        queries: [q(gauge('ctflow_consumer_lag', 'partition'), 'partition {{partition}}')],
      },
      {
        title: 'Partitions assigned',
        description: 'Observations partitions assigned to each processor.',
        unit: 'short',
        queries: [q(gauge('ctflow_partitions_assigned', 'instance'), '{{instance}}')],
      },
      {
        title: 'State restore duration',
        description: "Time to restore a partition's flow state from the changelog after an assignment.",
        unit: 's',
        queries: [
          q(quantile(0.5, 'ctflow_restore_duration_seconds'), 'p50'),
          q(quantile(0.99, 'ctflow_restore_duration_seconds'), 'p99'),
        ],
      },
      {
        title: 'Flow states restored',
        description:
          "Flow states loaded from the changelog on partition assignment, per processor; restores read through the Kafka client instead of ctflow's own Fetch requests, by reason.",
        unit: 'short',
        queries: [
          q(increase('ctflow_restored_flows_total', 'instance'), '{{instance}}'),
          q(increase('ctflow_processor_restore_fallbacks_total', 'reason'), 'fallback: {{reason}}'),
        ],
      },
      {
        title: 'Input reader: fallbacks and consumer restarts',
        description:
          "Partitions whose input is read through the Kafka client instead of ctflow's own Fetch requests, by reason; and group consumers restarted by the liveness check (assigned input left unread while no batch came).",
        unit: 'short',
        queries: [
          q(increase('ctflow_processor_input_fallbacks_total', 'reason'), 'fallback: {{reason}}'),
          q(increase('ctflow_processor_consumer_restarts_total', 'instance'), 'restarts {{instance}}'),
        ],
      },
      {
        title: 'Rebalances',
        description: 'Consumer-group rebalances, per processor.',
        unit: 'short',
        queries: [q(increase('ctflow_rebalances_total', 'instance'), '{{instance}}')],
      },
      {
        title: 'Zombie fencing',
        description:
          "Changelog owner claims, records of an older owner left out at restore (a zombie processor's late writes), values written again, and commits abandoned because another processor wrote the partition's changelog.",
        unit: 'short',
        queries: [
          q(increase('ctflow_processor_changelog_claims_total', 'instance'), 'claims {{instance}}'),
          q(increase('ctflow_processor_changelog_stale_records_total', 'instance'), 'stale {{instance}}'),
          q(increase('ctflow_processor_changelog_repairs_total', 'instance'), 'repairs {{instance}}'),
          q(increase('ctflow_processor_fenced_commits_total', 'instance'), 'fenced {{instance}}'),
        ],
      },
      {
        title: 'Changelog writes and commits',
        description: 'Flow-state changes written to the changelog topic, by kind, and offset commits.',
        unit: 'ops',
        queries: [
          q(rate('ctflow_changelog_writes_total', 'kind'), 'changelog {{kind}}'),
          q(rate('ctflow_offset_commits_total', 'job'), 'offset commits'),
          q(rate('ctflow_processor_cache_commits_total', 'job'), 'cache commits'),
          q(
            rate('ctflow_processor_uncommitted_dropped_total', 'job'),
            'uncommitted input dropped (read again)',
          ),
        ],
      },
      {
        title: 'Dead-lettered messages',
        description: 'Messages set aside to the dead-letter topic, by reason.',
        unit: 'ops',
        queries: [q(rate('ctflow_dead_letter_total', 'reason'), '{{reason}}')],
      },
      {
        title: 'Duplicate records',
        description: 'Records exported again after a crash (the last uncommitted interval), counted.',
        unit: 'ops',
        queries: [q(rate('ctflow_duplicate_records_total', 'instance'), '{{instance}}')],
      },
      {
        title: 'Replay remaining',
        description: '`ctflow replay`: messages left up to the end offsets taken at its start.',
        unit: 'short',
        queries: [q(gauge('ctflow_replay_remaining_messages', 'instance'), '{{instance}}')],
      },
    ],
  },
  {
    title: 'IPFIX export, per collector',
    panels: [
      {
        title: 'IPFIX messages',
        description: 'IPFIX messages sent, per collector.',
        unit: 'ops',
        queries: [q(rate('ctflow_ipfix_messages_total', 'collector'), '{{collector}}')],
      },
      {
        title: 'IPFIX bytes',
        description: 'IPFIX message bytes sent, per collector.',
        unit: 'Bps',
        queries: [q(rate('ctflow_ipfix_bytes_total', 'collector'), '{{collector}}')],
      },
      {
        title: 'IPFIX data records',
        description: 'Flow data records sent, per collector.',
        unit: 'ops',
        queries: [q(rate('ctflow_ipfix_records_total', 'collector'), '{{collector}}')],
      },
      {
        title: 'IPFIX templates',
        description: 'Template records sent (start, refresh, reconnect), per collector.',
        unit: 'ops',
        queries: [q(rate('ctflow_ipfix_templates_total', 'collector'), '{{collector}}')],
      },
      {
        title: 'Collector reconnects',
        description: 'Reconnections to TCP/TLS collectors.',
        unit: 'short',
        queries: [q(increase('ctflow_ipfix_reconnects_total', 'collector'), '{{collector}}')],
      },
      {
        title: 'IPFIX records dropped',
        description: 'Records dropped on the way to a collector. Anything above zero lost data.',
        unit: 'ops',
        queries: [q(rate('ctflow_ipfix_records_dropped_total', 'collector'), '{{collector}}')],
      },
      {
        title: 'IPFIX records re-sent / possibly lost',
        description:
          'TCP/TLS: records written again after a reconnect (possible duplicates, same sequence numbers), and records whose connection failed within the resend window with no chance to write them again (possibly lost).',
        unit: 'ops',
        queries: [
          q(rate('ctflow_ipfix_records_resent_total', 'collector'), 'resent {{collector}}'),
          q(rate('ctflow_ipfix_records_lost_total', 'collector'), 'lost {{collector}}'),
        ],
      },
      {
        title: 'Buffered for collectors',
        description: 'Bytes of IPFIX messages waiting for a TCP/TLS collector.',
        unit: 'bytes',
        queries: [q(gauge('ctflow_ipfix_buffered_bytes', 'collector'), '{{collector}}')],
      },
    ],
  },
];

// A Grafana variable reference (the $datasource variable below), not a JS template placeholder.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana syntax
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function panelJson(spec: PanelSpec, id: number, gridPos: { x: number; y: number; w: number; h: number }) {
  const targets = spec.queries.map((q, i) => ({
    datasource: DATASOURCE,
    expr: q.expr,
    legendFormat: q.legend,
    refId: String.fromCharCode(65 + i),
  }));
  const kind = spec.kind ?? 'timeseries';
  const common = {
    id,
    type: kind,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos,
  };
  if (kind === 'stat') {
    return {
      ...common,
      targets,
      fieldConfig: {
        defaults: {
          unit: spec.unit,
          mappings: [
            {
              type: 'value',
              options: {
                '0': { text: spec.states?.[0] ?? '0', color: 'red' },
                '1': { text: spec.states?.[1] ?? '1', color: 'green' },
              },
            },
          ],
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'red', value: null },
              { color: 'green', value: 1 },
            ],
          },
        },
        overrides: [],
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: 'background',
        textMode: 'value_and_name',
        graphMode: 'none',
        orientation: 'auto',
      },
    };
  }
  return {
    ...common,
    targets,
    fieldConfig: {
      defaults: { unit: spec.unit, min: 0, custom: { drawStyle: 'line', fillOpacity: 10, lineWidth: 1 } },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

/** The dashboard as Grafana's JSON model (import it, or provision it from a file). */
export function buildDashboard() {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { x: 0, y, w: 24, h: 1 },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const spec of row.panels) {
      const w = spec.width ?? 8;
      if (x + w > 24) {
        x = 0;
        y += 8;
      }
      panels.push(panelJson(spec, id++, { x, y, w, h: 8 }));
      x += w;
    }
    y += 8;
  }
  return {
    __inputs: [],
    uid: 'ctflow',
    title: 'ctflow',
    description: 'ctflow: conntrack to IPFIX via Kafka. Agents, processors and IPFIX exporters.',
    tags: ['ctflow', 'ipfix', 'conntrack', 'kafka'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
          refresh: 1,
        },
        {
          name: 'job',
          label: 'Job',
          type: 'query',
          datasource: DATASOURCE,
          // Every ctflow process exports ctflow_build_info.
          query: { query: 'label_values(ctflow_build_info, job)', refId: 'jobs' },
          definition: 'label_values(ctflow_build_info, job)',
          includeAll: true,
          multi: true,
          allValue: '.+',
          current: {},
          refresh: 2,
          sort: 1,
          hide: 0,
        },
      ],
    },
    panels,
  };
}

/** The dashboard file's exact content. */
export function dashboardText(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(DASHBOARD_PATH, dashboardText());
  console.log(`wrote ${DASHBOARD_PATH}`);
}
