import 'vitest';
import type { TestProject } from 'vitest/node';

/**
 * Integration global setup: provides `kafkaBrokers` to tests. KAFKA_BROKERS wins when set.
 * (Kafka start-up via testcontainers or the local KRaft script is being added.)
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set and no local Kafka launcher exists yet');
  project.provide('kafkaBrokers', brokers);
  return async () => {};
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}
