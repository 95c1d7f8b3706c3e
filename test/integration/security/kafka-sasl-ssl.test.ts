/**
 * Kafka over TLS with SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and with client certificates (mTLS),
 * end to end through ctflow's own paths: configuration from a YAML file plus secrets from a file or the
 * environment, `ctflow topics ensure`, ensureTopics, a produce/consume round trip. The test runs its own
 * broker (scripts/kafka-local.sh, own ports and data dir) with a SASL_SSL and an SSL (client auth
 * required) listener, a CA made by the test, and SCRAM users written at format time.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { isCtflowError } from '../../../src/errors.js';
import { createKafka } from '../../../src/kafka/client.js';
import { kafkaClientOptions } from '../../../src/kafka/from-config.js';
import { createProducer } from '../../../src/kafka/producer.js';
import { readPartitionRange } from '../../../src/kafka/range-reader.js';
import { ensureTopics } from '../../../src/kafka/topics.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { type TestPki, makeTestPki } from '../../rig/tls-certs.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'kafka-local.sh');
const BIN = join(ROOT, 'bin', 'ctflow.js');

/** Passwords made per run, so a match in logs can only come from a leak. */
const run = Math.random().toString(36).slice(2, 10);
const USERS = {
  plain: { username: 'ctflow-plain', password: `plain-${run}-secret` },
  'scram-sha-256': { username: 'ctflow-scram256', password: `scram256-${run}-secret` },
  'scram-sha-512': { username: 'ctflow-scram512', password: `scram512-${run}-secret` },
} as const;
const ALL_PASSWORDS = Object.values(USERS).map((u) => u.password);

let pki: TestPki;
let dir: string;
let stateDir: string;
let saslBroker: string;
let mtlsBroker: string;

function script(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
  });
}

beforeAll(async () => {
  pki = makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'ctflow-sec-'));
  stateDir = join(dir, 'state');
  const jaasPlain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_${USERS.plain.username}="${USERS.plain.password}";`;
  const scramJaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const props = [
    // PLAINTEXT stays: the script probes readiness on it and the broker talks to itself over it.
    'listeners=PLAINTEXT://127.0.0.1:{{PORT}},CONTROLLER://127.0.0.1:{{CONTROLLER_PORT}},SASL_SSL://127.0.0.1:{{PORT_1}},SSL://127.0.0.1:{{PORT_2}}',
    'advertised.listeners=PLAINTEXT://127.0.0.1:{{PORT}},SASL_SSL://127.0.0.1:{{PORT_1}},SSL://127.0.0.1:{{PORT_2}}',
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${pki.serverKeyStore}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${pki.caCert}`,
    'listener.name.ssl.ssl.client.auth=required',
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    `listener.name.sasl_ssl.plain.sasl.jaas.config=${jaasPlain}`,
    `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${scramJaas}`,
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scramJaas}`,
  ];
  const propsFile = join(dir, 'secure.properties');
  writeFileSync(propsFile, `${props.join('\n')}\n`);
  const s256 = USERS['scram-sha-256'];
  const s512 = USERS['scram-sha-512'];
  await script([
    'start',
    '--state-dir',
    stateDir,
    '--extra-ports',
    '2',
    '--properties-file',
    propsFile,
    '--add-scram',
    `SCRAM-SHA-256=[name=${s256.username},password=${s256.password}]`,
    '--add-scram',
    `SCRAM-SHA-512=[name=${s512.username},password=${s512.password}]`,
    '--watch-pid',
    String(process.pid),
    '--timeout',
    '150',
  ]);
  const state = Object.fromEntries(
    readFileSync(join(stateDir, 'kafka-local.env'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
  saslBroker = `127.0.0.1:${state['PORT_1']}`;
  mtlsBroker = `127.0.0.1:${state['PORT_2']}`;
}, 240_000);

afterAll(async () => {
  if (stateDir !== undefined) await script(['stop', '--state-dir', stateDir]).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  pki?.remove();
}, 240_000);

let files = 0;
/** Writes a YAML configuration file and returns its path. */
function yamlFile(text: string): string {
  const path = join(dir, `ctflow-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** A SASL_SSL configuration file; the password comes from elsewhere (env or passwordFile line). */
function saslConfig(mechanism: keyof typeof USERS, extra = '', ca = pki.caCert): string {
  return yamlFile(`kafka:
  brokers: ["${saslBroker}"]
  ssl:
    enabled: true
    ca: ${ca}
  sasl:
    mechanism: ${mechanism}
    username: ${USERS[mechanism].username}
${extra}`);
}

