/**
 * Writes docs/configuration.md from the configuration schema.
 * Usage: npx tsx scripts/gen-config-docs.ts [--check]  (--check: exit 1 when the file is stale)
 */
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../src/config/docs.js';
import { writeOrCheck } from './generated-doc.js';

const target = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
writeOrCheck(target, renderConfigDocs(), 'scripts/gen-config-docs.ts');
