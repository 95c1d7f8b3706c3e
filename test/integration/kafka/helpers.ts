/** Per-test Kafka names and clean-up, so tests never share topics or groups. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { type KafkaClient, createKafka, parseBrokers } from '../../../src/kafka/client.js';

/** A client on the broker the global setup provided. */
export function testKafka(clientId = 'ctflow-test'): KafkaClient {
  return createKafka({ brokers: parseBrokers(inject('kafkaBrokers')), clientId });
}

/** A name no other test or run uses: `<prefix>-<8 random hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Resolves when `predicate` holds, polling every 50 ms; rejects after `timeoutMs` with `what`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
