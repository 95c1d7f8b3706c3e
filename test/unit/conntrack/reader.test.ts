import { describe, expect, it } from 'vitest';
import { withStdinLifeline } from '../../../src/conntrack/lifeline.js';
import { conntrackToolsReader, ctnetlinkReader } from '../../../src/conntrack/reader.js';
import { fixtureLines } from './fixtures.js';

describe('readers', () => {
  it('build the commands with the prefix (e.g. a network namespace)', () => {
    const prefix = ['ip', 'netns', 'exec', 'ns1'];
    expect(conntrackToolsReader([...prefix, 'conntrack'], 1024).dumpArgv).toEqual([
      ...prefix,
      'conntrack',
      '-L',
      '-o',
      'xml,ktimestamp',
    ]);
    // conntrack -E under the stdin lifeline (lifeline.ts): it ends when ctflow is gone.
    expect(conntrackToolsReader(['conntrack'], 1024).eventsArgv).toEqual(
      withStdinLifeline(['conntrack', '-E', '-o', 'timestamp,extended,id', '-b', '1024']),
    );
    expect(ctnetlinkReader([...prefix, '/x/ctnetlink']).eventsArgv).toEqual([
      ...prefix,
      '/x/ctnetlink',
      'events',
    ]);
  });

  it('ctnetlink: reads the id from the bytes and fingerprints each distinct dump line differently', () => {
    const reader = ctnetlinkReader(['ctnetlink']);
    const lines = fixtureLines('ctnetlink-dump.txt');
    for (const l of lines) {
      const bytes = Buffer.from(l, 'latin1');
      expect(reader.conntrackId(bytes)).toBe(reader.parseDumpLine(l)!.conntrackId);
      expect(reader.fingerprint(bytes)).toBe(reader.fingerprint(Buffer.from(l, 'latin1')));
    }
    expect(new Set(lines.map((l) => reader.fingerprint(Buffer.from(l)))).size).toBe(lines.length);
    // Events are not dump lines: no fingerprint, and a dump never takes them for entries.
    const event = fixtureLines('ctnetlink-events.txt')[0]!;
    expect(reader.fingerprint(Buffer.from(event))).toBeNull();
    expect(() => reader.parseDumpLine(event)).toThrow();
    expect(reader.parseEventLine('!ENOBUFS')).toBe('overrun');
    expect(reader.parseEventLine('!DROPPED\t3')).toEqual({ mark: 'dropped', count: 3 });
    expect(reader.parseEventLine('!SYNC\t42')).toEqual({ mark: 'sync', timeUs: 42 });
    expect(reader.syncsEvents).toBe(true);
    expect(conntrackToolsReader(['conntrack'], 1024).syncsEvents).toBe(false);
  });

  it('conntrack-tools: reads the id from the bytes of an XML dump line', () => {
    const reader = conntrackToolsReader(['conntrack'], 1024);
    for (const l of fixtureLines('dump-xml.txt').filter((x) => x.startsWith('<flow>'))) {
      expect(reader.conntrackId(Buffer.from(l))).toBe(reader.parseDumpLine(l)!.conntrackId);
    }
  });
});
