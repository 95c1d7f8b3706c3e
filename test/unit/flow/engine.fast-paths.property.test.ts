import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { schemaFingerprint } from '../../../src/codec/canonical.js';
import { fingerprintBytesLE } from '../../../src/codec/rabin.js';
import { loadSchemaFile, schemasDir } from '../../../src/codec/schema-files.js';
import { SINGLE_OBJECT_HEADER_LENGTH } from '../../../src/codec/single-object.js';
import { FlowEngine } from '../../../src/flow/engine.js';
import { FLOWSTATE_V1, FlowStateCodec } from '../../../src/flow/state-codec.js';
import type {
  EngineOptions,
  FlowRecord,
  NodeState,
  Observation,
  StateValue,
} from '../../../src/flow/types.js';
import { ctr, obs, SEC, T0, tuple, wm } from './helpers.js';
import { type Input, planArb, simulate } from './stream-gen.js';

const BUSY: Partial<EngineOptions> = {
  activeTimeoutUs: 20 * SEC,
  idleTimeoutUs: 5 * SEC,
  endGraceUs: 2 * SEC,
  forgetAfterUs: 200 * SEC,
  nodeTimeoutUs: 90 * SEC,
  maxLifeUs: 150 * SEC,
};
const EXACT: Partial<EngineOptions> = {
  activeTimeoutUs: 20 * SEC,
  idleTimeoutUs: 5 * SEC,
  endGraceUs: 2 * SEC,
  forgetAfterUs: 10 * 86_400 * SEC,
  nodeTimeoutUs: 0,
  maxLifeUs: 0,
};

/** Everything observable about an engine after a run. */
function outcome(engine: FlowEngine, records: FlowRecord[]): unknown {
  engine.shutdown();
  const last = engine.drain();
  return { records: [...records, ...last.records], snapshot: engine.snapshot(), stats: { ...engine.stats } };
}

/** Feeds inputs one by one (observe()), draining after each. */
function runOneByOne(options: Partial<EngineOptions>, inputs: readonly Input[]): unknown {
  const engine = new FlowEngine(options);
  const records: FlowRecord[] = [];
  const changes: unknown[] = [];
  for (const input of inputs) {
    if (input.type === 'obs') engine.observe(input.value);
    else engine.watermark(input.value);
  }
  const out = engine.drain();
  records.push(...out.records);
  changes.push(...out.changes);
  return { ...(outcome(engine, records) as object), changes };
}

/** Feeds runs of consecutive observations through observeBatch(), cut where `cuts` says. */
function runBatched(
  options: Partial<EngineOptions>,
  inputs: readonly Input[],
  cuts: ReadonlySet<number>,
): unknown {
  const engine = new FlowEngine(options);
  const records: FlowRecord[] = [];
  const changes: unknown[] = [];
  let batch: Observation[] = [];
  const flush = (): void => {
    if (batch.length > 0) engine.observeBatch(batch);
    batch = [];
  };
  inputs.forEach((input, i) => {
    if (input.type === 'obs') {
      batch.push(input.value);
      if (cuts.has(i)) flush();
    } else {
      flush();
      engine.watermark(input.value);
    }
  });
  flush();
  const out = engine.drain();
  records.push(...out.records);
  changes.push(...out.changes);
  return { ...(outcome(engine, records) as object), changes };
}

