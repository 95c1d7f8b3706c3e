import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../src/flow/types.js';
import type { DecodedRecord } from '../../../src/ipfix/decoder.js';
import { Decoder } from '../../../src/ipfix/decoder.js';
import { FlowTemplates, type FlowTemplateOptions } from '../../../src/ipfix/flow-templates.js';
import { MessageBuilder } from '../../../src/ipfix/message.js';
import { defaultRegistry } from '../../../src/ipfix/registry.js';
import { ExportSession, type OutMessage } from '../../../src/ipfix/session.js';
import { statsTemplate, statsValues } from '../../../src/ipfix/stats-template.js';
import { makeTemplate, writeDataRecord } from '../../../src/ipfix/template.js';
import { golden, hexOf } from './golden.js';
import { T0_US, record, record6, tuple } from './records.js';

const EXPORT_MS = 1_795_680_010_000;
const T0_MS = 1_795_680_000_123;

function session(templates: FlowTemplateOptions, padSets = false): { s: ExportSession; out: OutMessage[] } {
  const out: OutMessage[] = [];
  const ft = new FlowTemplates(templates);
  const s = new ExportSession({
    flowTemplates: ft,
    statsTemplate: statsTemplate(ft.registry, 280),
    maxMessageSize: 1472,
    clock: () => EXPORT_MS,
    refreshTemplates: false,
    templateRefreshMs: 600_000,
    templateRefreshMessages: 0,
    padSets,
    emit: (m) => out.push(m),
  });
  return { s, out };
}

function decodeAll(msgs: Buffer[]): DecodedRecord[] {
  const d = new Decoder();
  const recs: DecodedRecord[] = [];
  for (const m of msgs) {
    const r = d.decode(m, '192.0.2.1:4739', 'udp', EXPORT_MS);
    expect(r.events.filter((e) => e.kind !== 'template')).toEqual([]);
    recs.push(...r.records);
  }
  return recs;
}

function values(r: DecodedRecord): Record<string, unknown> {
  return Object.fromEntries(r.fields.map((f) => [f.name, f.value]));
}

const a1 = record();
const a2 = record({
  orig: tuple('192.168.1.10', '93.184.216.34', 51000, 80),
  reply: tuple('93.184.216.34', '192.168.1.10', 80, 51000),
  startUs: T0_US - 60_000_000,
  endUs: T0_US,
  delta: { origBytes: 2 ** 40 + 5, origPackets: 2 ** 33, replyBytes: 0, replyPackets: 0 },
  endReason: 2,
});
const a3 = record({
  orig: tuple('10.0.0.3', '10.0.0.4', 1, 65535),
  reply: tuple('10.0.0.4', '10.0.0.3', 65535, 1),
  startUs: T0_US,
  endUs: T0_US,
  delta: { origBytes: 60, origPackets: 1, replyBytes: 0, replyPackets: 0 },
  endReason: 4,
});

