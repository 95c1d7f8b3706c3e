/**
 * Writes docs/configuration.md from the configuration schema.
 * Usage: npx tsx scripts/gen-config-docs.ts [--check]  (--check: exit 1 when the file is stale)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../src/config/docs.js';

const target = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const text = renderConfigDocs();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // Missing counts as stale.
  }
  if (current !== text) {
    process.stderr.write(`${target} is stale: run npx tsx scripts/gen-config-docs.ts\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
