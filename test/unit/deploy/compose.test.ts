import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCollectorUrl } from '../../../src/config/addresses.js';
import { configSettings } from '../../../src/config/settings.js';
import { HUGE_PAGES_TUNABLE } from '../../../src/processor/huge-pages.js';
import { cliInvocationErrors } from './cli.js';
import { imageEntrypoint, runsImageEntrypoint } from './dockerfile.js';
import { composeCheckBinary, loadComposeProject } from './compose-project.js';
import { kustomizeBinary, render, repoRoot } from './render.js';
import { effectiveConfig, parseConfig, roleOf, workloads } from './workloads.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  network_mode?: string;
  user?: string;
  cap_add?: string[];
  cap_drop?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
}

const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  name: string;
  services: Record<string, Service>;
  [key: string]: unknown;
};
const services = compose.services;
const ctflowServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
const ENTRYPOINT = imageEntrypoint(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const envNames = new Set(configSettings().map((s) => s.env));
/** Variables of the runtime, not of ctflow's configuration: Node's flags and glibc's tunables. */
const RUNTIME_ENV = new Set(['NODE_OPTIONS', 'GLIBC_TUNABLES']);

/** The container-side config file of a service: the bind mount of /etc/ctflow/config.yaml. */
function configFile(service: Service): string {
  const mount = (service.volumes ?? []).find((v) => v.split(':')[1] === '/etc/ctflow/config.yaml');
  if (!mount) throw new Error('no /etc/ctflow/config.yaml mount');
  return join(repoRoot, mount.split(':')[0] ?? '');
}

function kafkaEnv(name: string): string {
  const value = services['kafka']?.environment?.[name];
  if (value === undefined) throw new Error(`kafka has no ${name}`);
  return value;
}

// On a fresh machine the Go tools are built on first use (tens of seconds); not inside a test's timeout.
beforeAll(() => {
  composeCheckBinary();
  kustomizeBinary();
}, 600_000);

describe('docker-compose.yml', () => {
  it('is a valid Compose project for the loader docker compose uses (compose-go: schema, consistency)', () => {
    const result = loadComposeProject('docker-compose.yml');
    expect(result.ok ? 'valid' : result.error).toBe('valid');
    if (!result.ok) return;
    expect(result.project.name).toBe('ctflow');
    for (const [name, service] of Object.entries(result.project.services)) {
      for (const volume of service.volumes ?? []) {
        expect(volume.type, `${name}: ${volume.source}`).toBe('bind');
        expect(existsSync(volume.source), `${name}: ${volume.source}`).toBe(true);
        expect(volume.read_only, `${name}: ${volume.target}`).toBe(true);
      }
    }
  });

  it('has only known top-level keys and the services ctflow needs', () => {
    for (const key of Object.keys(compose)) {
      expect(
        ['name', 'services', 'volumes', 'networks', 'configs', 'secrets'].includes(key) ||
          key.startsWith('x-'),
        key,
      ).toBe(true);
    }
    expect(Object.keys(services).sort()).toEqual(['agent', 'collector', 'kafka', 'processor', 'topics']);
  });

  it('depends only on services that exist, waiting for health where a healthcheck exists', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services, `${name} -> ${dep}`).toHaveProperty(dep);
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect(services[dep]?.healthcheck, dep).toBeDefined();
      }
    }
    expect(services['topics']?.depends_on?.['kafka']?.condition).toBe('service_healthy');
    for (const role of ['agent', 'processor']) {
      expect(services[role]?.depends_on?.['topics']?.condition).toBe('service_completed_successfully');
    }
  });

  it('builds the ctflow image from the Dockerfile, tagged as in the Kubernetes base', () => {
    const base = render('deploy/base');
    const k8sImage = workloads(base)[0]?.pod.containers[0]?.image;
    expect(ctflowServices.length).toBe(4);
    for (const [name, service] of ctflowServices) {
      expect(
        existsSync(join(repoRoot, service.build?.context ?? '', service.build?.dockerfile ?? '')),
        name,
      ).toBe(true);
      expect(service.image, name).toBe(k8sImage);
    }
  });

  it('mounts config files that exist and that the configuration schema accepts', () => {
    for (const [name, service] of ctflowServices) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        expect(source.startsWith('./'), `${name}: ${volume} is a file of this repository`).toBe(true);
        expect(existsSync(join(repoRoot, source)), `${name}: ${source}`).toBe(true);
      }
      const file = configFile(service);
      expect(() => parseConfig(parse(readFileSync(file, 'utf8'))), file).not.toThrow();
    }
  });

  it('runs real ctflow subcommands', async () => {
    for (const [name, service] of ctflowServices) {
      expect(await cliInvocationErrors(service.command ?? []), name).toEqual([]);
      expect(
        runsImageEntrypoint(service.entrypoint, ENTRYPOINT),
        `${name}: the image entrypoint (with node options at most) runs ctflow: ${JSON.stringify(service.entrypoint)}`,
      ).toBe(true);
    }
    // The agent runs node with --optimize-for-size (NODE_OPTIONS does not take it).
    expect(services['agent']?.entrypoint).toContain('--optimize-for-size');
    expect(services['topics']?.command?.slice(0, 2)).toEqual(['topics', 'ensure']);
    expect(services['collector']?.command).toEqual([
      'collect',
      '--listen',
      'udp://0.0.0.0:4739',
      '--format',
      'json',
    ]);
  });

  it('sets only environment variables that are configuration settings, with valid values', () => {
    for (const [name, service] of ctflowServices) {
      const env = service.environment ?? {};
      for (const key of Object.keys(env).filter((k) => !RUNTIME_ENV.has(k))) {
        expect(envNames, `${name}: ${key}`).toContain(key);
      }
      const text = readFileSync(configFile(service), 'utf8');
      expect(() => effectiveConfig(text, env, roleOf(service.command ?? [])), name).not.toThrow();
    }
    const agentFile = readFileSync(configFile(services['agent'] ?? {}), 'utf8');
    const agentConfig = effectiveConfig(agentFile, services['agent']?.environment ?? {}, 'agent');
    expect(agentConfig.kafka.brokers).toEqual(['localhost:9092']);
    // The one non-ctflow variable: the agent's smaller V8 young generation (bench/RESULTS.md).
    expect(services['agent']?.environment?.['NODE_OPTIONS']).toBe('--max-semi-space-size=2');
    // And the processors' flow tables on transparent huge pages (src/processor/huge-pages.ts).
    expect(services['processor']?.environment?.['GLIBC_TUNABLES']).toBe(HUGE_PAGES_TUNABLE);
  });

  it('runs the agent on the host network as root with NET_ADMIN only, the rest unprivileged', () => {
    const agent = services['agent'];
    expect(agent?.network_mode).toBe('host');
    expect(agent?.user).toBe('0:0');
    expect(agent?.cap_drop).toEqual(['ALL']);
    expect(agent?.cap_add).toEqual(['NET_ADMIN']);
    for (const [name, service] of ctflowServices.filter(([n]) => n !== 'agent')) {
      expect(service.cap_add, name).toBeUndefined();
      expect(service.user, name).toBeUndefined();
      expect(service.network_mode, name).toBeUndefined();
    }
    expect(services['processor']?.deploy?.replicas).toBe(2);
  });

  it('runs Kafka in KRaft mode with listeners for the compose network and the host-network agent', () => {
    expect(kafkaEnv('KAFKA_PROCESS_ROLES')).toBe('broker,controller');
    expect(Object.keys(services['kafka']?.environment ?? {}).some((k) => k.includes('ZOOKEEPER'))).toBe(
      false,
    );
    const advertised = kafkaEnv('KAFKA_ADVERTISED_LISTENERS')
      .split(',')
      .map((l) => l.split('://')[1]);
    // The processors and topics service use the file's brokers; the agent its environment override.
    const fileBrokers = parseConfig(parse(readFileSync(configFile(services['processor'] ?? {}), 'utf8')))
      .kafka.brokers;
    for (const broker of fileBrokers ?? []) expect(advertised).toContain(broker);
    const agentBroker = services['agent']?.environment?.['CTFLOW_KAFKA__BROKERS'] ?? '';
    expect(advertised).toContain(agentBroker);
    const port = agentBroker.split(':')[1];
    expect(services['kafka']?.ports).toContain(`127.0.0.1:${port}:${port}`);
  });

  it('uses the Kafka version of the test suite and of the dev overlay', () => {
    const pom = readFileSync(join(repoRoot, 'scripts/kafka/pom.xml'), 'utf8');
    const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
    expect(services['kafka']?.image).toBe(`apache/kafka:${version}`);
    const dev = workloads(render('deploy/overlays/dev')).find((w) => w.name === 'kafka');
    expect(dev?.pod.containers[0]?.image).toBe(services['kafka']?.image);
  });

  it('sends the processors’ IPFIX to the collector service, on the port it listens on', () => {
    const config = parseConfig(parse(readFileSync(configFile(services['processor'] ?? {}), 'utf8')));
    const listen = services['collector']?.command?.[2] ?? '';
    expect(config.ipfix.collectors.length).toBeGreaterThan(0);
    for (const url of config.ipfix.collectors) {
      const collector = parseCollectorUrl(url);
      expect(collector?.host).toBe('collector');
      expect(collector?.protocol).toBe(parseCollectorUrl(listen)?.protocol);
      expect(collector?.port).toBe(parseCollectorUrl(listen)?.port);
    }
  });
});

describe('the compose-go check itself', () => {
  const withTypo = join(repoRoot, '.cache/deploy-test-compose-typo.yml');
  it('rejects an unknown field and a dependency on a missing service', () => {
    const text = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
    writeFileSync(withTypo, text.replace('read_only: true', 'read_onyl: true'));
    const typo = loadComposeProject(withTypo);
    writeFileSync(withTypo, text.replace('      topics:\n', '      topicz:\n'));
    const missing = loadComposeProject(withTypo);
    rmSync(withTypo);
    expect(typo.ok ? '' : typo.error).toMatch(/read_onyl/);
    expect(missing.ok ? '' : missing.error).toMatch(/undefined service "topicz"/);
  });
});
