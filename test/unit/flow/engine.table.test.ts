import { describe, expect, it } from 'vitest';
import { FlowEngine } from '../../../src/flow/engine.js';
import {
  FlowEndReason,
  type EngineOptions,
  type FlowRecord,
  type Observation,
} from '../../../src/flow/types.js';
import { ctr, inverted, obs, SEC, T0, tuple, wm } from './helpers.js';

const OPTS: Partial<EngineOptions> = {
  activeTimeoutUs: 60 * SEC,
  idleTimeoutUs: 15 * SEC,
  endGraceUs: 5 * SEC,
  forgetAfterUs: 600 * SEC,
  nodeTimeoutUs: 300 * SEC,
  maxLifeUs: 0,
};

/** Runs inputs (observations or watermark times) and returns every record in order. */
function run(
  inputs: (Observation | number)[],
  options: Partial<EngineOptions> = OPTS,
  end = false,
): FlowRecord[] {
  const e = new FlowEngine(options);
  for (const i of inputs) {
    if (typeof i === 'number') e.watermark(wm(i));
    else e.observe(i);
  }
  if (end) e.shutdown();
  return e.drain().records;
}

/** Seconds after T0 of a µs time (for readable expectations). */
const s = (us: number): number => (us - T0) / SEC;

function summary(r: FlowRecord): [number, number, number, number | undefined, number | undefined] {
  return [r.endReason, s(r.startUs), s(r.endUs), r.delta?.origPackets, r.delta?.replyPackets];
}

