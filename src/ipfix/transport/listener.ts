/**
 * Collector-side sockets for `ctflow collect` and tests: a UDP socket (one datagram = one message), a
 * TCP server, or a TLS server (each connection framed into messages). Exporter identity is
 * "address:port" of the peer.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { CtflowError } from '../../errors.js';
import type { CollectorAddress } from '../collector-url.js';
import { MessageFramer } from '../framer.js';
import { type IpfixTlsOptions, MIN_TLS_VERSION } from './tls.js';

/** What a listener reports. */
export interface ListenerHandlers {
  /** A message; TLS sessions are reported as 'tcp' (the same stream semantics for templates). */
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

/**
 * Binds a UDP socket or starts a TCP or TLS server at `addr`. A tls:// address needs `tlsOptions` with the
 * server's certificate and key; exporters must present a certificate signed by `ca` (RFC 7011 §11 mutual
 * authentication) over TLS 1.2 or later, else the handshake fails and is reported to `h.error`.
 */
export function listen(
  addr: CollectorAddress,
  h: ListenerHandlers,
  tlsOptions?: IpfixTlsOptions,
): Promise<Listener> {
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
  const onConnection = (c: net.Socket): void => {
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
  };
  let server: net.Server;
  try {
    server =
      addr.protocol === 'tls' ? tlsServer(addr, h, tlsOptions, onConnection) : net.createServer(onConnection);
  } catch (err) {
    return Promise.reject(err);
  }
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

function tlsServer(
  addr: CollectorAddress,
  h: ListenerHandlers,
  o: IpfixTlsOptions | undefined,
  onConnection: (c: net.Socket) => void,
): tls.Server {
  if (o?.cert === undefined || o.key === undefined) {
    throw new CtflowError('CONFIG_INVALID', `${addr.url} needs a server certificate and key`, {
      details: { field: 'tls', value: addr.url, expected: 'a PEM certificate and private key' },
    });
  }
  const server = tls.createServer(
    {
      cert: o.cert,
      key: o.key,
      ...(o.ca === undefined ? {} : { ca: o.ca as string | Buffer | (string | Buffer)[] }),
      minVersion: MIN_TLS_VERSION,
      requestCert: true,
      rejectUnauthorized: true,
    },
    onConnection,
  );
  // A refused handshake (no or untrusted client certificate, old TLS version) never reaches onConnection.
  server.on('tlsClientError', (err, s) => {
    h.error(
      new CtflowError(
        'TRANSPORT',
        `${addr.url}: TLS handshake with ${peer(s.remoteAddress, s.remotePort)} refused: ${err.message}`,
        {
          details: { listener: addr.url },
          cause: err,
        },
      ),
    );
  });
  return server;
}
