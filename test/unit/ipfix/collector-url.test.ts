import { describe, expect, it } from 'vitest';
import { parseCollectorUrl as configParse } from '../../../src/config/addresses.js';
import { isCtflowError } from '../../../src/errors.js';
import { parseCollectorUrl, tryParseCollectorUrl } from '../../../src/ipfix/collector-url.js';

describe('collector URLs (the one parser)', () => {
  it('parses udp, tcp and tls; IPv6 without brackets in host; url normalised', () => {
    expect(parseCollectorUrl('tls://collector.example.org:4740/')).toEqual({
      protocol: 'tls',
      host: 'collector.example.org',
      port: 4740,
      url: 'tls://collector.example.org:4740',
    });
    expect(parseCollectorUrl('tcp://[::1]:4739')).toEqual({
      protocol: 'tcp',
      host: '::1',
      port: 4739,
      url: 'tcp://[::1]:4739',
    });
    expect(parseCollectorUrl(' udp://10.0.0.9:4739 ').url).toBe('udp://10.0.0.9:4739');
  });

  it('allows port 0 only for listening addresses', () => {
    expect(tryParseCollectorUrl('tls://127.0.0.1:0')).toBeUndefined();
    expect(parseCollectorUrl('tls://127.0.0.1:0', true).port).toBe(0);
  });

  it('throws CONFIG_INVALID naming the address and the three accepted forms', () => {
    let err: unknown;
    try {
      parseCollectorUrl('https://c:4740');
    } catch (e) {
      err = e;
    }
    expect(isCtflowError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toBe(
      'collector address "https://c:4740" is not a collector URL udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT',
    );
  });

  it.each([
    'tls://127.0.0.1:4740',
    'tcp://[fd00::1]:4739',
    'udp://c.example:4739',
    'tls://bad host:4740',
    'tls://c:99999',
    'dtls://c:4740',
    'tls://c:4740/path',
  ])('config accepts exactly what the exporter accepts: %s', (url) => {
    expect(configParse(url)).toEqual(tryParseCollectorUrl(url));
  });
});
