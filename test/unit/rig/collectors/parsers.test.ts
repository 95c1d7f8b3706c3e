import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { normaliseGoflow2Record } from '../../../rig/collectors/goflow2.js';
import { canonicalIp } from '../../../rig/collectors/net.js';
import { normaliseNfacctdRecord } from '../../../rig/collectors/nfacctd.js';
import { normaliseNfdumpRecord, parseNfdumpJson } from '../../../rig/collectors/nfcapd.js';
import {
  parsePdmlFlows,
  parsePdmlMessages,
  parseWiresharkTime,
} from '../../../rig/collectors/tshark-pdml.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/ipfix');

interface Described {
  header: { sequenceNumber: number; observationDomainId: number };
  records: Array<Record<string, string | number>>;
}

describe('collector rig parsers (output captured from the real collectors)', async () => {
  const described = JSON.parse(
    await readFile(join(FIXTURES, 'ipv4-biflow-two-records.json'), 'utf8'),
  ) as Described;
  const first = described.records[0] ?? {};

  it('tshark PDML: one flow per data record, reverse elements by their showname, ms times', async () => {
    const pdml = await readFile(join(FIXTURES, 'ipv4-biflow-two-records.tshark.pdml'), 'utf8');
    const flows = parsePdmlFlows(pdml);
    expect(flows).toHaveLength(described.records.length);
    expect(flows[0]).toEqual({
      sequenceNumber: described.header.sequenceNumber,
      observationDomainId: described.header.observationDomainId,
      sourceIPv4Address: first.sourceIPv4Address,
      destinationIPv4Address: first.destinationIPv4Address,
      sourceTransportPort: first.sourceTransportPort,
      destinationTransportPort: first.destinationTransportPort,
      protocolIdentifier: first.protocolIdentifier,
      octetDeltaCount: first.octetDeltaCount,
      packetDeltaCount: first.packetDeltaCount,
      timePrecision: 'milliseconds',
      flowStartMs: first.flowStartMilliseconds,
      flowEndMs: first.flowEndMilliseconds,
      flowEndReason: first.flowEndReason,
      reverseOctetDeltaCount: first.reverseOctetDeltaCount,
    });
    expect(parsePdmlMessages(pdml)).toEqual([
      {
        observationDomainId: described.header.observationDomainId,
        sequenceNumber: described.header.sequenceNumber,
        dataRecords: described.records.length,
      },
    ]);
  });

  it('tshark PDML: an incomplete packet is not read yet', async () => {
    const pdml = await readFile(join(FIXTURES, 'ipv4-biflow-two-records.tshark.pdml'), 'utf8');
    expect(parsePdmlFlows(pdml.slice(0, pdml.indexOf('</packet>')))).toEqual([]);
  });

  it('Wireshark time text to integer ms, refusing local times', () => {
    expect(parseWiresharkTime('Nov 26, 2025 09:40:00.123000000 UTC')).toBe(
      Date.UTC(2025, 10, 26, 9, 40, 0, 123),
    );
    expect(parseWiresharkTime('Jan  2, 2026 00:00:01 UTC')).toBe(Date.UTC(2026, 0, 2, 0, 0, 1));
    expect(() => parseWiresharkTime('Nov 26, 2025 09:40:00.123000000 CET')).toThrow(/expected UTC/);
  });

  it('nfdump JSON: reverse counters are out_bytes/out_packets, times local (TZ=UTC) to the ms', () => {
    const flow = normaliseNfdumpRecord({
      type: 'FLOW',
      first: '2025-11-26T09:40:00.123',
      last: '2025-11-26T09:40:05.456',
      in_packets: 10,
      in_bytes: 1500,
      proto: 6,
      src_port: 40000,
      dst_port: 443,
      src6_addr: '2001:0db8:0000:0000:0000:0000:0000:0001',
      dst6_addr: '2001:db8::2',
      out_packets: 0,
      out_bytes: 64000,
    });
    expect(flow).toEqual({
      sourceIPv6Address: '2001:db8::1',
      destinationIPv6Address: '2001:db8::2',
      sourceTransportPort: 40000,
      destinationTransportPort: 443,
      protocolIdentifier: 6,
      octetDeltaCount: 1500,
      packetDeltaCount: 10,
      reverseOctetDeltaCount: 64000,
      reversePacketDeltaCount: 0,
      flowStartMs: Date.UTC(2025, 10, 26, 9, 40, 0, 123),
      flowEndMs: Date.UTC(2025, 10, 26, 9, 40, 5, 456),
    });
  });

  it('nfdump JSON as nfdump 1.7.1 prints it: no flows, trailing comma after NAT fields', () => {
    expect(parseNfdumpJson('[\nNo matching flows\n]\n')).toEqual([]);
    const records = parseNfdumpJson(
      '[\n{\n\t"type" : "FLOW",\n\t"src4_addr" : "10.1.0.1",\n\t"src4_xlt_ip" : "100.64.0.1",\n\t"dst4_xlt_ip" : "10.9.9.9",\n\t"src_xlt_port" : "5555",\n\t"dst_xlt_port" : "8443",\n}]\n',
    );
    expect(records).toHaveLength(1);
    expect(
      normaliseNfdumpRecord({
        ...records[0],
        first: '2025-11-26T09:40:00.000',
        last: '2025-11-26T09:40:02.345',
      }),
    ).toMatchObject({
      sourceIPv4Address: '10.1.0.1',
      postNATSourceIPv4Address: '100.64.0.1',
      postNATDestinationIPv4Address: '10.9.9.9',
      postNAPTSourceTransportPort: 5555,
      postNAPTDestinationTransportPort: 8443,
    });
  });

  it('nfacctd JSON: custom primitives as strings, SECONDS.MICROS times', () => {
    const flow = normaliseNfacctdRecord({
      event_type: 'purge',
      ip_src: '10.0.0.1',
      ip_dst: '10.0.0.2',
      port_src: 40000,
      port_dst: 443,
      ip_proto: 6,
      timestamp_start: '1764150000.123000',
      timestamp_end: '1764150005.456999',
      export_proto_seqno: 0,
      flow_end_reason: '3',
      rev_octets: '64000',
      rev_packets: '0',
      packets: 10,
      bytes: 1500,
    });
    expect(flow).toMatchObject({
      flowStartMs: 1764150000123,
      flowEndMs: 1764150005456,
      flowEndReason: 3,
      reverseOctetDeltaCount: 64000,
      sequenceNumber: 0,
    });
  });

  it('goflow2 JSON: nanosecond times kept exact beyond 2^53', () => {
    const flow = normaliseGoflow2Record({
      src_addr: '10.0.0.1',
      dst_addr: '10.0.0.2',
      time_flow_start_ns: '1764150000123999999',
      time_flow_end_ns: '1764150005456000000',
      proto: 6,
      flow_end_reason: 3,
    });
    expect(flow).toEqual({
      sourceIPv4Address: '10.0.0.1',
      destinationIPv4Address: '10.0.0.2',
      protocolIdentifier: 6,
      flowEndReason: 3,
      flowStartMs: 1764150000123,
      flowEndMs: 1764150005456,
    });
  });

  it('IPv6 addresses compare in one canonical form', () => {
    expect(canonicalIp('FD00:0:0::0010')).toBe('fd00::10');
    expect(canonicalIp('192.0.2.1')).toBe('192.0.2.1');
  });
});
