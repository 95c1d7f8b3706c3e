import { describe, expect, it } from 'vitest';
import type { ConntrackEntry, ConntrackEvent } from '../../../src/conntrack/entry.js';
import { LineFormatError } from '../../../src/conntrack/parse-error.js';
import { parseNetlinkLine } from '../../../src/conntrack/parse-netlink-line.js';
import { IPS } from '../../../src/conntrack/status.js';
import { fixtureLines } from './fixtures.js';

function entries(name: string): ConntrackEntry[] {
  return fixtureLines(name).map((l) => {
    const p = parseNetlinkLine(l);
    if (p.type !== 'entry') throw new Error(`not an entry: ${l}`);
    return p.entry;
  });
}

function events(name: string): ConntrackEvent[] {
  return fixtureLines(name).map((l) => {
    const p = parseNetlinkLine(l);
    if (p.type !== 'event') throw new Error(`not an event: ${l}`);
    return p.event;
  });
}

describe('parseNetlinkLine on real output of tools/ctnetlink', () => {
  const dump = entries('ctnetlink-dump.txt');
  const evs = events('ctnetlink-events.txt');

  it('reads every dump entry and every event', () => {
    expect(dump).toHaveLength(11);
    expect(evs).toHaveLength(40);
    expect(new Set(evs.map((e) => e.kind))).toEqual(new Set(['NEW', 'UPDATE', 'DESTROY']));
  });

  it('carries ICMP fields, kernel stamps and the kernel status bits in the dump', () => {
    const icmp = dump.find((e) => e.protocol === 1)!;
    expect(icmp.orig).toMatchObject({
      src: '10.201.0.1',
      icmpType: 8,
      icmpCode: 0,
      icmpId: expect.any(Number),
    });
    expect(icmp.reply).toMatchObject({ icmpType: 0, icmpId: icmp.orig.icmpId });
    expect(icmp.counters).toEqual({ origPackets: 1, origBytes: 84, replyPackets: 1, replyBytes: 84 });
    for (const e of dump) expect(e.kernelStartUs).toBeGreaterThan(1.7e15);
    const nat = dump.find((e) => e.orig.dst === '10.201.0.99')!;
    expect(nat).toMatchObject({ tcpState: 'TIME_WAIT', reply: { src: '10.201.0.2', srcPort: 8080 } });
    expect(nat.status & (IPS.DST_NAT | IPS.ASSURED | IPS.SEEN_REPLY | IPS.CONFIRMED)).toBe(
      IPS.DST_NAT | IPS.ASSURED | IPS.SEEN_REPLY | IPS.CONFIRMED,
    );
    expect(dump.find((e) => e.zone === 3)).toMatchObject({ mark: 7, protocol: 17 });
    expect(dump.find((e) => e.protocol === 132)).toMatchObject({ family: 'IPV6', tcpState: null });
  });

  it('gives DESTROY events the exact kernel start and stop stamps and final counters', () => {
    const destroys = evs.filter((e) => e.kind === 'DESTROY');
    expect(destroys.length).toBeGreaterThan(0);
    for (const d of destroys) {
      expect(d.entry.kernelStopUs).toBeGreaterThanOrEqual(d.entry.kernelStartUs!);
      // Received after the kernel stopped the entry, a few ms at most here.
      expect(d.timeUs - d.entry.kernelStopUs!).toBeGreaterThanOrEqual(0);
      expect(d.timeUs - d.entry.kernelStopUs!).toBeLessThan(50_000);
      expect(d.entry.counters).not.toBeNull();
      expect(d.entry.status & IPS.DYING).toBe(IPS.DYING);
    }
  });

  it('follows a TCP connection through its states with receive times in order', () => {
    const tcpId = evs.find((e) => e.kind === 'NEW' && e.entry.protocol === 6)!.entry.conntrackId;
    const mine = evs.filter((e) => e.entry.conntrackId === tcpId);
    expect(mine.map((e) => e.entry.tcpState)).toEqual(
      expect.arrayContaining(['SYN_SENT', 'ESTABLISHED', 'FIN_WAIT', 'TIME_WAIT']),
    );
    const times = mine.map((e) => e.timeUs);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('gives no counters and no stamps with nf_conntrack_acct=0 and nf_conntrack_timestamp=0', () => {
    for (const e of entries('ctnetlink-dump-noacct-nots.txt')) {
      expect(e.counters).toBeNull();
      expect(e.kernelStartUs).toBeNull();
    }
  });

  it('reports lost events', () => {
    expect(parseNetlinkLine('!ENOBUFS')).toEqual({ type: 'overrun' });
  });

  it('reads the marks of the events reader: events it dropped, and sync marks', () => {
    expect(parseNetlinkLine('!DROPPED\t17')).toEqual({ type: 'dropped', count: 17 });
    expect(parseNetlinkLine('!SYNC\t1795711929601860')).toEqual({ type: 'sync', timeUs: 1795711929601860 });
    for (const bad of ['!DROPPED', '!DROPPED\t', '!SYNC\tx', '!SYNC\t-1', '!OTHER\t1']) {
      expect(() => parseNetlinkLine(bad), bad).toThrow(LineFormatError);
    }
  });

  const good = fixtureLines('ctnetlink-dump.txt').find((l) => l.includes('\t1\t10.201.0.1\t')) as string;
  it.each([
    ['a short line', good.split('\t').slice(0, 20).join('\t')],
    ['an unknown kind', `X${good.slice(1)}`],
    ['a bad address', good.replace('10.201.0.1', '10.201.0.300')],
    [
      'an ICMP tuple without id',
      good
        .split('\t')
        .map((f, i) => (i === 12 ? '-' : f))
        .join('\t'),
    ],
    [
      'a non-numeric counter',
      good
        .split('\t')
        .map((f, i) => (i === 23 ? 'x' : f))
        .join('\t'),
    ],
    ['an unknown family', good.replace('ipv4', 'ipx')],
  ])('rejects %s', (_what, line) => {
    expect(() => parseNetlinkLine(line)).toThrow(LineFormatError);
  });
});
