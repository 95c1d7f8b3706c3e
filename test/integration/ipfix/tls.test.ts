/**
 * IPFIX over TLS (RFC 7011 §11): the exporter and ctflow's listener (and `ctflow collect`) mutually
 * authenticated with certificates of a CA made by the test; refusals (no, untrusted or misnamed
 * certificate, TLS 1.1) are counted as transport errors while the exporter goes on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { exporterOptions } from '../../../src/config/derive.js';
import { isCtflowError } from '../../../src/errors.js';
import { parseCollectorUrl } from '../../../src/ipfix/collector-url.js';
import { type DecodedRecord, Decoder } from '../../../src/ipfix/decoder.js';
import { type ExporterOptions, type IpfixExporter, createExporter } from '../../../src/ipfix/exporter.js';
import { listen } from '../../../src/ipfix/transport/listener.js';
import type { IpfixTlsOptions } from '../../../src/ipfix/transport/tls.js';
import { type TestPki, makeTestPki } from '../../rig/tls-certs.js';
import { startCollector, until } from '../../unit/ipfix/collector.js';
import { T0_US, record } from '../../unit/ipfix/records.js';

const BIN = fileURLToPath(new URL('../../../bin/ctflow.js', import.meta.url));
let pki: TestPki;
const open: { close(): Promise<void> }[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => pki.remove());
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGTERM');
  for (const x of open.splice(0).reverse()) await x.close();
});

const pem = (path: string): string => readFileSync(path, 'utf8');

/** A TLS collector on 127.0.0.1: ctflow's listener (client certificates required) and decoder. */
async function tlsCollector(): Promise<{ url: string; flows: DecodedRecord[]; errors: Error[] }> {
  const decoder = new Decoder();
  const flows: DecodedRecord[] = [];
  const errors: Error[] = [];
  const server: IpfixTlsOptions = { cert: pem(pki.serverCert), key: pem(pki.serverKey), ca: pem(pki.caCert) };
  const listener = await listen(
    parseCollectorUrl('tls://127.0.0.1:0', true),
    {
      message(buf, exporter, transport) {
        flows.push(
          ...decoder.decode(buf, exporter, transport, Date.now()).records.filter((r) => r.scopeCount === 0),
        );
      },
      error(err) {
        errors.push(err as Error);
      },
    },
    server,
  );
  open.push(listener);
  return { url: `tls://127.0.0.1:${listener.port}`, flows, errors };
}

function exporter(o: ExporterOptions): IpfixExporter {
  const e = createExporter({
    flushIntervalMs: 20,
    statsIntervalS: 0,
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    ...o,
  });
  open.push(e);
  return e;
}

const clientTls = (): IpfixTlsOptions => ({
  cert: pem(pki.clientCert),
  key: pem(pki.clientKey),
  ca: pem(pki.caCert),
});

const many = (n: number) =>
  Array.from({ length: n }, (_, k) =>
    record({ recordIndex: k, startUs: T0_US + k, endUs: T0_US + k + 1000 }),
  );

/** Sends to the collector, finishing with a UDP collector that must get every record (the exporter goes on). */
async function refusedButGoesOn(tlsUrl: string, options: IpfixTlsOptions): Promise<IpfixExporter> {
  const udp = await startCollector('udp');
  open.push(udp);
  const e = exporter({ collectors: [tlsUrl, udp.url], observationDomainId: 7, tls: options });
  e.write(many(20));
  await e.flush();
  await until(() => udp.flows().length === 20, 5000, 'UDP collector gets the records');
  await until(() => (e.stats().collectors[0]?.errors ?? 0) >= 2, 10_000, 'repeated TLS errors (reconnects)');
  return e;
}

