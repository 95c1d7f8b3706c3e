/** The ctflow version (package.json), for ctflow_build_info and logs. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Reads the version from the package.json this code ships in. */
export function ctflowVersion(): string {
  const path = fileURLToPath(new URL('../../package.json', import.meta.url));
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}
