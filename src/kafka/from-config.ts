/**
 * The Kafka client settings of ctflow's configuration (kafka.* keys): brokers, client id, TLS files and
 * SASL with its password file read here, and kafkajs' logs sent to the ctflow logger.
 */
import { readSecretFile, saslPassword } from '../config/secrets.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../telemetry/logger.js';
import type { KafkaClientOptions, KafkaLogFn, KafkaTlsOptions } from './client.js';
import { DEFAULT_TOPIC_NAMES, type TopicNames } from './topics.js';

/** Forwards the Kafka client's log lines to a pino logger, under `component: "kafka"`. */
export function kafkaLogToLogger(logger: Logger): KafkaLogFn {
  const child = logger.child({ component: 'kafka' });
  return ({ level, namespace, message, fields }) => {
    child[level]({ namespace, ...fields }, message);
  };
}

/** Client options from the configuration. Reads the TLS and password files (CONFIG_INVALID if unreadable). */
export function kafkaClientOptions(config: Config, logger?: Logger): KafkaClientOptions {
  const k = config.kafka;
  const options: KafkaClientOptions = { brokers: k.brokers ?? [], clientId: k.clientId };
  if (k.ssl.enabled) {
    const tls: KafkaTlsOptions = { rejectUnauthorized: k.ssl.rejectUnauthorized };
    if (k.ssl.ca !== undefined) tls.ca = readSecretFile(k.ssl.ca, 'kafka.ssl.ca');
    if (k.ssl.cert !== undefined) tls.cert = readSecretFile(k.ssl.cert, 'kafka.ssl.cert');
    if (k.ssl.key !== undefined) tls.key = readSecretFile(k.ssl.key, 'kafka.ssl.key');
    options.ssl = tls;
  }
  if (k.sasl !== undefined) {
    options.sasl = {
      mechanism: k.sasl.mechanism,
      username: k.sasl.username,
      password: saslPassword(config) ?? '',
    };
  }
  if (logger !== undefined) {
    options.logger = kafkaLogToLogger(logger);
    // kafkajs is chatty at info (every group join, every connection); its warnings and errors matter.
    options.logLevel = logger.isLevelEnabled('debug') ? 'debug' : 'warn';
  }
  return options;
}

/** Topic names from the configuration. */
export function topicNames(config: Config): TopicNames {
  const t = config.kafka.topics;
  return {
    observations: t.observations ?? DEFAULT_TOPIC_NAMES.observations,
    flowState: t.flowstate ?? DEFAULT_TOPIC_NAMES.flowState,
    deadLetter: t.deadLetter ?? DEFAULT_TOPIC_NAMES.deadLetter,
  };
}
