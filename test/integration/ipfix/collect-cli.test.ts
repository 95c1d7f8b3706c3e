import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createExporter } from '../../../src/ipfix/exporter.js';
import { golden } from '../../unit/ipfix/golden.js';
import { record, record6, tuple } from '../../unit/ipfix/records.js';

const BIN = fileURLToPath(new URL('../../../bin/ctflow.js', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGTERM');
});

interface Running {
  url: string;
  stdout: string[];
  stderr: string[];
}

/** Starts `ctflow collect` on port 0 and resolves once it says where it listens. */
function collect(protocol: 'udp' | 'tcp', format: 'json' | 'text'): Promise<Running> {
  const child = spawn(
    process.execPath,
    [BIN, 'collect', '--listen', `${protocol}://127.0.0.1:0`, '--format', format],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const run: Running = { url: '', stdout: [], stderr: [] };
  const lines = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      into.push(...parts);
    };
  };
  child.stdout?.on('data', lines(run.stdout));
  child.stderr?.on('data', lines(run.stderr));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`collect did not start: ${run.stderr.join('\n')}`)),
      20_000,
    );
    const check = setInterval(() => {
      const m = run.stderr.map((l) => /listening on (\S+)/.exec(l)).find((x) => x);
      if (m) {
        clearInterval(check);
        clearTimeout(timer);
        run.url = m[1]!;
        resolve(run);
      }
    }, 20);
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ctflow collect', () => {
  for (const protocol of ['udp', 'tcp'] as const) {
    it(`prints one JSON line per data record over ${protocol}, IANA names, ISO 8601 times`, async () => {
      const c = await collect(protocol, 'json');
      const e = createExporter({ collectors: [c.url], observationDomainId: 7, statsIntervalS: 0 });
      e.write([
        record({ recordIndex: 0 }),
        record6({ recordIndex: 1, nat: true, reply: tuple('2001:db8::99', '2001:db8::1', 8053, 5353) }),
      ]);
      await e.flush();
      const flowLines = () => c.stdout.filter((l) => l.startsWith('{') && JSON.parse(l).templateId !== 280);
      await until(() => flowLines().length === 2, 'two flow lines');
      await e.close();
      const flows = c.stdout.map((l) => JSON.parse(l)).filter((j) => j.templateId !== 280);
      expect(flows[0]).toMatchObject({
        observationDomainId: 7,
        templateId: 258,
        sourceIPv4Address: '10.0.0.1',
        destinationTransportPort: 443,
        flowStartMilliseconds: '2026-11-26T08:00:00.123Z',
        flowEndMilliseconds: '2026-11-26T08:00:02.623Z',
        octetDeltaCount: 1500,
        reverseOctetDeltaCount: 9000,
        reversePacketDeltaCount: 8,
        flowEndReason: 3,
        ctflowFirstSeenMidLife: false,
      });
      expect(flows[0].exporter).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(typeof flows[0].sequenceNumber).toBe('number');
      expect(flows[1]).toMatchObject({
        templateId: 271,
        sourceIPv6Address: '2001:db8::1',
        postNATDestinationIPv6Address: '2001:db8::99',
        postNAPTDestinationTransportPort: 8053,
      });
      // The statistics options record is a data record too.
      expect(c.stdout.some((l) => JSON.parse(l).exportingProcessId === 7)).toBe(true);
    });
  }

  it('prints text lines, and reports unknown templates and sequence gaps on stderr', async () => {
    const c = await collect('udp', 'text');
    const port = Number(c.url.split(':').at(-1));
    const sock = dgram.createSocket('udp4');
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, port, '127.0.0.1', () => r()));
    // Data before its template, then the template with data (seq 0), then a message whose sequence skips ahead.
    await send(golden('v4-biflow-2.hex'));
    await send(golden('v4-biflow-1.hex'));
    const skipped = Buffer.from(golden('v4-biflow-2.hex'));
    skipped.writeUInt32BE(40, 8);
    await send(skipped);
    await until(() => c.stdout.length === 3, 'three text lines');
    sock.close();
    expect(c.stdout[0]).toMatch(
      /^127\.0\.0\.1:\d+ domain=7 template=258 seq=0 sourceIPv4Address=10\.0\.0\.1 .*flowStartMilliseconds=2026-11-26T08:00:00\.123Z/,
    );
    expect(c.stderr.some((l) => /unknown template 258/.test(l))).toBe(true);
    expect(c.stderr.some((l) => /sequence gap .* expected 2, received 40/.test(l))).toBe(true);
  });
});
