import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowEngine } from '../../../src/flow/engine.js';
import { flowKey } from '../../../src/flow/key.js';
import { FlowStateCodec } from '../../../src/flow/state-codec.js';
import {
  type EngineOptions,
  FlowEndReason,
  type FlowRecord,
  type FlowStateEntry,
  type Observation,
} from '../../../src/flow/types.js';
import { SEC } from './helpers.js';
import { type Input, planArb, simulate } from './stream-gen.js';

/** Short timers so that generated streams hit every one of them. */
const BUSY: Partial<EngineOptions> = {
  activeTimeoutUs: 20 * SEC,
  idleTimeoutUs: 5 * SEC,
  endGraceUs: 2 * SEC,
  forgetAfterUs: 200 * SEC,
  nodeTimeoutUs: 90 * SEC,
  maxLifeUs: 150 * SEC,
};

/** For exact accounting: nothing forgotten or presumed gone while the kernel still has it. */
const EXACT: Partial<EngineOptions> = {
  activeTimeoutUs: 20 * SEC,
  idleTimeoutUs: 5 * SEC,
  endGraceUs: 2 * SEC,
  forgetAfterUs: 10 * 86_400 * SEC,
  nodeTimeoutUs: 0,
  maxLifeUs: 0,
};

function feed(engine: FlowEngine, input: Input): void {
  if (input.type === 'obs') engine.observe(input.value);
  else engine.watermark(input.value);
}

/**
 * Feeds every input, drains after each, and checks that every record satisfies
 * 0 < start ≤ end ≤ the event time of its node when it was released, and that timers fire on
 * watermarks only: an observation of a node's current boot releases end-of-flow records of that
 * node (DESTROY, TCP close, a new connection on the key) and at most the active-timeout record of
 * the very flow it observes (its own next observation past the deadline), never idle or forced
 * ends, nor any timer record of another flow.
 */
function runChecked(options: Partial<EngineOptions>, inputs: readonly Input[]): FlowRecord[] {
  const engine = new FlowEngine(options);
  const nodeTime = new Map<string, number>();
  const nodeBoot = new Map<string, string>();
  const out: FlowRecord[] = [];
  const check = (records: FlowRecord[], by?: Observation): void => {
    for (const r of records) {
      const released = nodeTime.get(r.node) ?? 0;
      if (!(r.startUs > 0 && r.startUs <= r.endUs && r.endUs <= released)) {
        throw new Error(`time invariant broken: ${JSON.stringify(r)} released at ${released}`);
      }
      if (
        by !== undefined &&
        r.node === by.node &&
        r.endReason !== FlowEndReason.endOfFlow &&
        !(r.endReason === FlowEndReason.activeTimeout && r.key === flowKey(by))
      ) {
        throw new Error(`a timer fired on an observation: ${JSON.stringify(r)}`);
      }
      out.push(r);
    }
  };
  for (const input of inputs) {
    const { node, bootId } = input.value;
    nodeTime.set(node, Math.max(nodeTime.get(node) ?? 0, input.value.timeUs));
    const sameBoot = nodeBoot.get(node) === bootId;
    nodeBoot.set(node, bootId);
    feed(engine, input);
    check(engine.drain().records, input.type === 'obs' && sameBoot ? input.value : undefined);
  }
  engine.shutdown();
  check(engine.drain().records);
  return out;
}

function runPlain(
  options: Partial<EngineOptions>,
  inputs: readonly Input[],
): { records: FlowRecord[]; engine: FlowEngine } {
  const engine = new FlowEngine(options);
  const records: FlowRecord[] = [];
  for (const input of inputs) {
    feed(engine, input);
    records.push(...engine.drain().records);
  }
  return { records, engine };
}

function byKey(records: readonly FlowRecord[]): Map<string, FlowRecord[]> {
  const m = new Map<string, FlowRecord[]>();
  for (const r of records) {
    const list = m.get(r.key) ?? [];
    list.push(r);
    m.set(r.key, list);
  }
  return m;
}

