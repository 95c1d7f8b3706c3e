/** `ctflow topics ensure` as a user runs it, on a real broker: create, re-run (idempotent), refusal. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { deleteTopics, topicConfig } from '../../../src/kafka/admin.js';
import { testKafka, uniqueName } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/ctflow.js', import.meta.url));
const kafka = testKafka();
const created: string[] = [];

function ctflow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

afterEach(async () => {
  await deleteTopics(kafka, created.splice(0));
});

describe('ctflow topics ensure', () => {
  it('creates the topics, is idempotent, and refuses another partition count with exit status 1', async () => {
    const obs = uniqueName('cli-obs');
    const state = uniqueName('cli-state');
    const dlq = uniqueName('cli-dlq');
    created.push(obs, state, dlq);
    const base = ['topics', 'ensure', '--brokers', inject('kafkaBrokers'), '--observations-topic', obs];
    const names = [...base, '--state-topic', state, '--dead-letter-topic', dlq];

    const first = await ctflow([...names, '--partitions', '3']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.split('\n')).toEqual([
      `created ${obs} (3 partitions)`,
      `created ${state} (3 partitions)`,
      `created ${dlq} (1 partition)`,
      '',
    ]);
    expect((await topicConfig(kafka, state)).get('cleanup.policy')).toBe('compact');

    const again = await ctflow([...names, '--output', 'json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      observations: { name: obs, partitions: 3, created: false },
      flowState: { name: state, partitions: 3, created: false },
      deadLetter: { name: dlq, partitions: 1, created: false },
    });

    const refused = await ctflow([...names, '--partitions', '4']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`${obs} exists with 3 partitions but 4 were asked`);
  });
});