describe('IPFIX over TLS', () => {
  it('exports to a collector that requires client certificates; records decoded, nothing dropped', async () => {
    const c = await tlsCollector();
    const e = exporter({ collectors: [c.url], observationDomainId: 7, tls: clientTls() });
    e.write(many(500));
    await e.flush();
    await until(() => c.flows.length === 500, 10_000, '500 records over TLS');
    const s = e.stats().collectors[0]!;
    expect(s).toMatchObject({ url: c.url, connected: true, records: 500, droppedRecords: 0, errors: 0 });
    expect(c.flows.map((r) => r.fields.find((f) => f.name === 'ctflowRecordIndex')?.value)).toEqual(
      Array.from({ length: 500 }, (_, k) => k),
    );
    expect(c.errors).toEqual([]);
  });

  it('takes the certificates from the configuration (ipfix.tls files) and refuses tls:// without them', async () => {
    const c = await tlsCollector();
    const config = parseConfig({
      ipfix: { collectors: [c.url], tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey } },
    });
    const options = exporterOptions(config);
    expect(options.tls?.cert).toBe(pem(pki.clientCert).trimEnd());
    const e = exporter({ ...options, statsIntervalS: 0 });
    e.write(many(3));
    await e.flush();
    await until(() => c.flows.length === 3, 10_000, '3 records');

    let refused: unknown;
    try {
      createExporter(
        exporterOptions(parseConfig({ ipfix: { collectors: [c.url], tls: { ca: pki.caCert } } })),
      );
    } catch (err) {
      refused = err;
    }
    expect(isCtflowError(refused, 'CONFIG_INVALID')).toBe(true);
    expect((refused as Error).message).toBe(`${c.url} needs a client certificate and key (ipfix.tls)`);
  });

  it('an exporter whose certificate the collector does not trust is refused: errors counted, nothing sent, exporter goes on', async () => {
    const c = await tlsCollector();
    const e = await refusedButGoesOn(c.url, {
      cert: pem(pki.rogueClientCert),
      key: pem(pki.rogueClientKey),
      ca: pem(pki.caCert),
    });
    const s = e.stats().collectors[0]!;
    // Nothing was written into a refused session: the records wait in the buffer (or are counted dropped).
    expect(s.records).toBe(0);
    expect(s.connected).toBe(false);
    expect(c.flows).toEqual([]);
    expect(c.errors.length).toBeGreaterThan(0);
  });

  it('a collector whose certificate is not signed by the configured CA is refused', async () => {
    const c = await tlsCollector();
    const e = await refusedButGoesOn(c.url, { ...clientTls(), ca: pem(pki.rogueCaCert) });
    expect(e.stats().collectors[0]!.records).toBe(0);
    expect(c.flows).toEqual([]);
  });

  it('checks the collector certificate names the host (servername)', async () => {
    const c = await tlsCollector();
    const seen: unknown[] = [];
    const e = exporter({
      collectors: [c.url],
      observationDomainId: 7,
      tls: { ...clientTls(), servername: 'collector.example.org' },
      onError: (err) => seen.push(err),
    });
    e.write(many(5));
    await until(() => seen.length > 0, 10_000, 'a TLS error');
    expect(isCtflowError(seen[0], 'TRANSPORT')).toBe(true);
    expect(String((seen[0] as Error).message)).toMatch(
      /^tls:\/\/127\.0\.0\.1:\d+: .*collector\.example\.org/,
    );
    expect(e.stats().collectors[0]!.records).toBe(0);
    expect(c.flows).toEqual([]);
  });

  it('refuses a client without a certificate and a client speaking TLS 1.1', async () => {
    const c = await tlsCollector();
    const port = Number(c.url.split(':').pop());
    const attempt = (o: tls.ConnectionOptions): Promise<string> =>
      new Promise((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca: pem(pki.caCert), ...o });
        s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        s.on('end', () => resolve('closed'));
      });
    expect(await attempt({})).toMatch(/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE/);
    // SECLEVEL=0 lets this client offer TLS 1.1 at all (OpenSSL 3 refuses it by default on its own side).
    const old = await attempt({
      minVersion: 'TLSv1.1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
      cert: pem(pki.clientCert),
      key: pem(pki.clientKey),
    });
    expect(old).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    await until(() => c.errors.length === 2, 5000, 'two refused handshakes');
    expect(c.errors.map((e) => (e.cause as NodeJS.ErrnoException).code)).toEqual([
      'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE',
      'ERR_SSL_UNSUPPORTED_PROTOCOL',
    ]);
    expect(c.flows).toEqual([]);
  });

  it('the exporter refuses a collector that offers only TLS 1.1', async () => {
    const server = tls.createServer({
      cert: pem(pki.serverCert),
      key: pem(pki.serverKey),
      minVersion: 'TLSv1.1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const port = (server.address() as { port: number }).port;
    const seen: unknown[] = [];
    const e = exporter({
      collectors: [`tls://127.0.0.1:${port}`],
      observationDomainId: 7,
      tls: clientTls(),
      onError: (err) => seen.push(err),
    });
    e.write(many(5));
    await until(() => seen.length > 0, 10_000, 'a TLS error');
    expect(String((seen[0] as Error).message)).toMatch(/protocol/i);
    expect(e.stats().collectors[0]).toMatchObject({ connected: false, records: 0 });
  });

  it('ctflow collect --listen tls:// prints the records of a mutually authenticated exporter', async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'collect',
        '--listen',
        'tls://127.0.0.1:0',
        '--format',
        'json',
        '--tls-cert',
        pki.serverCert,
        '--tls-key',
        pki.serverKey,
        '--tls-ca',
        pki.caCert,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    await until(() => /listening on tls:\/\/\S+/.test(stderr), 30_000, 'collect listening');
    const url = /listening on (tls:\/\/\S+)/.exec(stderr)![1]!;
    const e = exporter({ collectors: [url], observationDomainId: 7, tls: clientTls() });
    e.write(many(3));
    await e.flush();
    const flows = () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { templateId: number; observationDomainId: number })
        .filter((j) => j.templateId !== 280);
    await until(() => flows().length === 3, 10_000, 'three JSON lines');
    expect(flows().every((j) => j.observationDomainId === 7)).toBe(true);
  });

  it('ctflow collect --listen tls:// without certificate files exits 2 naming the options', async () => {
    const child = spawn(process.execPath, [BIN, 'collect', '--listen', 'tls://127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('--tls-cert, --tls-key and --tls-ca');
  });
});
