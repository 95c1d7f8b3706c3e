import 'vitest';
import type { TestProject } from 'vitest/node';
import { startTestKafka } from '../rig/kafka-broker.js';

/**
 * Integration global setup: a real Kafka broker for every integration test, provided as `kafkaBrokers`
 * ("host:port[,...]"). KAFKA_BROKERS wins when set; else Docker (testcontainers) when an engine answers;
 * else the local KRaft broker from scripts/kafka-local.sh; else the run fails with what is missing.
 * Kafka tests are never skipped.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const kafka = await startTestKafka();
  if (kafka.mode !== 'env') {
    process.stderr.write(
      `integration: Kafka (${kafka.mode}) at ${kafka.brokers} in ${Date.now() - started} ms\n`,
    );
  }
  project.provide('kafkaBrokers', kafka.brokers);
  return () => kafka.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}
