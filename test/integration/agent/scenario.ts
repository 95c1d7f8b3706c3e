/**
 * One end-to-end run of the embedded mode inside a network namespace: real traffic of every kind the
 * issue names, started concurrently, exported over IPFIX to tshark and nfcapd; what the collectors
 * decoded, what the kernel's table holds at the end, and what the traffic generators measured.
 */
import { type EmbeddedRun, startEmbedded } from '../../../src/agent/embedded.js';
import { parseConfig } from '../../../src/config/load.js';
import type { ReaderKind } from '../../../src/conntrack/reader.js';
import type { FlowRecord } from '../../../src/flow/types.js';
import {
  type CollectorHandle,
  type DecodedFlow,
  startNfcapd,
  startTshark,
} from '../../rig/collectors/index.js';
import { pollUntil } from '../../rig/collectors/poll.js';
import { type RigConntrackEntry, readConntrackTable } from '../../rig/conntrack-table.js';
import { buildCtnetlink } from '../../rig/ctnetlink.js';
import { createNetnsPair, inNetns, RIG_ADDRESSES } from '../../rig/netns.js';
import { startTrafficAgent, type TrafficResult } from '../../rig/traffic.js';
import { type Packet, startCapture } from './capture.js';

/** Timers of the run, small so the test stays short (seconds). */
export const TIMERS = { pollInterval: 1, activeTimeout: 3, idleTimeout: 2 } as const;

/** The kinds of connection one run makes. */
export type ConnKind =
  | 'short-tcp'
  | 'long-tcp6'
  | 'udp'
  | 'udp6'
  | 'icmp'
  | 'icmp6'
  | 'nat'
  | 'nat-clash'
  | 'many';

/** One connection made by the traffic generator, with how to find it in records and in the kernel table. */
export interface Conn {
  kind: ConnKind;
  protocol: number;
  src: string;
  dst: string;
  /** Client port (0 for ICMP). */
  srcPort: number;
  /** Server port as dialled (the pre-NAT port for the DNAT connection; 0 for ICMP). */
  dstPort: number;
  traffic: TrafficResult;
  /** First and last packet of the connection as captured on the node's veth (kernel-stamped µs). */
  wire: { firstUs: number; lastUs: number; packets: number };
}

/** What one run produced. */
export interface ScenarioResult {
  timestamp: 0 | 1;
  conns: Conn[];
  /** Decoded by each collector. */
  decoded: { tshark: DecodedFlow[]; nfcapd: DecodedFlow[] };
  /** Released by the engine (what was handed to the exporter), with wall-clock µs of the release. */
  released: Array<{ record: FlowRecord; atUs: number }>;
  /** The namespace's conntrack table read after the last record of every connection was released. */
  kernel: RigConntrackEntry[];
  warnings: string[];
  sourceErrors: number;
  /** Observations the engine ignored as late (older than the node's event time). */
  lateObservations: number;
  /** Observations the conntrack table reported later than their own time (two clocks, two pipes), and the largest shift. */
  retimed: { count: number; maxUs: number };
  /** Times conntrack -E said events were lost (netlink overrun). */
  eventOverruns: number;
  /** Event read lag (agent clock when handled − the event's stamp), largest, µs; and the longest poll sync wait. */
  eventReadLagMaxUs: number;
  syncWaitMaxUs: number;
}

const nowUs = (): number => Math.floor((performance.timeOrigin + performance.now()) * 1000);

/** Key of a collector-decoded record: protocol, original addresses and (for TCP/UDP) ports. */
export function decodedKey(f: DecodedFlow): string {
  const src = f.sourceIPv4Address ?? f.sourceIPv6Address;
  const dst = f.destinationIPv4Address ?? f.destinationIPv6Address;
  const proto = Number(f.protocolIdentifier);
  const ports = proto === 6 || proto === 17 ? `${f.sourceTransportPort}|${f.destinationTransportPort}` : '';
  return `${proto}|${src}|${dst}|${ports}`;
}

