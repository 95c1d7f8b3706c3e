/**
 * Writes docs/metrics.md from the metric definitions.
 * Usage: npx tsx scripts/gen-metrics-docs.ts [--check]  (--check: exit 1 when the file is stale)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderMetricsDocs } from '../src/telemetry/docs.js';

const target = fileURLToPath(new URL('../docs/metrics.md', import.meta.url));
const text = renderMetricsDocs();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // Missing counts as stale.
  }
  if (current !== text) {
    process.stderr.write(`${target} is stale: run npx tsx scripts/gen-metrics-docs.ts\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
