import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowEngine } from '../../../src/flow/engine.js';
import { FlowStateCodec } from '../../../src/flow/state-codec.js';
import type { EngineOptions, FlowRecord } from '../../../src/flow/types.js';
import { ctr, obs, SEC, T0, tuple, wm } from './helpers.js';
import { planArb, simulate } from './stream-gen.js';

const codec = new FlowStateCodec();
const OPTIONS: Partial<EngineOptions> = {
  activeTimeoutUs: 20 * SEC,
  idleTimeoutUs: 5 * SEC,
  endGraceUs: 2 * SEC,
  forgetAfterUs: 200 * SEC,
  nodeTimeoutUs: 90 * SEC,
  maxLifeUs: 150 * SEC,
};

type Message = [key: string | null, value: Buffer | null];

/**
 * Changelog records laid out as a fetch reader leaves them: several byte sources (responses), each record's
 * key and value somewhere inside one (or, as the fold's kafkajs path, key and value in sources of their own),
 * with other bytes around them. Returns the sources and the position table of FlowEngine.restoreRecords().
 */
function layout(
  messages: readonly Message[],
  perSource: number,
  pad: number,
): { bufs: Buffer[]; pos: Int32Array } {
  const bufs: Buffer[] = [];
  const pos = new Int32Array(messages.length * 6);
  let parts: Buffer[] = [];
  let size = 0;
  const put = (b: Buffer): number => {
    const filler = Buffer.alloc(pad, 0xa5);
    parts.push(filler, b);
    size += filler.length + b.length;
    return size - b.length;
  };
  const flush = (): void => {
    bufs.push(Buffer.concat(parts));
    parts = [];
    size = 0;
  };
  messages.forEach(([key, value], i) => {
    const p = i * 6;
    if (i % 7 === 3) {
      // Key and value each in a source of its own (the fold's path for kafkajs messages).
      if (parts.length > 0) flush();
      pos[p] = key === null ? 0 : bufs.push(Buffer.from(key ?? '')) - 1;
      pos[p + 1] = 0;
      pos[p + 2] = key === null ? -1 : Buffer.byteLength(key);
      pos[p + 3] = value === null ? 0 : bufs.push(Buffer.from(value)) - 1;
      pos[p + 4] = 0;
      pos[p + 5] = value === null ? -1 : value.length;
      return;
    }
    pos[p] = bufs.length;
    pos[p + 2] = key === null ? -1 : Buffer.byteLength(key);
    pos[p + 1] = key === null ? 0 : put(Buffer.from(key));
    pos[p + 3] = bufs.length;
    pos[p + 5] = value === null ? -1 : value.length;
    pos[p + 4] = value === null ? 0 : put(value);
    if ((i + 1) % perSource === 0) flush();
  });
  flush();
  return { bufs, pos };
}

/** restoreRecords() of `messages` cut into calls at `cuts`. */
function viaRecords(
  messages: readonly Message[],
  cuts: readonly number[],
  perSource: number,
  pad: number,
  hint = 0,
  reserves: readonly number[] = [],
): FlowEngine {
  const { bufs, pos } = layout(messages, perSource, pad);
  const e = new FlowEngine(OPTIONS);
  e.restoreBegin(hint);
  let from = 0;
  for (const [k, c] of [...cuts, messages.length].entries()) {
    // Table room reserved between loads (as restorePartition does from its estimate): no effect on the result.
    const room = reserves[k];
    if (room !== undefined) e.restoreReserve(room);
    e.restoreRecords(bufs, pos, from, c, codec, 'p');
    from = c;
  }
  e.restoreEnd();
  return e;
}

/** The reference: restoreEncoded() of the same (key, value) pairs, keyless records left out. */
function viaEncoded(messages: readonly Message[]): FlowEngine {
  const e = new FlowEngine(OPTIONS);
  e.restoreEncoded(
    messages.filter((m): m is [string, Buffer | null] => m[0] !== null),
    codec,
    'p',
  );
  return e;
}

function continued(e: FlowEngine, rest: ReturnType<typeof simulate>['inputs']): unknown {
  const records: FlowRecord[] = [];
  for (const input of rest) {
    if (input.type === 'obs') e.observe(input.value);
    else e.watermark(input.value);
    records.push(...e.drain().records);
  }
  e.shutdown();
  const last = e.drain();
  return { records: [...records, ...last.records], snapshot: e.snapshot(), stats: { ...e.stats } };
}

