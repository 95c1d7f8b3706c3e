/**
 * Address syntax shared by the configuration and its users: collector URLs (udp://, tcp://,
 * tls://) and Kafka broker HOST:PORT pairs.
 */

/** Transport of an IPFIX collector (RFC 7011 §10: UDP, TCP; TLS over TCP per §11). */
export type CollectorProtocol = 'udp' | 'tcp' | 'tls';

/** A parsed collector address. `host` is bare (no IPv6 brackets). */
export interface CollectorAddress {
  protocol: CollectorProtocol;
  host: string;
  port: number;
  /** The URL as configured, used as the `collector` metric label. */
  url: string;
}

/** The form collector URLs must have, for error messages. */
export const COLLECTOR_URL_EXPECTED = 'a collector URL udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT';

/** The form broker addresses must have, for error messages. */
export const BROKER_EXPECTED = 'a broker address HOST:PORT (e.g. 127.0.0.1:9092 or [::1]:9092)';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

function validPort(text: string, min = 1): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= min && port <= 65535 ? port : undefined;
}

function validHost(host: string): string | undefined {
  if (host.startsWith('[') && host.endsWith(']')) {
    const inner = host.slice(1, -1);
    return /^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(inner) && inner.includes(':') ? inner : undefined;
  }
  return HOSTNAME.test(host) ? host : undefined;
}

/** Parses a collector URL, or returns undefined when it is not one. */
export function parseCollectorUrl(url: string): CollectorAddress | undefined {
  const m = /^(udp|tcp|tls):\/\/(\[[^\]]*\]|[^:/?#[\]]+):([^/?#]*)\/?$/.exec(url);
  if (!m) return undefined;
  const host = validHost(m[2]!);
  const port = validPort(m[3]!);
  if (host === undefined || port === undefined) return undefined;
  return { protocol: m[1] as CollectorProtocol, host, port, url };
}

/**
 * Parses HOST:PORT (IPv6 in brackets), or returns undefined. `allowPortZero` is for listen
 * addresses, where port 0 asks the kernel for a free port.
 */
export function parseHostPort(
  text: string,
  allowPortZero = false,
): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]*\]|[^:[\]]+):(\d+)$/.exec(text);
  if (!m) return undefined;
  const host = validHost(m[1]!);
  const port = validPort(m[2]!, allowPortZero ? 0 : 1);
  return host === undefined || port === undefined ? undefined : { host, port };
}