describe('observeBatch() equals observe() one by one', () => {
  it('on generated streams (duplicates, reboots, id reuse, IPv6, NAT, all nodes interleaved)', () => {
    fc.assert(
      fc.property(
        planArb(),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom(BUSY, EXACT),
        (plan, cutList, options) => {
          const { inputs } = simulate(plan);
          // Watermarks left out too: one batch then spans many time steps of every node.
          const obsOnly = inputs.filter((x) => x.type === 'obs');
          const cuts = new Set(cutList.map((c) => (inputs.length === 0 ? 0 : c % inputs.length)));
          expect(runBatched(options, inputs, cuts)).toEqual(runOneByOne(options, inputs));
          expect(runBatched(options, obsOnly, new Set())).toEqual(runOneByOne(options, obsOnly));
        },
      ),
      { numRuns: 100 },
    );
  }, 120_000);

  it('across chunk boundaries, with a flow repeated inside one batch and new flows and nodes mid-batch', () => {
    const inputs: Input[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 700; i++) {
        const node = `n${i % 3}`;
        // Flow i % 450: every flow of the first 250 appears twice per round.
        const f = i % 450;
        const value = obs({
          node,
          timeUs: T0 + round * 7 * SEC + Math.floor(i / 3),
          conntrackId: f + 1 + (round === 3 && f % 50 === 0 ? 10_000 : 0),
          orig: tuple(`10.1.${f >> 8}.${f & 255}`, 1000 + f, '10.2.0.1', 443),
          counters: { origPackets: round * 10 + i, origBytes: 0, replyPackets: 0, replyBytes: 0 },
          kind: round === 0 && i < 450 ? 'NEW' : 'POLL',
        });
        inputs.push({ type: 'obs', value });
      }
    }
    expect(runBatched(EXACT, inputs, new Set())).toEqual(runOneByOne(EXACT, inputs));
    expect(runBatched(BUSY, inputs, new Set([100, 1000]))).toEqual(runOneByOne(BUSY, inputs));
  });

  it('applies the observations before a bad one, then throws the same error', () => {
    const good = [obs({ timeUs: T0 }), obs({ timeUs: T0 + SEC, orig: tuple('10.0.0.5', 1, '10.0.0.6', 2) })];
    const bad = obs({ timeUs: -5 });
    const a = new FlowEngine();
    for (const o of good) a.observe(o);
    expect(() => a.observe(bad)).toThrow(/time of n1 = -5/);
    const b = new FlowEngine();
    expect(() => b.observeBatch([...good, bad, obs({ timeUs: T0 + 2 * SEC })])).toThrow(/time of n1 = -5/);
    expect(b.snapshot()).toEqual(a.snapshot());
  });
});

/** Encodes a changelog value as a flowstate.v1 writer did (single-object header of v1). */
function v1Encoder(): (value: StateValue | null) => Buffer | null {
  const type = loadSchemaFile(join(schemasDir(), 'flowstate.v1.avsc'));
  const header = Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprintBytesLE(schemaFingerprint(type))]);
  return (value) => {
    if (value === null) return null;
    let node: Omit<NodeState, 'watermarkUs'> | null = null;
    if (value.node !== null) {
      const { watermarkUs: _dropped, ...rest } = value.node;
      node = rest;
    }
    return Buffer.concat([header, type.toBuffer({ ...value, node })]);
  };
}