/** The same key for a connection the generator made. */
export function connKey(c: Conn): string {
  const ports = c.protocol === 6 || c.protocol === 17 ? `${c.srcPort}|${c.dstPort}` : '';
  return `${c.protocol}|${c.src}|${c.dst}|${ports}`;
}

/** The same key for a record the engine released. */
export function recordKey(r: FlowRecord): string {
  const o = r.orig;
  const ports = r.protocol === 6 || r.protocol === 17 ? `${o.srcPort}|${o.dstPort}` : '';
  return `${r.protocol}|${o.src}|${o.dst}|${ports}`;
}

/** The kernel's entry of a connection (original tuple), or undefined. */
export function kernelEntry(kernel: RigConntrackEntry[], c: Conn): RigConntrackEntry | undefined {
  return kernel.find(
    (e) =>
      e.protocol === c.protocol &&
      e.src === c.src &&
      e.dst === c.dst &&
      (c.protocol !== 6 && c.protocol !== 17 ? true : e.sport === c.srcPort && e.dport === c.dstPort),
  );
}

/**
 * First and last captured packet of a connection: by family and its ports as they are on the wire, or
 * for ICMP by family and echo type. The capture is on the node's veth, after NAT: the ports on the
 * wire are the kernel entry's reply tuple (`kernel`, read after the traffic). They are not always the
 * client's socket port: when the DNAT connection (10.201.0.99:80 → the server) and a later burst
 * connection to the server got the same client port, conntrack remaps the burst connection's source
 * port (its reply tuple is taken by the NAT entry), and matching by the socket port attributed the
 * NAT connection's packets, 2.5 s earlier, to the burst connection (a CI failure: flowStart "2.4 s
 * late"). Without a kernel entry, the socket port.
 */
export function wireTimes(packets: Packet[], c: Conn, kernel: RigConntrackEntry[] = []): Conn['wire'] {
  const echo = c.protocol === 1 ? [0, 8] : [128, 129];
  // By family too: an IPv4 burst connection and the long IPv6 one can get the same client port.
  const family = c.src.includes(':') ? 6 : 4;
  const entry = kernelEntry(kernel, c);
  const clientPort = entry?.replyDport ?? c.srcPort;
  const serverPort = entry?.replySport ?? null;
  const ours = (p: Packet): boolean =>
    (p.srcPort === clientPort && (serverPort === null || p.dstPort === serverPort)) ||
    (p.dstPort === clientPort && (serverPort === null || p.srcPort === serverPort));
  const mine = packets.filter((p) =>
    p.protocol !== c.protocol || p.family !== family
      ? false
      : c.protocol === 6 || c.protocol === 17
        ? ours(p)
        : p.icmpType !== null && echo.includes(p.icmpType),
  );
  if (mine.length === 0) throw new Error(`no packet of ${c.kind} ${connKey(c)} captured`);
  return { firstUs: mine[0]!.timeUs, lastUs: mine.at(-1)!.timeUs, packets: mine.length };
}

/**
 * Client port of the DNAT connection, below the ephemeral range (32768–60999) so that no connection
 * the kernel numbers takes it; the port-clash connection binds it again.
 */
const NAT_CLIENT_PORT = 24_680;

/** The number of concurrent short connections of the "many flows" part. */
export const MANY = 100;
const BURST_GAP_MS = 20;

/**
 * Runs the scenario with nf_conntrack_timestamp=`timestamp` and the given conntrack reader:
 * namespaces, collectors, the embedded pipeline reading the namespace's table, all traffic at once;
 * returns once every connection's last record (end of flow or idle) was released and both
 * collectors decoded everything.
 */
