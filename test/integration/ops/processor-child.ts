/** `ctflow processor` (the real CLI) in a processor harness' group, for the operations tests. */
import { inject } from 'vitest';
import { type ProcessorHarness, TEST_FLOW_CONFIG } from '../processor/harness.js';
import { type CtflowChild, spawnCtflow } from './cli.js';

/** `ctflow processor` in the harness' group and topics, exporting to its collector. */
export function spawnProcessor(h: ProcessorHarness, shutdownTimeoutS: number): CtflowChild {
  return spawnCtflow([
    'processor',
    '--brokers',
    inject('kafkaBrokers'),
    '--collector',
    h.collectorUrl,
    '--group',
    h.groupId,
    '--observations-topic',
    h.topics.observations,
    '--flowstate-topic',
    h.topics.flowState,
    '--dead-letter-topic',
    h.topics.deadLetter,
    '--active-timeout',
    String(TEST_FLOW_CONFIG.activeTimeout),
    '--idle-timeout',
    String(TEST_FLOW_CONFIG.idleTimeout),
    '--session-timeout',
    '6000',
    '--heartbeat-interval',
    '300',
    '--metrics-listen',
    '127.0.0.1:0',
    '--set',
    `processor.shutdownTimeout=${shutdownTimeoutS}`,
  ]);
}
