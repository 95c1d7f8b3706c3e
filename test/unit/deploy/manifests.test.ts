import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { startTelemetryServer } from '../../../src/telemetry/server.js';
import { parseCollectorUrl, parseHostPort } from '../../../src/config/addresses.js';
import { configSettings } from '../../../src/config/settings.js';
import { HUGE_PAGES_TUNABLE } from '../../../src/processor/huge-pages.js';
import { cliInvocationErrors } from './cli.js';
import { imageEntrypoint, runsImageEntrypoint } from './dockerfile.js';
import { find, type K8sObject, kustomizations, render, repoRoot } from './render.js';
import {
  bytes,
  containerEnv,
  containers,
  ctflowConfig,
  effectiveConfig,
  parseConfig,
  roleOf,
  selects,
  workload,
  workloads,
} from './workloads.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const METRICS_PORT = 9464;
const THIRD_PARTY_IMAGES = [/^apache\/kafka:\d+\.\d+\.\d+$/];
const envNames = new Set(configSettings().map((s) => s.env));
const ENTRYPOINT = imageEntrypoint(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));

/** The image deploy/components/image sets, e.g. ghcr.io/ctflow/ctflow:0.1.0. */
function baseImage(): string {
  const kustomization = readFileSync(join(repoRoot, 'deploy/components/image/kustomization.yaml'), 'utf8');
  const name = /newName:\s*(\S+)/.exec(kustomization)?.[1];
  const tag = /newTag:\s*"?([^"\s]+)"?/.exec(kustomization)?.[1];
  return `${name}:${tag}`;
}

const isCtflow = (c: IContainer) => !THIRD_PARTY_IMAGES.some((re) => re.test(c.image ?? ''));

describe('the base image', () => {
  it('is tagged with the package version', () => {
    expect(baseImage()).toMatch(new RegExp(`:${pkg.version.replaceAll('.', '\\.')}$`));
  });

  it('is set in deploy/components/image only', () => {
    const withImages = ['deploy/base', 'deploy/components/image', ...kustomizations().slice(1)].filter(
      (dir) => /^images:/m.test(readFileSync(join(repoRoot, dir, 'kustomization.yaml'), 'utf8')),
    );
    expect(withImages).toEqual(['deploy/components/image']);
  });
});

// Rendered once, while the tests are collected (kustomize may be built on first use: no test timeout).
const renderings = new Map(kustomizations().map((dir) => [dir, render(dir)]));