describe('flow engine: end reasons', () => {
  it('idle timeout: reported idle after the last growth; the interval ends at the last growth', () => {
    const recs = run([
      obs({ kind: 'NEW', timeUs: T0, counters: ctr(1, 0), tcpState: 'SYN_SENT' }),
      obs({ timeUs: T0 + 2 * SEC, counters: ctr(5, 4) }),
      obs({ timeUs: T0 + 10 * SEC, counters: ctr(5, 4) }),
      T0 + 16 * SEC,
      T0 + 17 * SEC,
    ]);
    expect(recs.map(summary)).toEqual([[FlowEndReason.idleTimeout, 0, 2, 5, 4]]);
    expect(recs[0]?.firstSeenMidLife).toBe(false);
    expect(recs[0]?.recordIndex).toBe(0);
  });

  it('active timeout: counted from each flow’s own start, so two flows report at different instants', () => {
    const a = tuple('10.0.0.1', 1000, '10.0.0.2', 80);
    const b = tuple('10.0.0.1', 1001, '10.0.0.2', 80);
    const inputs: (Observation | number)[] = [
      obs({ kind: 'NEW', timeUs: T0, orig: a, reply: inverted(a), conntrackId: 1, counters: ctr(1) }),
    ];
    // A poll every 5 s, each closed by its watermark (as the agent sends them).
    for (let t = 5; t <= 150; t += 5) {
      inputs.push(
        obs({ timeUs: T0 + t * SEC, orig: a, reply: inverted(a), conntrackId: 1, counters: ctr(1 + t) }),
      );
      if (t === 25) {
        inputs.push(
          obs({
            kind: 'NEW',
            timeUs: T0 + t * SEC,
            orig: b,
            reply: inverted(b),
            conntrackId: 2,
            counters: ctr(1),
          }),
        );
      }
      if (t > 25) {
        inputs.push(
          obs({ timeUs: T0 + t * SEC, orig: b, reply: inverted(b), conntrackId: 2, counters: ctr(t) }),
        );
      }
      inputs.push(T0 + t * SEC);
    }
    const recs = run(inputs).filter((r) => r.endReason === FlowEndReason.activeTimeout);
    const ofA = recs.filter((r) => r.conntrackId === 1).map((r) => [s(r.startUs), s(r.endUs)]);
    const ofB = recs.filter((r) => r.conntrackId === 2).map((r) => [s(r.startUs), s(r.endUs)]);
    // A: phase 0 → reports covering up to 55 s and 115 s; B: phase 25 s → up to 80 s and 140 s
    // (the poll at the deadline reports the interval before it is applied).
    expect(ofA).toEqual([
      [0, 55],
      [60, 115],
    ]);
    expect(ofB).toEqual([
      [25, 80],
      [85, 140],
    ]);
  });

  it('TCP end of flow: end = the TIME_WAIT transition; late final ACK at DESTROY is one more record; deltas exact', () => {
    const recs = run([
      obs({ kind: 'NEW', timeUs: T0, counters: ctr(1, 0), tcpState: 'SYN_SENT', kernelStartUs: T0 - 50 }),
      obs({ timeUs: T0 + 3 * SEC, counters: ctr(20, 18) }),
      obs({ kind: 'UPDATE', timeUs: T0 + 4 * SEC, counters: ctr(22, 20), tcpState: 'FIN_WAIT' }),
      obs({ kind: 'UPDATE', timeUs: T0 + 5 * SEC, counters: ctr(23, 21), tcpState: 'TIME_WAIT' }),
      // The final ACK is counted after the state change, seen by a poll in TIME_WAIT.
      obs({ timeUs: T0 + 6 * SEC, counters: ctr(24, 21), tcpState: 'TIME_WAIT' }),
      T0 + 11 * SEC,
      obs({ timeUs: T0 + 30 * SEC, counters: ctr(25, 21), tcpState: 'TIME_WAIT' }),
      // DESTROY 120 s after TIME_WAIT, with the kernel's stop stamp: never used as an end.
      obs({
        kind: 'DESTROY',
        timeUs: T0 + 125 * SEC,
        counters: ctr(26, 21),
        tcpState: 'TIME_WAIT',
        kernelStartUs: T0 - 50,
        kernelStopUs: T0 + 125 * SEC,
      }),
      T0 + 200 * SEC,
    ]);
    expect(
      recs.map((r) => [r.endReason, r.startUs - T0, s(r.endUs), r.delta?.origPackets, r.recordIndex]),
    ).toEqual([
      [FlowEndReason.endOfFlow, -50, 5, 24, 0],
      [FlowEndReason.endOfFlow, 5 * SEC, 5, 2, 1],
    ]);
    expect(recs.reduce((n, r) => n + (r.delta?.origPackets ?? 0), 0)).toBe(26);
    expect(recs.reduce((n, r) => n + (r.delta?.replyBytes ?? 0), 0)).toBe(2100);
    expect(recs[1]?.total).toEqual(ctr(26, 21));
  });

  it('TCP CLOSE (RST) followed by DESTROY before the grace: one end-of-flow record at DESTROY', () => {
    const recs = run([
      obs({ kind: 'NEW', timeUs: T0, counters: ctr(1, 0), tcpState: 'SYN_SENT' }),
      obs({ kind: 'UPDATE', timeUs: T0 + 1 * SEC, counters: ctr(3, 2), tcpState: 'CLOSE' }),
      obs({ kind: 'DESTROY', timeUs: T0 + 2 * SEC, counters: ctr(3, 3), tcpState: 'CLOSE' }),
      T0 + 60 * SEC,
    ]);
    expect(recs.map(summary)).toEqual([[FlowEndReason.endOfFlow, 0, 1, 3, 3]]);
  });

  it('UDP DESTROY: growth first seen at DESTROY is attributed to the previous observation, not the destroy', () => {
    const u = tuple('10.0.0.1', 5353, '10.0.0.53', 53);
    const base = { protocol: 17, orig: u, reply: inverted(u), tcpState: null };
    const recs = run([
      obs({ ...base, kind: 'NEW', timeUs: T0, counters: ctr(1, 0) }),
      obs({ ...base, kind: 'UPDATE', timeUs: T0 + 1 * SEC, counters: ctr(1, 1) }),
      T0 + 20 * SEC,
      obs({
        ...base,
        kind: 'DESTROY',
        timeUs: T0 + 31 * SEC,
        counters: ctr(4, 4),
        kernelStopUs: T0 + 31 * SEC,
      }),
    ]);
    // Idle at 16 s reported the first interval (released by the watermark at 20 s); the growth
    // revealed at DESTROY lands at 1 s.
    expect(recs.map(summary)).toEqual([
      [FlowEndReason.idleTimeout, 0, 1, 1, 1],
      [FlowEndReason.endOfFlow, 1, 1, 3, 3],
    ]);
  });

  it('forced end on shutdown, and a closed TCP flow still reports end of flow', () => {
    const a = tuple('10.0.0.1', 1000, '10.0.0.2', 80);
    const recs = run(
      [
        obs({ kind: 'NEW', timeUs: T0, counters: ctr(1) }),
        obs({ kind: 'NEW', timeUs: T0, orig: a, reply: inverted(a), conntrackId: 9, counters: ctr(1) }),
        obs({
          kind: 'UPDATE',
          timeUs: T0 + 1 * SEC,
          orig: a,
          reply: inverted(a),
          conntrackId: 9,
          counters: ctr(2),
          tcpState: 'TIME_WAIT',
        }),
      ],
      OPTS,
      true,
    );
    expect(recs.map((r) => [r.conntrackId, r.endReason, s(r.endUs)])).toEqual([
      [1, FlowEndReason.forcedEnd, 0],
      [9, FlowEndReason.endOfFlow, 1],
    ]);
  });

  it('a node whose event time lags the newest by nodeTimeout is presumed gone: its flows end as forced end', () => {
    const e = new FlowEngine(OPTS);
    e.observe(obs({ kind: 'NEW', timeUs: T0, counters: ctr(3) }));
    e.watermark(wm(T0 + 10 * SEC, 'n2', 'boot-x'));
    e.watermark(wm(T0 + 299 * SEC, 'n2', 'boot-x'));
    // Idle fired on n1's own clock? No: n1's clock stays at T0, so nothing yet.
    expect(e.drain().records).toEqual([]);
    e.watermark(wm(T0 + 301 * SEC, 'n2', 'boot-x'));
    const recs = e.drain().records;
    expect(recs.map((r) => [r.node, r.endReason, s(r.startUs), s(r.endUs)])).toEqual([
      ['n1', FlowEndReason.forcedEnd, 0, 0],
    ]);
    expect(e.size).toBe(0);
    expect(e.stats.nodesGone).toBe(1);
  });

  it('max life cuts the series (reason active timeout); the next traffic starts a new series at recordIndex 0', () => {
    const inputs: (Observation | number)[] = [obs({ kind: 'NEW', timeUs: T0, counters: ctr(1) })];
    for (let t = 10; t <= 130; t += 10)
      inputs.push(obs({ timeUs: T0 + t * SEC, counters: ctr(1 + t) }), T0 + t * SEC);
    const recs = run(inputs, { ...OPTS, maxLifeUs: 100 * SEC }, true);
    expect(recs.map((r) => [r.endReason, r.recordIndex, s(r.startUs), s(r.endUs)])).toEqual([
      [FlowEndReason.activeTimeout, 0, 0, 50],
      // The flow's own observation at its deadline reports the interval before it is applied.
      [FlowEndReason.activeTimeout, 1, 60, 90],
      [FlowEndReason.forcedEnd, 0, 100, 130],
    ]);
    expect(recs.reduce((n, r) => n + (r.delta?.origPackets ?? 0), 0)).toBe(131);
  });
});

