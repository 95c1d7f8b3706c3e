/** `ctflow processor` (the real CLI) in a processor harness' group, for the operations tests. */
import { processorCliArgs } from '../processor/child.js';
import type { ProcessorHarness } from '../processor/harness.js';
import { type CtflowChild, spawnCtflow } from './cli.js';

/** `ctflow processor` in the harness' group and topics, exporting to its collector. */
export function spawnProcessor(
  h: ProcessorHarness,
  shutdownTimeoutS: number,
  input: 'wire' | 'kafkajs' = 'wire',
): CtflowChild {
  return spawnCtflow([
    ...processorCliArgs(h),
    '--set',
    `processor.shutdownTimeout=${shutdownTimeoutS}`,
    '--set',
    `processor.input=${input}`,
  ]);
}
