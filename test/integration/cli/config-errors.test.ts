/**
 * Issue 7 contract, across roles: every bad configuration input class (unknown key, wrong type,
 * out of range, bad URL, missing brokers) ends the real `ctflow` process with exit status 2 and
 * one clear line on stderr, before it touches the kernel, Kafka or a collector.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ctflow-config-exit-'));

function ctflow(args: string[], env: Record<string, string> = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CTFLOW_')));
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: { ...base, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('invalid configuration exits 2 with the problem on stderr, for every role', () => {
  it('unknown key in a config file (run)', () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'flow:\n  activeTimout: 30\n');
    const r = ctflow(['run', '--config', file, '--collector', 'udp://127.0.0.1:4739']);
    expect(r.stderr).toBe(
      `ctflow: invalid configuration: flow.activeTimout (from file ${file}): no such key; did you mean "flow.activeTimeout"?\n`,
    );
    expect(r.status).toBe(2);
  });

  it('wrong type from the environment (processor)', () => {
    const r = ctflow(['processor', '--brokers', '127.0.0.1:1', '--collector', 'udp://127.0.0.1:4739'], {
      CTFLOW_FLOW__IDLE_TIMEOUT: 'fifteen',
    });
    expect(r.stderr).toBe(
      'ctflow: invalid configuration: flow.idleTimeout = "fifteen" (from environment CTFLOW_FLOW__IDLE_TIMEOUT): expected a number\n',
    );
    expect(r.status).toBe(2);
  });

  it('out of range flag (run)', () => {
    const r = ctflow(['run', '--poll-interval', '0.2', '--collector', 'udp://127.0.0.1:4739']);
    expect(r.stderr).toBe(
      'ctflow: invalid configuration: conntrack.pollInterval = 0.2 (from flag --poll-interval): expected a number >= 1\n',
    );
    expect(r.status).toBe(2);
  });

  it('bad collector URL (run)', () => {
    const r = ctflow(['run', '--collector', 'udp://127.0.0.1']);
    expect(r.stderr).toBe(
      'ctflow: invalid configuration: ipfix.collectors[0] = "udp://127.0.0.1" (from flag --collector): expected a collector URL udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT\n',
    );
    expect(r.status).toBe(2);
  });

  it('missing brokers (topics ensure)', () => {
    const r = ctflow(['topics', 'ensure']);
    expect(r.stderr).toBe(
      'ctflow: invalid configuration: kafka.brokers = missing: expected at least one broker HOST:PORT for the topics role (flag --brokers, env CTFLOW_KAFKA__BROKERS or kafka.brokers in the config file)\n',
    );
    expect(r.status).toBe(2);
  });
});
