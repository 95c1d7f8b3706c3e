import { Command } from 'commander';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addCommonConfigOptions, addConfigOptions } from '../../../src/config/flags.js';
import { loadConfig, loadConfigWithOrigins, parseConfig } from '../../../src/config/load.js';
import { isCtflowError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ctflow-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Parses argv with a command carrying the config flags, as a subcommand would. */
function flags(argv: string[]): Record<string, unknown> {
  const cmd = addConfigOptions(addCommonConfigOptions(new Command('t').exitOverride()), [
    'kafka.brokers',
    'conntrack.pollInterval',
    'flow.activeTimeout',
    'ipfix.collectors',
    'conntrack.enableSysctls',
  ]);
  cmd.parse(argv, { from: 'user' });
  return cmd.opts();
}

function configMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isCtflowError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('loadConfig sources and precedence', () => {
  it('applies the defaults when nothing is given', () => {
    const c = loadConfig({ env: {} });
    expect(c.conntrack.pollInterval).toBe(5);
    expect(c.flow).toMatchObject({ activeTimeout: 60, idleTimeout: 15 });
    expect(c.ipfix).toMatchObject({
      templateRefresh: 600,
      timestampPrecision: 'milliseconds',
      collectors: [],
    });
    expect(c.kafka.topics).toEqual({
      observations: 'ctflow.observations',
      flowstate: 'ctflow.flowstate',
      deadLetter: 'ctflow.deadletter',
    });
    expect(c.node.name.length).toBeGreaterThan(0);
  });

  it('takes flags over environment over file over defaults', () => {
    const yaml = file(
      'p.yaml',
      'flow:\n  activeTimeout: 10\n  idleTimeout: 11\nconntrack:\n  pollInterval: 2\n',
    );
    const c = loadConfig({
      file: yaml,
      env: { CTFLOW_FLOW__ACTIVE_TIMEOUT: '20', CTFLOW_CONNTRACK__POLL_INTERVAL: '3' },
      flags: flags(['--active-timeout', '30']),
    });
    expect(c.flow.activeTimeout).toBe(30); // flag
    expect(c.conntrack.pollInterval).toBe(3); // env over file
    expect(c.flow.idleTimeout).toBe(11); // file
    expect(c.flow.maxLife).toBe(86400); // default
  });

  it('reads JSON files and the file named by --config or CTFLOW_CONFIG', () => {
    const json = file('c.json', JSON.stringify({ kafka: { brokers: ['k1:9092'] } }));
    expect(loadConfig({ env: {}, flags: flags(['--config', json]) }).kafka.brokers).toEqual(['k1:9092']);
    expect(loadConfig({ env: { CTFLOW_CONFIG: json } }).kafka.brokers).toEqual(['k1:9092']);
  });

  it('maps nested keys to CTFLOW_ variables with double underscores, lists comma-separated', () => {
    const c = loadConfig({
      env: {
        CTFLOW_KAFKA__BROKERS: 'a:1, [::1]:9092',
        CTFLOW_KAFKA__TOPICS__DEAD_LETTER: 'dlq',
        CTFLOW_CONNTRACK__ENABLE_SYSCTLS: 'true',
        CTFLOW_IPFIX__COLLECTORS: '["udp://127.0.0.1:4739"]',
        CTFLOW_NODE__NAME: '',
        CTFLOW_CACHE_BIN: '/not/configuration',
      },
    });
    expect(c.kafka.brokers).toEqual(['a:1', '[::1]:9092']);
    expect(c.kafka.topics.deadLetter).toBe('dlq');
    expect(c.conntrack.enableSysctls).toBe(true);
    expect(c.ipfix.collectors).toEqual(['udp://127.0.0.1:4739']);
  });

  it('accepts repeatable and comma-separated flags, switches and --set', () => {
    const c = loadConfig({
      env: {},
      flags: flags([
        '--collector',
        'udp://127.0.0.1:4739',
        '--collector',
        'tcp://collector.example:4739',
        '--brokers',
        'k1:9092,k2:9092',
        '--enable-sysctls',
        '--poll-interval',
        '1.5',
        '--set',
        'kafka.sasl.mechanism=scram-sha-512',
        '--set',
        'kafka.sasl.username=ctflow',
        '--set',
        'kafka.sasl.passwordFile=/run/secrets/kafka',
      ]),
    });
    expect(c.ipfix.collectors).toEqual(['udp://127.0.0.1:4739', 'tcp://collector.example:4739']);
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.conntrack).toMatchObject({ enableSysctls: true, pollInterval: 1.5 });
    expect(c.kafka.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'ctflow',
      passwordFile: '/run/secrets/kafka',
    });
  });
});

