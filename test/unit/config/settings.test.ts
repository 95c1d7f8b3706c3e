import { describe, expect, it } from 'vitest';
import { observationDomainId, observationDomainIdForNode } from '../../../src/config/odid.js';
import { parseConfig } from '../../../src/config/load.js';
import { REDACTED, redactConfig, secretLogPaths } from '../../../src/config/redact.js';
import { configSettings, envNameFor, keysUnder, secretKeys } from '../../../src/config/settings.js';

describe('settings derived from the schema', () => {
  it('names environment variables CTFLOW_ + SCREAMING_SNAKE segments joined by __', () => {
    expect(envNameFor(['kafka', 'brokers'])).toBe('CTFLOW_KAFKA__BROKERS');
    expect(envNameFor(['kafka', 'topics', 'deadLetter'])).toBe('CTFLOW_KAFKA__TOPICS__DEAD_LETTER');
    expect(envNameFor(['node', 'observationDomainId'])).toBe('CTFLOW_NODE__OBSERVATION_DOMAIN_ID');
  });

  it('gives every setting a unique environment variable', () => {
    const envs = configSettings().map((s) => s.env);
    expect(new Set(envs).size).toBe(envs.length);
  });

  it('lists the sections of every role at the top level', () => {
    expect(keysUnder([])).toEqual(
      expect.arrayContaining([
        'node',
        'conntrack',
        'flow',
        'ipfix',
        'kafka',
        'agent',
        'run',
        'processor',
        'replay',
        'collect',
        'metrics',
        'log',
      ]),
    );
  });

  it('marks the SASL password as the secret', () => {
    expect(secretKeys()).toEqual(['kafka.sasl.password']);
    expect(secretLogPaths()).toContain('config.kafka.sasl.password');
  });
});

describe('redaction', () => {
  it('replaces secrets in a copy and leaves the rest', () => {
    const config = parseConfig({
      kafka: { brokers: ['k:1'], sasl: { mechanism: 'plain', username: 'u', password: 'hunter2' } },
    });
    const shown = redactConfig(config);
    expect(shown.kafka.sasl).toEqual({ mechanism: 'plain', username: 'u', password: REDACTED });
    expect(JSON.stringify(shown)).not.toContain('hunter2');
    expect(config.kafka.sasl?.password).toBe('hunter2');
  });

  it('leaves a configuration without secrets unchanged', () => {
    const config = parseConfig({});
    expect(redactConfig(config)).toEqual(config);
  });
});

describe('observation domain id', () => {
  it('is derived stably from the node name and never 0', () => {
    expect(observationDomainIdForNode('node-a')).toBe(observationDomainIdForNode('node-a'));
    expect(observationDomainIdForNode('node-a')).not.toBe(observationDomainIdForNode('node-b'));
    // FNV-1a 32 of the empty string is the offset basis 0x811c9dc5.
    expect(observationDomainIdForNode('')).toBe(0x811c9dc5);
    expect(observationDomainIdForNode('a')).toBe(0xe40c292c);
  });

  it('uses the configured id when set', () => {
    expect(observationDomainId(parseConfig({ node: { name: 'n', observationDomainId: 7 } }))).toBe(7);
    expect(observationDomainId(parseConfig({ node: { name: 'n' } }))).toBe(observationDomainIdForNode('n'));
  });
});