describe('golden IPFIX messages (hand-built from RFC 7011 in make-golden.py)', () => {
  it('IPv4 biflow: header, template set and data set; the next message carries sequence number 2', () => {
    const { s, out } = session({ enterprise: false });
    s.add(a1);
    s.add(a2);
    s.flush();
    s.add(a3);
    s.flush();
    expect(out.map((m) => hexOf(m.buf))).toEqual([
      hexOf(golden('v4-biflow-1.hex')),
      hexOf(golden('v4-biflow-2.hex')),
    ]);
    expect(out.map((m) => m.sequence)).toEqual([0, 2]);

    const recs = decodeAll([golden('v4-biflow-1.hex'), golden('v4-biflow-2.hex')]);
    expect(recs.map((r) => r.sequenceNumber)).toEqual([0, 0, 2]);
    expect(values(recs[1]!)).toEqual({
      sourceIPv4Address: '192.168.1.10',
      destinationIPv4Address: '93.184.216.34',
      sourceTransportPort: 51000,
      destinationTransportPort: 80,
      protocolIdentifier: 6,
      flowStartMilliseconds: T0_MS - 60_000,
      flowEndMilliseconds: T0_MS,
      octetDeltaCount: 2n ** 40n + 5n,
      packetDeltaCount: 2n ** 33n,
      reverseOctetDeltaCount: 0n,
      reversePacketDeltaCount: 0n,
      flowEndReason: 2,
      biflowDirection: 1,
    });
  });

  it('IPv6 biflow under NAT with enterprise elements', () => {
    const { s, out } = session({});
    s.add(
      record6({
        nat: true,
        reply: tuple('2001:db8::99', '2001:db8::1', 8053, 5353),
        firstSeenMidLife: true,
        recordIndex: 0,
        mark: 0x10,
      }),
    );
    s.flush();
    expect(out.map((m) => hexOf(m.buf))).toEqual([hexOf(golden('v6-nat-biflow.hex'))]);
    const [r] = decodeAll([golden('v6-nat-biflow.hex')]);
    expect(values(r!)).toMatchObject({
      sourceIPv6Address: '2001:db8::1',
      postNATSourceIPv6Address: '2001:db8::1',
      postNATDestinationIPv6Address: '2001:db8::99',
      postNAPTSourceTransportPort: 5353,
      postNAPTDestinationTransportPort: 8053,
      reverseOctetDeltaCount: 9000n,
      ctflowFirstSeenMidLife: true,
      ctflowRecordIndex: 0,
      ctflowConntrackId: 123456,
      ctflowConntrackMark: 0x10,
    });
  });

  it('ICMP without counters: dateTimeSeconds in 4 octets, no counter fields, padded set', () => {
    const { s, out } = session({ timestamps: ['seconds'], enterprise: false }, true);
    const icmp = (src: string, dst: string, type: number, code: number): FlowRecord['orig'] => ({
      src,
      dst,
      srcPort: 0,
      dstPort: 0,
      icmpType: type,
      icmpCode: code,
      icmpId: 77,
    });
    const base = { protocol: 1, delta: null, total: null } as const;
    s.add(
      record({
        ...base,
        orig: icmp('10.0.0.1', '10.0.0.9', 8, 0),
        reply: icmp('10.0.0.9', '10.0.0.1', 0, 0),
        startUs: 1_795_680_000_500_000,
        endUs: 1_795_680_002_999_999,
        endReason: 1,
      }),
    );
    s.add(
      record({
        ...base,
        orig: icmp('10.0.0.9', '10.0.0.1', 3, 1),
        reply: icmp('10.0.0.1', '10.0.0.9', 3, 1),
        startUs: 1_795_680_001_000_000,
        endUs: 1_795_680_001_000_000,
        endReason: 3,
      }),
    );
    s.flush();
    expect(out.map((m) => hexOf(m.buf))).toEqual([hexOf(golden('v4-icmp-seconds-nocounters.hex'))]);
    const recs = decodeAll([golden('v4-icmp-seconds-nocounters.hex')]);
    expect(recs).toHaveLength(2);
    expect(values(recs[0]!)).toEqual({
      sourceIPv4Address: '10.0.0.1',
      destinationIPv4Address: '10.0.0.9',
      icmpTypeCodeIPv4: 8 << 8,
      protocolIdentifier: 1,
      flowStartSeconds: 1_795_680_000,
      flowEndSeconds: 1_795_680_002,
      flowEndReason: 1,
      biflowDirection: 1,
    });
  });

  it('options template for exporting-process reliability statistics (RFC 7011 §4.3)', () => {
    const t = statsTemplate(defaultRegistry, 280);
    const b = new MessageBuilder(1472);
    b.addTemplate(t);
    b.useSet(280);
    const stats = {
      exportingProcessId: 7,
      exportedMessageTotalCount: 12,
      exportedOctetTotalCount: 3456,
      exportedFlowRecordTotalCount: 100,
      notSentFlowTotalCount: 3,
      notSentPacketTotalCount: 30,
      notSentOctetTotalCount: 4500,
      systemInitTimeMilliseconds: 1_795_680_000_000,
      observationTimeMilliseconds: 1_795_680_060_000,
    };
    b.off += writeDataRecord(b.buf, b.off, t, statsValues(stats));
    const msg = b.finish(EXPORT_MS / 1000, 5, 7);
    expect(hexOf(msg)).toEqual(hexOf(golden('options-stats.hex')));
    const [r] = new Decoder().decode(golden('options-stats.hex'), 'x:1', 'udp', EXPORT_MS).records;
    expect(r?.scopeCount).toBe(1);
    expect(values(r!)['notSentFlowTotalCount']).toBe(3n);
    expect(values(r!)['observationTimeMilliseconds']).toBe(1_795_680_060_000);
  });

  it('variable-length fields with 1- and 3-octet lengths, padded set', () => {
    const r = defaultRegistry;
    const t = makeTemplate(300, [
      r.byName('observationDomainName'),
      r.byName('ipHeaderPacketSection'),
      r.byName('dataRecordsReliability'),
    ]);
    const blob = Uint8Array.from({ length: 300 }, (_, k) => k % 256);
    const b = new MessageBuilder(1472);
    b.addTemplate(t);
    b.useSet(300);
    b.off += writeDataRecord(b.buf, b.off, t, ['node-a', blob, true]);
    b.off += writeDataRecord(b.buf, b.off, t, ['', new Uint8Array(0), false]);
    const msg = b.finish(EXPORT_MS / 1000, 0, 7, true, t.minRecordLength);
    expect(hexOf(msg)).toEqual(hexOf(golden('variable-length.hex')));
    const recs = new Decoder().decode(golden('variable-length.hex'), 'x:1', 'udp', EXPORT_MS).records;
    expect(recs.map(values)).toEqual([
      { observationDomainName: 'node-a', ipHeaderPacketSection: blob, dataRecordsReliability: true },
      { observationDomainName: '', ipHeaderPacketSection: new Uint8Array(0), dataRecordsReliability: false },
    ]);
  });
});

describe('enterprise PEN', () => {
  it('is configurable: ctflow elements go under the PEN given', () => {
    const ft = new FlowTemplates({ enterprisePen: 4242 });
    const own = ft.templateFor(record()).fields.filter((f) => f.ie.name.startsWith('ctflow'));
    expect(own.map((f) => [f.ie.pen, f.ie.id])).toEqual([
      [4242, 1],
      [4242, 2],
      [4242, 3],
      [4242, 4],
      [4242, 5],
    ]);
  });
});