describe('flow engine: counters', () => {
  it('zero-delta active reports are suppressed by default and emitted when asked', () => {
    const inputs: (Observation | number)[] = [obs({ kind: 'NEW', timeUs: T0, counters: ctr(5) })];
    // Polled every 10 s without traffic; idle timeout longer than the active timeout.
    for (let t = 10; t <= 130; t += 10)
      inputs.push(obs({ timeUs: T0 + t * SEC, counters: ctr(5) }), T0 + t * SEC);
    const opts = { ...OPTS, idleTimeoutUs: 1000 * SEC };
    expect(run(inputs, opts).map(summary)).toEqual([[FlowEndReason.activeTimeout, 0, 0, 5, 5]]);
    expect(run(inputs, { ...opts, suppressZeroDeltaActive: false }).map(summary)).toEqual([
      [FlowEndReason.activeTimeout, 0, 0, 5, 5],
      [FlowEndReason.activeTimeout, 0, 0, 0, 0],
    ]);
  });

  it('nf_conntrack_acct=0: records carry null delta and total, never zeros passed off as measurements', () => {
    const recs = run(
      [
        obs({ kind: 'NEW', timeUs: T0, counters: null }),
        obs({ timeUs: T0 + 5 * SEC, counters: null }),
        obs({ kind: 'UPDATE', timeUs: T0 + 6 * SEC, counters: null, tcpState: 'FIN_WAIT' }),
        T0 + 40 * SEC,
      ],
      OPTS,
    );
    expect(recs.map((r) => [r.endReason, s(r.startUs), s(r.endUs), r.delta, r.total])).toEqual([
      [FlowEndReason.idleTimeout, 0, 6, null, null],
    ]);
  });

  it('conntrack id reuse on the same tuple: the old flow ends as end of flow, the new one counts from zero', () => {
    const recs = run([
      obs({ kind: 'NEW', timeUs: T0, conntrackId: 7, counters: ctr(1) }),
      obs({ timeUs: T0 + 2 * SEC, conntrackId: 7, counters: ctr(50) }),
      // The DESTROY was missed; a new connection on the tuple has another id and small counters.
      obs({ kind: 'NEW', timeUs: T0 + 5 * SEC, conntrackId: 8, counters: ctr(1) }),
      obs({ timeUs: T0 + 6 * SEC, conntrackId: 8, counters: ctr(3) }),
      T0 + 30 * SEC,
    ]);
    expect(
      recs.map((r) => [
        r.conntrackId,
        r.endReason,
        r.recordIndex,
        s(r.startUs),
        s(r.endUs),
        r.delta?.origPackets,
      ]),
    ).toEqual([
      [7, FlowEndReason.endOfFlow, 0, 0, 2, 50],
      [8, FlowEndReason.idleTimeout, 0, 5, 6, 3],
    ]);
  });

  it('counters going backwards with the same id: a new connection, counted in stats', () => {
    const e = new FlowEngine(OPTS);
    e.observe(obs({ kind: 'NEW', timeUs: T0, counters: ctr(1) }));
    e.observe(obs({ timeUs: T0 + 2 * SEC, counters: ctr(40) }));
    e.observe(obs({ timeUs: T0 + 4 * SEC, counters: ctr(2) }));
    e.watermark(wm(T0 + 30 * SEC));
    const recs = e.drain().records;
    expect(
      recs.map((r) => [r.endReason, r.recordIndex, s(r.startUs), r.delta?.origPackets, r.firstSeenMidLife]),
    ).toEqual([
      [FlowEndReason.endOfFlow, 0, 0, 40, false],
      [FlowEndReason.idleTimeout, 0, 4, 2, true],
    ]);
    expect(e.stats.counterResets).toBe(1);
  });

  it('reboot (boot id change): every flow of the node ends; new flows count from zero', () => {
    const e = new FlowEngine(OPTS);
    e.observe(obs({ kind: 'NEW', timeUs: T0, conntrackId: 1, counters: ctr(9) }));
    e.watermark(wm(T0 + 60 * SEC, 'n1', 'boot-2'));
    e.observe(
      obs({ kind: 'NEW', timeUs: T0 + 61 * SEC, conntrackId: 1, bootId: 'boot-2', counters: ctr(1) }),
    );
    e.shutdown();
    const recs = e.drain().records;
    expect(recs.map((r) => [r.endReason, s(r.startUs), r.delta?.origPackets])).toEqual([
      // The old boot's idle timer fired first, on the way to the new boot's time (a reboot
      // completes the old boot's stream, as a watermark would).
      [FlowEndReason.idleTimeout, 0, 9],
      [FlowEndReason.forcedEnd, 61, 1],
    ]);
    expect(e.stats.reboots).toBe(1);
  });

  it('a late, replayed or duplicate observation changes nothing and is counted', () => {
    const e = new FlowEngine(OPTS);
    const first = obs({ kind: 'NEW', timeUs: T0, counters: ctr(1) });
    e.observe(first);
    e.observe(obs({ timeUs: T0 + 3 * SEC, counters: ctr(10) }));
    e.observe(first);
    e.observe(obs({ timeUs: T0 + 3 * SEC, counters: ctr(10) }));
    e.watermark(wm(T0 + 30 * SEC));
    expect(e.drain().records.map(summary)).toEqual([[FlowEndReason.idleTimeout, 0, 3, 10, 10]]);
    expect(e.stats.lateObservations).toBe(1);
  });
});

