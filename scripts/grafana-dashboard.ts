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

/** A time-series or stat panel; `width` in grid columns (24 per row). */
interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  kind?: 'timeseries' | 'stat';
  width?: number;
}

/** A collapsible group of panels. */
interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

// Every query is limited to the jobs chosen in the $job variable; rates use Grafana's $__rate_interval.
const sel = (extra = '') => `{job=~"$job"${extra ? `, ${extra}` : ''}}`;
const rate = (metric: string, by: string, extra = '') =>
  `sum by (${by}) (rate(${metric}${sel(extra)}[$__rate_interval]))`;
const quantile = (q: number, metric: string) =>
  `histogram_quantile(${q}, sum by (le) (rate(${metric}_bucket${sel()}[$__rate_interval])))`;

/** The dashboard's content: one row per pipeline stage. */
export const ROWS: RowSpec[] = [
  {
    title: 'Agents: conntrack to Kafka',
    panels: [
      {
        title: 'Observations read',
        description: 'Conntrack entries and events read from the kernel, per node.',
        unit: 'ops',
        queries: [{ expr: rate('ctflow_observations_read_total', 'instance'), legend: '{{instance}}' }],
      },
      {
        title: 'Observations published',
        description: 'Observations acknowledged by Kafka, per node.',
        unit: 'ops',
        queries: [{ expr: rate('ctflow_observations_published_total', 'instance'), legend: '{{instance}}' }],
      },
      {
        title: 'Observations buffered',
        description: 'Observations held by the agent while Kafka is slow or unreachable (bounded).',
        unit: 'short',
        queries: [
          { expr: `sum by (instance) (ctflow_observations_buffered${sel()})`, legend: '{{instance}}' },
        ],
      },
      {
        title: 'Observations dropped',
        description: 'Observations the agent had to drop, by reason. Anything above zero lost data.',
        unit: 'ops',
        queries: [{ expr: rate('ctflow_observations_dropped_total', 'reason'), legend: '{{reason}}' }],
      },
      {
        title: 'Conntrack poll duration',
        description: 'Time to read the conntrack table once (p50 and p99 over all nodes).',
        unit: 's',
        queries: [
          { expr: quantile(0.5, 'ctflow_poll_duration_seconds'), legend: 'p50' },
          { expr: quantile(0.99, 'ctflow_poll_duration_seconds'), legend: 'p99' },
        ],
      },
      {
        title: 'Kernel prerequisites',
        description:
          'Nodes where a kernel prerequisite is off (0) or on (1), e.g. nf_conntrack_acct and ' +
          'nf_conntrack_timestamp. Off means fallback timestamps or no counters.',
        unit: 'short',
        kind: 'stat',
        queries: [{ expr: `min by (name) (ctflow_kernel_prerequisite${sel()})`, legend: '{{name}}' }],
      },
    ],
  },
  {
    title: 'Processors: Kafka to flow records',
    panels: [
      {
        title: 'Records exported',
        description:
          'Flow records handed to the exporters, by flowEndReason (idle, active, end of flow, ...).',
        unit: 'ops',
        queries: [{ expr: rate('ctflow_records_exported_total', 'reason'), legend: '{{reason}}' }],
      },
      {
        title: 'Consumer lag',
        description: 'Messages behind the end of each observations partition.',
        unit: 'short',
        queries: [
          { expr: `sum by (partition) (ctflow_consumer_lag${sel()})`, legend: 'partition {{partition}}' },
        ],
      },
      {
        title: 'State restore duration',
        description: 'Time to restore a partition’s flow state from the changelog after an assignment (p99).',
        unit: 's',
        queries: [{ expr: quantile(0.99, 'ctflow_restore_duration_seconds'), legend: 'p99' }],
      },
      {
        title: 'Rebalances',
        description: 'Consumer-group rebalances, per processor.',
        unit: 'short',
        queries: [
          {
            expr: `sum by (instance) (increase(ctflow_rebalances_total${sel()}[$__rate_interval]))`,
            legend: '{{instance}}',
          },
        ],
      },
      {
        title: 'Dead-lettered messages',
        description: 'Messages set aside as unreadable, by reason.',
        unit: 'ops',
        queries: [{ expr: rate('ctflow_dead_letter_total', 'reason'), legend: '{{reason}}' }],
      },
      {
        title: 'Duplicate records',
        description: 'Records exported again after a crash (the last uncommitted interval), counted.',
        unit: 'ops',
        queries: [{ expr: rate('ctflow_duplicate_records_total', 'instance'), legend: '{{instance}}' }],
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
        queries: [{ expr: rate('ctflow_ipfix_messages_total', 'collector'), legend: '{{collector}}' }],
      },
      {
        title: 'IPFIX bytes',
        description: 'IPFIX bytes sent, per collector.',
        unit: 'Bps',
        queries: [{ expr: rate('ctflow_ipfix_bytes_total', 'collector'), legend: '{{collector}}' }],
      },
      {
        title: 'IPFIX templates',
        description: 'Template sets sent (start, refresh, reconnect), per collector.',
        unit: 'ops',
        queries: [{ expr: rate('ctflow_ipfix_templates_total', 'collector'), legend: '{{collector}}' }],
      },
      {
        title: 'Collector reconnects',
        description: 'Reconnects to TCP collectors.',
        unit: 'short',
        queries: [
          {
            expr: `sum by (collector) (increase(ctflow_ipfix_reconnects_total${sel()}[$__rate_interval]))`,
            legend: '{{collector}}',
          },
        ],
      },
      {
        title: 'IPFIX records dropped',
        description:
          'Records an exporter dropped (collector down, buffer full). Anything above zero lost data.',
        unit: 'ops',
        queries: [{ expr: rate('ctflow_ipfix_records_dropped_total', 'collector'), legend: '{{collector}}' }],
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
              options: { '0': { text: 'off', color: 'red' }, '1': { text: 'on', color: 'green' } },
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
          query: { query: 'label_values({__name__=~"ctflow_.+"}, job)', refId: 'jobs' },
          definition: 'label_values({__name__=~"ctflow_.+"}, job)',
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
