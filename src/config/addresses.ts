/**
 * Address syntax shared by the configuration and its users: collector URLs (udp://, tcp://,
 * tls://) and Kafka broker HOST:PORT pairs.
 */
import { type CollectorAddress, parseHost, parsePort, tryParseCollectorUrl } from '../ipfix/collector-url.js';

export type { CollectorAddress, CollectorProtocol } from '../ipfix/collector-url.js';
/** The form collector URLs must have, for error messages. */
export { COLLECTOR_URL_EXPECTED } from '../ipfix/collector-url.js';

/** The form broker addresses must have, for error messages. */
export const BROKER_EXPECTED = 'a broker address HOST:PORT (e.g. 127.0.0.1:9092 or [::1]:9092)';

/**
 * Parses a collector URL, or returns undefined when it is not one. The one parser lives in
 * src/ipfix/collector-url.ts (the exporter and `ctflow collect` use it): config accepts exactly what they do.
 */
export const parseCollectorUrl = (url: string): CollectorAddress | undefined => tryParseCollectorUrl(url);

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
  const host = parseHost(m[1]!);
  const port = parsePort(m[2]!, allowPortZero ? 0 : 1);
  return host === undefined || port === undefined ? undefined : { host, port };
}