describe('flow engine: times', () => {
  it('seed scenario: no kernel stamp and no NEW: start falls back to the first observation, never zero', () => {
    const recs = run([obs({ timeUs: T0 + 7 * SEC, counters: ctr(100), kernelStartUs: null }), T0 + 60 * SEC]);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.startUs).toBe(T0 + 7 * SEC);
    expect(recs[0]?.endUs).toBe(T0 + 7 * SEC);
    expect(recs[0]?.firstSeenMidLife).toBe(true);
  });

  it('a zero or implausible kernel stamp (Go zero time, 1970) is treated as absent', () => {
    for (const k of [0, 1, -62135596800000000]) {
      const recs = run([obs({ kind: 'NEW', timeUs: T0, counters: ctr(1), kernelStartUs: k }), T0 + 60 * SEC]);
      expect(recs[0]?.startUs).toBe(T0);
      expect(recs[0]?.firstSeenMidLife).toBe(false);
    }
  });

  it('a connection older than ctflow with a kernel stamp starts at the stamp and is not mid-life', () => {
    const recs = run([
      obs({ timeUs: T0, counters: ctr(1000), kernelStartUs: T0 - 3600 * SEC }),
      T0 + 60 * SEC,
    ]);
    expect(recs.map((r) => [r.startUs, r.firstSeenMidLife])).toEqual([[T0 - 3600 * SEC, false]]);
  });

  it('NEW without kernel stamp: start = the NEW event time', () => {
    const recs = run([obs({ kind: 'NEW', timeUs: T0 + 1, counters: ctr(1) }), T0 + 60 * SEC]);
    expect(recs.map((r) => [r.startUs, r.firstSeenMidLife])).toEqual([[T0 + 1, false]]);
  });

  it('rejects an observation without a positive integer time', () => {
    const e = new FlowEngine(OPTS);
    expect(() => e.observe(obs({ timeUs: 0 }))).toThrow(/timeUs|time of/);
    expect(() => e.observe(obs({ timeUs: T0, counters: { ...ctr(1), origBytes: -1 } }))).toThrow(/counters/);
  });
});

