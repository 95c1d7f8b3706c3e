import { describe, expect, it } from 'vitest';
import type { ConntrackEntry } from '../../../src/conntrack/entry.js';
import { LineFormatError } from '../../../src/conntrack/parse-error.js';
import { parseEventLine, parseExtendedLine } from '../../../src/conntrack/parse-extended-line.js';
import { parseXmlDumpLine } from '../../../src/conntrack/parse-xml-dump.js';
import { IPS } from '../../../src/conntrack/status.js';
import { fixtureLines } from './fixtures.js';

function parseAll(name: string): ConntrackEntry[] {
  return fixtureLines(name)
    .map((l) => parseXmlDumpLine(l))
    .filter((e): e is ConntrackEntry => e !== null);
}

describe('parseXmlDumpLine on a real dump (conntrack -L -o xml,ktimestamp)', () => {
  const entries = parseAll('dump-xml.txt');
  const extended = new Map(
    fixtureLines('dump-extended.txt').map((l) => [parseExtendedLine(l).conntrackId, parseExtendedLine(l)]),
  );
  const newEvents = new Map(
    fixtureLines('events.txt')
      .map((l) => parseEventLine(l))
      .filter((e) => e?.kind === 'NEW')
      .map((e) => [e!.entry.conntrackId, e!.timeUs]),
  );

  it('reads every entry (framing lines are skipped)', () => {
    expect(entries).toHaveLength(fixtureLines('dump-xml.txt').filter((l) => l.startsWith('<flow>')).length);
    expect(entries.length).toBe(11);
  });

  it('agrees with the line format of the same table on everything but ICMP fields and stamps', () => {
    for (const e of entries) {
      const x = extended.get(e.conntrackId);
      expect(x, `id ${e.conntrackId} in both dumps`).toBeDefined();
      const strip = (t: ConntrackEntry['orig']) => ({ ...t, icmpType: null, icmpCode: null, icmpId: null });
      expect({ ...e, kernelStartUs: null, orig: strip(e.orig), reply: strip(e.reply) }).toEqual({
        ...x,
        orig: strip(x!.orig),
        reply: strip(x!.reply),
      });
    }
  });

  // The event time is when conntrack printed the event: after the kernel stamped the entry, by up to
  // ~10 ms on a loaded machine (measured 0.03-8.2 ms in this fixture).
  it('carries the kernel start stamp to the µs, before and within 50 ms of the NEW event time', () => {
    let compared = 0;
    for (const e of entries) {
      expect(e.kernelStartUs).toBeGreaterThan(1.7e15);
      const eventUs = newEvents.get(e.conntrackId);
      if (eventUs === undefined) continue; // entries made before the event listener saw them
      compared++;
      const lag = eventUs - (e.kernelStartUs as number);
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThan(50_000);
    }
    expect(compared).toBeGreaterThanOrEqual(8);
  });

  it('reads the DNAT entry: reply tuple, NAT bit, counters, TCP state', () => {
    const nat = entries.find((e) => e.orig.dst === '10.201.0.99');
    expect(nat).toMatchObject({
      family: 'IPV4',
      protocol: 6,
      orig: { src: '10.201.0.1', dst: '10.201.0.99', dstPort: 80 },
      reply: { src: '10.201.0.2', dst: '10.201.0.1', srcPort: 8080 },
      tcpState: 'TIME_WAIT',
      counters: { origPackets: 6, origBytes: 1320, replyPackets: 4, replyBytes: 218 },
    });
    expect(nat!.status & IPS.DST_NAT).toBe(IPS.DST_NAT);
    expect(nat!.status & IPS.SRC_NAT).toBe(0);
    expect(nat!.status & IPS.ASSURED).toBe(IPS.ASSURED);
    expect(nat!.status & IPS.SEEN_REPLY).toBe(IPS.SEEN_REPLY);
  });

  it('reads zone and mark, IPv6 SCTP (no TCP state), and an unknown protocol', () => {
    expect(entries.find((e) => e.zone === 3)).toMatchObject({
      mark: 7,
      protocol: 17,
      orig: { srcPort: 1, dstPort: 2 },
    });
    const sctp = entries.find((e) => e.protocol === 132);
    expect(sctp).toMatchObject({
      family: 'IPV6',
      tcpState: null,
      orig: { src: 'fd00::1', dst: 'fd00::2', srcPort: 1000 },
    });
    expect(sctp!.status & IPS.SEEN_REPLY).toBe(0);
    expect(entries.find((e) => e.protocol === 253)).toMatchObject({
      orig: { srcPort: 0, dstPort: 0, icmpType: null },
    });
  });

  it('leaves ICMP fields unset (the XML form does not print them)', () => {
    const icmp = entries.filter((e) => e.protocol === 1 || e.protocol === 58);
    expect(icmp).toHaveLength(2);
    for (const e of icmp) expect(e.orig.icmpId).toBeNull();
  });

  it('gives null counters and stamps with nf_conntrack_acct=0 and nf_conntrack_timestamp=0', () => {
    const plain = parseAll('dump-xml-noacct-nots.txt');
    expect(plain.length).toBeGreaterThan(5);
    for (const e of plain) {
      expect(e.counters).toBeNull();
      expect(e.kernelStartUs).toBeNull();
    }
  });
});

describe('parseXmlDumpLine on broken input', () => {
  const good = fixtureLines('dump-xml.txt').find((l) => l.includes('10.201.0.99')) as string;

  it.each([
    ['a truncated line', good.slice(0, 200)],
    ['a line cut before </flow>', good.slice(0, -8)],
    ['a bad address', good.replace('<src>10.201.0.1</src>', '<src>10.201.0.300</src>')],
    ['an unknown layer 3', good.replaceAll('protonum="2" protoname="ipv4"', 'protonum="7" protoname="x"')],
    ['no conntrack id', good.replace(/<id>\d+<\/id>/, '')],
    ['a non-numeric counter', good.replace('<packets>6</packets>', '<packets>six</packets>')],
    ['a counter beyond 2^53', good.replace('<bytes>1320</bytes>', '<bytes>99999999999999999</bytes>')],
    ['an unknown TCP state', good.replace('TIME_WAIT', 'SLEEPING')],
    ['a port above 65535', good.replace('<dport>80</dport>', '<dport>70000</dport>')],
    ['garbage', 'conntrack v1.4.7 (conntrack-tools): Operation failed'],
  ])('rejects %s with a LineFormatError', (_what, line) => {
    expect(() => parseXmlDumpLine(line)).toThrow(LineFormatError);
  });
});