describe('restoreEncoded() equals restore()', () => {
  const codec = new FlowStateCodec();

  it('snapshot → changelog bytes → restoreEncoded → continue equals restore() of the decoded entries', () => {
    fc.assert(
      fc.property(planArb(), fc.nat(), fc.constantFrom(BUSY, EXACT), (plan, cut, options) => {
        const { inputs } = simulate(plan);
        const at = inputs.length === 0 ? 0 : cut % inputs.length;
        const engine = new FlowEngine(options);
        // The changelog as a processor folds it: newest value per key, tombstones included.
        const changelog = new Map<string, Buffer | null>();
        inputs.slice(0, at).forEach((input) => {
          if (input.type === 'obs') engine.observe(input.value);
          else engine.watermark(input.value);
          for (const c of engine.drain().changes) changelog.set(c.key, codec.encode(c.state));
        });
        const viaObjects = new FlowEngine(options);
        viaObjects.restore([...changelog].map(([key, v]) => codec.decodeEntry(key, v)));
        const viaBytes = new FlowEngine(options);
        viaBytes.restoreEncoded(changelog, codec);
        expect(viaBytes.snapshot()).toEqual(viaObjects.snapshot());
        expect(viaBytes.size).toBe(viaObjects.size);
        const rest = inputs.slice(at);
        const cont = (e: FlowEngine): unknown => {
          const records: FlowRecord[] = [];
          for (const input of rest) {
            if (input.type === 'obs') e.observe(input.value);
            else e.watermark(input.value);
            records.push(...e.drain().records);
          }
          return outcome(e, records);
        };
        expect(cont(viaBytes)).toEqual(cont(viaObjects));
      }),
      { numRuns: 100 },
    );
  }, 120_000);

  it('reads a changelog mixing flowstate.v1 values (no watermarkUs) and v2 values like restore() of the decoded entries', () => {
    const v1 = v1Encoder();
    fc.assert(
      fc.property(planArb(), fc.nat(), fc.array(fc.boolean(), { minLength: 1 }), (plan, cut, asV1) => {
        const { inputs } = simulate(plan);
        const at = inputs.length === 0 ? 0 : cut % inputs.length;
        const engine = new FlowEngine(BUSY);
        const changelog = new Map<string, Buffer | null>();
        let i = 0;
        for (const input of inputs.slice(0, at)) {
          if (input.type === 'obs') engine.observe(input.value);
          else engine.watermark(input.value);
          for (const c of engine.drain().changes) {
            const old = asV1[i++ % asV1.length] as boolean;
            changelog.set(c.key, old ? v1(c.state) : codec.encode(c.state));
          }
        }
        const viaObjects = new FlowEngine(BUSY);
        viaObjects.restore([...changelog].map(([key, v]) => codec.decodeEntry(key, v)));
        const viaBytes = new FlowEngine(BUSY);
        viaBytes.restoreEncoded(changelog, codec);
        expect(viaBytes.snapshot()).toEqual(viaObjects.snapshot());
        for (const [key, v] of changelog) {
          if (v === null || codec.versionOf(v) !== FLOWSTATE_V1) continue;
          const node = codec.decode(v)?.node;
          if (node) expect(node.watermarkUs, key).toBe(0);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('across chunks of entries: nodes met mid-chunk, node clocks after their flows, repeated keys and tombstones', () => {
    const e = new FlowEngine();
    const messages: [string, Buffer | null][] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 700; i++) {
        e.observe(
          obs({
            node: `n${(i * 7) % 5}`,
            timeUs: T0 + round * SEC + i,
            conntrackId: i + 1,
            orig:
              i % 97 === 0
                ? tuple(`fd00::${i}`, 1000 + i, 'fd00::1', 443)
                : tuple(`10.1.${i >> 8}.${i & 255}`, 1000 + i, '10.2.0.1', 443),
            counters: ctr(round + 1),
          }),
        );
      }
      // Flows first, node clocks last: a chunk meets flows of nodes it has no clock of yet.
      const changes = e
        .drain()
        .changes.sort((x, y) => (x.key.startsWith('@') ? 1 : 0) - (y.key.startsWith('@') ? 1 : 0));
      for (const c of changes) messages.push([c.key, codec.encode(c.state)]);
      // Flows 3 and 8 (node n1) end: tombstones, the first one re-created in round 1.
      messages.push([`n1|0|6|10.1.0.${3 + 5 * round}|${1003 + 5 * round}|10.2.0.1|443|||`, null]);
    }
    expect(messages.length).toBeGreaterThan(3 * 256);
    const viaObjects = new FlowEngine();
    viaObjects.restore(messages.map(([k, v]) => codec.decodeEntry(k, v)));
    const viaBytes = new FlowEngine();
    viaBytes.restoreEncoded(messages, codec);
    expect(viaBytes.snapshot()).toEqual(viaObjects.snapshot());
    expect(viaBytes.size).toBe(699);
    const viaMap = new FlowEngine();
    viaMap.restoreEncoded(new Map(messages), codec);
    expect(viaMap.snapshot()).toEqual(viaObjects.snapshot());
  });

  it('keeps the last value of a key (older values, tombstones, node clocks in any order)', () => {
    const e = new FlowEngine();
    e.observe(obs({ kind: 'NEW', timeUs: T0, kernelStartUs: T0 - 5 }));
    e.observe(obs({ timeUs: T0, conntrackId: 9, orig: tuple('fd00::1', 1, 'fd00::2', 2) }));
    e.watermark(wm(T0 + 1));
    const first = e.drain().changes;
    e.observe(
      obs({
        timeUs: T0 + 2 * SEC,
        counters: { origPackets: 5, origBytes: 5, replyPackets: 1, replyBytes: 1 },
      }),
    );
    const second = e.drain().changes;
    const messages: [string, Buffer | null][] = [
      ...first.map((c): [string, Buffer | null] => [c.key, codec.encode(c.state)]),
      ['n1|0|6|10.9.9.9|1|10.9.9.8|2|||', null],
      ...second.map((c): [string, Buffer | null] => [c.key, codec.encode(c.state)]),
      ['n1|0|6|fd00::1|1|fd00::2|2|||', null],
    ];
    const viaObjects = new FlowEngine();
    viaObjects.restore(messages.map(([k, v]) => codec.decodeEntry(k, v)));
    const viaBytes = new FlowEngine();
    viaBytes.restoreEncoded(messages, codec);
    expect(viaBytes.snapshot()).toEqual(viaObjects.snapshot());
    expect(viaBytes.size).toBe(1);
    // A plain iterable (no size) with a size hint, exact or too small: the same engine, going on alike.
    for (const hint of [messages.length, 1, 0]) {
      const reference = new FlowEngine();
      reference.restore(messages.map(([k, v]) => codec.decodeEntry(k, v)));
      const viaIterable = new FlowEngine();
      viaIterable.restoreEncoded(
        (function* () {
          yield* messages;
        })(),
        codec,
        'changelog message',
        hint,
      );
      expect(viaIterable.snapshot()).toEqual(reference.snapshot());
      for (const e2 of [viaIterable, reference]) {
        e2.observe(obs({ timeUs: T0 + 3 * SEC, counters: ctr(9) }));
        e2.watermark(wm(T0 + 100 * SEC));
      }
      expect(viaIterable.drain()).toEqual(reference.drain());
    }
  });

  it('refuses foreign bytes, an unknown fingerprint and a truncated body with the codec errors', () => {
    const e = new FlowEngine();
    e.observe(obs({ kind: 'NEW', timeUs: T0 }));
    const change = e.drain().changes.find((c) => c.key.includes('|'));
    const good = codec.encode(change?.state ?? null) as Buffer;
    const key = change?.key as string;
    expect(() =>
      new FlowEngine().restoreEncoded([[key, Buffer.from('{"json":1}')]], codec, 'flowstate p3'),
    ).toThrow(/flowstate p3 key n1\|.*: not an Avro/);
    const foreign = Buffer.from(good);
    foreign[5] = (foreign[5] as number) ^ 0xff;
    expect(() => new FlowEngine().restoreEncoded([[key, foreign]], codec)).toThrow(
      /unknown flow state schema fingerprint/,
    );
    expect(() => new FlowEngine().restoreEncoded([[key, good.subarray(0, good.length - 3)]], codec)).toThrow(
      /corrupt flow state body/,
    );
    expect(() =>
      new FlowEngine().restoreEncoded([[key, Buffer.concat([good, Buffer.from([0])])]], codec),
    ).toThrow(/ends at/);
  });
});

describe('observeEncoded() equals observe() of the decoded observation', () => {
  const avro = new AvroCodec();
  const bytesOf = (o: Observation): Buffer => Buffer.from(avro.encodeObservation(o));

  it('on generated streams with duplicates: same records, changelog states, snapshot and stats', () => {
    fc.assert(
      fc.property(
        planArb(),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.constantFrom(BUSY, EXACT),
        (plan, dupList, options) => {
          const { inputs } = simulate(plan);
          const withDups: Input[] = [...inputs];
          for (const d of dupList) {
            if (inputs.length === 0) break;
            const i = d % inputs.length;
            withDups.splice(Math.min(withDups.length, i + 1 + (d % 3)), 0, inputs[i] as Input);
          }
          const plain = new FlowEngine(options);
          const encoded = new FlowEngine(options);
          const a: unknown[] = [];
          const b: unknown[] = [];
          for (const input of withDups) {
            if (input.type === 'obs') {
              plain.observe(input.value);
              expect(encoded.observeEncoded(bytesOf(input.value), SINGLE_OBJECT_HEADER_LENGTH)).toBe(true);
            } else {
              plain.watermark(input.value);
              encoded.watermark(input.value);
            }
            a.push(plain.drain());
            b.push(encoded.drain());
          }
          expect(b).toEqual(a);
          expect(outcome(encoded, [])).toEqual(outcome(plain, []));
        },
      ),
      { numRuns: 100 },
    );
  }, 120_000);

  it('the same errors as observe(), and false with nothing done for bytes that are not one v1 body', () => {
    const first = obs({ kind: 'NEW', timeUs: T0, counters: ctr(2) });
    const cases: Observation[] = [
      obs({ timeUs: -5 }),
      obs({ timeUs: T0 + SEC, counters: { ...ctr(3), origBytes: -1 } }), // update path
      obs({
        timeUs: T0 + SEC,
        orig: tuple('10.9.9.9', 1, '10.9.9.8', 2),
        counters: { ...ctr(1), replyPackets: -2 },
      }), // new flow
      obs({ timeUs: T0 + SEC, node: 'bad|node' }),
    ];
    for (const bad of cases) {
      const a = new FlowEngine();
      const b = new FlowEngine();
      a.observe(first);
      b.observeEncoded(bytesOf(first), SINGLE_OBJECT_HEADER_LENGTH);
      let expected: unknown;
      try {
        a.observe(bad);
      } catch (err) {
        expected = err;
      }
      expect(expected).toBeInstanceOf(Error);
      expect(() => b.observeEncoded(bytesOf(bad), SINGLE_OBJECT_HEADER_LENGTH)).toThrow(
        (expected as Error).message,
      );
      expect(b.snapshot()).toEqual(a.snapshot());
    }
    const e = new FlowEngine();
    const good = bytesOf(first);
    expect(e.observeEncoded(good.subarray(0, good.length - 2), SINGLE_OBJECT_HEADER_LENGTH)).toBe(false);
    expect(e.observeEncoded(Buffer.concat([good, Buffer.from([0])]), SINGLE_OBJECT_HEADER_LENGTH)).toBe(
      false,
    );
    expect(e.snapshot()).toEqual([]);
  });
});

describe('observeEncodedBatch() equals observe() one by one', () => {
  const avro = new AvroCodec();
  const bytesOf = (o: Observation): Buffer => Buffer.from(avro.encodeObservation(o));
  /** Bytes observeEncoded() declines: the message without its last byte. */
  const declined = (o: Observation): Buffer => {
    const b = bytesOf(o);
    return b.subarray(0, b.length - 1);
  };

  /**
   * Feeds runs of observations as observeEncodedBatch() calls (cut where `cuts` says, watermarks
   * between runs), with a declined message inserted before each observation index in `bad`: the
   * batch must stop at it (returned index), the caller skips it and goes on.
   */
  function runEncodedBatches(
    options: Partial<EngineOptions>,
    inputs: readonly Input[],
    cuts: ReadonlySet<number>,
    bad: ReadonlySet<number>,
  ): unknown {
    const engine = new FlowEngine(options);
    let batch: Buffer[] = [];
    let declinedAt: number[] = [];
    const flush = (): void => {
      let from = 0;
      const seen: number[] = [];
      while (from < batch.length) {
        const stop = engine.observeEncodedBatch(batch, SINGLE_OBJECT_HEADER_LENGTH, from);
        if (stop === batch.length) break;
        seen.push(stop);
        from = stop + 1;
      }
      expect(seen).toEqual(declinedAt);
      batch = [];
      declinedAt = [];
    };
    inputs.forEach((input, i) => {
      if (input.type === 'obs') {
        if (bad.has(i)) {
          declinedAt.push(batch.length);
          batch.push(declined(input.value));
        }
        batch.push(bytesOf(input.value));
        if (cuts.has(i)) flush();
      } else {
        flush();
        engine.watermark(input.value);
      }
    });
    flush();
    const out = engine.drain();
    return { ...(outcome(engine, out.records) as object), changes: out.changes };
  }

  it('on generated streams (duplicates, reboots, id reuse, IPv6, NAT, declined messages, interleaved nodes)', () => {
    fc.assert(
      fc.property(
        planArb(),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom(BUSY, EXACT),
        (plan, cutList, badList, dupList, options) => {
          const { inputs } = simulate(plan);
          const withDups: Input[] = [...inputs];
          for (const d of dupList) {
            if (inputs.length === 0) break;
            const i = d % inputs.length;
            withDups.splice(Math.min(withDups.length, i + 1 + (d % 3)), 0, inputs[i] as Input);
          }
          const mod = (c: number): number => (withDups.length === 0 ? 0 : c % withDups.length);
          const cuts = new Set(cutList.map(mod));
          const bad = new Set(badList.map(mod));
          expect(runEncodedBatches(options, withDups, cuts, bad)).toEqual(runOneByOne(options, withDups));
          // Watermarks left out: one batch spans many time steps of every node.
          const obsOnly = withDups.filter((x) => x.type === 'obs');
          expect(runEncodedBatches(options, obsOnly, new Set(), new Set())).toEqual(
            runOneByOne(options, obsOnly),
          );
        },
      ),
      { numRuns: 100 },
    );
  }, 120_000);

  it('across chunk boundaries, with a flow repeated inside one batch, new flows and nodes mid-batch, a sub-range', () => {
    const inputs: Input[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 700; i++) {
        const f = i % 450;
        const value = obs({
          node: `n${(i + round) % 4}`,
          timeUs: T0 + round * 7 * SEC + Math.floor(i / 3),
          conntrackId: f + 1 + (round === 3 && f % 50 === 0 ? 10_000 : 0),
          orig:
            f % 97 === 0
              ? tuple('fd00::1', 1000 + f, 'fd00::2', 443)
              : tuple(`10.1.${f >> 8}.${f & 255}`, 1000 + f, '10.2.0.1', 443),
          family: f % 97 === 0 ? 'IPV6' : 'IPV4',
          counters: { origPackets: round * 10 + i, origBytes: 0, replyPackets: 0, replyBytes: 0 },
          kind: round === 0 && i < 450 ? 'NEW' : 'POLL',
        });
        inputs.push({ type: 'obs', value });
      }
    }
    expect(runEncodedBatches(EXACT, inputs, new Set(), new Set([255, 256, 900]))).toEqual(
      runOneByOne(EXACT, inputs),
    );
    expect(runEncodedBatches(BUSY, inputs, new Set([100, 1000]), new Set([511]))).toEqual(
      runOneByOne(BUSY, inputs),
    );
    // from/to: only messages[from..to) are applied.
    const msgs = inputs.map((x) => bytesOf(x.value as Observation));
    const e = new FlowEngine(EXACT);
    expect(e.observeEncodedBatch(msgs, SINGLE_OBJECT_HEADER_LENGTH, 0, 300)).toBe(300);
    expect(e.observeEncodedBatch(msgs, SINGLE_OBJECT_HEADER_LENGTH, 300, 300)).toBe(300);
    expect(e.observeEncodedBatch(msgs, SINGLE_OBJECT_HEADER_LENGTH, 300)).toBe(msgs.length);
    expect(outcome(e, e.drain().records)).toEqual(outcome(runPlain(EXACT, inputs), []));
  });

  /** An engine fed `inputs` by observe()/watermark(), records drained away. */
  function runPlain(options: Partial<EngineOptions>, inputs: readonly Input[]): FlowEngine {
    const e = new FlowEngine(options);
    for (const x of inputs) {
      if (x.type === 'obs') e.observe(x.value);
      else e.watermark(x.value);
    }
    return e;
  }

  it('applies the messages before a bad observation, then throws the same error', () => {
    const good = [obs({ timeUs: T0 }), obs({ timeUs: T0 + SEC, orig: tuple('10.0.0.5', 1, '10.0.0.6', 2) })];
    const bad = obs({ timeUs: T0 + 2 * SEC, counters: { ...ctr(3), origBytes: -1 } });
    const a = new FlowEngine();
    for (const o of good) a.observe(o);
    expect(() => a.observe(bad)).toThrow(/counters/);
    const b = new FlowEngine();
    const msgs = [...good, bad, obs({ timeUs: T0 + 3 * SEC })].map(bytesOf);
    expect(() => b.observeEncodedBatch(msgs, SINGLE_OBJECT_HEADER_LENGTH)).toThrow(/counters/);
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(b.drain()).toEqual(a.drain());
  });
});

describe('incremental restore (restoreBegin, restoreEncodedChunk, restoreEnd) equals restore()', () => {
  const codec = new FlowStateCodec();

  it('the whole changelog (repeated keys, tombstones) cut into chunks anywhere, then continued', () => {
    fc.assert(
      fc.property(
        planArb(),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.constantFrom(BUSY, EXACT),
        (plan, cut, cutList, options) => {
          const { inputs } = simulate(plan);
          const at = inputs.length === 0 ? 0 : cut % inputs.length;
          const engine = new FlowEngine(options);
          // Every changelog message in order, not folded: later values of a key come in later chunks.
          const log: [string, Buffer | null][] = [];
          inputs.slice(0, at).forEach((input) => {
            if (input.type === 'obs') engine.observe(input.value);
            else engine.watermark(input.value);
            for (const c of engine.drain().changes) log.push([c.key, codec.encode(c.state)]);
          });
          const cuts = [...new Set(cutList.map((c) => (log.length === 0 ? 0 : c % log.length)))].sort(
            (a, b) => a - b,
          );
          const viaChunks = new FlowEngine(options);
          viaChunks.restoreBegin(log.length);
          const delivered: [string, Buffer | null][] = [];
          let from = 0;
          for (const c of [...cuts, log.length]) {
            // Chunks as a Map (a fold of one fetch), an array, or a generator.
            const part = log.slice(from, c);
            if (c % 3 === 0) {
              viaChunks.restoreEncodedChunk(part, codec);
              delivered.push(...part);
            } else if (c % 3 === 1) {
              const folded = new Map(part);
              viaChunks.restoreEncodedChunk(folded, codec);
              delivered.push(...folded);
            } else {
              delivered.push(...part);
              viaChunks.restoreEncodedChunk(
                (function* () {
                  yield* part;
                })(),
                codec,
              );
            }
            from = c;
          }
          viaChunks.restoreEnd();
          // The reference: restore() of the entries in the order the chunks yielded them (a Map
          // keeps a repeated key at its first position: slots, hence snapshot order, follow).
          const viaObjects = new FlowEngine(options);
          viaObjects.restore(delivered.map(([key, v]) => codec.decodeEntry(key, v)));
          expect(viaChunks.snapshot()).toEqual(viaObjects.snapshot());
          const rest = inputs.slice(at);
          const cont = (e: FlowEngine): unknown => {
            const records: FlowRecord[] = [];
            for (const input of rest) {
              if (input.type === 'obs') e.observe(input.value);
              else e.watermark(input.value);
              records.push(...e.drain().records);
            }
            return outcome(e, records);
          };
          expect(cont(viaChunks)).toEqual(cont(viaObjects));
        },
      ),
      { numRuns: 100 },
    );
  }, 120_000);

  it('refuses a chunk or an end without a begin, a second begin, and another restore in between', () => {
    const e = new FlowEngine();
    expect(() => e.restoreEncodedChunk([], codec)).toThrow(
      /restoreEncodedChunk\(\) without restoreBegin\(\)/,
    );
    expect(() => e.restoreEnd()).toThrow(/restoreEnd\(\) without restoreBegin\(\)/);
    expect(() => e.restoreReserve(10)).toThrow(/restoreReserve\(\) without restoreBegin\(\)/);
    e.restoreBegin();
    expect(() => e.restoreBegin()).toThrow(/a restore is in progress/);
    expect(() => e.restore([])).toThrow(/a restore is in progress/);
    expect(() => e.restoreEncoded([], codec)).toThrow(/a restore is in progress/);
    e.restoreEncodedChunk([], codec);
    e.restoreEnd();
    expect(() => e.restoreEnd()).toThrow(/restoreEnd\(\) without restoreBegin\(\)/);
    expect(e.size).toBe(0);
  });
});
