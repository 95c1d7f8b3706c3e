import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

/** Runs the real CLI (`tsx src/cli/main.ts`) with a clean CTFLOW_ environment. */
function ctflow(args: string[], env: Record<string, string> = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CTFLOW_')));
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: { ...base, ...env },
    encoding: 'utf8',
    timeout: 90_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ctflow config print', () => {
  it('prints the effective configuration with secrets redacted', () => {
    const r = ctflow(
      [
        'config',
        'print',
        '--brokers',
        'k1:9092',
        '--set',
        'kafka.sasl.mechanism=plain',
        '--set',
        'kafka.sasl.username=u',
      ],
      { CTFLOW_KAFKA__SASL__PASSWORD: 'hunter2', CTFLOW_FLOW__IDLE_TIMEOUT: '7' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('hunter2');
    const printed = parse(r.stdout) as Record<string, Record<string, unknown>>;
    expect(printed['kafka']?.['brokers']).toEqual(['k1:9092']);
    expect(printed['kafka']?.['sasl']).toEqual({ mechanism: 'plain', username: 'u', password: '<redacted>' });
    expect(printed['flow']?.['idleTimeout']).toBe(7);
  }, 120_000);

  it('exits 2 with the problem on stderr for an invalid configuration', () => {
    const r = ctflow(['config', 'print', '--role', 'agent', '--poll-interval', '0.5']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'ctflow: invalid configuration: conntrack.pollInterval = 0.5 (from flag --poll-interval): expected a number >= 1\n',
    );
  }, 120_000);

  it('exits 2 when a role misses what it needs', () => {
    const r = ctflow(['config', 'print', '--role', 'agent', '--output', 'json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('kafka.brokers = missing');
  }, 120_000);

  it('--origins names where each value came from', () => {
    const r = ctflow(['config', 'print', '--origins', '--active-timeout', '30'], {
      CTFLOW_FLOW__IDLE_TIMEOUT: '7',
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('flow.activeTimeout = 30  # flag --active-timeout');
    expect(lines).toContain('flow.idleTimeout = 7  # environment CTFLOW_FLOW__IDLE_TIMEOUT');
    expect(lines).toContain('flow.maxLife = 86400  # default');
  }, 120_000);
});

describe('ctflow config schema', () => {
  it('prints a JSON Schema that forbids unknown keys', () => {
    const r = ctflow(['config', 'schema']);
    expect(r.status).toBe(0);
    const schema = JSON.parse(r.stdout) as {
      additionalProperties: boolean;
      properties: Record<string, unknown>;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toContain('kafka');
  }, 120_000);
});
