import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderMetricsDocs } from '../../../src/telemetry/docs.js';
import { METRIC_DEFINITIONS } from '../../../src/telemetry/metric-definitions.js';

describe('docs/metrics.md', () => {
  it('is up to date with the definitions (regenerate: npx tsx scripts/gen-metrics-docs.ts)', () => {
    expect(readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8')).toBe(
      renderMetricsDocs(),
    );
  });

  it('lists every metric', () => {
    const text = renderMetricsDocs();
    for (const d of Object.values(METRIC_DEFINITIONS)) expect(text).toContain(`| \`${d.name}\` |`);
  });
});
