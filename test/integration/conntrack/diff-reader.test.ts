import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackSource } from '../../../src/conntrack/source.js';
import { IPS } from '../../../src/conntrack/status.js';
import type { CtflowError } from '../../../src/errors.js';
import type { Observation } from '../../../src/flow/types.js';
import { buildCtnetlink } from '../../rig/ctnetlink.js';
import { createNetnsPair, inNetns, type NetnsPair } from '../../rig/netns.js';

/** `conntrack -I` arguments of hand-made UDP entry `n` (10.9.8.1:n -> 10.9.8.2:53, 10 min timeout). */
function entryArgs(n: number): string[] {
  return ['-p', 'udp', '-s', '10.9.8.1', '-d', '10.9.8.2', '--sport', String(n), '--dport', '53'];
}

/**
 * The ctnetlink reader's diffed dumps (`ctnetlink serve`) against the real kernel: what the tool
 * leaves out of its fingerprint (the timeout countdown) never makes an entry "changed", what it keeps
 * (mark, counters) does, and an entry deleted between polls is reported gone.
 */
describe('ctnetlink serve: diffed dumps of a real table', () => {
  let pair: NetnsPair;
  let source: ConntrackSource;
  const obs: Observation[] = [];
  const errors: CtflowError[] = [];
  const ENTRIES = 50;

  beforeAll(async () => {
    pair = await createNetnsPair({ acct: 1, timestamp: 1 });
    for (let n = 1; n <= ENTRIES; n++) {
      await pair.exec(pair.node, ['conntrack', '-I', ...entryArgs(n), '-t', '600']);
    }
    source = new ConntrackSource(
      {
        node: 'test-node',
        pollIntervalMs: 3_600_000,
        // Polls only: every change below must come from the diffed dumps themselves.
        events: false,
        commandPrefix: inNetns(pair.node, []),
        reader: 'ctnetlink',
        ctnetlinkBin: await buildCtnetlink(),
      },
      { onObservation: (o) => obs.push(o), onWatermark: () => {}, onError: (e) => errors.push(e) },
    );
    await source.start();
  }, 120_000);

  afterAll(async () => {
    await source?.stop();
    await pair?.dispose();
  });

  it('prints every entry on the first poll, then none while only their timeouts tick down', async () => {
    expect(source.stats.lastPoll?.diff).toEqual({ printed: ENTRIES, gone: 0, full: true });
    expect(obs.filter((o) => o.kind === 'POLL')).toHaveLength(ENTRIES);
    // conntrack prints the remaining timeout in seconds: let it change.
    await new Promise((r) => setTimeout(r, 1100));
    const before = obs.length;
    const result = await source.pollOnce();
    expect(result).toMatchObject({
      entries: ENTRIES,
      reported: 0,
      diff: { printed: 0, gone: 0, full: false },
    });
    expect(obs.length).toBe(before);
    expect(source.readerPid).toBeTypeOf('number');
  });

  it('prints only an entry whose mark changed, and reports it', async () => {
    await pair.exec(pair.node, ['conntrack', '-U', ...entryArgs(7), '-m', '42']);
    const before = obs.length;
    const result = await source.pollOnce();
    expect(result).toMatchObject({ reported: 1, diff: { printed: 1, gone: 0, full: false } });
    expect(obs.slice(before)).toMatchObject([{ kind: 'POLL', mark: 42, orig: { srcPort: 7 } }]);
  });

  it('reports an entry deleted between polls as gone: a synthetic DESTROY, once', async () => {
    await pair.exec(pair.node, ['conntrack', '-D', ...entryArgs(9)]);
    const before = obs.length;
    const result = await source.pollOnce();
    expect(result).toMatchObject({ entries: ENTRIES - 1, reported: 0, diff: { printed: 0, gone: 1 } });
    const destroyed = obs.slice(before);
    expect(destroyed).toMatchObject([{ kind: 'DESTROY', orig: { srcPort: 9 } }]);
    expect((destroyed[0]?.status ?? 0) & IPS.DYING).toBe(IPS.DYING);
    expect(await source.pollOnce()).toMatchObject({ entries: ENTRIES - 1, diff: { printed: 0, gone: 0 } });
    expect(obs.length).toBe(before + 1);
    expect(errors).toEqual([]);
  });

  it('a poll due while this event loop is busy is dumped at its time: the reader starts it itself', async () => {
    await pair.exec(pair.node, ['conntrack', '-U', ...entryArgs(11), '-m', '43']);
    const before = obs.length;
    const dueMs = Date.now() + 300;
    const polled = source.pollOnce(dueMs);
    // Let the poll ask for its dump (`dump at`), then keep this event loop busy from before the due
    // time to 400 ms past it, as a large batch of records or a GC pause would.
    await new Promise((r) => setTimeout(r, 50));
    while (Date.now() < dueMs + 400) {
      // busy
    }
    const result = await polled;
    expect(result).toMatchObject({ reported: 1, diff: { printed: 1, gone: 0, full: false } });
    const [o] = obs.slice(before);
    expect(o).toMatchObject({ kind: 'POLL', mark: 43, orig: { srcPort: 11 } });
    // Timed by the reader's receive stamp, at the due time, not when this loop got to the poll.
    expect(o!.timeUs).toBeGreaterThanOrEqual(dueMs * 1000);
    expect(o!.timeUs).toBeLessThan((dueMs + 100) * 1000);
    expect(errors).toEqual([]);
  });
});
