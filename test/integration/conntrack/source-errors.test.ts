import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConntrackSource } from '../../../src/conntrack/source.js';
import type { CtflowError } from '../../../src/errors.js';
import type { Observation } from '../../../src/flow/types.js';

const FAKE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'fixtures',
  'conntrack',
  'fake-conntrack.sh',
);

describe('ConntrackSource on output it cannot parse', () => {
  it('reports each bad line as a counted CONNTRACK_PARSE error with its line number, and goes on', async () => {
    const obs: Observation[] = [];
    const errors: CtflowError[] = [];
    const source = new ConntrackSource(
      { node: 'n', pollIntervalMs: 60_000, conntrackBin: FAKE },
      { onObservation: (o) => obs.push(o), onWatermark: () => {}, onError: (e) => errors.push(e) },
    );
    try {
      await source.start();
      // Give the event replay a moment to be read.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await source.stop();
    }
    const parse = errors.filter((e) => e.code === 'CONNTRACK_PARSE');
    expect(parse.map((e) => [e.details.source, e.details.line])).toEqual(
      expect.arrayContaining([
        ['dump', 6],
        ['events', 4],
      ]),
    );
    expect(parse.find((e) => e.details.source === 'dump')!.message).toContain('<src>10.0.0.1</src>');
    expect(source.stats.parseErrors).toBe(2);
    // Every good line still made it: 11 dump entries and the 40 good events.
    expect(
      obs.filter((o) => o.kind === 'POLL').length + obs.filter((o) => o.kind === 'NEW').length,
    ).toBeGreaterThan(11);
    expect(source.stats.lastPoll?.entries).toBe(11);
    expect(source.stats.events?.events).toBe(40);
    expect(source.stats.events?.parseErrors).toBe(1);
    for (const o of obs) expect(o.orig.src).not.toBe('10.0.0.1');
  });
});
