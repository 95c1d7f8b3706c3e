/**
 * TLS transport to one collector (RFC 7011 §11: IPFIX over TLS on TCP, Exporting and Collecting Processes
 * mutually authenticated with X.509 certificates). TLS 1.2 or later only; the collector's certificate must
 * chain to the configured CA and name the host of the URL (or `servername`). Framing, reconnect, backoff,
 * the bounded buffer and templates-first are the TCP transport's (createStreamTransport).
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import { type TcpTransportOptions, createStreamTransport } from './tcp.js';
import type { Transport } from './types.js';

/** The lowest TLS version ctflow speaks to collectors and accepts from exporters. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/** Certificates of one side of an IPFIX-over-TLS session. PEM strings or buffers. */
export interface IpfixTlsOptions {
  /** CA(s) that sign the peer's certificate. Default: the system CAs. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Our certificate (chain) and private key: required by RFC 7011 §11 mutual authentication. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Name the collector's certificate must carry, when it differs from the URL's host. */
  readonly servername?: string;
}

/** Settings of a TLS transport: the TCP ones plus the certificates. */
export interface TlsTransportOptions extends TcpTransportOptions {
  readonly tls: IpfixTlsOptions;
  /**
   * How long to wait after the handshake for the collector to refuse our certificate before sending, when
   * it sends no TLS 1.3 session ticket (which proves it accepted us). Default 200 ms.
   */
  readonly acceptWaitMs?: number;
}

/** Opens a TLS transport; it connects in the background and never throws after this returns. */
export function createTlsTransport(o: TlsTransportOptions): Transport {
  const servername = o.tls.servername ?? (isIP(o.host) === 0 ? o.host : undefined);
  return createStreamTransport(o, 'tls', (ready) => {
    const s = tls.connect({
      host: o.host,
      port: o.port,
      minVersion: MIN_TLS_VERSION,
      rejectUnauthorized: true,
      ...(servername === undefined ? {} : { servername }),
      ...(o.tls.ca === undefined ? {} : { ca: o.tls.ca as string | Buffer | (string | Buffer)[] }),
      ...(o.tls.cert === undefined ? {} : { cert: o.tls.cert }),
      ...(o.tls.key === undefined ? {} : { key: o.tls.key }),
    });
    // A collector may refuse our certificate after our side of the handshake has ended: in TLS 1.3 it
    // checks it after our Finished, and servers that verify the chain in application code (Node's own)
    // check it after the handshake in 1.2 too. Whatever is written before that refusal is lost. So the
    // session is ready at the collector's first TLS 1.3 session ticket (sent only once it accepted us), or
    // after a short wait without the connection being closed.
    let secured = false;
    let accepted = false;
    let wait: NodeJS.Timeout | undefined;
    const accept = (): void => {
      if (accepted || s.destroyed) return;
      accepted = true;
      clearTimeout(wait);
      ready();
    };
    s.on('session', () => {
      // Not from inside OpenSSL's read of the ticket: writing there corrupts the record layer.
      if (secured && s.getProtocol() === 'TLSv1.3') setImmediate(accept);
    });
    s.once('secureConnect', () => {
      secured = true;
      wait = setTimeout(accept, o.acceptWaitMs ?? 200);
    });
    s.once('end', () => {
      if (!accepted) {
        s.destroy(
          new Error(
            'the collector closed the TLS session before accepting it (does it trust our certificate?)',
          ),
        );
      }
    });
    s.once('close', () => clearTimeout(wait));
    return s;
  });
}
