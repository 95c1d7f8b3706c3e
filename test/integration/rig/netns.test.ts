import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConntrackTable, startUs } from '../../rig/conntrack-table.js';
import { run } from '../../rig/exec.js';
import { createNetnsPair, type NetnsPair, RIG_ADDRESSES, sweepStaleNamespaces } from '../../rig/netns.js';
import { startTrafficAgent, type TrafficAgent, type TrafficResult } from '../../rig/traffic.js';

// The kernel stamps the entry when it sees the first packet; the generator stamps just before the
// socket call. Both clocks are the same wall clock, so they agree to well under a few ms.
const STAMP_TOLERANCE_US = 5_000;

const families = [
  { name: 'IPv4', node: RIG_ADDRESSES.nodeV4, peer: RIG_ADDRESSES.peerV4, ipHeader: 20, icmp: 1 },
  { name: 'IPv6', node: RIG_ADDRESSES.nodeV6, peer: RIG_ADDRESSES.peerV6, ipHeader: 40, icmp: 58 },
] as const;

for (const timestamp of [1, 0] as const) {
  describe(`kernel rig, nf_conntrack_timestamp=${timestamp}`, () => {
    let pair: NetnsPair;
    let client: TrafficAgent;
    let server: TrafficAgent;

    beforeAll(async () => {
      await sweepStaleNamespaces();
      pair = await createNetnsPair({ acct: 1, timestamp });
      [client, server] = await Promise.all([startTrafficAgent(pair.node), startTrafficAgent(pair.peer)]);
    });
    afterAll(async () => {
      await client?.dispose();
      await server?.dispose();
      await pair?.dispose();
    });

    function expectStart(entryStartUs: number | null, r: TrafficResult): void {
      if (timestamp === 0) {
        expect(entryStartUs).toBeNull();
        return;
      }
      expect(entryStartUs).not.toBeNull();
      // The generator brackets its first packet: [firstPacketEarliestUs, firstPacketUs].
      expect(entryStartUs).toBeGreaterThanOrEqual(r.firstPacketEarliestUs - STAMP_TOLERANCE_US);
      expect(entryStartUs).toBeLessThanOrEqual(r.firstPacketUs + STAMP_TOLERANCE_US);
    }

    for (const fam of families) {
      it(`sees its own ${fam.name} TCP connection with start stamp and counters`, async () => {
        const { serverId, port } = await server.tcpServer({ host: fam.peer, port: 0, replyBytes: 3000 });
        const r = await client.tcpClient({ host: fam.peer, port, bytes: 10_000, chunks: 1, intervalMs: 0 });
        await server.stopServer(serverId);
        const entry = (await readConntrackTable(pair.node)).find(
          (e) => e.protocol === 6 && e.sport === r.localPort && e.dport === port,
        );
        expect(entry).toBeDefined();
        if (entry === undefined) return;
        expect(entry.src).toBe(fam.node);
        expect(entry.dst).toBe(fam.peer);
        expect(entry.state).toBe('TIME_WAIT');
        expectStart(startUs(entry), r);
        expect(r.firstPacketUs).toBeLessThan(r.lastPacketUs);
        // Payload plus per-packet IP+TCP headers (20..60 bytes of TCP with options).
        const op = entry.origPackets as number;
        expect(op).toBeGreaterThanOrEqual(4); // SYN, data, FIN, ACKs
        expect(entry.origBytes).toBeGreaterThanOrEqual(10_000 + op * (fam.ipHeader + 20));
        expect(entry.origBytes).toBeLessThanOrEqual(10_000 + op * (fam.ipHeader + 60));
        const rp = entry.replyPackets as number;
        expect(entry.replyBytes).toBeGreaterThanOrEqual(3000 + rp * (fam.ipHeader + 20));
        expect(entry.replyBytes).toBeLessThanOrEqual(3000 + rp * (fam.ipHeader + 60));
      });

      it(`sees a long-lived ${fam.name} TCP connection (5 writes 200 ms apart) with its start stamp`, async () => {
        const { serverId, port } = await server.tcpServer({ host: fam.peer, port: 0, replyBytes: 0 });
        const r = await client.tcpClient({ host: fam.peer, port, bytes: 5000, chunks: 5, intervalMs: 200 });
        await server.stopServer(serverId);
        expect(r.lastPacketUs - r.firstPacketUs).toBeGreaterThanOrEqual(800_000);
        const entry = (await readConntrackTable(pair.node)).find(
          (e) => e.protocol === 6 && e.sport === r.localPort,
        );
        expect(entry?.state).toBe('TIME_WAIT');
        expectStart(startUs(entry!), r);
        expect(entry!.origBytes).toBeGreaterThanOrEqual(
          5000 + (entry!.origPackets as number) * (fam.ipHeader + 20),
        );
      });

      it(`sees ${fam.name} UDP request/response with exact counters`, async () => {
        const { serverId, port } = await server.udpServer({ host: fam.peer, port: 0 });
        const r = await client.udpClient({ host: fam.peer, port, requests: 3, size: 100, intervalMs: 20 });
        await server.stopServer(serverId);
        const entry = (await readConntrackTable(pair.node)).find(
          (e) => e.protocol === 17 && e.sport === r.localPort && e.dport === port,
        );
        expect(entry).toBeDefined();
        if (entry === undefined) return;
        expectStart(startUs(entry), r);
        expect(entry.origPackets).toBe(3);
        expect(entry.origBytes).toBe(3 * (100 + 8 + fam.ipHeader));
        expect(entry.replyPackets).toBe(3);
        expect(entry.replyBytes).toBe(3 * (100 + 8 + fam.ipHeader));
      });

      it(`sees ${fam.name} ICMP echo with exact counters`, async () => {
        const r = await client.ping({ host: fam.peer, count: 2, intervalMs: 200 });
        const entry = (await readConntrackTable(pair.node)).find(
          (e) => e.protocol === fam.icmp && e.dst === fam.peer,
        );
        expect(entry).toBeDefined();
        if (entry === undefined) return;
        expectStart(startUs(entry), r);
        // ping's 56 bytes of payload + 8 bytes of ICMP header + the IP header, per echo.
        expect(entry.origPackets).toBe(2);
        expect(entry.origBytes).toBe(2 * (56 + 8 + fam.ipHeader));
        expect(entry.replyPackets).toBe(2);
        expect(entry.replyBytes).toBe(2 * (56 + 8 + fam.ipHeader));
      });
    }

    it('keeps the table per namespace: the host table does not see the test traffic', async () => {
      const { stdout } = await run(['conntrack', '-L', '-o', 'xml', '-d', RIG_ADDRESSES.peerV4], {
        allowFailure: true,
      });
      expect(stdout).not.toContain(`<dst>${RIG_ADDRESSES.peerV4}</dst>`);
      expect((await readConntrackTable(pair.node)).length).toBeGreaterThan(0);
    });
  });
}

