// Small helpers for scripts/kafka-local.sh, in plain JavaScript so they start fast without tsx:
//   node helper.mjs free-ports N                 print N distinct free TCP ports on 127.0.0.1, one per line
//   node helper.mjs probe HOST:PORT TIMEOUT_MS [PID]
//       wait until the broker answers a Metadata request (kafkajs admin describeCluster); exit 0 when it
//       does, 1 on timeout, 3 as soon as process PID is gone (the broker died while starting).
import { createServer } from 'node:net';
import { createRequire } from 'node:module';

const [, , command, ...args] = process.argv;

/** Binds port 0 N times at once (so the ports are distinct), then releases them all. */
async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      servers.push(server);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function probe(broker, timeoutMs, pid) {
  // kafkajs is a dependency of the project this script lives in.
  const require = createRequire(new URL('../../package.json', import.meta.url));
  const { Kafka, logLevel } = require('kafkajs');
  const kafka = new Kafka({
    clientId: 'ctflow-kafka-local-probe',
    brokers: [broker],
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pid !== undefined && !alive(pid)) return 3;
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller >= 0) return 0;
    } catch {
      // Not up yet: connection refused, or the broker is still catching up with its metadata.
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return 1;
}

if (command === 'free-ports') {
  const ports = await freePorts(Number(args[0] ?? 1));
  process.stdout.write(`${ports.join('\n')}\n`);
} else if (command === 'probe') {
  const [broker, timeout, pid] = args;
  process.exitCode = await probe(broker, Number(timeout), pid === undefined ? undefined : Number(pid));
} else {
  process.stderr.write(`usage: node helper.mjs free-ports N | probe HOST:PORT TIMEOUT_MS [PID]\n`);
  process.exitCode = 2;
}
