import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { parseConfig } from '../../../src/config/load.js';
import {
  startTelemetryServer,
  startTelemetryServerFromConfig,
  type TelemetryServer,
} from '../../../src/telemetry/server.js';

let server: TelemetryServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(readiness?: Parameters<typeof startTelemetryServer>[0]['readiness']) {
  const metrics = createMetrics({ role: 'processor', version: 't', processMetrics: false });
  const seen: boolean[] = [];
  server = await startTelemetryServer({
    registry: metrics.registry,
    host: '127.0.0.1',
    port: 0,
    ...(readiness ? { readiness } : {}),
    onReadiness: (r) => {
      seen.push(r);
      metrics.ready.set(r ? 1 : 0);
    },
  });
  return { metrics, server, seen };
}

describe('telemetry HTTP server (real HTTP on 127.0.0.1)', () => {
  it('serves /metrics in the Prometheus text format', async () => {
    const { metrics, server } = await start();
    metrics.rebalances.inc();
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const body = await res.text();
    expect(body).toContain('ctflow_rebalances_total 1');
    expect(server.port).toBeGreaterThan(0);
  });

  it('answers /healthz while the process runs', async () => {
    const { server } = await start();
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('is not ready until the role says so, then follows its predicate', async () => {
    const { server, metrics, seen } = await start();
    let res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('not ready: starting\n');

    let restored = false;
    server.setReadiness(() => (restored ? true : { ready: false, reason: 'restoring partition 3' }));
    res = await fetch(`${server.url}/readyz`);
    expect(await res.text()).toBe('not ready: restoring partition 3\n');
    restored = true;
    res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ready\n');
    expect(seen).toEqual([false, false, true]);
    expect(await metrics.registry.metrics()).toContain('ctflow_ready 1');
  });

  it('reports a throwing readiness check as not ready', async () => {
    const { server } = await start(async () => {
      throw new Error('broker unreachable');
    });
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('not ready: readiness check failed: broker unreachable\n');
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const { server } = await start();
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('fails to start on a port already in use', async () => {
    const { server: first } = await start();
    const metrics = createMetrics({ role: 'agent', version: 't', processMetrics: false });
    await expect(
      startTelemetryServer({ registry: metrics.registry, host: '127.0.0.1', port: first.port }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('startTelemetryServerFromConfig', () => {
  it('listens on metrics.listen, and not at all when disabled', async () => {
    const metrics = createMetrics({ role: 'agent', version: 't', processMetrics: false });
    const config = parseConfig({ metrics: { listen: '127.0.0.1:0' } });
    server = await startTelemetryServerFromConfig(config.metrics, { registry: metrics.registry });
    expect(server?.host).toBe('127.0.0.1');
    expect((await fetch(`${server?.url}/healthz`)).status).toBe(200);
    const disabled = parseConfig({ metrics: { enabled: false } });
    expect(
      await startTelemetryServerFromConfig(disabled.metrics, { registry: metrics.registry }),
    ).toBeUndefined();
  });
});