function sortedState(entries: readonly FlowStateEntry[]): [string, unknown][] {
  return entries
    .filter((e) => e.state !== null)
    .map((e): [string, unknown] => [e.key, JSON.parse(JSON.stringify(e.state))])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const RUNS = { numRuns: 150 };
/** Generous: the properties take ~1-3 s each, more on a loaded machine. */
const TIMEOUT = 120_000;

describe('flow engine properties', () => {
  it(
    'deltas of every connection add up exactly to its last absolute counters; first start is the connection start',
    () => {
      fc.assert(
        fc.property(planArb(), (plan) => {
          const { inputs, truth } = simulate(plan);
          const records = runChecked(EXACT, inputs);
          const grouped = byKey(records);
          expect([...grouped.keys()].sort()).toEqual([...truth.keys()].sort());
          for (const [key, conns] of truth) {
            const recs = grouped.get(key) ?? [];
            // Split the key's records into connections: recordIndex 0 starts one.
            const groups: FlowRecord[][] = [];
            for (const r of recs) {
              if (r.recordIndex === 0) groups.push([]);
              groups[groups.length - 1]?.push(r);
            }
            expect(groups.length).toBe(conns.length);
            conns.forEach((conn, i) => {
              const g = groups[i] as FlowRecord[];
              expect(g[0]?.startUs).toBe(conn.startUs);
              g.forEach((r, j) => {
                expect(r.recordIndex).toBe(j);
                expect(r.startUs).toBeGreaterThanOrEqual(conn.startUs);
              });
              if (conn.last === null) {
                for (const r of g) expect(r.delta).toBeNull();
              } else {
                const sum = { origPackets: 0, origBytes: 0, replyPackets: 0, replyBytes: 0 };
                for (const r of g) {
                  const d = r.delta!;
                  expect(
                    Math.min(d.origPackets, d.origBytes, d.replyPackets, d.replyBytes),
                  ).toBeGreaterThanOrEqual(0);
                  sum.origPackets += d.origPackets;
                  sum.origBytes += d.origBytes;
                  sum.replyPackets += d.replyPackets;
                  sum.replyBytes += d.replyBytes;
                }
                expect(sum).toEqual(conn.last);
                expect(g[g.length - 1]?.total).toEqual(conn.last);
              }
            });
            // Consecutive records of a key never overlap.
            for (let i = 1; i < recs.length; i++) {
              expect(recs[i]!.startUs).toBeGreaterThanOrEqual(recs[i - 1]!.endUs);
            }
          }
        }),
        RUNS,
      );
    },
    TIMEOUT,
  );

  it(
    'every record has 0 < start ≤ end ≤ its node time at release, records of a flow do not overlap, and an active record after the first covers less than one active timeout (all timers short)',
    () => {
      fc.assert(
        fc.property(planArb(), (plan) => {
          const { inputs } = simulate(plan);
          for (const recs of byKey(runChecked(BUSY, inputs)).values()) {
            for (let i = 1; i < recs.length; i++) {
              expect(recs[i]!.startUs).toBeGreaterThanOrEqual(recs[i - 1]!.endUs);
            }
            for (const r of recs) {
              if (r.endReason === FlowEndReason.activeTimeout && r.recordIndex > 0) {
                expect(r.endUs - r.startUs).toBeLessThan(BUSY.activeTimeoutUs as number);
              }
            }
          }
        }),
        RUNS,
      );
    },
    TIMEOUT,
  );

  it(
    'duplicating any inputs (right after, or later) changes nothing',
    () => {
      fc.assert(
        fc.property(
          planArb(),
          fc.array(fc.tuple(fc.nat(), fc.nat(5)), { minLength: 1, maxLength: 10 }),
          fc.constantFrom(BUSY, EXACT),
          (plan, dups, options) => {
            const { inputs } = simulate(plan);
            if (inputs.length === 0) return;
            const withDups: Input[] = [...inputs];
            // Insert from the back so earlier indices stay valid.
            const picks = dups
              .map(([i, later]) => [i % inputs.length, later] as const)
              .sort((a, b) => b[0] - a[0]);
            for (const [i, later] of picks) {
              const at = Math.min(withDups.length, i + 1 + later);
              withDups.splice(at, 0, structuredClone(inputs[i] as Input));
            }
            const a = runPlain(options, inputs);
            const b = runPlain(options, withDups);
            expect(b.records).toEqual(a.records);
            expect(sortedState(b.engine.snapshot())).toEqual(sortedState(a.engine.snapshot()));
            a.engine.shutdown();
            b.engine.shutdown();
            expect(b.engine.drain().records).toEqual(a.engine.drain().records);
          },
        ),
        RUNS,
      );
    },
    TIMEOUT,
  );

  it(
    'snapshot → restore (through the Avro changelog codec) → continue equals never stopping',
    () => {
      const codec = new FlowStateCodec();
      fc.assert(
        fc.property(
          planArb(),
          fc.array(fc.nat(), { maxLength: 4 }),
          fc.constantFrom(BUSY, EXACT),
          (plan, cuts, options) => {
            const { inputs } = simulate(plan);
            const reference = runPlain(options, inputs);
            reference.engine.shutdown();
            const expected = [...reference.records, ...reference.engine.drain().records];

            const cutAt = new Set(cuts.map((c) => (inputs.length === 0 ? 0 : c % inputs.length)));
            let engine = new FlowEngine(options);
            const changelog = new Map<string, Buffer | null>();
            const got: FlowRecord[] = [];
            inputs.forEach((input, i) => {
              feed(engine, input);
              const out = engine.drain();
              got.push(...out.records);
              for (const c of out.changes) changelog.set(c.key, codec.encode(c.state));
              if (cutAt.has(i)) {
                const entries = [...changelog].map(([key, v]) => codec.decodeEntry(key, v));
                // The changelog holds exactly the engine's state.
                expect(sortedState(entries)).toEqual(sortedState(engine.snapshot()));
                engine = new FlowEngine(options);
                engine.restore(entries);
              }
            });
            engine.shutdown();
            got.push(...engine.drain().records);
            expect(got).toEqual(expected);
          },
        ),
        { numRuns: 100 },
      );
    },
    TIMEOUT,
  );

  it(
    'same input, same output',
    () => {
      fc.assert(
        fc.property(planArb(), (plan) => {
          const { inputs } = simulate(plan);
          const a = runPlain(BUSY, inputs);
          const b = runPlain(BUSY, simulate(plan).inputs);
          expect(b.records).toEqual(a.records);
          expect(b.engine.snapshot()).toEqual(a.engine.snapshot());
        }),
        { numRuns: 50 },
      );
    },
    TIMEOUT,
  );
});
