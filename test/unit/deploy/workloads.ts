/** Typed views of the workloads in a rendering, for the invariant checks. */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  type Config,
  type ConfigInput,
  loadConfig,
  parseConfig as parseConfigValues,
  ROLES,
  type Role,
} from '../../../src/config/index.js';
import type { K8sObject } from './render.js';

/** Kinds that carry a pod template. */
const WORKLOAD_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'Job']);

/** A workload with its pod template. */
export interface Workload {
  kind: string;
  name: string;
  labels: Record<string, string>;
  pod: IPodSpec;
}

/** Every workload (Deployment, DaemonSet, StatefulSet, Job) of a rendering. */
export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => WORKLOAD_KINDS.has(o.kind))
    .map((o) => {
      const spec = o['spec'] as {
        template: { metadata?: { labels?: Record<string, string> }; spec: IPodSpec };
      };
      return {
        kind: o.kind,
        name: o.metadata.name,
        labels: spec.template.metadata?.labels ?? {},
        pod: spec.template.spec,
      };
    });
}

/** The workload of a kind and name; throws when missing. */
export function workload(objects: K8sObject[], kind: string, name: string): Workload {
  const hit = workloads(objects).find((w) => w.kind === kind && w.name === name);
  if (!hit) throw new Error(`no ${kind}/${name} in the rendering`);
  return hit;
}

/** Containers and init containers of a pod. */
export function containers(pod: IPodSpec): IContainer[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

/** True when every key/value of `selector` is among `labels`. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The ctflow ConfigMap (generated name ctflow-config-<hash>) and its config.yaml, raw and parsed. */
export function ctflowConfig(objects: K8sObject[]): { name: string; input: ConfigInput; text: string } {
  const maps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('ctflow-config'));
  if (maps.length !== 1) throw new Error(`expected one ctflow-config ConfigMap, found ${maps.length}`);
  const map = maps[0] as K8sObject & { data?: Record<string, string> };
  const text = map.data?.['config.yaml'];
  if (text === undefined) throw new Error(`${map.metadata.name} has no config.yaml`);
  return { name: map.metadata.name, input: parse(text) as ConfigInput, text };
}

/** A config file's content checked by the configuration schema (strict: unknown keys fail). */
export function parseConfig(input: unknown): Config {
  return parseConfigValues(input);
}

/** The role a ctflow command line runs (its first argument), when it is one that reads configuration. */
export function roleOf(args: readonly string[]): Role | undefined {
  return ROLES.find((r) => r === args[0]);
}

/**
 * The effective configuration of a process, loaded as ctflow loads it (src/config loadConfig: file <
 * environment, then the checks of its role) from a config file's text and the process environment.
 */
export function effectiveConfig(text: string, env: Readonly<Record<string, string>>, role?: Role): Config {
  const dir = mkdtempSync(join(tmpdir(), 'ctflow-deploy-test-'));
  const file = join(dir, 'config.yaml');
  try {
    writeFileSync(file, text);
    return loadConfig({ file, env, ...(role === undefined ? {} : { role }) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A container's environment as the process would see it; values from the downward API are stood in
 * for by a sample of the right form (a node name for spec.nodeName).
 */
export function containerEnv(container: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    env[e.name] =
      e.value ?? (field === undefined ? '' : `sample-${field.replaceAll('.', '-').toLowerCase()}`);
  }
  return env;
}

/** Converts a Kubernetes quantity (e.g. 384Mi, 1Gi, 500M) to bytes. */
export function bytes(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const m = /^(\d+(?:\.\d+)?)([KMGT]i?)?$/.exec(quantity);
  if (!m) throw new Error(`not a byte quantity: ${quantity}`);
  const unit = m[2] ?? '';
  const power = { '': 0, K: 1, M: 2, G: 3, T: 4 }[unit.replace('i', '')] ?? 0;
  return Number(m[1]) * (unit.endsWith('i') ? 1024 : 1000) ** power;
}
