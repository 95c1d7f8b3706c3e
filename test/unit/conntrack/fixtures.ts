import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'conntrack');

/** Lines of a fixture captured from the real conntrack-tools (test/fixtures/conntrack/capture.sh). */
export function fixtureLines(name: string): string[] {
  return readFileSync(join(DIR, name), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}
