/** Defaults and validation of the flow engine's options. */
import { CtflowError } from '../errors.js';
import { defaultObservationDomainId } from './domain-id.js';
import type { EngineOptions } from './types.js';

const S = 1_000_000;

/**
 * Defaults: active 60 s and idle 15 s (the common router defaults the seed report recommends),
 * maximum life 7 days, node presumed gone after 5 min without event time, TCP end of flow
 * reported 5 s after TIME_WAIT/CLOSE, quiet flows forgotten after 10 min without observation.
 */
export const DEFAULT_ENGINE_OPTIONS: Readonly<EngineOptions> = Object.freeze({
  activeTimeoutUs: 60 * S,
  idleTimeoutUs: 15 * S,
  maxLifeUs: 7 * 86_400 * S,
  nodeTimeoutUs: 300 * S,
  endGraceUs: 5 * S,
  forgetAfterUs: 600 * S,
  suppressZeroDeltaActive: true,
  observationDomainId: defaultObservationDomainId,
});

const POSITIVE = ['activeTimeoutUs', 'idleTimeoutUs', 'endGraceUs', 'forgetAfterUs'] as const;
const NON_NEGATIVE = ['maxLifeUs', 'nodeTimeoutUs'] as const;

/** Fills defaults and checks durations (integers; 0 disables maxLife and the node timeout). */
export function resolveEngineOptions(partial: Partial<EngineOptions> = {}): EngineOptions {
  const o: EngineOptions = { ...DEFAULT_ENGINE_OPTIONS, ...partial };
  for (const name of POSITIVE) check(name, o[name], 1);
  for (const name of NON_NEGATIVE) check(name, o[name], 0);
  return o;
}

function check(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new CtflowError('CONFIG_INVALID', `flow engine option ${name} = ${value} is invalid`, {
      details: { field: name, value, expected: `an integer number of µs ≥ ${min}` },
    });
  }
}
