import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EncodedChanges } from '../../../src/flow/change-writer.js';
import { FlowEngine } from '../../../src/flow/engine.js';
import { FlowStateCodec } from '../../../src/flow/state-codec.js';
import type { EngineOptions, FlowStateEntry, Observation } from '../../../src/flow/types.js';
import { ctr, obs, SEC, T0, tuple, wm } from './helpers.js';
import { planArb, simulate } from './stream-gen.js';

const codec = new FlowStateCodec();
const BUSY: Partial<EngineOptions> = {
  activeTimeoutUs: 20 * SEC,
  idleTimeoutUs: 5 * SEC,
  endGraceUs: 2 * SEC,
  forgetAfterUs: 200 * SEC,
  nodeTimeoutUs: 90 * SEC,
  maxLifeUs: 150 * SEC,
};

/** drainEncoded()'s entries as [key text, value bytes | null]. */
function entries(c: EncodedChanges): [string, Buffer | null][] {
  const out: [string, Buffer | null][] = [];
  for (let i = 0; i < c.count; i++) {
    const key = c.bytes.toString('utf8', c.pos[4 * i], c.pos[4 * i + 1]);
    const vs = c.pos[4 * i + 2] as number;
    out.push([key, vs < 0 ? null : Buffer.from(c.bytes.subarray(vs, c.pos[4 * i + 3]))]);
  }
  return out;
}

/** What drain()'s changes are as changelog messages (the processor's encoding). */
function expected(changes: readonly FlowStateEntry[]): [string, Buffer | null][] {
  return changes.map((c) => [c.key, codec.encode(c.state)]);
}

describe('drainEncoded()', () => {
  it("gives drain()'s records and, as bytes, exactly the changelog messages of its changes", () => {
    fc.assert(
      fc.property(planArb(), fc.array(fc.nat(), { maxLength: 8 }), (plan, cuts) => {
        const { inputs } = simulate(plan);
        const a = new FlowEngine(BUSY);
        const b = new FlowEngine(BUSY);
        const drainAt = new Set(cuts.map((c) => c % (inputs.length + 1)));
        const compare = (): void => {
          const x = a.drain();
          const y = b.drainEncoded(codec);
          expect(y.records).toEqual(x.records);
          expect(entries(y.changes)).toEqual(expected(x.changes));
          expect(b.pendingChanges).toBe(0);
        };
        inputs.forEach((input, i) => {
          if (drainAt.has(i)) compare();
          if (input.type === 'obs') {
            a.observe(input.value);
            b.observe(input.value);
          } else {
            a.watermark(input.value);
            b.watermark(input.value);
          }
        });
        compare();
        a.shutdown();
        b.shutdown();
        compare();
      }),
      { numRuns: 200 },
    );
  }, 120_000);

  it('writes wide, NAT, ICMP, accounting-less, large-counter and non-ASCII-node flows exactly', () => {
    const a = new FlowEngine();
    const b = new FlowEngine();
    const big = 2 ** 52 + 7; // beyond 32-bit varint arithmetic, still exact
    const list: Observation[] = [
      obs({ timeUs: T0, kind: 'NEW', kernelStartUs: T0 - SEC }),
      obs({ timeUs: T0, node: 'nœud-é', orig: tuple('10.1.1.1', 1, '10.1.1.2', 2), conntrackId: 2 }),
      obs({ timeUs: T0, node: '节点', orig: tuple('10.1.1.1', 1, '10.1.1.2', 2), conntrackId: 3 }),
      obs({ timeUs: T0, orig: tuple('fd00::1', 5, 'fd00::2', 6), conntrackId: 4 }),
      obs({
        timeUs: T0,
        orig: tuple('10.0.0.9', 1000, '10.96.0.1', 443),
        reply: tuple('10.244.1.5', 8443, '10.0.0.9', 1000),
        conntrackId: 5,
      }),
      obs({
        timeUs: T0,
        protocol: 1,
        orig: { ...tuple('10.0.0.1', 0, '10.0.0.3', 0), icmpType: 8, icmpCode: 0, icmpId: 77 },
        reply: { ...tuple('10.0.0.3', 0, '10.0.0.1', 0), icmpType: 0, icmpCode: 0, icmpId: 77 },
        conntrackId: 6,
      }),
      obs({ timeUs: T0, counters: null, orig: tuple('10.0.0.1', 7, '10.0.0.4', 8), conntrackId: 0xffffffff }),
      obs({
        timeUs: T0,
        orig: tuple('10.0.0.1', 9, '10.0.0.5', 10),
        conntrackId: 8,
        mark: 0xffffffff,
        counters: { origPackets: big, origBytes: 2 ** 40, replyPackets: 2 ** 31, replyBytes: 2 ** 32 - 1 },
        tcpState: 'TIME_WAIT',
      }),
      obs({
        timeUs: T0,
        orig: tuple('10.0.0.1', 11, '10.0.0.6', 12),
        conntrackId: 0x40000000,
        // Around the writer's varint paths: < 2^30, 2^30, < 2^32, 2^52.
        counters: {
          origPackets: 2 ** 30 - 1,
          origBytes: 2 ** 30,
          replyPackets: 2 ** 32 - 1,
          replyBytes: 2 ** 52,
        },
      }),
      obs({ timeUs: T0 + SEC, kind: 'DESTROY', counters: ctr(5) }),
    ];
    for (const o of list) {
      a.observe(o);
      b.observe(o);
    }
    for (const e of [a, b]) e.watermark(wm(T0 + 100 * SEC));
    const x = a.drain();
    const y = b.drainEncoded(codec);
    expect(x.changes.length).toBeGreaterThan(list.length);
    expect(x.changes.some((c) => c.state === null)).toBe(true); // a tombstone
    expect(y.records).toEqual(x.records);
    expect(entries(y.changes)).toEqual(expected(x.changes));
    // Each call hands out its own buffer: an earlier result stays valid after the next drain.
    const kept = entries(y.changes);
    for (const e of [a, b]) e.observe(obs({ timeUs: T0 + 200 * SEC, conntrackId: 9, counters: ctr(9) }));
    expect(entries(b.drainEncoded(codec).changes)).toEqual(expected(a.drain().changes));
    expect(entries(y.changes)).toEqual(kept);
  });

  it('writes values a restore reads back to the same engine', () => {
    const e = new FlowEngine();
    for (let i = 0; i < 50; i++) {
      e.observe(
        obs({
          timeUs: T0 + i,
          orig: tuple('10.0.0.1', 1000 + i, '10.0.1.1', 443),
          conntrackId: i + 1,
          counters: ctr(i * 1000),
        }),
      );
    }
    const snapshot = e.snapshot();
    const all = entries(e.drainEncoded(codec).changes);
    const r = new FlowEngine();
    r.restoreEncoded(all, codec);
    expect(r.snapshot()).toEqual(snapshot);
  });
});
