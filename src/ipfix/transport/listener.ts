/**
 * Collector-side sockets for `ctflow collect` and tests: a UDP socket (one datagram = one message) or
 * a TCP server (each connection framed into messages). Exporter identity is "address:port" of the peer.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { CollectorAddress } from '../collector-url.js';
import { MessageFramer } from '../framer.js';

/** What a listener reports. */
export interface ListenerHandlers {
  message(msg: Buffer, exporter: string, transport: 'udp' | 'tcp'): void;
  /** A TCP exporter disconnected (its templates can be forgotten). */
  closed?(exporter: string): void;
  error(err: unknown): void;
}

/** A bound listener. */
export interface Listener {
  /** The bound address (port resolved when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function peer(address: string | undefined, port: number | undefined): string {
  const a = address ?? '?';
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}

/** Binds a UDP socket or starts a TCP server at `addr`. */
export function listen(addr: CollectorAddress, h: ListenerHandlers): Promise<Listener> {
  if (addr.protocol === 'udp') {
    const s = dgram.createSocket({
      type: net.isIP(addr.host) === 6 ? 'udp6' : 'udp4',
      recvBufferSize: 4 << 20,
    });
    s.on('message', (m, r) => h.message(m, peer(r.address, r.port), 'udp'));
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(addr.port, addr.host, () => {
        s.off('error', reject);
        s.on('error', (e) => h.error(e));
        const a = s.address();
        resolve({ host: a.address, port: a.port, close: () => new Promise((r) => s.close(() => r())) });
      });
    });
  }
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    const who = peer(c.remoteAddress, c.remotePort);
    const framer = new MessageFramer();
    c.on('data', (chunk) => {
      try {
        for (const m of framer.push(chunk)) h.message(m, who, 'tcp');
      } catch (err) {
        h.error(err);
        c.destroy();
      }
    });
    c.on('error', (e) => h.error(e));
    c.on('close', () => {
      conns.delete(c);
      h.closed?.(who);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      server.on('error', (e) => h.error(e));
      const a = server.address() as net.AddressInfo;
      resolve({
        host: a.address,
        port: a.port,
        close: () =>
          new Promise((r) => {
            for (const c of conns) c.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
