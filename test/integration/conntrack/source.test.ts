import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackSource } from '../../../src/conntrack/source.js';
import { IPS } from '../../../src/conntrack/status.js';
import { isCtflowError, type CtflowError } from '../../../src/errors.js';
import type { Observation, Watermark } from '../../../src/flow/types.js';
import { readConntrackTable } from '../../rig/conntrack-table.js';
import { buildCtnetlink } from '../../rig/ctnetlink.js';
import {
  createNetnsPair,
  inNetns,
  type NetnsPair,
  RIG_ADDRESSES,
  sweepStaleNamespaces,
} from '../../rig/netns.js';
import { startTrafficAgent, type TrafficAgent, type TrafficResult } from '../../rig/traffic.js';

interface Collected {
  obs: Observation[];
  wms: Watermark[];
  errors: CtflowError[];
  warnings: string[];
}

function collector(): Collected & {
  handlers: ConstructorParameters<typeof ConntrackSource>[1];
} {
  const c: Collected = { obs: [], wms: [], errors: [], warnings: [] };
  return {
    ...c,
    handlers: {
      onObservation: (o) => c.obs.push(o),
      onWatermark: (w) => c.wms.push(w),
      onError: (e) => c.errors.push(e),
      onWarning: (w) => c.warnings.push(w),
    },
  };
}

/** Observations of the connection whose original tuple has these ports. */
function ofConn(obs: Observation[], protocol: number, srcPort: number, dstPort: number): Observation[] {
  return obs.filter(
    (o) => o.protocol === protocol && o.orig.srcPort === srcPort && o.orig.dstPort === dstPort,
  );
}

/** The latest counters reported for a connection. */
function lastCounters(obs: Observation[]) {
  return obs.filter((o) => o.counters !== null).at(-1)?.counters ?? null;
}

const READERS = ['conntrack-tools', 'ctnetlink'] as const;

