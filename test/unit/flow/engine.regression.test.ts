/**
 * Regression tests for bugs the property tests found while the engine was written; each names the
 * bug it pins.
 */
import { describe, expect, it } from 'vitest';
import { FlowEngine } from '../../../src/flow/engine.js';
import {
  type EngineOptions,
  FlowEndReason,
  type FlowRecord,
  type FlowStateEntry,
} from '../../../src/flow/types.js';
import { ctr, inverted, obs, SEC, T0, tuple, wm } from './helpers.js';

const OPTS: Partial<EngineOptions> = {
  activeTimeoutUs: 20 * SEC,
  idleTimeoutUs: 5 * SEC,
  forgetAfterUs: 200 * SEC,
};

function changelogAfter(e: FlowEngine, log: Map<string, FlowStateEntry>): FlowRecord[] {
  const out = e.drain();
  for (const c of out.changes) log.set(c.key, c);
  return out.records;
}

describe('flow engine regressions', () => {
  it('bug: a duplicate NEW after a POLL of the same instant rolled the TCP state back to SYN_SENT', () => {
    const e = new FlowEngine(OPTS);
    const created = obs({ kind: 'NEW', timeUs: T0, tcpState: 'SYN_SENT' });
    e.observe(created);
    e.observe(obs({ timeUs: T0, tcpState: 'ESTABLISHED' }));
    e.observe(structuredClone(created));
    expect(e.snapshot().find((s) => s.state?.flow)?.state?.flow?.tcpState).toBe('ESTABLISHED');
  });

  it('bug: after restore, a flow whose timer entry was early fired before another due at the same instant', () => {
    // Two flows due at the same instant must fire in creation (seq) order, restored or not.
    const a = tuple('10.0.0.1', 1, '10.0.0.2', 80);
    const b = tuple('10.0.0.1', 2, '10.0.0.2', 80);
    const inputs = [
      obs({ kind: 'NEW', timeUs: T0 + 1, orig: a, reply: inverted(a), conntrackId: 1 }),
      obs({ kind: 'NEW', timeUs: T0 + 1, orig: b, reply: inverted(b), conntrackId: 2 }),
      obs({ timeUs: T0 + 2, orig: a, reply: inverted(a), conntrackId: 1, counters: ctr(2) }),
      // (restore here)
      obs({ timeUs: T0 + 2, orig: b, reply: inverted(b), conntrackId: 2, counters: ctr(2) }),
    ];
    const run = (cut: boolean): number[] => {
      let e = new FlowEngine(OPTS);
      const log = new Map<string, FlowStateEntry>();
      const ids: number[] = [];
      inputs.forEach((o, i) => {
        e.observe(o);
        ids.push(...changelogAfter(e, log).map((r) => r.conntrackId));
        if (cut && i === 2) {
          e = new FlowEngine(OPTS);
          e.restore([...log.values()]);
        }
      });
      e.watermark(wm(T0 + 5 * SEC + 2));
      ids.push(...e.drain().records.map((r) => r.conntrackId));
      return ids;
    };
    expect(run(true)).toEqual([1, 2]);
    expect(run(false)).toEqual([1, 2]);
  });

  it('bug: a timer entry could become valid twice (re-pushed at its old deadline), so a presumed-gone node freed one slot twice', () => {
    const e = new FlowEngine({
      ...OPTS,
      endGraceUs: 2 * SEC,
      forgetAfterUs: 4 * SEC,
      nodeTimeoutUs: 90 * SEC,
    });
    e.observe(obs({ kind: 'NEW', timeUs: T0, counters: ctr(1) })); // entry 1: idle due T0+5 s
    e.observe(obs({ kind: 'UPDATE', timeUs: T0 + SEC, counters: ctr(2), tcpState: 'TIME_WAIT' })); // entry 2: end due T0+3 s
    e.watermark(wm(T0 + 3 * SEC)); // end-of-flow record; next deadline = forget at T0+5 s = entry 1's deadline
    e.watermark(wm(T0 + 3 * SEC, 'n2', 'b'));
    e.watermark(wm(T0 + 200 * SEC, 'n2', 'b')); // n1 presumed gone: its flow is dropped once
    expect(e.drain().records.map((r) => [r.node, r.endReason])).toEqual([['n1', 3]]);
    e.observe(obs({ kind: 'NEW', timeUs: T0 + 201 * SEC, conntrackId: 5, counters: ctr(1) }));
    e.observe(
      obs({ kind: 'NEW', timeUs: T0 + 201 * SEC, conntrackId: 6, node: 'n2', bootId: 'b', counters: ctr(1) }),
    );
    expect(e.size).toBe(2);
    e.shutdown();
    expect(
      e
        .drain()
        .records.map((r) => r.conntrackId)
        .sort(),
    ).toEqual([5, 6]);
  });

  it('bug: a flow met first at its NEW event kept the event time as start when the next dump had the kernel stamp', () => {
    // Measured in the embedded end-to-end test: with nf_conntrack_timestamp=1 a UDP flow started at
    // the NEW event's print time (12 ms after its first packet) instead of the kernel stamp.
    const e = new FlowEngine(OPTS);
    const k = T0 - 12_000;
    e.observe(obs({ kind: 'NEW', timeUs: T0, counters: ctr(1), kernelStartUs: null }));
    e.observe(obs({ kind: 'POLL', timeUs: T0 + SEC, counters: ctr(3), kernelStartUs: k }));
    e.observe(obs({ kind: 'POLL', timeUs: T0 + 2 * SEC, counters: ctr(4), kernelStartUs: k }));
    e.shutdown();
    const recs = e.drain().records;
    expect(recs.map((r) => [r.startUs, r.firstSeenMidLife, r.delta?.origPackets])).toEqual([[k, false, 4]]);
  });

  it('a kernel stamp seen after the first record was reported does not move that flow back', () => {
    const e = new FlowEngine(OPTS);
    e.observe(obs({ kind: 'NEW', timeUs: T0, counters: ctr(1), kernelStartUs: null }));
    e.watermark(wm(T0 + 30 * SEC)); // idle record at the NEW time
    e.observe(obs({ kind: 'POLL', timeUs: T0 + 31 * SEC, counters: ctr(2), kernelStartUs: T0 - 5000 }));
    e.shutdown();
    const recs = e.drain().records;
    expect(recs[0]!.startUs).toBe(T0);
    expect(recs.every((r) => r.startUs >= T0)).toBe(true);
  });

  it('bug: a forgotten flow met again started at its kernel stamp, overlapping its earlier records', () => {
    const e = new FlowEngine({ ...OPTS, forgetAfterUs: 30 * SEC });
    const k = T0 - 100 * SEC;
    e.observe(obs({ timeUs: T0, counters: ctr(5), kernelStartUs: k }));
    e.watermark(wm(T0 + 60 * SEC)); // idle record, then forgotten (not observed for 30 s)
    e.observe(obs({ timeUs: T0 + 61 * SEC, counters: ctr(9), kernelStartUs: k }));
    e.shutdown();
    const recs = e.drain().records;
    expect(recs.map((r) => [r.startUs, r.firstSeenMidLife])).toEqual([
      [k, false],
      [T0 + 61 * SEC, true],
    ]);
    expect(recs[1]!.startUs).toBeGreaterThanOrEqual(recs[0]!.endUs);
  });

  describe('bug: a timer fired on an observation split a flow whose new packets the next dump showed', () => {
    // Counters reach the engine only in dumps (POLL); the agent sends a watermark when a dump cycle
    // is complete. With idle ≤ the poll interval, an observation (of another flow, or the flow's own
    // next poll) past the idle deadline used to end the flow first: an idle record, then the same
    // connection again as a new interval, every poll. Timers now fire only on watermarks.
    const a = tuple('10.0.0.1', 40000, '10.0.0.2', 80);
    const b = tuple('10.0.0.1', 40001, '10.0.0.2', 443);
    const MS = 1000;
    /** Ten 1 s poll cycles: B at +100 ms, A at +250 ms, the watermark at +300 ms, an event of B at +700 ms. */
    function pollCycles(e: FlowEngine, growA: boolean): FlowRecord[] {
      const out: FlowRecord[] = [];
      e.observe(
        obs({ kind: 'NEW', timeUs: T0, orig: a, reply: inverted(a), conntrackId: 1, counters: ctr(1) }),
      );
      e.observe(
        obs({ kind: 'NEW', timeUs: T0, orig: b, reply: inverted(b), conntrackId: 2, counters: ctr(1) }),
      );
      for (let k = 1; k <= 10; k++) {
        const c = T0 + k * SEC;
        e.observe(
          obs({ timeUs: c + 100 * MS, orig: b, reply: inverted(b), conntrackId: 2, counters: ctr(2 * k) }),
        );
        const aPackets = growA ? 1 + k : 1;
        e.observe(
          obs({ timeUs: c + 250 * MS, orig: a, reply: inverted(a), conntrackId: 1, counters: ctr(aPackets) }),
        );
        e.watermark(wm(c + 300 * MS));
        const u = obs({ kind: 'UPDATE', timeUs: c + 700 * MS, orig: b, reply: inverted(b), conntrackId: 2 });
        e.observe({ ...u, counters: ctr(2 * k + 1) });
        out.push(...e.drain().records);
      }
      return out;
    }

    for (const idleMs of [500, 1000]) {
      it(`idle ${idleMs} ms, polls every 1 s, packets between every two dumps: no idle record, no split`, () => {
        const e = new FlowEngine({ ...OPTS, activeTimeoutUs: 60 * SEC, idleTimeoutUs: idleMs * MS });
        const during = pollCycles(e, true);
        expect(during).toEqual([]);
        e.shutdown();
        const recs = e.drain().records.filter((r) => r.conntrackId === 1);
        expect(
          recs.map((r) => [r.endReason, r.recordIndex, r.startUs, r.endUs, r.delta?.origPackets]),
        ).toEqual([[FlowEndReason.forcedEnd, 0, T0, T0 + 10 * SEC + 250 * MS, 11]]);
      });

      it(`idle ${idleMs} ms: a flow whose packets stop is reported idle at the first watermark past its deadline`, () => {
        const e = new FlowEngine({ ...OPTS, activeTimeoutUs: 60 * SEC, idleTimeoutUs: idleMs * MS });
        const recs = pollCycles(e, false).filter((r) => r.conntrackId === 1);
        // A grew last at its NEW (T0); the watermark of the first cycle (T0 + 1.3 s) passes the deadline.
        expect(recs.map((r) => [r.endReason, r.startUs, r.endUs, r.delta?.origPackets])).toEqual([
          [FlowEndReason.idleTimeout, T0, T0, 1],
        ]);
        expect(recs.every((r) => (r.delta?.origPackets ?? 0) > 0)).toBe(true);
      });
    }
  });
});
