import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../src/flow/types.js';
import { createExporter, type IpfixExporter } from '../../../src/ipfix/exporter.js';
import {
  COLLECTOR_INFO,
  COLLECTOR_NAMES,
  type CollectorName,
  type CollectorTransport,
  type DecodedFlow,
  startCollector,
  startNfcapd,
  startTshark,
} from '../../rig/collectors/index.js';
import { freePort, RIG_HOST } from '../../rig/collectors/net.js';
import { pollUntil } from '../../rig/collectors/poll.js';
import { expectedDecode, flowKeyOf, interopRecords, natAndIcmpRecords } from './interop-records.js';

/** Clean-ups of the running test (collectors, exporters), run even when it fails. */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function exporterTo(
  url: string,
  observationDomainId: number,
  options: Partial<Parameters<typeof createExporter>[0]> = {},
): IpfixExporter {
  const errors: unknown[] = [];
  const exporter = createExporter({
    collectors: [url],
    observationDomainId,
    statsIntervalS: 0,
    onError: (err) => errors.push(err),
    ...options,
  });
  cleanups.push(() => exporter.close());
  return exporter;
}

/**
 * Decoded and sent records, paired by flow identity and cut to the fields this collector reports
 * (times only where it decodes the precision they were sent with).
 */
function compare(name: CollectorName, decoded: DecodedFlow[], expected: DecodedFlow[]) {
  const info = COLLECTOR_INFO[name];
  const sentFields = new Set(expected.flatMap((f) => Object.keys(f)));
  const sentByKey = new Map(expected.map((f) => [flowKeyOf(f), f]));
  const cut = (f: DecodedFlow): DecodedFlow => {
    const precision = sentByKey.get(flowKeyOf(f))?.timePrecision;
    const timesDecoded = info.timePrecisions.some((p) => p === precision);
    return Object.fromEntries(
      Object.entries(f).filter(
        ([k]) =>
          info.fields.includes(k) &&
          sentFields.has(k) &&
          (timesDecoded || (k !== 'flowStartMs' && k !== 'flowEndMs')),
      ),
    );
  };
  const byKey = (a: DecodedFlow, b: DecodedFlow): number => flowKeyOf(a).localeCompare(flowKeyOf(b));
  return { decoded: decoded.map(cut).sort(byKey), expected: expected.map(cut).sort(byKey) };
}

/** Resolves once `counter` of the exporter's (only) collector has grown: the exporter's timers ran. */
async function nextSend(exporter: IpfixExporter, counter: 'templates' | 'statsRecords'): Promise<void> {
  const value = (): number => exporter.stats().collectors[0]?.[counter] ?? 0;
  const before = value();
  await pollUntil(() => (value() > before ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 50,
    describe: () => `${counter} did not grow within 10 s: ${JSON.stringify(exporter.stats())}`,
  });
}

/** Resolves once the exporter has sent another template message (UDP template refresh). */
function nextTemplateRefresh(exporter: IpfixExporter): Promise<void> {
  return nextSend(exporter, 'templates');
}

const cases: Array<[CollectorName, CollectorTransport]> = COLLECTOR_NAMES.flatMap((name) =>
  COLLECTOR_INFO[name].transports.map((t): [CollectorName, CollectorTransport] => [name, t]),
);

