import { describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import {
  createKafka,
  type KafkaLogEntry,
  kafkajsConfig,
  kafkajsOf,
  parseBrokers,
} from '../../../src/kafka/client.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('parseBrokers', () => {
  it('splits, trims and keeps IPv6 in brackets', () => {
    expect(parseBrokers(' 127.0.0.1:9092, kafka-0.kafka:9093 ,[::1]:19092')).toEqual([
      '127.0.0.1:9092',
      'kafka-0.kafka:9093',
      '[::1]:19092',
    ]);
  });

  it.each(['', ' , ', 'localhost', 'host:0', 'host:70000', '::1:9092', 'a b:1'])(
    'refuses %j, naming it',
    (bad) => {
      const err = thrown(() => parseBrokers(bad));
      expect(isCtflowError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as { details: { field: string } }).details.field).toBe('brokers');
    },
  );
});

describe('kafkajsConfig', () => {
  it('maps TLS (mTLS) and SASL SCRAM options', () => {
    const config = kafkajsConfig({
      brokers: ['b:9093'],
      clientId: 'agent-1',
      ssl: { ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: true, servername: 'kafka.local' },
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
    });
    expect(config.clientId).toBe('agent-1');
    expect(config.ssl).toEqual({
      ca: 'CA',
      cert: 'CERT',
      key: 'KEY',
      rejectUnauthorized: true,
      servername: 'kafka.local',
    });
    expect(config.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  });

  it('leaves plaintext without ssl/sasl keys and logs nothing without a logger', () => {
    const config = kafkajsConfig({ brokers: ['b:9092'] });
    expect('ssl' in config).toBe(false);
    expect('sasl' in config).toBe(false);
    expect(config.logLevel).toBe(0);
  });

  it('routes kafkajs log lines to the callback with level, namespace, message and fields', () => {
    const seen: KafkaLogEntry[] = [];
    const config = kafkajsConfig({ brokers: ['b:9092'], logger: (e) => seen.push(e), logLevel: 'warn' });
    expect(config.logLevel).toBe(2);
    const log = config.logCreator?.(2);
    log?.({
      namespace: 'Connection',
      level: 1,
      label: 'ERROR',
      log: { timestamp: '2026-11-26T00:00:00.000Z', message: 'Connection error', broker: 'b:9092' },
    });
    expect(seen).toEqual([
      { level: 'error', namespace: 'Connection', message: 'Connection error', fields: { broker: 'b:9092' } },
    ]);
  });
});

describe('createKafka', () => {
  it('returns an opaque handle backed by a client only src/kafka can reach', () => {
    const client = createKafka({ brokers: ['127.0.0.1:9092'] });
    expect(client).toEqual({ brokers: ['127.0.0.1:9092'], clientId: 'ctflow' });
    expect(typeof kafkajsOf(client).producer).toBe('function');
    expect(
      isCtflowError(
        thrown(() => kafkajsOf({ brokers: [], clientId: 'x' })),
        'KAFKA',
      ),
    ).toBe(true);
    expect(
      isCtflowError(
        thrown(() => createKafka({ brokers: [] })),
        'CONFIG_INVALID',
      ),
    ).toBe(true);
  });
});
