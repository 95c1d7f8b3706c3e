/**
 * Shared by the doc generators: write a generated file, or with --check only compare it with what
 * would be written (exit 1 when stale, so CI catches a schema change whose docs were not regenerated).
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Writes `text` to `target`, or checks it when the command line has --check. */
export function writeOrCheck(target: string, text: string, script: string): void {
  if (!process.argv.includes('--check')) {
    writeFileSync(target, text);
    process.stdout.write(`wrote ${target}\n`);
    return;
  }
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // Missing counts as stale.
  }
  if (current !== text) {
    process.stderr.write(`${target} is stale: run npx tsx ${script}\n`);
    process.exit(1);
  }
}
