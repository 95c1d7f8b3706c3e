import { describe, expect, it } from 'vitest';
import { LineFormatError } from '../../../src/conntrack/parse-error.js';
import { parseEventLine, parseExtendedLine } from '../../../src/conntrack/parse-extended-line.js';
import { IPS } from '../../../src/conntrack/status.js';
import { fixtureLines } from './fixtures.js';

describe('parseEventLine on real events (conntrack -E -o timestamp,extended,id)', () => {
  const events = fixtureLines('events.txt').map((l) => parseEventLine(l));

  it('reads every line', () => {
    expect(events.every((e) => e !== null)).toBe(true);
    expect(events.length).toBe(40);
  });

  it('keeps the µs event time and the event type', () => {
    expect(events[0]).toMatchObject({ kind: 'NEW', timeUs: 1795682916816599 });
    expect(events[0]!.entry).toMatchObject({ conntrackId: 1656340530, tcpState: 'SYN_SENT', counters: null });
    expect(events[0]!.entry.status & IPS.SEEN_REPLY).toBe(0);
    const kinds = new Set(events.map((e) => e!.kind));
    expect(kinds).toEqual(new Set(['NEW', 'UPDATE', 'DESTROY']));
  });

  it('follows a TCP connection through its states to TIME_WAIT', () => {
    const states = events.filter((e) => e!.entry.conntrackId === 1656340530).map((e) => e!.entry.tcpState);
    expect(states).toEqual([
      'SYN_SENT',
      'SYN_RECV',
      'ESTABLISHED',
      'FIN_WAIT',
      'CLOSE_WAIT',
      'LAST_ACK',
      'TIME_WAIT',
    ]);
  });

  it('tells the ICMP echo id from the conntrack id', () => {
    const icmp = events.find((e) => e!.entry.protocol === 1)!.entry;
    expect(icmp).toMatchObject({
      conntrackId: 2312255674,
      orig: { icmpType: 8, icmpCode: 0, icmpId: 19628, srcPort: 0 },
      reply: { icmpType: 0, icmpCode: 0, icmpId: 19628 },
    });
    const icmp6 = events.find((e) => e!.entry.protocol === 58)!.entry;
    expect(icmp6).toMatchObject({
      family: 'IPV6',
      orig: { icmpType: 128, icmpId: 19629 },
      reply: { icmpType: 129 },
    });
  });

  it('reads DESTROY counters, zone, mark and the user-space trailer', () => {
    const d = events.find((e) => e!.kind === 'DESTROY' && e!.entry.zone === 3)!;
    expect(d.entry).toMatchObject({
      conntrackId: 389014722,
      mark: 7,
      counters: { origPackets: 0, origBytes: 0, replyPackets: 0, replyBytes: 0 },
    });
    expect(d.entry.status & IPS.DYING).toBe(IPS.DYING);
  });

  it('reads a timeout DESTROY (no timeout field, kernel stamps to the second ignored)', () => {
    // Verbatim from conntrack-tools 1.4.7 on this machine, an entry expiring by timeout.
    const line =
      '[1795682593.671883]\t[DESTROY] ipv6     10 udp      17 src=::1 dst=::1 sport=37005 dport=5002 packets=1 bytes=49 [UNREPLIED] src=::1 dst=::1 sport=5002 dport=37005 packets=0 bytes=0 delta-time=30 [start=Thu Nov 26 08:42:38 2026] [stop=Thu Nov 26 08:43:08 2026] id=727012866';
    expect(parseEventLine(line)).toMatchObject({
      kind: 'DESTROY',
      timeUs: 1795682593671883,
      entry: { conntrackId: 727012866, counters: { origPackets: 1, origBytes: 49 }, kernelStopUs: null },
    });
  });

  it('skips the closing summary line', () => {
    expect(parseEventLine('conntrack v1.4.7 (conntrack-tools): 13 flow events have been shown.')).toBeNull();
  });

  it.each([
    [
      'no time',
      '[NEW] ipv4 2 udp 17 30 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 id=5',
    ],
    [
      'an unknown event',
      '[1.000001]\t[BOOM] ipv4 2 udp 17 30 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 id=5',
    ],
    ['one tuple', '[1.000001]\t[NEW] ipv4 2 udp 17 30 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 id=5'],
    [
      'no id',
      '[1.000001]\t[NEW] ipv4 2 udp 17 30 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1',
    ],
    [
      'an ICMP tuple without id',
      '[1.000001]\t[NEW] ipv4 2 icmp 1 30 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 src=2.2.2.2 dst=1.1.1.1 type=0 code=0 id=5',
    ],
    [
      'an IPv6 address in IPv4',
      '[1.000001]\t[NEW] ipv4 2 udp 17 30 src=::1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=::1 sport=2 dport=1 id=5',
    ],
    [
      'TCP without state',
      '[1.000001]\t[NEW] ipv4 2 tcp 6 30 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 id=5',
    ],
    [
      'an unterminated bracket',
      '[1.000001]\t[DESTROY] ipv4 2 udp 17 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [start=Thu',
    ],
  ])('rejects %s', (_what, line) => {
    expect(() => parseEventLine(line)).toThrow(LineFormatError);
  });
});

describe('parseExtendedLine on a real dump (conntrack -L -o extended,id)', () => {
  it('reads every line, ICMP included', () => {
    const entries = fixtureLines('dump-extended.txt').map((l) => parseExtendedLine(l));
    expect(entries).toHaveLength(11);
    expect(entries.find((e) => e.protocol === 58)).toMatchObject({
      orig: { src: 'fd00:201::1', icmpType: 128, icmpCode: 0, icmpId: 19629 },
      counters: { origPackets: 1, origBytes: 104 },
    });
  });
});