for (const [reader, timestamp] of READERS.flatMap((r) => [1, 0].map((t) => [r, t as 0 | 1] as const))) {
  describe(`ConntrackSource (${reader}) in a namespace, nf_conntrack_timestamp=${timestamp}`, () => {
    let pair: NetnsPair;
    let client: TrafficAgent;
    let server: TrafficAgent;
    let source: ConntrackSource;
    const col = collector();
    const results: Record<string, TrafficResult & { port: number }> = {};

    beforeAll(async () => {
      await sweepStaleNamespaces();
      pair = await createNetnsPair({ acct: 1, timestamp });
      [client, server] = await Promise.all([startTrafficAgent(pair.node), startTrafficAgent(pair.peer)]);
      const ctnetlinkBin = reader === 'ctnetlink' ? await buildCtnetlink() : undefined;
      source = new ConntrackSource(
        {
          node: 'test-node',
          pollIntervalMs: 1000,
          commandPrefix: inNetns(pair.node, []),
          reader,
          ...(ctnetlinkBin === undefined ? {} : { ctnetlinkBin }),
        },
        col.handlers,
      );
      await source.start();
      const tcp = await server.tcpServer({ host: '::', port: 0, replyBytes: 2000 });
      const udp = await server.udpServer({ host: '::', port: 0 });
      // NAT: 10.201.0.99:80 is DNATed to the server; an entry in zone 5 with mark 42 made by hand.
      await pair.exec(pair.node, [
        'iptables',
        '-t',
        'nat',
        '-A',
        'OUTPUT',
        '-d',
        '10.201.0.99',
        '-p',
        'tcp',
        '--dport',
        '80',
        '-j',
        'DNAT',
        '--to-destination',
        `${RIG_ADDRESSES.peerV4}:${tcp.port}`,
      ]);
      await pair.exec(pair.node, [
        'conntrack',
        '-I',
        '-p',
        'udp',
        '-s',
        '10.9.9.1',
        '-d',
        '10.9.9.2',
        '--sport',
        '7',
        '--dport',
        '8',
        '-q',
        '10.9.9.2',
        '-r',
        '10.9.9.1',
        '--reply-port-src',
        '8',
        '--reply-port-dst',
        '7',
        '-t',
        '300',
        '-m',
        '42',
        '-w',
        '5',
      ]);
      // Short TCP over IPv4, a long-lived TCP over IPv6 (5 writes 300 ms apart), UDP over IPv6, ICMP.
      const [short, long, dgram, ping, natted] = await Promise.all([
        client.tcpClient({
          host: RIG_ADDRESSES.peerV4,
          port: tcp.port,
          bytes: 5000,
          chunks: 1,
          intervalMs: 0,
        }),
        client.tcpClient({
          host: RIG_ADDRESSES.peerV6,
          port: tcp.port,
          bytes: 5000,
          chunks: 5,
          intervalMs: 300,
        }),
        client.udpClient({
          host: RIG_ADDRESSES.peerV6,
          port: udp.port,
          requests: 4,
          size: 200,
          intervalMs: 50,
        }),
        client.ping({ host: RIG_ADDRESSES.peerV4, count: 3, intervalMs: 200 }),
        client.tcpClient({ host: '10.201.0.99', port: 80, bytes: 100, chunks: 1, intervalMs: 0 }),
      ]);
      results.nat = { ...natted, port: tcp.port };
      results.short = { ...short, port: tcp.port };
      results.long = { ...long, port: tcp.port };
      results.udp = { ...dgram, port: udp.port };
      results.ping = { ...ping, port: 0 };
      await source.pollOnce();
    });
    afterAll(async () => {
      await source?.stop();
      await client?.dispose();
      await server?.dispose();
      await pair?.dispose();
    });

    it('reports kernel support and no errors', () => {
      expect(source.kernel).toMatchObject({ acct: true, timestamp: timestamp === 1 });
      expect(col.warnings.length).toBe(timestamp === 1 ? 0 : 1);
      if (timestamp === 0)
        expect(col.warnings[0]).toContain('sysctl -w net.netfilter.nf_conntrack_timestamp=1');
      expect(col.errors).toEqual([]);
    });

    for (const name of ['short', 'long'] as const) {
      it(`times the ${name} TCP connection: NEW near its first packet, TIME_WAIT near its last`, async () => {
        const r = results[name]!;
        const obs = ofConn(col.obs, 6, r.localPort, r.port);
        const created = obs.find((o) => o.kind === 'NEW');
        expect(created).toBeDefined();
        // conntrack prints the event after the kernel saw the SYN (0.1-2 ms measured, more under load);
        // the generator brackets the SYN in [firstPacketEarliestUs, firstPacketUs].
        expect(created!.timeUs).toBeGreaterThanOrEqual(r.firstPacketEarliestUs);
        expect(created!.timeUs).toBeLessThan(r.firstPacketUs + 50_000);
        const starts = obs.map((o) => o.kernelStartUs).filter((s) => s !== null);
        if (timestamp === 1) {
          expect(starts.length).toBeGreaterThan(0);
          for (const s of starts) {
            expect(s).toBeGreaterThanOrEqual(r.firstPacketEarliestUs - 1000);
            expect(s).toBeLessThanOrEqual(r.firstPacketUs + 5000);
            expect(s).toBeLessThanOrEqual(created!.timeUs);
          }
        } else {
          expect(starts).toEqual([]);
        }
        const closing = obs.find((o) => o.tcpState === 'TIME_WAIT');
        expect(closing?.kind).toBe('UPDATE');
        expect(closing!.timeUs).toBeGreaterThan(r.firstPacketUs);
        expect(closing!.timeUs).toBeLessThan(r.lastPacketUs + 50_000);
        if (name === 'long') expect(r.lastPacketUs - r.firstPacketUs).toBeGreaterThan(1_200_000);
        // Observation times never go back for one connection, and every one is in the past.
        const times = obs.map((o) => o.timeUs);
        expect([...times].sort((a, b) => a - b)).toEqual(times);
      });

      it(`reports the ${name} TCP connection's counters exactly as the kernel has them`, async () => {
        const r = results[name]!;
        const kernel = (await readConntrackTable(pair.node)).find(
          (e) => e.protocol === 6 && e.sport === r.localPort,
        );
        expect(lastCounters(ofConn(col.obs, 6, r.localPort, r.port))).toEqual({
          origPackets: kernel!.origPackets,
          origBytes: kernel!.origBytes,
          replyPackets: kernel!.replyPackets,
          replyBytes: kernel!.replyBytes,
        });
        expect(kernel!.origBytes).toBeGreaterThan(5000);
      });
    }

    it('reports UDP over IPv6 with exact counters and canonical addresses', () => {
      const r = results.udp!;
      const obs = ofConn(col.obs, 17, r.localPort, r.port);
      expect(obs[0]).toMatchObject({ family: 'IPV6', orig: { src: 'fd00:201::1', dst: 'fd00:201::2' } });
      expect(lastCounters(obs)).toEqual({
        origPackets: 4,
        origBytes: 4 * 248,
        replyPackets: 4,
        replyBytes: 4 * 248,
      });
    });

    it('reports ICMP echo with its type, code and id, and exact counters', () => {
      const obs = col.obs.filter((o) => o.protocol === 1 && o.orig.dst === RIG_ADDRESSES.peerV4);
      expect(obs.length).toBeGreaterThan(0);
      for (const o of obs)
        expect(o.orig).toMatchObject({ icmpType: 8, icmpCode: 0, icmpId: expect.any(Number) });
      expect(lastCounters(obs)).toEqual({
        origPackets: 3,
        origBytes: 3 * 84,
        replyPackets: 3,
        replyBytes: 3 * 84,
      });
    });

    it('reports the DNAT connection with its post-NAT reply tuple and the DST_NAT bit', () => {
      const r = results.nat!;
      const obs = ofConn(col.obs, 6, r.localPort, 80);
      expect(obs.length).toBeGreaterThan(0);
      for (const o of obs) {
        expect(o.orig).toMatchObject({ dst: '10.201.0.99', dstPort: 80 });
        expect(o.reply).toMatchObject({ src: RIG_ADDRESSES.peerV4, srcPort: r.port, dstPort: r.localPort });
        expect(o.status & IPS.DST_NAT).toBe(IPS.DST_NAT);
      }
    });

    it('reports an entry of another zone with its mark', () => {
      const o = col.obs.find((x) => x.orig.src === '10.9.9.1');
      expect(o).toMatchObject({ zone: 5, mark: 42, protocol: 17, orig: { srcPort: 7, dstPort: 8 } });
    });

    it('sends a watermark after every poll, increasing, at the poll time', () => {
      expect(col.wms.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < col.wms.length; i++)
        expect(col.wms[i]!.timeUs).toBeGreaterThan(col.wms[i - 1]!.timeUs);
      expect(col.wms.at(-1)).toMatchObject({ node: 'test-node', bootId: col.obs[0]!.bootId });
      expect(col.obs[0]!.bootId).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('reports only changes: a poll of a quiet table reports nothing', async () => {
      const before = col.obs.length;
      const res = await source.pollOnce();
      expect(res?.entries).toBeGreaterThan(0);
      expect(col.obs.slice(before).filter((o) => o.kind === 'POLL')).toEqual([]);
    });
  });
}

describe('ConntrackSource without events', () => {
  it('synthesises a DESTROY for an entry deleted between polls, and finds ICMP ids by listing', async () => {
    await using pair = await createNetnsPair({ acct: 1, timestamp: 1 });
    await using client = await startTrafficAgent(pair.node);
    await using server = await startTrafficAgent(pair.peer);
    const { port } = await server.udpServer({ host: RIG_ADDRESSES.peerV4, port: 0 });
    const r = await client.udpClient({
      host: RIG_ADDRESSES.peerV4,
      port,
      requests: 2,
      size: 10,
      intervalMs: 0,
    });
    await client.ping({ host: RIG_ADDRESSES.peerV6, count: 1, intervalMs: 200 });
    const col = collector();
    const source = new ConntrackSource(
      { node: 'n', pollIntervalMs: 60_000, events: false, commandPrefix: inNetns(pair.node, []) },
      col.handlers,
    );
    try {
      await source.start();
      const first = ofConn(col.obs, 17, r.localPort, port);
      expect(first.map((o) => o.kind)).toEqual(['POLL']);
      const icmp6 = col.obs.find((o) => o.protocol === 58);
      expect(icmp6?.orig).toMatchObject({ icmpType: 128, icmpCode: 0, icmpId: expect.any(Number) });
      await pair.exec(pair.node, ['conntrack', '-D', '-p', 'udp', '--sport', String(r.localPort)]);
      await source.pollOnce();
      const gone = ofConn(col.obs, 17, r.localPort, port).at(-1);
      expect(gone).toMatchObject({ kind: 'DESTROY', counters: first[0]!.counters });
      expect(gone!.timeUs).toBe(col.wms.at(-1)!.timeUs);
      expect(source.stats.table.syntheticDestroys).toBe(1);
    } finally {
      await source.stop();
    }
  });
});

describe('ConntrackSource prerequisites', () => {
  it('fails to start with a message naming the missing conntrack binary and its package', async () => {
    const source = new ConntrackSource(
      { node: 'n', conntrackBin: '/nonexistent/conntrack' },
      collector().handlers,
    );
    const err = await source.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isCtflowError(err, 'PREREQUISITE')).toBe(true);
    expect((err as Error).message).toContain('apt-get install -y conntrack');
  });

  it('fails to start without permission to read the table, saying which capability is needed', async () => {
    // setpriv (util-linux) drops root: conntrack then cannot dump, as for an unprivileged agent.
    const col = collector();
    const source = new ConntrackSource(
      { node: 'n', commandPrefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] },
      col.handlers,
    );
    const err = await source.start().then(
      () => null,
      (e: unknown) => e,
    );
    await source.stop();
    expect(isCtflowError(err, 'CONNTRACK_SOURCE')).toBe(true);
    expect((err as Error).message).toContain('CAP_NET_ADMIN');
  });

  it('sets nf_conntrack_acct and nf_conntrack_timestamp when asked to (--enable-sysctls)', async () => {
    await using pair = await createNetnsPair({ acct: 0, timestamp: 0 });
    const col = collector();
    const source = new ConntrackSource(
      { node: 'n', events: false, enableSysctls: true, commandPrefix: inNetns(pair.node, []) },
      col.handlers,
    );
    try {
      expect(await source.start()).toMatchObject({ acct: true, timestamp: true, warnings: [] });
    } finally {
      await source.stop();
    }
    const { stdout } = await pair.exec(pair.node, ['sysctl', '-n', 'net.netfilter.nf_conntrack_acct']);
    expect(stdout.trim()).toBe('1');
    expect(col.warnings).toEqual([]);
  });

  it('rejects a poll interval below 1 s', () => {
    expect(() => new ConntrackSource({ node: 'n', pollIntervalMs: 500 }, collector().handlers)).toThrow(
      /minimum/,
    );
  });
});
