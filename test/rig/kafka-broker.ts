/**
 * A real Kafka broker for integration tests, found or started in this order:
 * 1. KAFKA_BROKERS (an existing cluster, "host:port[,host:port]");
 * 2. a Docker engine that answers: Kafka in a container (@testcontainers/kafka);
 * 3. the project's own launcher, scripts/kafka-local.sh (Apache Kafka jars from Maven Central, Java 17+);
 * otherwise an error that names what is missing. CTFLOW_KAFKA=docker|local forces 2 or 3.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'kafka-local.sh');
/** Confluent Platform 8.0 = Apache Kafka 4.0, KRaft. */
const CONTAINER_IMAGE = process.env.CTFLOW_KAFKA_IMAGE ?? 'confluentinc/cp-kafka:8.0.0';

/** A broker the tests can use, and how to let go of it. */
export interface TestKafka {
  brokers: string;
  mode: 'env' | 'docker' | 'local';
  stop(): Promise<void>;
}

/** True when a Docker engine answers within 5 s (`docker info`), with the reason when not. */
export function dockerAnswers(): Promise<{ ok: boolean; why: string }> {
  return new Promise((resolve) => {
    execFile(
      'docker',
      ['info', '--format', '{{.ServerVersion}}'],
      { timeout: 5000 },
      (err, stdout, stderr) => {
        if (!err) return resolve({ ok: true, why: `Docker ${stdout.trim()}` });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return resolve({ ok: false, why: 'no docker CLI installed' });
        resolve({ ok: false, why: (stderr.trim() || err.message).split('\n')[0] ?? 'docker info failed' });
      },
    );
  });
}

async function startContainer(): Promise<TestKafka> {
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const container = await new KafkaContainer(CONTAINER_IMAGE)
    .withEnvironment({
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
    })
    .start();
  return {
    brokers: `${container.getHost()}:${container.getMappedPort(9093)}`,
    mode: 'docker',
    stop: async () => {
      await container.stop();
    },
  };
}

/** Runs scripts/kafka-local.sh; resolves with its stdout, rejects with its stderr. */
function runScript(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(err.trim() || `kafka-local.sh ${args[0]} exited with ${code}`));
    });
  });
}

async function startLocal(): Promise<TestKafka> {
  // Its own state dir: a broker started by hand (npm run kafka:start) is left alone.
  const stateDir = mkdtempSync(join(tmpdir(), 'ctflow-kafka-state-'));
  try {
    const out = await runScript(['start', '--state-dir', stateDir, '--watch-pid', String(process.pid)]);
    const brokers = out.split('\n').pop() ?? '';
    return {
      brokers,
      mode: 'local',
      stop: async () => {
        await runScript(['stop', '--state-dir', stateDir]);
        rmSync(stateDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
}

/** Finds or starts a broker; throws an error naming what is missing when there is no way to get one. */
export async function startTestKafka(): Promise<TestKafka> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv) return { brokers: fromEnv, mode: 'env', stop: async () => {} };

  const forced = process.env.CTFLOW_KAFKA;
  const docker = forced === 'local' ? { ok: false, why: 'CTFLOW_KAFKA=local' } : await dockerAnswers();
  if (docker.ok || forced === 'docker') return startContainer();

  if (!existsSync(SCRIPT)) throw new Error(`no Kafka for integration tests: ${SCRIPT} is missing`);
  try {
    return await startLocal();
  } catch (err) {
    throw new Error(
      'no Kafka for integration tests: KAFKA_BROKERS is not set, ' +
        `no Docker engine answered (${docker.why}), and the local broker did not start: ${(err as Error).message}\n` +
        'Fix one of: install Java 17+ and Maven (apt-get install -y openjdk-17-jre-headless maven) and run ' +
        '`bash scripts/kafka-local.sh jars`; start Docker; or set KAFKA_BROKERS=HOST:PORT.',
      { cause: err },
    );
  }
}
