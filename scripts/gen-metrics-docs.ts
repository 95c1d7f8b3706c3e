/**
 * Writes docs/metrics.md from the metric definitions.
 * Usage: npx tsx scripts/gen-metrics-docs.ts [--check]  (--check: exit 1 when the file is stale)
 */
import { fileURLToPath } from 'node:url';
import { renderMetricsDocs } from '../src/telemetry/docs.js';
import { writeOrCheck } from './generated-doc.js';

const target = fileURLToPath(new URL('../docs/metrics.md', import.meta.url));
writeOrCheck(target, renderMetricsDocs(), 'scripts/gen-metrics-docs.ts');
