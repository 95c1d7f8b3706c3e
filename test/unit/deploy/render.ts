/**
 * Renders ctflow's kustomizations with the real kustomize binary (installed into .cache/bin by
 * scripts/install-kustomize.sh, which this module calls: idempotent, locked against parallel callers).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** Absolute path of the repository root. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A rendered Kubernetes object, as far as the invariant checks read it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The base and every directory under deploy/overlays, relative to the repository root. */
export function kustomizations(): string[] {
  const overlays = join(repoRoot, 'deploy/overlays');
  const names = readdirSync(overlays).filter((name) => statSync(join(overlays, name)).isDirectory());
  return ['deploy/base', ...names.sort().map((name) => `deploy/overlays/${name}`)];
}

/** Path of the kustomize binary, installing it first when missing. */
export function kustomizeBinary(): string {
  execFileSync('bash', [join(repoRoot, 'scripts/install-kustomize.sh')], { stdio: 'pipe' });
  return join(repoRoot, '.cache/bin/kustomize');
}

/** `kustomize build <dir>` parsed into objects. `dir` is relative to the repository root. */
export function render(dir: string): K8sObject[] {
  const out = execFileSync(kustomizeBinary(), ['build', join(repoRoot, dir)], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(out).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]?.message}`);
    return doc.toJS() as K8sObject;
  });
}

/** The one object of a kind and name; throws when it is missing. */
export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const hit = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!hit) throw new Error(`no ${kind}/${name} in the rendering`);
  return hit;
}
