import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  COLLECTOR_INFO,
  COLLECTOR_NAMES,
  type CollectorHandle,
  type CollectorName,
  type CollectorTransport,
  type DecodedFlow,
  startCollector,
  startNfcapd,
} from '../../rig/collectors/index.js';
import { readHexFixture } from '../../rig/collectors/fixture.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/ipfix');

interface FixtureDescription {
  header: { sequenceNumber: number; observationDomainId: number };
  records: Array<Record<string, string | number>>;
}

/** The fixture's records in the rig's normalised vocabulary (types.ts). */
function expectedFlows(description: FixtureDescription): DecodedFlow[] {
  return description.records.map((r) => {
    const flow: DecodedFlow = {};
    for (const [key, value] of Object.entries(r)) {
      if (key.endsWith('Iso')) continue;
      if (key === 'flowStartMilliseconds') flow.flowStartMs = value;
      else if (key === 'flowEndMilliseconds') flow.flowEndMs = value;
      else flow[key] = value;
    }
    flow.sequenceNumber = description.header.sequenceNumber;
    flow.observationDomainId = description.header.observationDomainId;
    return flow;
  });
}

/** Only the fields that were sent and that this collector reports. */
function comparable(name: CollectorName, flow: DecodedFlow, sent: DecodedFlow): DecodedFlow {
  return Object.fromEntries(
    Object.entries(flow).filter(([k]) => k in sent && COLLECTOR_INFO[name].fields.includes(k)),
  );
}

async function sendUdp(message: Buffer, port: number): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) =>
    socket.send(message, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
  );
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

async function sendTcp(message: Buffer, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(message, () => resolve()));
    socket.once('error', reject);
  });
}

const started: CollectorHandle[] = [];
afterEach(async () => {
  for (const c of started.splice(0)) await c.stop();
});

describe('collector rig: each third-party collector decodes the hand-written IPFIX fixture', async () => {
  const message = await readHexFixture(join(FIXTURES, 'ipv4-biflow-two-records.hex'));
  const description = JSON.parse(
    await readFile(join(FIXTURES, 'ipv4-biflow-two-records.json'), 'utf8'),
  ) as FixtureDescription;
  const expected = expectedFlows(description);

  it('the fixture is the message its description says', () => {
    expect(message.length).toBe(184);
    expect(message.readUInt16BE(0)).toBe(10);
    expect(message.readUInt16BE(2)).toBe(message.length);
  });

  const cases: Array<[CollectorName, CollectorTransport]> = COLLECTOR_NAMES.flatMap((name) =>
    COLLECTOR_INFO[name].transports.map((t): [CollectorName, CollectorTransport] => [name, t]),
  );
  for (const [name, transport] of cases) {
    it(`${name} over ${transport}: addresses, ports, counters, reverse counters, times to the ms`, async () => {
      const collector = await startCollector(name, { transport });
      started.push(collector);
      if (transport === 'udp') await sendUdp(message, collector.port);
      else await sendTcp(message, collector.port);
      const flows = await collector.records({ count: expected.length });
      expect(flows).toHaveLength(expected.length);
      const byStart = (a: DecodedFlow, b: DecodedFlow): number =>
        Number(a.flowStartMs) - Number(b.flowStartMs);
      const sent = expected[0] ?? {};
      expect(flows.map((f) => comparable(name, f, sent)).sort(byStart)).toEqual(
        expected.map((f) => comparable(name, f, sent)).sort(byStart),
      );
    });
  }

  it('nfdump counts a sequence gap (self-check of NfcapdHandle.sequenceFailures)', async () => {
    const collector = await startNfcapd();
    started.push(collector);
    // RFC 7011 §3.1: after a message with sequence 0 and two data records the next one says 2.
    const inOrder = Buffer.from(message);
    inOrder.writeUInt32BE(2, 8);
    const gap = Buffer.from(message);
    gap.writeUInt32BE(9, 8);
    for (const m of [message, inOrder, gap]) await sendUdp(m, collector.port);
    await collector.records({ count: 3 * expected.length });
    expect(await collector.sequenceFailures()).toBe(1);
  });

  it('tshark reports the time elements as milliseconds (IE 152/153)', async () => {
    const collector = await startCollector('tshark');
    started.push(collector);
    await sendUdp(message, collector.port);
    const flows = await collector.records({ count: expected.length });
    expect(flows.map((f) => f.timePrecision)).toEqual(['milliseconds', 'milliseconds']);
  });
});
