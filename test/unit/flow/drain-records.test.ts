import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFlowEngine } from '../../../src/flow/engine.js';
import type { FlowEngineApi, FlowRecord } from '../../../src/flow/types.js';
import { planArb, simulate } from './stream-gen.js';

function run(engine: FlowEngineApi, inputs: ReturnType<typeof simulate>['inputs'], take: () => FlowRecord[]) {
  const out: FlowRecord[] = [];
  for (const input of inputs) {
    if (input.type === 'obs') engine.observe(input.value);
    else engine.watermark(input.value);
    out.push(...take());
  }
  engine.shutdown();
  out.push(...take());
  return out;
}

describe('drainRecords (embedded mode, no changelog)', () => {
  it('releases exactly the records drain() releases', () => {
    fc.assert(
      fc.property(planArb(80), (plan) => {
        const { inputs } = simulate(plan);
        const a = createFlowEngine({ activeTimeoutUs: 7_000_000, idleTimeoutUs: 3_000_000 });
        const b = createFlowEngine({ activeTimeoutUs: 7_000_000, idleTimeoutUs: 3_000_000 });
        const viaDrain = run(a, inputs, () => a.drain().records);
        const viaRecords = run(b, inputs, () => b.drainRecords());
        expect(viaRecords).toEqual(viaDrain);
        expect(b.drain().changes).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});
