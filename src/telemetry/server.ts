/**
 * The HTTP endpoints of a long-running role: /metrics (Prometheus text format), /healthz (the
 * process is alive and its event loop answers) and /readyz (the role's readiness predicate, e.g.
 * "connected to Kafka and every assigned partition restored"). Nothing else is served.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { parseHostPort } from '../config/addresses.js';
import type { Config } from '../config/schema.js';
import { CtflowError } from '../errors.js';

/** A readiness answer: ready or not, and why not. */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

/** A readiness predicate a role provides. */
export type ReadinessCheck = () => boolean | Readiness | Promise<boolean | Readiness>;

/** Options of {@link startTelemetryServer}. */
export interface TelemetryServerOptions {
  registry: Registry;
  /** Listen address; port 0 picks a free port (see `port` of the result). */
  host: string;
  port: number;
  /** Readiness; default: not ready until setReadiness() is called. */
  readiness?: ReadinessCheck;
  /** Called with each readiness result (e.g. to set the ctflow_ready gauge). */
  onReadiness?: (ready: boolean) => void;
}

/** A running telemetry server. */
export interface TelemetryServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port (IPv6 in brackets). */
  readonly url: string;
  /** Replaces the readiness predicate (roles set it once they know what "ready" means). */
  setReadiness(check: ReadinessCheck): void;
  close(): Promise<void>;
}

const notReadyYet: ReadinessCheck = () => ({ ready: false, reason: 'starting' });

async function answerReadiness(check: ReadinessCheck): Promise<Readiness> {
  try {
    const r = await check();
    return typeof r === 'boolean' ? { ready: r } : r;
  } catch (err) {
    return { ready: false, reason: `readiness check failed: ${(err as Error).message}` };
  }
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** Starts the server; resolves once it listens. */
export async function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  let readiness = options.readiness ?? notReadyYet;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/metrics':
        send(res, 200, await options.registry.metrics(), options.registry.contentType);
        return;
      case '/healthz':
        send(res, 200, 'ok\n');
        return;
      case '/readyz': {
        const r = await answerReadiness(readiness);
        options.onReadiness?.(r.ready);
        send(res, r.ready ? 200 : 503, r.ready ? 'ready\n' : `not ready${r.reason ? `: ${r.reason}` : ''}\n`);
        return;
      }
      default:
        send(res, 404, 'not found: try /metrics, /healthz or /readyz\n');
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `internal error: ${(err as Error).message}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${hostForUrl}:${address.port}`,
    setReadiness(check) {
      readiness = check;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * Starts the server on `metrics.listen` of the configuration, or returns undefined when
 * `metrics.enabled` is false. The address was validated by the configuration schema.
 */
export async function startTelemetryServerFromConfig(
  metrics: Config['metrics'],
  options: Omit<TelemetryServerOptions, 'host' | 'port'>,
): Promise<TelemetryServer | undefined> {
  if (!metrics.enabled) return undefined;
  const address = parseHostPort(metrics.listen, true);
  if (address === undefined) {
    throw new CtflowError(
      'CONFIG_INVALID',
      `invalid configuration: metrics.listen = "${metrics.listen}": expected HOST:PORT`,
      {
        details: { path: 'metrics.listen', value: metrics.listen },
      },
    );
  }
  return startTelemetryServer({ ...options, host: address.host, port: address.port });
}
