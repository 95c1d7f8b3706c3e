/** Collector and listener addresses as URLs: `udp://host:port`, `tcp://host:port`, `udp://[::1]:4739`. */
import { CtflowError } from '../errors.js';

/** A parsed collector address. */
export interface CollectorAddress {
  readonly protocol: 'udp' | 'tcp';
  /** Host name or address literal, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** The URL as given (normalised), for stats and logs. */
  readonly url: string;
}

/**
 * Parses `udp://host:port` or `tcp://host:port` (port 1..65535, IANA's IPFIX port is 4739); a
 * listening address (`forListening`) may use port 0 for "any free port".
 */
export function parseCollectorUrl(text: string, forListening = false): CollectorAddress {
  const m = /^(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]\s]+):(\d{1,5})\/?$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < (forListening ? 0 : 1) || port > 65535) {
    throw new CtflowError(
      'CONFIG_INVALID',
      `collector address "${text}" is not udp://HOST:PORT or tcp://HOST:PORT`,
      {
        details: {
          field: 'collectors',
          value: text,
          expected: 'udp://HOST:PORT or tcp://HOST:PORT, port 1..65535',
        },
      },
    );
  }
  const rawHost = m[2]!;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  const protocol = m[1] as 'udp' | 'tcp';
  return { protocol, host, port, url: `${protocol}://${rawHost}:${port}` };
}
