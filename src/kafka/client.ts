/**
 * The connection to a Kafka cluster: brokers, client id, TLS and SASL, and kafkajs' logs routed to a
 * callback. The returned handle is opaque; producer.ts, consumer.ts and topics.ts take it. Only src/kafka
 * imports kafkajs, and no exported type mentions it, so the client library can be swapped.
 */
import kafkajs from './kafkajs.js';
import type { Kafka, KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { CtflowError } from '../errors.js';

/** Log levels the callback receives (kafkajs' NOTHING is expressed by passing no callback). */
export type KafkaLogLevel = 'error' | 'warn' | 'info' | 'debug';

/** One log line of the Kafka client. */
export interface KafkaLogEntry {
  level: KafkaLogLevel;
  /** The client component that logged, e.g. "Connection", "ConsumerGroup". */
  namespace: string;
  message: string;
  /** Structured fields of the line (broker, groupId, error, ...). */
  fields: Record<string, unknown>;
}

/** Receives the Kafka client's log lines (e.g. forwards them to pino). */
export type KafkaLogFn = (entry: KafkaLogEntry) => void;

/** TLS to the brokers. `cert` + `key` give mutual TLS (client certificate). PEM strings or buffers. */
export interface KafkaTlsOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  /** Default true; false only for throwaway test certificates. */
  rejectUnauthorized?: boolean;
  /** Server name for SNI and certificate checks when it differs from the broker host. */
  servername?: string;
}

/** SASL authentication (over TLS in production: SASL_SSL). */
export interface KafkaSaslOptions {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

/** Everything needed to reach a cluster. */
export interface KafkaClientOptions {
  /** Bootstrap brokers, "host:port" each. */
  brokers: readonly string[];
  /** Shown in broker logs and quotas. Default "ctflow". */
  clientId?: string;
  /** true: TLS with the system CAs; an object: TLS with these settings. Default: plaintext. */
  ssl?: boolean | KafkaTlsOptions;
  sasl?: KafkaSaslOptions;
  /** TCP connect timeout. Default 3000 ms. */
  connectionTimeoutMs?: number;
  /** Per-request timeout. Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Retries of retriable errors (exponential backoff). Default 5 retries from 300 ms, at most 30 s apart. */
  retry?: { retries?: number; initialRetryTimeMs?: number; maxRetryTimeMs?: number };
  /** Where the client's logs go. Without it the client logs nothing. */
  logger?: KafkaLogFn;
  /** Lowest level passed to `logger`. Default "info". */
  logLevel?: KafkaLogLevel;
}

/** An opaque handle on a configured cluster connection; create with {@link createKafka}. */
export interface KafkaClient {
  readonly brokers: readonly string[];
  readonly clientId: string;
}

const LEVELS: Record<KafkaLogLevel, number> = {
  error: kafkajs.logLevel.ERROR,
  warn: kafkajs.logLevel.WARN,
  info: kafkajs.logLevel.INFO,
  debug: kafkajs.logLevel.DEBUG,
};

function levelName(level: number): KafkaLogLevel {
  if (level <= kafkajs.logLevel.ERROR) return 'error';
  if (level === kafkajs.logLevel.WARN) return 'warn';
  if (level === kafkajs.logLevel.INFO) return 'info';
  return 'debug';
}

/** The kafkajs instance behind each handle; reachable only from src/kafka. */
const instances = new WeakMap<KafkaClient, Kafka>();

/** The options each handle was made from, for src/kafka's own connections (wire/). */
const optionsOf = new WeakMap<KafkaClient, KafkaClientOptions>();

/** For src/kafka modules only: the kafkajs instance behind a handle. */
export function kafkajsOf(client: KafkaClient): Kafka {
  const kafka = instances.get(client);
  if (kafka === undefined) {
    throw new CtflowError('KAFKA', 'not a Kafka client made by createKafka()', {
      details: { expected: 'the result of createKafka()' },
    });
  }
  return kafka;
}

/**
 * For src/kafka modules only: how to open connections of our own to the brokers of a handle (TLS settings
 * mapped for node:tls); `sasl` is set when the cluster wants SASL, which wire/ does not speak.
 */
export function connectionOptionsOf(client: KafkaClient): {
  brokers: readonly string[];
  clientId: string;
  tls: ConnectionOptions | true | undefined;
  sasl: boolean;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
} {
  const options = optionsOf.get(client);
  if (options === undefined) kafkajsOf(client); // throws the "not a Kafka client" error
  const o = options as KafkaClientOptions;
  const ssl = tlsOptions(o.ssl);
  return {
    brokers: client.brokers,
    clientId: client.clientId,
    tls: ssl === undefined || ssl === false ? undefined : ssl,
    sasl: o.sasl !== undefined,
    connectionTimeoutMs: o.connectionTimeoutMs ?? 3000,
    requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
  };
}

/**
 * Parses a comma-separated broker list ("h1:9092,h2:9092", IPv6 as "[::1]:9092") into "host:port" entries.
 * Throws CONFIG_INVALID naming the bad entry.
 */
export function parseBrokers(list: string): string[] {
  const entries = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) {
    throw new CtflowError('CONFIG_INVALID', 'no Kafka broker given: expected HOST:PORT[,HOST:PORT...]', {
      details: { field: 'brokers', value: list, expected: 'HOST:PORT[,HOST:PORT...]' },
    });
  }
  for (const entry of entries) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(entry);
    const port = match ? Number(match[2]) : Number.NaN;
    if (!match || port < 1 || port > 65535) {
      throw new CtflowError('CONFIG_INVALID', `bad Kafka broker "${entry}": expected HOST:PORT`, {
        details: { field: 'brokers', value: entry, expected: 'HOST:PORT with a port 1-65535' },
      });
    }
  }
  return entries;
}

