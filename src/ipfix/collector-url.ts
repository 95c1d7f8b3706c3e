/**
 * Collector and listener addresses as URLs: `udp://host:port`, `tcp://host:port`, `tls://host:port`,
 * `udp://[::1]:4739`. The one parser of collector URLs: the configuration schema validates with it too.
 */
import { CtflowError } from '../errors.js';

/** Transport of a collector: RFC 7011 §10.3 UDP, §10.4 TCP, and TLS over TCP (§11). */
export type CollectorProtocol = 'udp' | 'tcp' | 'tls';

/** A parsed collector address. */
export interface CollectorAddress {
  readonly protocol: CollectorProtocol;
  /** Host name or address literal, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** The URL as given (normalised: no trailing slash), for stats, metric labels and logs. */
  readonly url: string;
}

/** The form collector URLs must have, for error messages. */
export const COLLECTOR_URL_EXPECTED = 'a collector URL udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

/** A port number 1..65535 (0..65535 with `min` 0), or undefined. */
export function parsePort(text: string, min = 1): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= min && port <= 65535 ? port : undefined;
}

/** A host name, IPv4 literal or bracketed IPv6 literal (returned without brackets), or undefined. */
export function parseHost(host: string): string | undefined {
  if (host.startsWith('[') && host.endsWith(']')) {
    const inner = host.slice(1, -1);
    return /^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(inner) && inner.includes(':') ? inner : undefined;
  }
  return HOSTNAME.test(host) ? host : undefined;
}

/**
 * Parses a collector URL, or returns undefined when it is not one. A listening address
 * (`forListening`) may use port 0 for "any free port".
 */
export function tryParseCollectorUrl(text: string, forListening = false): CollectorAddress | undefined {
  const m = /^(udp|tcp|tls):\/\/(\[[^\]]*\]|[^:/?#[\]]+):([^/?#]*)\/?$/.exec(text.trim());
  if (!m) return undefined;
  const host = parseHost(m[2]!);
  const port = parsePort(m[3]!, forListening ? 0 : 1);
  if (host === undefined || port === undefined) return undefined;
  const protocol = m[1] as CollectorProtocol;
  return { protocol, host, port, url: `${protocol}://${m[2]}:${port}` };
}

/** Like {@link tryParseCollectorUrl}, but throws CONFIG_INVALID naming the bad address. */
export function parseCollectorUrl(text: string, forListening = false): CollectorAddress {
  const address = tryParseCollectorUrl(text, forListening);
  if (address === undefined) {
    throw new CtflowError('CONFIG_INVALID', `collector address "${text}" is not ${COLLECTOR_URL_EXPECTED}`, {
      details: {
        field: 'collectors',
        value: text,
        expected: `udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT, port ${forListening ? 0 : 1}..65535`,
      },
    });
  }
  return address;
}