describe('IPFIX interop: ctflow exporter -> third-party collectors, decoded field by field', () => {
  for (const [name, transport] of cases) {
    it(`${name} over ${transport}: IPv4 and IPv6 biflows, seconds and milliseconds, flowEndReason 1..5`, async () => {
      const collector = await startCollector(name, { transport });
      cleanups.push(() => collector.stop());
      const url = `${transport}://${RIG_HOST}:${collector.port}`;
      // One exporter per time precision (a template carries one choice), each in its own domain.
      const msExporter = exporterTo(url, 12, { templates: { timestamps: ['milliseconds'] } });
      const sExporter = exporterTo(url, 11, { templates: { timestamps: ['seconds'] } });
      const msRecords = interopRecords(12, 40_000);
      const sRecords = interopRecords(11, 41_000);
      msExporter.write(msRecords);
      sExporter.write(sRecords);
      await Promise.all([msExporter.flush(), sExporter.flush()]);
      for (const e of [msExporter, sExporter]) {
        expect(e.stats().recordsRefused).toBe(0);
        expect(e.stats().collectors[0]?.droppedRecords).toBe(0);
      }

      const expected = [
        ...msRecords.map((r) => expectedDecode(r, 'milliseconds')),
        ...sRecords.map((r) => expectedDecode(r, 'seconds')),
      ];
      const decoded = await collector.records({ count: expected.length });
      const { decoded: got, expected: want } = compare(name, decoded, expected);
      expect(got).toEqual(want);
    });
  }

  for (const name of COLLECTOR_NAMES) {
    it(`${name} started after the exporter decodes data after one template refresh`, async () => {
      const port = await freePort('udp');
      const exporter = exporterTo(`udp://${RIG_HOST}:${port}`, 21, { templateRefreshS: 1 });
      // Sent while nothing listens: lost, along with the templates sent at start.
      exporter.write(interopRecords(21, 42_000, 0));
      await exporter.flush();

      const collector = await startCollector(name, { port });
      cleanups.push(() => collector.stop());
      await nextTemplateRefresh(exporter);
      const later = interopRecords(21, 42_000, 1);
      exporter.write(later);
      await exporter.flush();

      const expected = later.map((r: FlowRecord) => expectedDecode(r, 'milliseconds'));
      const decoded = await collector.records({ count: expected.length });
      const { decoded: got, expected: want } = compare(name, decoded, expected);
      expect(got).toEqual(want);
    });
  }

  it('tshark over tcp restarted: the exporter reconnects, re-sends its templates, and new data decodes', async () => {
    const first = await startTshark({ transport: 'tcp' });
    cleanups.push(() => first.stop());
    const exporter = exporterTo(`tcp://${RIG_HOST}:${first.port}`, 51, {
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
    });
    exporter.write(interopRecords(51, 49_000, 0));
    await exporter.flush();
    await first.records({ count: 5 });
    await first.stop(); // the collector goes away: the exporter's connection is closed

    const second = await startTshark({ transport: 'tcp', port: first.port });
    cleanups.push(() => second.stop());
    const later = interopRecords(51, 49_000, 1);
    exporter.write(later);
    await exporter.flush();
    const expected = later.map((r) => expectedDecode(r, 'milliseconds'));
    const decoded = await second.records({ count: expected.length });
    const { decoded: got, expected: want } = compare('tshark', decoded, expected);
    expect(got).toEqual(want);
    expect(exporter.stats().collectors[0]?.reconnects).toBeGreaterThanOrEqual(1);
  });

  const natCollectors = COLLECTOR_NAMES.filter((n) =>
    COLLECTOR_INFO[n].fields.includes('postNATSourceIPv4Address'),
  );
  for (const name of natCollectors) {
    it(`${name} decodes post-NAT addresses and ports (IE 225-228) and ICMP type/code`, async () => {
      const collector = await startCollector(name);
      cleanups.push(() => collector.stop());
      const exporter = exporterTo(`udp://${RIG_HOST}:${collector.port}`, 61);
      const [nat, icmp] = natAndIcmpRecords(61, 49_500);
      if (nat === undefined || icmp === undefined) throw new Error('record set changed');
      exporter.write([nat, icmp]);
      await exporter.flush();
      const decoded = await collector.records({ count: 2 });
      const byProtocol = new Map(decoded.map((f) => [f.protocolIdentifier, f]));
      expect(byProtocol.get(nat.protocol)).toMatchObject({
        sourceIPv4Address: nat.orig.src,
        sourceTransportPort: nat.orig.srcPort,
        postNATSourceIPv4Address: nat.reply.dst,
        postNATDestinationIPv4Address: nat.reply.src,
        postNAPTSourceTransportPort: nat.reply.dstPort,
        postNAPTDestinationTransportPort: nat.reply.srcPort,
      });
      expect(byProtocol.get(icmp.protocol)).toMatchObject({
        sourceIPv4Address: icmp.orig.src,
        destinationIPv4Address: icmp.orig.dst,
        icmpTypeCodeIPv4: (icmp.orig.icmpType ?? -1) * 256 + (icmp.orig.icmpCode ?? -1),
        octetDeltaCount: icmp.delta?.origBytes,
        reverseOctetDeltaCount: icmp.delta?.replyBytes,
      });
    });
  }

  it('nfdump accepts the sequence numbers without gap warnings (small messages, two domains, refreshes)', async () => {
    const collector = await startNfcapd();
    cleanups.push(() => collector.stop());
    // 'unknown' path MTU: 512-octet messages (RFC 7011 §10.3.3), so each batch spans several messages.
    // Statistics only at start: nfdump 1.7 does not count options data records in its sequence
    // check (RFC 7011 §3.1 counts them), so periodic statistics after flow data read as gaps there.
    const exporter = exporterTo(`udp://${RIG_HOST}:${collector.port}`, 31, {
      mtu: 'unknown',
      templateRefreshS: 1,
      statsIntervalS: 0,
    });
    const sent: FlowRecord[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const records = [...interopRecords(31, 43_000, batch), ...interopRecords(32, 44_000, batch)];
      sent.push(...records);
      exporter.write(records);
      await exporter.flush();
      await nextTemplateRefresh(exporter);
    }
    const stats = exporter.stats().collectors[0];
    expect(stats?.messages).toBeGreaterThan(6);
    const decoded = await collector.records({ count: sent.length });
    expect(decoded.map(flowKeyOf).sort()).toEqual(
      sent.map((r) => flowKeyOf(expectedDecode(r, 'milliseconds'))).sort(),
    );
    expect(await collector.sequenceFailures()).toBe(0);
  });

  for (const transport of COLLECTOR_INFO.tshark.transports) {
    it(`sequence numbers over ${transport} count every data record sent before, statistics included (tshark)`, async () => {
      const collector = await startTshark({ transport });
      cleanups.push(() => collector.stop());
      const exporter = exporterTo(`${transport}://${RIG_HOST}:${collector.port}`, 41, {
        maxMessageSize: 512,
        templateRefreshS: 1,
        statsIntervalS: 1,
      });
      let sent = 0;
      for (let batch = 0; batch < 3; batch++) {
        const records = [...interopRecords(41, 45_000, batch), ...interopRecords(42, 46_000, batch)];
        sent += records.length;
        exporter.write(records);
        await exporter.flush();
        // A periodic statistics record between batches (UDP also refreshes its templates).
        await nextSend(exporter, 'statsRecords');
      }
      exporter.sendStats();
      await exporter.flush();
      await collector.records({ count: sent });
      const stats = exporter.stats().collectors[0];
      const total = (stats?.records ?? 0) + (stats?.statsRecords ?? 0);
      // Every message sent has been captured once the data records add up.
      const messages = await pollUntil(
        () => {
          const m = collector.messages();
          return m.reduce((n, x) => n + x.dataRecords, 0) >= total ? m : undefined;
        },
        { timeoutMs: 10_000, describe: () => `tshark saw ${JSON.stringify(collector.messages())}` },
      );
      expect(stats?.statsRecords).toBeGreaterThan(2);
      for (const domain of [41, 42]) {
        const ofDomain = messages.filter((m) => m.observationDomainId === domain);
        const expectedSeq = ofDomain.map((_, i) =>
          ofDomain.slice(0, i).reduce((n, m) => n + m.dataRecords, 0),
        );
        expect(ofDomain.map((m) => m.sequenceNumber)).toEqual(expectedSeq);
        expect(ofDomain.length).toBeGreaterThan(3);
      }
    });
  }
});