describe('flow engine: protocols, NAT, IPv6', () => {
  const cases: { name: string; o: Partial<Observation>; nat: boolean; family: string }[] = [
    { name: 'TCP', o: {}, nat: false, family: 'IPV4' },
    {
      name: 'UDP',
      o: {
        protocol: 17,
        tcpState: null,
        orig: tuple('10.0.0.1', 5000, '10.0.0.2', 53),
        reply: tuple('10.0.0.2', 53, '10.0.0.1', 5000),
      },
      nat: false,
      family: 'IPV4',
    },
    {
      name: 'ICMP echo',
      o: {
        protocol: 1,
        tcpState: null,
        orig: {
          src: '10.0.0.1',
          dst: '10.0.0.2',
          srcPort: 0,
          dstPort: 0,
          icmpType: 8,
          icmpCode: 0,
          icmpId: 42,
        },
        reply: {
          src: '10.0.0.2',
          dst: '10.0.0.1',
          srcPort: 0,
          dstPort: 0,
          icmpType: 0,
          icmpCode: 0,
          icmpId: 42,
        },
      },
      nat: false,
      family: 'IPV4',
    },
    {
      name: 'SCTP',
      o: {
        protocol: 132,
        tcpState: null,
        orig: tuple('10.0.0.1', 3868, '10.0.0.2', 3868),
        reply: tuple('10.0.0.2', 3868, '10.0.0.1', 3868),
      },
      nat: false,
      family: 'IPV4',
    },
    {
      name: 'TCP over IPv6',
      o: {
        family: 'IPV6',
        orig: tuple('fd00::1', 40000, '2001:db8::2', 443),
        reply: tuple('2001:db8::2', 443, 'fd00::1', 40000),
      },
      nat: false,
      family: 'IPV6',
    },
    {
      name: 'ICMPv6 echo',
      o: {
        family: 'IPV6',
        protocol: 58,
        tcpState: null,
        orig: {
          src: 'fd00::1',
          dst: 'fd00::2',
          srcPort: 0,
          dstPort: 0,
          icmpType: 128,
          icmpCode: 0,
          icmpId: 7,
        },
        reply: {
          src: 'fd00::2',
          dst: 'fd00::1',
          srcPort: 0,
          dstPort: 0,
          icmpType: 129,
          icmpCode: 0,
          icmpId: 7,
        },
      },
      nat: false,
      family: 'IPV6',
    },
    {
      name: 'DNAT (Service VIP to pod)',
      o: {
        orig: tuple('10.244.0.5', 40000, '10.96.0.10', 53),
        reply: tuple('10.244.1.7', 53, '10.244.0.5', 40000),
      },
      nat: true,
      family: 'IPV4',
    },
    {
      name: 'SNAT (masquerade)',
      o: {
        orig: tuple('10.244.0.5', 40000, '93.184.216.34', 443),
        reply: tuple('93.184.216.34', 443, '192.168.1.10', 61000),
      },
      nat: true,
      family: 'IPV4',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: tuples, family, NAT flag and reply tuple reach the record`, () => {
      const o = obs({ kind: 'NEW', timeUs: T0, counters: ctr(2), ...c.o });
      const [r] = run([o, T0 + 60 * SEC]);
      expect(r).toMatchObject({
        protocol: o.protocol,
        family: c.family,
        orig: o.orig,
        reply: o.reply,
        nat: c.nat,
        startUs: T0,
        endUs: T0,
        delta: ctr(2),
        endReason: FlowEndReason.idleTimeout,
        observationDomainId: expect.any(Number),
      });
    });
  }
});