describe('kernel rig without accounting', () => {
  it('reports no counters when nf_conntrack_acct=0', async () => {
    await using pair = await createNetnsPair({ acct: 0, timestamp: 1 });
    await using client = await startTrafficAgent(pair.node);
    await using server = await startTrafficAgent(pair.peer);
    const { port } = await server.udpServer({ host: RIG_ADDRESSES.peerV4, port: 0 });
    const r = await client.udpClient({
      host: RIG_ADDRESSES.peerV4,
      port,
      requests: 1,
      size: 10,
      intervalMs: 0,
    });
    const entry = (await readConntrackTable(pair.node)).find(
      (e) => e.protocol === 17 && e.sport === r.localPort,
    );
    expect(entry?.origPackets).toBeNull();
    expect(entry?.replyBytes).toBeNull();
    expect(startUs(entry!)).not.toBeNull();
  });
});

describe('kernel rig teardown', () => {
  it('deletes the namespaces on dispose and sweeps leftovers of dead processes', async () => {
    const pair = await createNetnsPair();
    await pair.dispose();
    const stale = 'ctft-999999999-1-n'; // no such pid
    await run(['ip', 'netns', 'add', stale]);
    const live = await createNetnsPair();
    try {
      const swept = await sweepStaleNamespaces();
      expect(swept).toContain(stale);
      const { stdout } = await run(['ip', 'netns', 'list']);
      expect(stdout).not.toContain(pair.node);
      expect(stdout).not.toContain(stale);
      expect(stdout).toContain(live.node);
    } finally {
      await live.dispose();
    }
  });
});
