import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from '../../../src/config/docs.js';
import { configSettings } from '../../../src/config/settings.js';

const docsPath = new URL('../../../docs/configuration.md', import.meta.url);

describe('docs/configuration.md', () => {
  it('is up to date with the schema (regenerate: npx tsx scripts/gen-config-docs.ts)', () => {
    expect(readFileSync(docsPath, 'utf8')).toBe(renderConfigDocs());
  });

  it('documents every setting with its environment variable and a description', () => {
    const text = renderConfigDocs();
    for (const s of configSettings()) {
      expect(text).toContain(`| \`${s.key}\` |`);
      expect(text).toContain(`\`${s.env}\``);
      expect(s.description.length, s.key).toBeGreaterThan(5);
    }
  });

  it('does not depend on the machine (no host name in the docs)', () => {
    expect(renderConfigDocs()).toContain('| `node.name` | string | the host name |');
  });
});