export async function runScenario(timestamp: 0 | 1, reader: ReaderKind): Promise<ScenarioResult> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const readerConfig =
      reader === 'ctnetlink' ? { reader, ctnetlinkPath: await buildCtnetlink() } : { reader };
    const pair = await createNetnsPair({ acct: 1, timestamp });
    cleanups.push(() => pair.dispose());
    const [client, server, tshark, nfcapd] = await Promise.all([
      startTrafficAgent(pair.node),
      startTrafficAgent(pair.peer),
      startTshark(),
      startNfcapd(),
    ]);
    cleanups.push(
      () => client.dispose(),
      () => server.dispose(),
      () => tshark.stop(),
      () => nfcapd.stop(),
    );
    const tcp = await server.tcpServer({ host: '::', port: 0, replyBytes: 2000 });
    const udp = await server.udpServer({ host: '::', port: 0 });
    // DNAT: 10.201.0.99:80 is the TCP server (the reply tuple differs: post-NAT IEs).
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

    const released: ScenarioResult['released'] = [];
    const warnings: string[] = [];
    const config = parseConfig(
      {
        node: { name: `agent-e2e-${timestamp}-${reader}` },
        // Not on the default port: other processes on a shared machine may hold it.
        metrics: { enabled: false },
        conntrack: { pollInterval: TIMERS.pollInterval, ...readerConfig },
        flow: { activeTimeout: TIMERS.activeTimeout, idleTimeout: TIMERS.idleTimeout },
        ipfix: { collectors: [tshark, nfcapd].map((c: CollectorHandle) => `udp://${c.host}:${c.port}`) },
      },
      'run',
    );
    const log = {
      info: () => {},
      warn: (_o: object, msg?: string) => {
        warnings.push(msg ?? '');
      },
      error: (_o: object, msg?: string) => {
        warnings.push(msg ?? '');
      },
    };
    const embedded: EmbeddedRun = await startEmbedded(config, log, {
      commandPrefix: inNetns(pair.node, []),
      onRecords: (records) => {
        const at = nowUs();
        for (const record of records) released.push({ record, atUs: at });
      },
    });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await embedded.stop();
    });

    const v4 = RIG_ADDRESSES.nodeV4;
    const v6 = RIG_ADDRESSES.nodeV6;
    const peer4 = RIG_ADDRESSES.peerV4;
    const peer6 = RIG_ADDRESSES.peerV6;
    const conn =
      (kind: ConnKind, protocol: number, src: string, dst: string, dstPort: number) =>
      (traffic: TrafficResult): Conn => ({
        kind,
        protocol,
        src,
        dst,
        srcPort: traffic.localPort,
        dstPort,
        traffic,
        wire: { firstUs: 0, lastUs: 0, packets: 0 },
      });
    const tcpTo = (
      host: string,
      port: number,
      bytes: number,
      chunks: number,
      intervalMs: number,
      localPort?: number,
    ) => client.tcpClient({ host, port, bytes, chunks, intervalMs, ...(localPort ? { localPort } : {}) });
    const capture = await startCapture(pair.node);
    // dumpcap says "Capturing on" a little before packets reach it (measured ~100 ms under load).
    await new Promise((r) => setTimeout(r, 500));
    // The timed connections run together; the burst of MANY short connections starts once the short
    // ones are done (and ends long before the long one does), so the generator's own timing of the
    // timed connections is not blurred by 200 sockets on its event loop.
    const long = tcpTo(peer6, tcp.port, 17_000, 17, 500).then(conn('long-tcp6', 6, v6, peer6, tcp.port));
    const timed = await Promise.all([
      tcpTo(peer4, tcp.port, 5000, 1, 0).then(conn('short-tcp', 6, v4, peer4, tcp.port)),
      client
        .udpClient({ host: peer4, port: udp.port, requests: 10, size: 200, intervalMs: 100 })
        .then(conn('udp', 17, v4, peer4, udp.port)),
      client
        .udpClient({ host: peer6, port: udp.port, requests: 5, size: 100, intervalMs: 100 })
        .then(conn('udp6', 17, v6, peer6, udp.port)),
      client.ping({ host: peer4, count: 5, intervalMs: 200 }).then(conn('icmp', 1, v4, peer4, 0)),
      client.ping({ host: peer6, count: 3, intervalMs: 200 }).then(conn('icmp6', 58, v6, peer6, 0)),
      tcpTo('10.201.0.99', 80, 3000, 1, 0, NAT_CLIENT_PORT).then(conn('nat', 6, v4, '10.201.0.99', 80)),
    ]);
    // The DNAT connection's client port (bound explicitly, as this one: Node binds with SO_REUSEADDR,
    // and a port in TIME_WAIT can be bound again only when both sockets had it), taken again for a connection straight to the server: its
    // reply tuple (server → client port) is the NAT entry's, so conntrack remaps the new connection's
    // source port on the wire (the kernel's table keeps the socket's port in the original tuple).
    // Once it happened by chance to a burst connection and the test matched the wrong packets.
    const natConn = timed.find((c) => c.kind === 'nat')!;
    const clash = await tcpTo(peer4, tcp.port, 2500, 1, 0, natConn.srcPort).then(
      conn('nat-clash', 6, v4, peer4, tcp.port),
    );
    const burst: Array<Promise<Conn>> = [];
    // Started BURST_GAP_MS apart, so dumps and events interleave closely: the race that once cost
    // connections their counters (issue 5: a POLL stamped before an event already reported was
    // dropped by the engine as late) shows here if it comes back. 200 connections 10 ms apart race
    // more often, but on a 2-core machine also delay the poll that times the UDP/ICMP ends (once
    // 122 ms past their poll + 100 ms bound); the unit tests of table.ts pin the race exactly.
    for (let i = 0; i < MANY; i++) {
      burst.push(tcpTo(peer4, tcp.port, 1000 + i, 1, 0).then(conn('many', 6, v4, peer4, tcp.port)));
      await new Promise((r) => setTimeout(r, BURST_GAP_MS));
    }
    const conns = [...timed, clash, ...(await Promise.all(burst)), await long];
    // dumpcap reads the kernel's capture buffer in blocks: give it the last packets (the closing
    // FIN/ACK) before stopping it, or the capture ends at the data before them.
    await new Promise((r) => setTimeout(r, 1000));
    const packets = await capture.stop();

    // Done when every connection's last packet is covered by a released record: the end of flow for
    // TCP; for the others the record an idle (or, when due first, active) timeout released.
    const covered = (c: Conn): boolean =>
      released.some(
        ({ record }) =>
          recordKey(record) === connKey(c) &&
          (c.protocol === 6 ? record.endReason === 3 : record.endUs >= c.traffic.lastPacketUs - 1000),
      );
    await pollUntil(() => (conns.every(covered) ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      describe: () =>
        `not every connection ended: ${conns
          .filter((c) => !covered(c))
          .map(
            (c) =>
              `${c.kind} ${connKey(c)} records ${JSON.stringify(released.filter(({ record }) => recordKey(record) === connKey(c)).map(({ record }) => [record.startUs, record.endUs, record.endReason]))} traffic ${JSON.stringify(c.traffic)}`,
          )
          .slice(0, 10)
          .join('; ')}`,
    });
    const kernel = await readConntrackTable(pair.node);
    for (const c of conns) c.wire = wireTimes(packets, c, kernel);
    const count = released.length;
    const [tsharkFlows, nfcapdFlows] = await Promise.all([
      tshark.records({ count, timeoutMs: 20_000 }),
      nfcapd.records({ count, timeoutMs: 20_000 }),
    ]);
    stopped = true;
    const summary = await embedded.stop();
    return {
      timestamp,
      conns,
      decoded: { tshark: tsharkFlows, nfcapd: nfcapdFlows },
      released: released.slice(0, count),
      kernel,
      warnings,
      sourceErrors: summary.sourceErrors,
      lateObservations: summary.lateObservations,
      retimed: { count: summary.source?.table.retimed ?? 0, maxUs: summary.source?.table.retimedMaxUs ?? 0 },
      eventOverruns: summary.source?.events?.overruns ?? 0,
      eventReadLagMaxUs: summary.source?.events?.readLagMaxUs ?? 0,
      syncWaitMaxUs: summary.source?.events?.syncWaitMaxUs ?? 0,
    };
  } finally {
    for (const f of cleanups.reverse()) await f().catch(() => {});
  }
}