function tlsOptions(ssl: boolean | KafkaTlsOptions | undefined): ConnectionOptions | boolean | undefined {
  if (ssl === undefined || typeof ssl === 'boolean') return ssl;
  const out: ConnectionOptions = {};
  if (ssl.ca !== undefined) out.ca = ssl.ca;
  if (ssl.cert !== undefined) out.cert = ssl.cert;
  if (ssl.key !== undefined) out.key = ssl.key;
  if (ssl.passphrase !== undefined) out.passphrase = ssl.passphrase;
  if (ssl.rejectUnauthorized !== undefined) out.rejectUnauthorized = ssl.rejectUnauthorized;
  if (ssl.servername !== undefined) out.servername = ssl.servername;
  return out;
}

function saslOptions(sasl: KafkaSaslOptions): SASLOptions {
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
}

/** Builds the kafkajs config for `options` (exported for unit tests of the mapping). */
export function kafkajsConfig(options: KafkaClientOptions): KafkaConfig {
  const logger = options.logger;
  const config: KafkaConfig = {
    brokers: [...options.brokers],
    clientId: options.clientId ?? 'ctflow',
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: {
      retries: options.retry?.retries ?? 5,
      initialRetryTime: options.retry?.initialRetryTimeMs ?? 300,
      maxRetryTime: options.retry?.maxRetryTimeMs ?? 30_000,
    },
    logLevel: logger ? LEVELS[options.logLevel ?? 'info'] : kafkajs.logLevel.NOTHING,
    // kafkajs logs to the console unless given a logCreator; route everything through the callback.
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, timestamp: _timestamp, ...fields } = entry.log;
      logger({ level: levelName(entry.level), namespace: entry.namespace, message, fields });
    },
  };
  const ssl = tlsOptions(options.ssl);
  if (ssl !== undefined) config.ssl = ssl;
  if (options.sasl !== undefined) config.sasl = saslOptions(options.sasl);
  return config;
}

/** Creates a handle on a cluster. Nothing connects until a producer, consumer or admin call needs it. */
export function createKafka(options: KafkaClientOptions): KafkaClient {
  if (options.brokers.length === 0) {
    throw new CtflowError('CONFIG_INVALID', 'no Kafka broker given', {
      details: { field: 'brokers', value: [], expected: 'at least one HOST:PORT' },
    });
  }
  const config = kafkajsConfig(options);
  const client: KafkaClient = Object.freeze({
    brokers: [...options.brokers],
    clientId: config.clientId ?? 'ctflow',
  });
  instances.set(client, new kafkajs.Kafka(config));
  optionsOf.set(client, options);
  return client;
}
