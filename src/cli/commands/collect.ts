/**
 * `ctflow collect --listen udp://HOST:PORT [--format json|text]`: a small IPFIX collector that prints
 * one line per data record on stdout; sequence gaps, unknown templates and malformed input on stderr.
 */
import type { Command } from 'commander';
import { parseCollectorUrl } from '../../ipfix/collector-url.js';
import { Decoder } from '../../ipfix/decoder.js';
import { eventToText, recordToJson, recordToText } from '../../ipfix/format-record.js';
import { createRegistry } from '../../ipfix/registry.js';
import { listen } from '../../ipfix/transport/listener.js';

interface CollectOptions {
  listen: string;
  format: string;
  templateLifetime: string;
  enterprisePen: string;
}

/** Registers `collect` on the root program. */
export function register(program: Command): void {
  program
    .command('collect')
    .description('receive IPFIX over UDP or TCP and print one line per data record')
    .requiredOption('--listen <url>', 'udp://HOST:PORT or tcp://HOST:PORT to listen on (IPFIX port: 4739)')
    .option('--format <format>', 'json (keys are IANA element names) or text', 'json')
    .option('--template-lifetime <seconds>', 'UDP template lifetime', '1800')
    .option('--enterprise-pen <pen>', "PEN of ctflow's own elements", '32473')
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
  try {
    addr = parseCollectorUrl(o.listen, true);
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
  const listener = await listen(addr, {
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
  }).catch((err: unknown) => {
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
