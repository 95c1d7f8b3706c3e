import { describe, expect, it } from 'vitest';
import { engineOptions } from '../../../src/config/derive.js';
import { parseConfig } from '../../../src/config/load.js';
import { defaultObservationDomainId } from '../../../src/flow/domain-id.js';

describe('engineOptions', () => {
  it('maps nodes to configured observation domains, else the id derived from the name', () => {
    const config = parseConfig({
      node: { name: 'here', observationDomainId: 7 },
      ipfix: { observationDomains: { 'node-a': 42 } },
      flow: { activeTimeout: 30, idleTimeout: 1.5, endGrace: 2, forgetAfter: 120 },
    });
    const o = engineOptions(config, 'here');
    expect(o.observationDomainId?.('here')).toBe(7);
    expect(o.observationDomainId?.('node-a')).toBe(42);
    expect(o.observationDomainId?.('node-b')).toBe(defaultObservationDomainId('node-b'));
    expect(o).toMatchObject({
      activeTimeoutUs: 30_000_000,
      idleTimeoutUs: 1_500_000,
      endGraceUs: 2_000_000,
      forgetAfterUs: 120_000_000,
    });
    // A processor has no local node: the configured map and the derived ids only.
    expect(engineOptions(config).observationDomainId?.('here')).toBe(defaultObservationDomainId('here'));
  });

  it('refuses an observation domain id of 0', () => {
    expect(() => parseConfig({ ipfix: { observationDomains: { x: 0 } } })).toThrow(
      /ipfix\.observationDomains\.x/,
    );
  });
});
