/**
 * Loads Compose files with compose-go, the loader of `docker compose` itself (schema, interpolation,
 * consistency), through scripts/compose-check built into .cache/bin by scripts/install-compose-check.sh,
 * which this module calls (idempotent, locked against parallel callers).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './render.js';

/** A service of the normalised project, as far as the tests read it. */
export interface ProjectService {
  image?: string;
  command?: string[];
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  depends_on?: Record<string, { condition: string }>;
}

/** The result of loading: the normalised project, or the loader's error message. */
export type LoadResult =
  | { ok: true; project: { name: string; services: Record<string, ProjectService> } }
  | { ok: false; error: string };

/** Path of the compose-check binary, building it first when missing or stale. */
export function composeCheckBinary(): string {
  execFileSync('bash', [join(repoRoot, 'scripts/install-compose-check.sh')], { stdio: 'pipe' });
  return join(repoRoot, '.cache/bin/ctflow-compose-check');
}

/** Loads Compose files (paths relative to the repository root). */
export function loadComposeProject(...files: string[]): LoadResult {
  const out = spawnSync(composeCheckBinary(), files, {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (out.status !== 0) return { ok: false, error: out.stderr.trim() };
  return { ok: true, project: JSON.parse(out.stdout) };
}
