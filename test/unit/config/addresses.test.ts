import { describe, expect, it } from 'vitest';
import { parseCollectorUrl, parseHostPort } from '../../../src/config/addresses.js';

describe('collector URLs', () => {
  it('parses udp, tcp and tls with names, IPv4 and bracketed IPv6', () => {
    expect(parseCollectorUrl('udp://127.0.0.1:4739')).toEqual({
      protocol: 'udp',
      host: '127.0.0.1',
      port: 4739,
      url: 'udp://127.0.0.1:4739',
    });
    expect(parseCollectorUrl('tcp://[::1]:4739')).toMatchObject({ protocol: 'tcp', host: '::1', port: 4739 });
    expect(parseCollectorUrl('tls://collector.example.org:4740/')).toMatchObject({
      protocol: 'tls',
      host: 'collector.example.org',
    });
  });

  it.each([
    'http://127.0.0.1:4739',
    'udp://127.0.0.1',
    'udp://127.0.0.1:0',
    'udp://127.0.0.1:65536',
    'udp://:4739',
    'udp://::1:4739',
    'udp://host:4739/path',
    'udp://host:4739?x=1',
    '127.0.0.1:4739',
    'udp://bad host:4739',
  ])('rejects %s', (url) => {
    expect(parseCollectorUrl(url)).toBeUndefined();
  });
});

describe('HOST:PORT', () => {
  it('parses broker addresses', () => {
    expect(parseHostPort('kafka-0.kafka:9092')).toEqual({ host: 'kafka-0.kafka', port: 9092 });
    expect(parseHostPort('[fd00::1]:9093')).toEqual({ host: 'fd00::1', port: 9093 });
  });

  it('allows port 0 only for listen addresses', () => {
    expect(parseHostPort('127.0.0.1:0')).toBeUndefined();
    expect(parseHostPort('127.0.0.1:0', true)).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it.each(['k1', 'k1:', ':9092', 'k1:port', 'fd00::1:9092', 'k1:99999'])('rejects %s', (text) => {
    expect(parseHostPort(text)).toBeUndefined();
  });
});
