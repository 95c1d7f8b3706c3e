import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './exec.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Builds ctflow's ctnetlink reader (tools/ctnetlink, standard library only: no module download)
 * into .cache/ and returns its path. `go build` is incremental, so repeated calls are cheap.
 * Fails naming the missing Go toolchain.
 */
export async function buildCtnetlink(): Promise<string> {
  const out = join(REPO, '.cache', 'ctnetlink');
  try {
    await run(['go', 'build', '-o', out, '.'], { timeoutMs: 300_000, cwd: join(REPO, 'tools', 'ctnetlink') });
  } catch (err) {
    throw new Error(
      `cannot build tools/ctnetlink: ${(err as Error).message} (needs the Go toolchain: apt-get install -y golang-go, or go.dev/dl)`,
      { cause: err },
    );
  }
  return out;
}
