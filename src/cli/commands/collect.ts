/**
 * `ctflow collect --listen udp://HOST:PORT [--format json|text]`: a small IPFIX collector that prints
 * one line per data record on stdout; sequence gaps, unknown templates and malformed input on stderr.
 * With `--listen tls://HOST:PORT` it is a TLS 1.2+ server that requires exporters' client certificates
 * (RFC 7011 §11 mutual authentication).
 */
import type { Command } from 'commander';
import { readSecretFile } from '../../config/secrets.js';
import { parseCollectorUrl } from '../../ipfix/collector-url.js';
import { Decoder } from '../../ipfix/decoder.js';
import { eventToText, recordToJson, recordToText } from '../../ipfix/format-record.js';
import { createRegistry } from '../../ipfix/registry.js';
import { listen } from '../../ipfix/transport/listener.js';
import type { IpfixTlsOptions } from '../../ipfix/transport/tls.js';

interface CollectOptions {
  listen: string;
  format: string;
  templateLifetime: string;
  enterprisePen: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** The server certificate, key and client CA of a tls:// listener, read from their files. */
function tlsFiles(o: CollectOptions): IpfixTlsOptions {
  if (o.tlsCert === undefined || o.tlsKey === undefined || o.tlsCa === undefined) {
    throw new Error(
      '--listen tls://... needs --tls-cert, --tls-key and --tls-ca (exporters must present a certificate)',
    );
  }
  return {
    cert: readSecretFile(o.tlsCert, '--tls-cert'),
    key: readSecretFile(o.tlsKey, '--tls-key'),
    ca: readSecretFile(o.tlsCa, '--tls-ca'),
  };
}

/** Registers `collect` on the root program. */
export function register(program: Command): void {
  program
    .command('collect')
    .description('receive IPFIX over UDP, TCP or TLS and print one line per data record')
    .requiredOption(
      '--listen <url>',
      'udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT to listen on (IPFIX port: 4739, over TLS: 4740)',
    )
    .option('--format <format>', 'json (keys are IANA element names) or text', 'json')
    .option('--template-lifetime <seconds>', 'UDP template lifetime', '1800')
    .option('--enterprise-pen <pen>', "PEN of ctflow's own elements", '32473')
    .option('--tls-cert <file>', 'tls:// only: PEM server certificate')
    .option('--tls-key <file>', 'tls:// only: PEM private key of the server certificate')
    .option('--tls-ca <file>', "tls:// only: PEM CA that signs the exporters' client certificates (required)")
    .addHelpText(
      'after',
      `
Examples:
  ctflow collect --listen udp://0.0.0.0:4739 --format text
  ctflow collect --listen tls://0.0.0.0:4740 --tls-cert server.pem --tls-key server.key --tls-ca ca.pem

Signals: SIGINT/SIGTERM stop listening and exit.

Exit status: 0 after SIGINT/SIGTERM (or when stdout is closed), 1 when it cannot listen, 2 on invalid
options.`,
    )
    .action(async (o: CollectOptions) => {
      const code = await run(o);
      if (code !== 0) process.exitCode = code;
    });
}

async function run(o: CollectOptions): Promise<number> {
  if (o.format !== 'json' && o.format !== 'text') {
    process.stderr.write(`ctflow collect: --format must be json or text, not "${o.format}"\n`);
    return 2;
  }
  let addr: ReturnType<typeof parseCollectorUrl>;
  let decoder: Decoder;
  let tls: IpfixTlsOptions | undefined;
  try {
    addr = parseCollectorUrl(o.listen, true);
    if (addr.protocol === 'tls') tls = tlsFiles(o);
    const lifetime = Number(o.templateLifetime);
    decoder = new Decoder({
      registry: createRegistry(Number(o.enterprisePen)),
      ...(Number.isFinite(lifetime) && lifetime > 0 ? { templateLifetimeS: lifetime } : {}),
    });
  } catch (err) {
    process.stderr.write(`ctflow collect: ${(err as Error).message}\n`);
    return 2;
  }
  const line = o.format === 'json' ? recordToJson : recordToText;
  // `ctflow collect | head`: a closed stdout ends the collector quietly instead of crashing it.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const listener = await listen(
    addr,
    {
      message(msg, exporter, transport) {
        const res = decoder.decode(msg, exporter, transport, Date.now());
        for (const e of res.events) {
          const t = eventToText(e);
          if (t !== undefined) process.stderr.write(`ctflow collect: ${t}\n`);
        }
        if (res.records.length > 0) process.stdout.write(`${res.records.map(line).join('\n')}\n`);
      },
      closed(exporter) {
        decoder.forget(exporter);
      },
      error(err) {
        process.stderr.write(`ctflow collect: ${(err as Error).message ?? String(err)}\n`);
      },
    },
    tls,
  ).catch((err: unknown) => {
    process.stderr.write(`ctflow collect: cannot listen on ${o.listen}: ${(err as Error).message}\n`);
    return undefined;
  });
  if (listener === undefined) return 1;
  process.stderr.write(`ctflow collect: listening on ${addr.protocol}://${listener.host}:${listener.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await listener.close();
  return 0;
}
