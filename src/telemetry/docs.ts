/** Renders docs/metrics.md from METRIC_DEFINITIONS (scripts/gen-metrics-docs.ts; a test checks staleness). */
import { METRIC_DEFINITIONS, type MetricDef } from './metric-definitions.js';

const cell = (t: string) => t.replace(/\|/g, '\\|');

/** The full text of docs/metrics.md. */
export function renderMetricsDocs(): string {
  const defs = Object.values(METRIC_DEFINITIONS) as MetricDef[];
  const rows = defs.map(
    (d) =>
      `| \`${d.name}\` | ${d.type} | ${d.labels.map((l) => `\`${l}\``).join(', ') || '—'} | ${d.roles.join(', ')} | ${cell(d.help)} |`,
  );
  return `# Metrics reference

<!-- Generated from src/telemetry/metric-definitions.ts by \`npx tsx scripts/gen-metrics-docs.ts\`. Do not edit
     by hand: test/unit/telemetry/docs.test.ts fails when this file is stale. -->

Every long-running role (\`run\`, \`agent\`, \`processor\`, \`replay\`) serves, on \`metrics.listen\` (default
\`0.0.0.0:9464\`, see [configuration](configuration.md)):

| Path | Answers |
|---|---|
| \`/metrics\` | Prometheus text format: the metrics below plus Node.js process metrics (\`process_*\`, \`nodejs_*\`). |
| \`/healthz\` | \`200 ok\` while the process runs (liveness). |
| \`/readyz\` | \`200 ready\` when the role is ready, else \`503 not ready: <reason>\`. Run: conntrack (or the recording) is being read and no stop has begun. Agent: the source runs and Kafka is connected. Processor: connected and every assigned partition restored from the changelog. |

Label values: \`reason\` of \`ctflow_records_exported_total\` is the flowEndReason (IE 136) name: \`idle_timeout\`,
\`active_timeout\`, \`end_of_flow\`, \`forced_end\`, \`lack_of_resources\`. \`collector\` is the collector URL as
configured (e.g. \`udp://127.0.0.1:4739\`). \`kind\` of \`ctflow_observations_read_total\` is \`NEW\`, \`UPDATE\`, \`DESTROY\`
or \`POLL\`. \`name\` of \`ctflow_kernel_prerequisite\` is \`nf_conntrack_acct\`, \`nf_conntrack_timestamp\` or
\`conntrack_binary\`.

| Metric | Type | Labels | Roles | Meaning |
|---|---|---|---|---|
${rows.join('\n')}
`;
}