describe('restoreRecords() (records as positions in fetched bytes) equals restoreEncoded()', () => {
  it('on generated changelogs (superseded values, tombstones, IPv6, NAT, node clocks) cut anywhere, then continued', () => {
    fc.assert(
      fc.property(
        planArb(),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.integer({ min: 1, max: 50 }),
        fc.nat(3),
        fc.array(fc.nat(3000), { maxLength: 5 }),
        (plan, cut, cutList, perSource, pad, reserves) => {
          const { inputs } = simulate(plan);
          const at = inputs.length === 0 ? 0 : cut % inputs.length;
          const writer = new FlowEngine(OPTIONS);
          const log: Message[] = [];
          inputs.slice(0, at).forEach((input, i) => {
            if (input.type === 'obs') writer.observe(input.value);
            else writer.watermark(input.value);
            for (const c of writer.drain().changes) log.push([c.key, codec.encode(c.state)]);
            // A keyless record now and then: skipped.
            if (i % 11 === 5) log.push([null, Buffer.from('x')]);
          });
          const cuts = [...new Set(cutList.map((c) => (log.length === 0 ? 0 : c % log.length)))].sort(
            (a, b) => a - b,
          );
          const a = viaRecords(log, cuts, perSource, pad, 0, reserves);
          const b = viaEncoded(log);
          expect(a.snapshot()).toEqual(b.snapshot());
          expect(a.size).toBe(b.size);
          const rest = inputs.slice(at);
          expect(continued(a, rest)).toEqual(continued(b, rest));
        },
      ),
      { numRuns: 100 },
    );
  }, 120_000);

  it('across chunks of 256: nodes met mid-chunk, UTF-8 and odd keys, node clocks after their flows, repeated keys', () => {
    const e = new FlowEngine(OPTIONS);
    const log: Message[] = [];
    const nodes = ['n1', 'nœud-2', '日本', 'n4', 'n5'];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 700; i++) {
        e.observe(
          obs({
            node: nodes[(i * 7) % 5] as string,
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
      const changes = e
        .drain()
        .changes.sort((x, y) => (x.key.startsWith('@') ? 1 : 0) - (y.key.startsWith('@') ? 1 : 0));
      for (const c of changes) log.push([c.key, codec.encode(c.state)]);
      log.push([`n1|0|6|10.1.0.${3 + 5 * round}|${1003 + 5 * round}|10.2.0.1|443|||`, null]);
    }
    const flowValue = log.find(([k, v]) => k?.startsWith('n4|') && v !== null)?.[1] as Buffer;
    // Keys the engine keeps as text (leading zero, ICMP fields) or skips (no '|'), a tombstone of an
    // unknown key, a key whose node is new, with values valid for them.
    log.push(['n4|0|6|010.1.0.1|1|10.2.0.1|443|||', flowValue]);
    log.push(['#not-a-flow', flowValue]);
    log.push(['n9|0|1|10.1.0.1|0|10.2.0.1|0|8|0|7', flowValue]);
    log.push(['n9|0|6|10.9.9.9|1|10.9.9.8|2|||', null]);
    expect(log.length).toBeGreaterThan(3 * 256);
    for (const [perSource, cuts] of [
      [1000, []],
      [13, [255, 256, 257, 600]],
      [256, [1, 1000]],
    ] as const) {
      const a = viaRecords(log, cuts, perSource, 2);
      const b = viaEncoded(log);
      expect(a.snapshot()).toEqual(b.snapshot());
      expect(a.size).toBe(b.size);
      expect(a.size).toBeGreaterThan(700);
      for (const x of [a, b]) {
        x.observe(obs({ node: 'nœud-2', timeUs: T0 + 3 * SEC, conntrackId: 5000, counters: ctr(9) }));
        x.watermark(wm(T0 + 100 * SEC, 'nœud-2'));
      }
      expect(a.drain()).toEqual(b.drain());
    }
  });

  it('throws the errors restoreEncoded() throws, naming the place and the key, after applying the records before', () => {
    const e = new FlowEngine();
    e.observe(obs({ kind: 'NEW', timeUs: T0 }));
    e.observe(obs({ kind: 'NEW', timeUs: T0, conntrackId: 2, orig: tuple('10.0.0.7', 7, '10.0.0.8', 8) }));
    const changes = e.drain().changes.filter((c) => c.key.includes('|'));
    const [first, second] = changes.map((c): [string, Buffer] => [c.key, codec.encode(c.state) as Buffer]);
    if (first === undefined || second === undefined) throw new Error('two flows expected');
    const good = second[1];
    const foreign = Buffer.from(good);
    foreign[5] = (foreign[5] as number) ^ 0xff;
    for (const bad of [
      Buffer.from('{"json":1}'),
      foreign,
      good.subarray(0, good.length - 3),
      Buffer.concat([good, Buffer.from([0])]),
    ]) {
      const messages: Message[] = [first, [second[0], bad]];
      let expected: unknown;
      try {
        viaEncoded(messages);
      } catch (err) {
        expected = err;
      }
      expect(expected).toBeInstanceOf(Error);
      for (const pad of [0, 3]) {
        const { bufs, pos } = layout(messages, 10, pad);
        const viaBytes = new FlowEngine(OPTIONS);
        viaBytes.restoreBegin();
        let got: unknown;
        try {
          viaBytes.restoreRecords(bufs, pos, 0, 2, codec, 'p');
        } catch (err) {
          got = err;
        }
        expect(got).toEqual(expected);
        expect((got as Error).message).toContain(`p key ${second[0]}: `);
        // The record before the bad one was applied.
        expect(viaBytes.size).toBe(1);
      }
    }
    // A value cut short inside larger bytes is corrupt, even though bytes follow it in the buffer.
    const buf = Buffer.concat([Buffer.from(second[0]), good, good]);
    const pos = Int32Array.from([
      0,
      0,
      Buffer.byteLength(second[0]),
      0,
      Buffer.byteLength(second[0]),
      good.length - 2,
    ]);
    const cut = new FlowEngine();
    cut.restoreBegin();
    expect(() => cut.restoreRecords([buf], pos, 0, 1, codec, 'p')).toThrow(/corrupt flow state body/);
    // A bad node name: the OBSERVATION_INVALID error restore() throws.
    const badNode: Message[] = [[`@x${second[0].slice(2)}`, good]];
    expect(() => viaEncoded(badNode)).toThrow(/invalid node name/);
    const { bufs, pos: p2 } = layout(badNode, 1, 0);
    const viaBytes = new FlowEngine();
    viaBytes.restoreBegin();
    expect(() => viaBytes.restoreRecords(bufs, p2, 0, 1, codec)).toThrow(/invalid node name "@x"/);
    expect(() => new FlowEngine().restoreRecords(bufs, p2, 0, 1, codec)).toThrow(
      /restoreRecords\(\) without restoreBegin\(\)/,
    );
  });
});