describe('the HTTP paths the manifests probe and scrape', () => {
  it('are served by the telemetry server of the long-running roles', async () => {
    const paths = new Set<string>();
    for (const objects of renderings.values()) {
      for (const w of workloads(objects)) {
        for (const c of containers(w.pod)) {
          for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
            if (probe?.httpGet?.path !== undefined) paths.add(probe.httpGet.path);
          }
        }
      }
      for (const sm of objects.filter((o) => o.kind === 'ServiceMonitor')) {
        for (const e of (sm['spec'] as { endpoints: { path: string }[] }).endpoints) paths.add(e.path);
      }
    }
    expect([...paths].sort()).toEqual(['/healthz', '/metrics', '/readyz']);
    const server = await startTelemetryServer({
      registry: new Registry(),
      host: '127.0.0.1',
      port: 0,
      readiness: () => true,
    });
    try {
      for (const path of paths) expect((await fetch(`${server.url}${path}`)).status, path).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe.each([...renderings.keys()])('%s', (dir) => {
  const objects = renderings.get(dir) ?? [];
  const config = ctflowConfig(objects);
  const effective = parseConfig(config.input);
  const all = workloads(objects);
  const ctflowContainers = all.flatMap((w) =>
    containers(w.pod)
      .filter(isCtflow)
      .map((c) => ({ w, c })),
  );

  it('puts every namespaced object in the ctflow namespace', () => {
    for (const o of objects.filter((o) => o.kind !== 'Namespace')) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('ctflow');
    }
    expect(find(objects, 'Namespace', 'ctflow')).toBeDefined();
  });

  it('labels every object as part of ctflow', () => {
    for (const o of objects) {
      expect(o.metadata.labels?.['app.kubernetes.io/part-of'], `${o.kind}/${o.metadata.name}`).toBe('ctflow');
    }
  });

  it('runs one ctflow image, at the base tag, in every container', () => {
    expect(ctflowContainers.length).toBeGreaterThanOrEqual(3);
    for (const { w, c } of ctflowContainers) expect(c.image, `${w.kind}/${w.name}`).toBe(baseImage());
  });

  it('has a config.yaml that the configuration schema accepts', () => {
    expect(() => parseConfig(config.input)).not.toThrow();
    expect(effective.kafka.brokers?.length).toBeGreaterThan(0);
  });

  it('sets only environment variables that are configuration settings, with valid values', () => {
    for (const { w, c } of ctflowContainers) {
      const env = containerEnv(c);
      for (const name of Object.keys(env).filter((n) => n.startsWith('CTFLOW_'))) {
        expect(envNames, `${w.name}: ${name}`).toContain(name);
      }
      expect(() => effectiveConfig(config.text, env, roleOf(c.args ?? [])), w.name).not.toThrow();
    }
  });

  it('invokes real ctflow subcommands with real options', async () => {
    for (const { w, c } of ctflowContainers) {
      expect(await cliInvocationErrors(c.args ?? []), `${w.kind}/${w.name}`).toEqual([]);
      expect(
        runsImageEntrypoint(c.command, ENTRYPOINT),
        `${w.name}: the image entrypoint (with node options at most) runs ctflow: ${JSON.stringify(c.command)}`,
      ).toBe(true);
    }
  });

  it('mounts the generated ConfigMap wherever --config points', () => {
    for (const { w, c } of ctflowContainers) {
      const args = c.args ?? [];
      const at = args.indexOf('--config');
      if (at < 0) continue;
      const file = args[at + 1] ?? '';
      const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
      expect(mount, `${w.name} mounts ${file}`).toBeDefined();
      const volume = (w.pod.volumes ?? []).find((v) => v.name === mount?.name);
      expect(volume?.configMap?.name).toBe(config.name);
      expect(file.slice((mount?.mountPath.length ?? 0) + 1)).toBe('config.yaml');
    }
  });

  it('probes /healthz and /readyz on the metrics port the configuration serves', () => {
    const listen = parseHostPort(effective.metrics.listen, true);
    expect(listen?.port).toBe(METRICS_PORT);
    const longRunning = ctflowContainers.filter(({ c }) =>
      ['agent', 'processor', 'run'].includes(c.args?.[0] ?? ''),
    );
    expect(longRunning.length).toBeGreaterThanOrEqual(2);
    for (const { w, c } of longRunning) {
      const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
      expect(ports.get('metrics'), w.name).toBe(METRICS_PORT);
      const probes = [
        ['livenessProbe', '/healthz'],
        ['startupProbe', '/healthz'],
        ['readinessProbe', '/readyz'],
      ] as const;
      for (const [field, path] of probes) {
        const probe = c[field];
        expect(probe?.httpGet?.path, `${w.name} ${field}`).toBe(path);
        const port = probe?.httpGet?.port;
        expect(typeof port === 'string' ? ports.get(port) : port, `${w.name} ${field} port`).toBe(
          METRICS_PORT,
        );
      }
    }
  });

  it('gives every container resource requests and a memory limit', () => {
    for (const w of all) {
      for (const c of containers(w.pod)) {
        expect(c.resources?.requests?.['cpu'], `${w.name}/${c.name}`).toBeDefined();
        expect(c.resources?.requests?.['memory'], `${w.name}/${c.name}`).toBeDefined();
        expect(c.resources?.limits?.['memory'], `${w.name}/${c.name}`).toBeDefined();
      }
    }
  });

  it('runs the agent on the host network with NET_ADMIN, on every node, named by the downward API', () => {
    const agent = workload(objects, 'DaemonSet', 'ctflow-agent');
    expect(agent.pod.hostNetwork).toBe(true);
    expect(agent.pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(agent.pod.tolerations).toContainEqual({ operator: 'Exists' });
    const [c] = agent.pod.containers;
    expect(c?.args?.[0]).toBe('agent');
    expect(c?.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN'] });
    expect(c?.securityContext?.privileged).toBe(false);
    expect(c?.securityContext?.allowPrivilegeEscalation).toBe(false);
    const nodeEnv = (c?.env ?? []).find((e) => e.name === 'CTFLOW_NODE__NAME');
    expect(nodeEnv?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
    // The downward API's value lands on node.name.
    expect(effectiveConfig(config.text, containerEnv(c ?? { name: '' }), 'agent').node.name).toBe(
      'sample-spec-nodename',
    );
  });

  it('keeps the agent buffer below the agent memory limit', () => {
    const [c] = workload(objects, 'DaemonSet', 'ctflow-agent').pod.containers;
    const limit = bytes(c?.resources?.limits?.['memory'] ?? 0);
    // Node, kafkajs and the flow of observations need room besides the buffer.
    expect(effective.agent.buffer.maxBytes + 128 * 1024 * 1024).toBeLessThanOrEqual(limit);
  });

  it('gives every pod but the agent the Pod Security Standard "restricted" settings', () => {
    for (const w of all.filter((w) => w.name !== 'ctflow-agent')) {
      const pod = w.pod;
      expect(pod.hostNetwork ?? false, w.name).toBe(false);
      expect(pod.hostPID ?? false, w.name).toBe(false);
      expect(pod.securityContext?.runAsNonRoot, w.name).toBe(true);
      expect(pod.securityContext?.runAsUser, w.name).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile?.type, w.name).toBe('RuntimeDefault');
      for (const c of containers(pod)) {
        const sc = c.securityContext;
        expect(sc?.allowPrivilegeEscalation, `${w.name}/${c.name}`).toBe(false);
        expect(sc?.capabilities?.drop, `${w.name}/${c.name}`).toEqual(['ALL']);
        expect(sc?.capabilities?.add, `${w.name}/${c.name} adds no capability`).toBeUndefined();
        expect(sc?.privileged ?? false).toBe(false);
        if (isCtflow(c)) expect(sc?.readOnlyRootFilesystem, `${w.name}/${c.name}`).toBe(true);
      }
    }
  });

  it('runs the processors as a Deployment of 2 with a disruption budget', () => {
    const processor = workload(objects, 'Deployment', 'ctflow-processor');
    const deployment = find(objects, 'Deployment', 'ctflow-processor') as K8sObject & {
      spec: { replicas: number };
    };
    expect(deployment.spec.replicas).toBe(2);
    expect(processor.pod.containers[0]?.args?.[0]).toBe('processor');
    // Flow tables on transparent huge pages (src/processor/huge-pages.ts).
    expect(containerEnv(processor.pod.containers[0] ?? { name: '' })['GLIBC_TUNABLES']).toBe(
      HUGE_PAGES_TUNABLE,
    );
    const pdb = find(objects, 'PodDisruptionBudget', 'ctflow-processor') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    expect(selects(pdb.spec.selector.matchLabels, processor.labels)).toBe(true);
  });

  it('scales processors up to the partition count, by CPU or (keda) by consumer lag', () => {
    const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    const scaled = objects.filter((o) => o.kind === 'ScaledObject');
    expect(hpas.length + scaled.length, 'exactly one autoscaler').toBe(1);
    for (const hpa of hpas as (K8sObject & {
      spec: { maxReplicas: number; scaleTargetRef: { name: string } };
    })[]) {
      expect(hpa.spec.maxReplicas).toBe(effective.kafka.partitions);
      expect(find(objects, 'Deployment', hpa.spec.scaleTargetRef.name)).toBeDefined();
    }
    for (const so of scaled as (K8sObject & {
      spec: {
        maxReplicaCount: number;
        scaleTargetRef: { name: string };
        triggers: { type: string; metadata: Record<string, string> }[];
      };
    })[]) {
      expect(so.spec.maxReplicaCount).toBe(effective.kafka.partitions);
      expect(find(objects, 'Deployment', so.spec.scaleTargetRef.name)).toBeDefined();
      const kafka = so.spec.triggers.find((t) => t.type === 'kafka');
      expect(kafka?.metadata['topic']).toBe(effective.kafka.topics.observations);
      expect(kafka?.metadata['consumerGroup']).toBe(effective.processor.groupId);
      expect(kafka?.metadata['bootstrapServers']).toBe(effective.kafka.brokers?.join(','));
    }
  });

  it('runs `ctflow topics ensure` in a Job', () => {
    const job = workload(objects, 'Job', 'ctflow-topics');
    expect(job.pod.containers[0]?.args?.slice(0, 2)).toEqual(['topics', 'ensure']);
    expect(job.pod.restartPolicy).toBe('OnFailure');
  });

  it('selects pods and named ports that exist from every Service and ServiceMonitor', () => {
    const services = objects.filter((o) => o.kind === 'Service') as (K8sObject & {
      spec: { selector: Record<string, string>; ports: { name: string; targetPort: string | number }[] };
    })[];
    expect(services.length).toBeGreaterThanOrEqual(2);
    for (const svc of services) {
      const pods = all.filter((w) => selects(svc.spec.selector, w.labels));
      expect(pods.length, `${svc.metadata.name} selects a workload`).toBeGreaterThan(0);
      for (const port of svc.spec.ports) {
        const named = pods.flatMap((w) => containers(w.pod).flatMap((c) => c.ports ?? []));
        expect(
          named.map((p) => p.name),
          `${svc.metadata.name}:${port.targetPort}`,
        ).toContain(port.targetPort);
      }
    }
    for (const sm of objects.filter((o) => o.kind === 'ServiceMonitor') as (K8sObject & {
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string }[];
      };
    })[]) {
      const targets = services.filter((s) => selects(sm.spec.selector.matchLabels, s.metadata.labels ?? {}));
      expect(targets.length, sm.metadata.name).toBeGreaterThan(0);
      for (const endpoint of sm.spec.endpoints) {
        expect(endpoint.path).toBe('/metrics');
        for (const svc of targets) expect(svc.spec.ports.map((p) => p.name)).toContain(endpoint.port);
      }
    }
  });

  it('refers only to ServiceAccounts and ConfigMaps that exist, and mounts no API token', () => {
    const names = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name);
    for (const w of all) {
      if (w.pod.serviceAccountName !== undefined)
        expect(names('ServiceAccount')).toContain(w.pod.serviceAccountName);
      expect(w.pod.automountServiceAccountToken, w.name).toBe(false);
      for (const v of w.pod.volumes ?? [])
        if (v.configMap) expect(names('ConfigMap')).toContain(v.configMap.name);
    }
    // No ctflow role calls the Kubernetes API (see deploy/base/serviceaccounts.yaml).
    expect(objects.filter((o) => /^(Cluster)?Role(Binding)?$/.test(o.kind))).toEqual([]);
  });

  it('exports to collectors that exist in the rendering when it brings its own', () => {
    const services = objects.filter((o) => o.kind === 'Service') as (K8sObject & {
      spec: { ports: { port: number; protocol?: string }[] };
    })[];
    for (const url of effective.ipfix.collectors) {
      const collector = parseCollectorUrl(url);
      expect(collector, url).toBeDefined();
      const [service, namespace] = (collector?.host ?? '').split('.');
      if (namespace !== 'ctflow') continue; // a collector outside the deployment
      const svc = services.find((s) => s.metadata.name === service);
      expect(svc, url).toBeDefined();
      expect(svc?.spec.ports).toContainEqual(
        expect.objectContaining({ port: collector?.port, protocol: 'UDP' }),
      );
    }
  });
});
