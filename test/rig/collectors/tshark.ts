import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { pollUntil } from './poll.js';
import { CollectorProcess, makeTempDir, removeDir, requireBinary } from './process.js';
import { freePort, RIG_HOST } from './net.js';
import { type PdmlMessage, parsePdmlFlows, parsePdmlMessages } from './tshark-pdml.js';
import type { CollectorHandle, DecodedFlow, RecordsQuery, StartCollectorOptions } from './types.js';

export type { PdmlMessage };

/** Handle of tshark, which also shows every IPFIX message header it captured. */
export interface TsharkHandle extends CollectorHandle {
  /** The IPFIX messages captured so far (header and data record count), in order. */
  messages(): PdmlMessage[];
}

/** A socket that owns the port tshark watches, so senders reach a real endpoint (no ICMP unreachable, TCP accepts). */
type Sink = { port: number; close(): Promise<void> };

async function openSink(transport: 'udp' | 'tcp', port: number): Promise<Sink> {
  if (transport === 'udp') {
    const socket: Socket = createSocket('udp4');
    socket.on('message', () => {}); // read and discard: tshark sees the packet on `lo` anyway
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, RIG_HOST, () => resolve());
    });
    return {
      port: socket.address().port,
      close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
    };
  }
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, RIG_HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tshark sink: no TCP address');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * One packet tshark's filter matches but that holds no IPFIX record: an empty UDP datagram, or a TCP
 * connection attempt (nothing listens yet: its SYN and the RST carry no payload for the IPFIX dissector).
 */
async function probe(transport: 'udp' | 'tcp', port: number): Promise<void> {
  if (transport === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.send(Buffer.alloc(0), port, RIG_HOST, () => resolve()));
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return;
  }
  await new Promise<void>((resolve) => {
    const socket = connect(port, RIG_HOST, () => socket.end());
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
}

/**
 * Starts tshark capturing on `lo` for one loopback port, decoding it as IPFIX (`-d <udp|tcp>.port==P,cflow`)
 * and printing PDML. tshark only watches: once it has printed a probe packet (ready), the rig takes the
 * port itself (a discarding UDP socket or an accepting TCP server) so exporters reach a real endpoint.
 * tshark decodes dateTime* elements to the nanosecond, RFC 5103 reverse elements, IPv6, and IPFIX over TCP.
 */
export async function startTshark(options: StartCollectorOptions = {}): Promise<TsharkHandle> {
  const transport = options.transport ?? 'udp';
  const bin = await requireBinary('tshark', 'install the Debian package: apt-get install -y tshark');
  const dir = await makeTempDir('tshark');
  const port = options.port ?? (await freePort(transport));
  const proc = new CollectorProcess(
    [
      bin,
      '-i',
      'lo',
      '-n',
      '-l',
      '-f',
      `${transport} port ${port}`,
      '-d',
      `${transport}.port==${port},cflow`,
      '-T',
      'pdml',
    ],
    // tshark's dumpcap writes its capture file to TMPDIR: keep it in our directory, removed on stop.
    { cwd: dir, env: { TMPDIR: dir } },
  );
  let sink: Sink | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await proc.stop();
    await sink?.close();
    await removeDir(dir);
  };
  try {
    // Ready when tshark prints a packet it captured: probe until one shows up. (Its "Capturing on" line
    // comes before the capture filter is in place; probing works for every tshark version.)
    await pollUntil(
      async () => {
        if (proc.stdoutText.includes('<packet>')) return true;
        if (proc.exit !== undefined) throw new Error(`tshark exited before capturing: ${proc.describe()}`);
        await probe(transport, port);
        return undefined;
      },
      {
        timeoutMs: options.startTimeoutMs ?? 20_000,
        intervalMs: 100,
        describe: () => `tshark did not start capturing: ${proc.describe()}`,
      },
    );
    // Only now take the port: an exporter waiting to (re)connect over TCP sends its templates first
    // thing on connect, and tshark must see them.
    sink = await openSink(transport, port);
  } catch (err) {
    await stop();
    throw err;
  }
  const decoded = (): DecodedFlow[] => parsePdmlFlows(proc.stdoutText);
  return {
    name: 'tshark',
    transport,
    host: RIG_HOST,
    port,
    records: (query: RecordsQuery) =>
      pollUntil(
        () => {
          const flows = decoded();
          return flows.length >= query.count ? flows : undefined;
        },
        {
          timeoutMs: query.timeoutMs ?? 15_000,
          describe: () =>
            `tshark decoded ${decoded().length} of ${query.count} records on ${transport}/${port}: ${proc.describe()}`,
        },
      ),
    messages: () => parsePdmlMessages(proc.stdoutText),
    diagnostics: async () => proc.describe(),
    stop,
  };
}
