import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { isCtflowError } from '../../../src/errors.js';
import { kafkaClientOptions, kafkaLogToLogger, topicNames } from '../../../src/kafka/from-config.js';
import { createLogger } from '../../../src/telemetry/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'ctflow-kafka-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('kafkaClientOptions', () => {
  it('reads TLS files (mTLS) and the SASL password file named by the configuration', () => {
    const config = parseConfig({
      kafka: {
        brokers: ['k1:9093', 'k2:9093'],
        clientId: 'agent-n1',
        ssl: {
          enabled: true,
          ca: file('ca.pem', 'CA PEM'),
          cert: file('c.pem', 'CERT PEM'),
          key: file('k.pem', 'KEY PEM'),
        },
        sasl: { mechanism: 'scram-sha-256', username: 'ctflow', passwordFile: file('pw', 's3cret\n') },
      },
    });
    expect(kafkaClientOptions(config)).toEqual({
      brokers: ['k1:9093', 'k2:9093'],
      clientId: 'agent-n1',
      ssl: { rejectUnauthorized: true, ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM' },
      sasl: { mechanism: 'scram-sha-256', username: 'ctflow', password: 's3cret' },
    });
  });

  it('is plaintext without ssl/sasl settings, and names an unreadable file', () => {
    expect(kafkaClientOptions(parseConfig({ kafka: { brokers: ['k:9092'] } }))).toEqual({
      brokers: ['k:9092'],
      clientId: 'ctflow',
    });
    const config = parseConfig({
      kafka: { brokers: ['k:9092'], ssl: { enabled: true, ca: join(dir, 'missing.pem') } },
    });
    let err: unknown;
    try {
      kafkaClientOptions(config);
    } catch (e) {
      err = e;
    }
    expect(isCtflowError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('kafka.ssl.ca');
  });

  it('takes topic names from the configuration', () => {
    const config = parseConfig({ kafka: { topics: { observations: 'o', flowstate: 's' } } });
    expect(topicNames(config)).toEqual({
      observations: 'o',
      flowState: 's',
      deadLetter: 'ctflow.deadletter',
    });
  });
});

describe('kafkaLogToLogger', () => {
  it('writes Kafka client lines through the ctflow logger with component, namespace and fields', () => {
    const lines: string[] = [];
    const logger = createLogger({
      format: 'json',
      destination: { write: (l: string) => lines.push(l) } as never,
    });
    kafkaLogToLogger(logger)({
      level: 'warn',
      namespace: 'ConsumerGroup',
      message: 'rebalancing',
      fields: { groupId: 'g' },
    });
    logger.flush();
    const line = JSON.parse(lines.join('')) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'warn',
      component: 'kafka',
      namespace: 'ConsumerGroup',
      groupId: 'g',
      msg: 'rebalancing',
    });
  });
});
