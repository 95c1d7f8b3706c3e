import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_PATH, dashboardText } from '../../../scripts/grafana-dashboard.js';
import { METRIC_DEFINITIONS } from '../../../src/telemetry/metric-definitions.js';
import { parseQuery } from './promql.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource: { uid: string } }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
};
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const queries = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));
const definitions = new Map<string, string>(Object.values(METRIC_DEFINITIONS).map((d) => [d.name, d.type]));

/** The metric a series name belongs to: a histogram's _bucket/_sum/_count series name their histogram. */
function metricOf(series: string): { name: string; histogramSeries: boolean } {
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return definitions.get(base) === 'histogram'
    ? { name: base, histogramSeries: true }
    : { name: series, histogramSeries: false };
}

describe('deploy/grafana/ctflow-dashboard.json', () => {
  it('is what scripts/grafana-dashboard.ts generates (run `npx tsx scripts/grafana-dashboard.ts`)', () => {
    expect(readFileSync(DASHBOARD_PATH, 'utf8')).toBe(dashboardText());
  });

  it('has unique panel ids and a layout inside the 24-column grid without overlaps', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const { title, gridPos: g } of dashboard.panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('queries Prometheus through the $datasource variable, limited to the chosen $job', () => {
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['job', 'query'],
    ]);
    expect(queries.length).toBeGreaterThanOrEqual(queryPanels.length);
    for (const q of queries) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      expect(q.datasource.uid, q.panel).toBe('${datasource}');
      expect(q.expr, q.panel).toContain('job=~"$job"');
    }
  });

  it('has queries that are valid PromQL', () => {
    for (const q of queries) expect(parseQuery(q.expr).errors, `${q.panel}: ${q.expr}`).toBe(false);
  });

  it('queries only metrics src/telemetry defines, histograms through their series', () => {
    for (const q of queries) {
      const metrics = parseQuery(q.expr).metrics;
      expect(metrics.length, q.panel).toBeGreaterThan(0);
      for (const series of metrics) {
        const { name, histogramSeries } = metricOf(series);
        expect(
          definitions.has(name),
          `${q.panel}: ${series} is defined in src/telemetry/metric-definitions.ts`,
        ).toBe(true);
        expect(histogramSeries, `${q.panel}: ${series}`).toBe(definitions.get(name) === 'histogram');
        if (definitions.get(name) === 'counter')
          expect(q.expr, `${q.panel}: a counter is rated`).toMatch(/rate\(|increase\(/);
      }
    }
  });

  it('shows every metric src/telemetry defines, and every metric issue 7 lists', () => {
    const shown = new Set(queries.flatMap((q) => parseQuery(q.expr).metrics).map((m) => metricOf(m).name));
    expect([...definitions.keys()].filter((name) => !shown.has(name))).toEqual([]);
    for (const metric of [
      'ctflow_observations_read_total',
      'ctflow_observations_published_total',
      'ctflow_observations_buffered',
      'ctflow_observations_dropped_total',
      'ctflow_poll_duration_seconds',
      'ctflow_kernel_prerequisite',
      'ctflow_records_exported_total',
      'ctflow_ipfix_messages_total',
      'ctflow_ipfix_bytes_total',
      'ctflow_ipfix_templates_total',
      'ctflow_ipfix_reconnects_total',
      'ctflow_ipfix_records_dropped_total',
      'ctflow_consumer_lag',
      'ctflow_restore_duration_seconds',
      'ctflow_rebalances_total',
      'ctflow_dead_letter_total',
      'ctflow_duplicate_records_total',
    ]) {
      expect(shown, metric).toContain(metric);
    }
  });
});

describe('the PromQL reader', () => {
  it('finds metric names and rejects broken queries', () => {
    expect(
      parseQuery('histogram_quantile(0.9, sum by (le) (rate(a_bucket{job=~"$job"}[$__rate_interval])))'),
    ).toEqual({ errors: false, metrics: ['a_bucket'] });
    expect(parseQuery('sum(rate(a[5m])').errors).toBe(true);
  });
});