function ctflow(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { timeout: 90_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: number }).code : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** Everything a logger writes, as text. */
function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** Topics ensured, three messages produced and read back, through src/kafka with `config`. */
async function roundTrip(config: Config, logs: Writable): Promise<string[]> {
  const logger = createLogger({ level: 'debug', format: 'json', destination: logs });
  const client = createKafka(kafkaClientOptions(config, logger));
  const topic = `sec-obs-${run}-${++files}`;
  await ensureTopics(client, {
    topics: { observations: topic, flowState: `${topic}-state`, deadLetter: `${topic}-dlq` },
    partitions: 1,
  });
  const producer = await createProducer(client);
  try {
    await producer.send(
      topic,
      ['a', 'b', 'c'].map((v) => ({ key: v, value: `value-${v}`, partition: 0 })),
    );
  } finally {
    await producer.disconnect();
  }
  const values: string[] = [];
  const result = await readPartitionRange(client, topic, {
    partition: 0,
    fromOffset: 0,
    toOffset: 3,
    onBatch: (batch) => {
      for (const m of batch.messages) values.push(Buffer.from(m.value ?? []).toString());
    },
  });
  expect(result.complete).toBe(true);
  return values;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

function noPassword(text: string): void {
  for (const p of ALL_PASSWORDS) expect(text).not.toContain(p);
}

describe('Kafka over SASL_SSL and mTLS', () => {
  it('ctflow topics ensure over SASL_SSL/PLAIN, the password from CTFLOW_KAFKA__SASL__PASSWORD, never printed', async () => {
    const file = saslConfig('plain');
    const env = { CTFLOW_KAFKA__SASL__PASSWORD: USERS.plain.password, CTFLOW_LOG__LEVEL: 'debug' };
    const topic = `sec-cli-${run}`;
    const ensured = await ctflow(
      [
        'topics',
        'ensure',
        '--config',
        file,
        '--partitions',
        '2',
        '--observations-topic',
        topic,
        '--flowstate-topic',
        `${topic}-state`,
        '--dead-letter-topic',
        `${topic}-dlq`,
      ],
      env,
    );
    expect(ensured.stderr.split('\n').filter((l) => l.includes('"level":"error"'))).toEqual([]);
    expect(ensured.code).toBe(0);
    expect(ensured.stdout).toContain(`created ${topic} (2 partitions)`);
    noPassword(ensured.stdout + ensured.stderr);

    const printed = await ctflow(['config', 'print', '--config', file], env);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('password: <redacted>');
    noPassword(printed.stdout + printed.stderr);
  });

  it.each([
    ['plain', 'env'],
    ['scram-sha-256', 'passwordFile'],
    ['scram-sha-512', 'env'],
  ] as const)(
    '%s with the password from %s: produce/consume round trip, password not in debug logs',
    async (mechanism, from) => {
      let env: Record<string, string> = {};
      let extra = '';
      if (from === 'env') {
        env = { CTFLOW_KAFKA__SASL__PASSWORD: USERS[mechanism].password };
      } else {
        const secret = join(dir, `${mechanism}.password`);
        writeFileSync(secret, `${USERS[mechanism].password}\n`);
        extra = `    passwordFile: ${secret}\n`;
      }
      const config = loadConfig({ file: saslConfig(mechanism, extra), env });
      const logs = capture();
      expect(await roundTrip(config, logs.stream)).toEqual(['value-a', 'value-b', 'value-c']);
      expect(logs.text()).not.toBe('');
      noPassword(logs.text());
    },
  );

  it('mutual TLS: the client certificate from kafka.ssl.cert/key is accepted, none or an untrusted one is refused', async () => {
    const mtls = (cert: string, key: string) =>
      loadConfig({
        env: {},
        file: yamlFile(`kafka:
  brokers: ["${mtlsBroker}"]
  ssl: { enabled: true, ca: ${pki.caCert}, cert: ${cert}, key: ${key} }
`),
      });
    const logs = capture();
    expect(await roundTrip(mtls(pki.clientCert, pki.clientKey), logs.stream)).toEqual([
      'value-a',
      'value-b',
      'value-c',
    ]);

    const noCert = loadConfig({
      env: {},
      file: yamlFile(`kafka:\n  brokers: ["${mtlsBroker}"]\n  ssl: { enabled: true, ca: ${pki.caCert} }\n`),
    });
    for (const config of [noCert, mtls(pki.rogueClientCert, pki.rogueClientKey)]) {
      const client = createKafka({ ...kafkaClientOptions(config), retry: { retries: 0 } });
      const err = await failure(ensureTopics(client, { topics: { observations: `sec-refused-${run}` } }));
      expect(isCtflowError(err, 'KAFKA')).toBe(true);
      expect(err.message).toContain('TLS: the broker refused our client certificate: check kafka.ssl.cert');
      expect((err as { details?: { security?: string } }).details?.security).toBe('client-certificate');
    }
  });

  it('a wrong password fails with a clear CtflowError that does not contain it (API and CLI)', async () => {
    const wrong = `wrong-${run}-password`;
    const config = loadConfig({
      file: saslConfig('scram-sha-256'),
      env: { CTFLOW_KAFKA__SASL__PASSWORD: wrong },
    });
    const err = await failure(createProducer(createKafka(kafkaClientOptions(config))));
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect(err.message).toMatch(
      /^cannot connect a producer to 127\.0\.0\.1:\d+: SASL authentication refused: check kafka\.sasl\.mechanism, kafka\.sasl\.username and the password \(/,
    );
    expect((err as { retriable?: boolean }).retriable).toBe(false);
    expect(err.message).not.toContain(wrong);

    const cli = await ctflow(['topics', 'ensure', '--config', saslConfig('plain')], {
      CTFLOW_KAFKA__SASL__PASSWORD: wrong,
    });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('SASL authentication refused');
    expect(cli.stderr + cli.stdout).not.toContain(wrong);
  });

  it('a broker certificate the configured CA does not sign is refused with a clear CtflowError', async () => {
    const config = loadConfig({
      file: saslConfig('plain', '', pki.rogueCaCert),
      env: { CTFLOW_KAFKA__SASL__PASSWORD: USERS.plain.password },
    });
    const client = createKafka({ ...kafkaClientOptions(config), retry: { retries: 0 } });
    const err = await failure(ensureTopics(client, { topics: { observations: `sec-untrusted-${run}` } }));
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect(err.message).toContain("TLS: the broker's certificate is not trusted: check kafka.ssl.ca");
    noPassword(err.message);
  });
});