describe('loadConfig errors (CONFIG_INVALID naming path, value, origin and expectation)', () => {
  it('unknown key in a file suggests the nearest known key', () => {
    const yaml = file('u.yaml', 'kafka:\n  brokrs: [k1:9092]\n');
    expect(configMessage(() => loadConfig({ file: yaml, env: {} }))).toBe(
      `invalid configuration: kafka.brokrs (from file ${yaml}): no such key; did you mean "kafka.brokers"?`,
    );
  });

  it('unknown key in the wrong section suggests where it lives', () => {
    expect(configMessage(() => parseConfig({ brokers: ['k:1'] }))).toBe(
      'invalid configuration: brokers (from input): no such key; did you mean "kafka.brokers"?',
    );
  });

  it('unknown environment variable and --set key suggest the nearest', () => {
    expect(configMessage(() => loadConfig({ env: { CTFLOW_KAFKA__BROKER: 'k:1' } }))).toBe(
      'invalid configuration: CTFLOW_KAFKA__BROKER (from environment): no such setting; did you mean "CTFLOW_KAFKA__BROKERS"?',
    );
    expect(configMessage(() => loadConfig({ env: {}, flags: { set: ['flow.idleTimout=3'] } }))).toBe(
      'invalid configuration: flow.idleTimout (from flag --set flow.idleTimout): no such setting; did you mean "flow.idleTimeout"?',
    );
  });

  it('wrong type names the value and its origin', () => {
    expect(configMessage(() => loadConfig({ env: { CTFLOW_FLOW__ACTIVE_TIMEOUT: 'soon' } }))).toBe(
      'invalid configuration: flow.activeTimeout = "soon" (from environment CTFLOW_FLOW__ACTIVE_TIMEOUT): expected a number',
    );
    expect(configMessage(() => parseConfig({ node: { observationDomainId: 1.5 } }))).toBe(
      'invalid configuration: node.observationDomainId = 1.5 (from input): expected an integer',
    );
    expect(configMessage(() => parseConfig({ kafka: 'k1:9092' }))).toBe(
      'invalid configuration: kafka = "k1:9092" (from input): expected a section (a mapping of keys)',
    );
  });

  it('out of range names the bound', () => {
    expect(configMessage(() => loadConfig({ env: {}, flags: flags(['--poll-interval', '0.5']) }))).toBe(
      'invalid configuration: conntrack.pollInterval = 0.5 (from flag --poll-interval): expected a number >= 1',
    );
    expect(configMessage(() => parseConfig({ flow: { idleTimeout: 0 } }))).toBe(
      'invalid configuration: flow.idleTimeout = 0 (from input): expected a number > 0',
    );
    expect(configMessage(() => parseConfig({ ipfix: { mtu: 70000 } }))).toBe(
      'invalid configuration: ipfix.mtu = 70000 (from input): expected a number <= 65535',
    );
  });

  it('bad URL names the list index and the accepted forms', () => {
    expect(configMessage(() => loadConfig({ env: {}, flags: flags(['--collector', 'http://c:4739']) }))).toBe(
      'invalid configuration: ipfix.collectors[0] = "http://c:4739" (from flag --collector): expected a collector URL udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT',
    );
    expect(configMessage(() => loadConfig({ env: { CTFLOW_KAFKA__BROKERS: 'k1:9092,k2' } }))).toBe(
      'invalid configuration: kafka.brokers[1] = "k2" (from environment CTFLOW_KAFKA__BROKERS): expected a broker address HOST:PORT (e.g. 127.0.0.1:9092 or [::1]:9092)',
    );
  });

  it('missing brokers for a role that needs Kafka', () => {
    expect(configMessage(() => loadConfig({ env: {}, role: 'agent' }))).toBe(
      'invalid configuration: kafka.brokers = missing: expected at least one broker HOST:PORT for the agent role (flag --brokers, env CTFLOW_KAFKA__BROKERS or kafka.brokers in the config file)',
    );
    expect(() => loadConfig({ env: {}, role: 'collect' })).not.toThrow();
  });

  it('missing collectors for processor and replay, and for run without --record', () => {
    const env = { CTFLOW_KAFKA__BROKERS: 'k:1' };
    expect(configMessage(() => loadConfig({ env, role: 'processor' }))).toContain(
      'ipfix.collectors = []: expected at least one collector URL for the processor role',
    );
    expect(configMessage(() => loadConfig({ env: {}, role: 'run' }))).toContain(
      'or run.record (--record PATH)',
    );
    expect(loadConfig({ env: { CTFLOW_RUN__RECORD: '/tmp/r.jsonl' }, role: 'run' }).run.record).toBe(
      '/tmp/r.jsonl',
    );
  });

  it('enum values are listed', () => {
    expect(configMessage(() => parseConfig({ ipfix: { timestampPrecision: 'micro' } }))).toBe(
      'invalid configuration: ipfix.timestampPrecision = "micro" (from input): expected one of "milliseconds", "seconds", "both"',
    );
  });

  it('reports every problem, one per line', () => {
    const message = configMessage(() => parseConfig({ flow: { activeTimeout: -1, idleTimeout: 'x' } }));
    expect(message.split('\n')).toEqual([
      'invalid configuration:',
      '  flow.activeTimeout = -1 (from input): expected a number > 0',
      '  flow.idleTimeout = "x" (from input): expected a number',
    ]);
  });

  it('names the file and line of a YAML syntax error, and an unreadable file', () => {
    const bad = file('bad.yaml', 'kafka:\n  brokers: [k1:9092\n');
    expect(configMessage(() => loadConfig({ file: bad, env: {} }))).toMatch(
      new RegExp(`^invalid configuration: config file ${bad}:\\d+:\\d+: `),
    );
    expect(configMessage(() => loadConfig({ file: join(dir, 'absent.yaml'), env: {} }))).toBe(
      `invalid configuration: cannot read config file ${join(dir, 'absent.yaml')}: ENOENT`,
    );
    const list = file('list.yaml', '- a\n- b\n');
    expect(configMessage(() => loadConfig({ file: list, env: {} }))).toContain(
      'expected a mapping of sections',
    );
  });

  it('requires exactly one of password and passwordFile, without printing the password', () => {
    const message = configMessage(() =>
      parseConfig({
        kafka: { sasl: { mechanism: 'plain', username: 'u', password: 'hunter2', passwordFile: '/f' } },
      }),
    );
    expect(message).toContain('kafka.sasl = ');
    expect(message).toContain('expected exactly one of password or passwordFile');
    expect(message).not.toContain('hunter2');
    const wrongType = configMessage(() =>
      loadConfig({
        env: { CTFLOW_KAFKA__SASL__PASSWORD: 'hunter2' },
        flags: { set: ['kafka.sasl.username=u'] },
      }),
    );
    expect(wrongType).not.toContain('hunter2');
    expect(wrongType).toContain('kafka.sasl.mechanism = missing');
  });
});

describe('loadConfigWithOrigins', () => {
  it('tells explicit settings from defaults and names their source', () => {
    const yaml = file('o.yaml', 'kafka:\n  partitions: 6\n');
    const { config, originOf } = loadConfigWithOrigins({
      file: yaml,
      env: { CTFLOW_KAFKA__CLIENT_ID: 'c' },
      flags: flags(['--brokers', 'k:1']),
    });
    expect(config.kafka.partitions).toBe(6);
    expect(originOf('kafka.partitions')).toBe(`file ${yaml}`);
    expect(originOf('kafka.clientId')).toBe('environment CTFLOW_KAFKA__CLIENT_ID');
    expect(originOf('kafka.brokers')).toBe('flag --brokers');
    expect(originOf('kafka.replicationFactor')).toBe('default');
  });
});
