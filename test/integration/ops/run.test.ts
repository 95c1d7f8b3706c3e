/**
 * `ctflow run` operated as a process (issue 7, Observability and Shutdown): the real CLI reads the real
 * conntrack table of a network namespace carrying live TCP/UDP traffic, exports to `ctflow collect`
 * (stable, the truth), to a collector that is restarted (reconnects) and to a UDP port nobody listens on
 * (drops). While traffic flows, /metrics moves and /readyz is ready; SIGTERM in the middle of the traffic
 * ends within the bound, exit 0, every open flow exported as forced end (flowEndReason 4), and per flow
 * the deltas at the collector add up to the last counters ctflow observed (its --record file).
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonLine } from '../../../src/codec/json-lines.js';
import type { Counters, Observation } from '../../../src/flow/types.js';
import { createNetnsPair, type NetnsPair, RIG_ADDRESSES, sweepStaleNamespaces } from '../../rig/netns.js';
import { startTrafficAgent, type TrafficAgent } from '../../rig/traffic.js';
import { type CtflowChild, killIfRunning, spawnCtflow } from './cli.js';
import { httpGet, type Samples, scrape, sum, value } from './scrape.js';

const SHUTDOWN_TIMEOUT_S = 15;
const METRICS_PORT = 19464;
const BASE = `http://127.0.0.1:${METRICS_PORT}`;
const RECORD = join(tmpdir(), `ctflow-ops-run-${process.pid}.jsonl`);

let pair: NetnsPair;
let client: TrafficAgent;
let server: TrafficAgent;
let stable: CtflowChild;
let flaky: CtflowChild | undefined;
let run: CtflowChild;
let stableUrl = '';
let flakyUrl = '';
const deadUrl = 'udp://127.0.0.1:9';
let during: Samples;
let readyWhileRunning = 0;
let healthWhileRunning = 0;
let stop: { code: number | string; afterMs: number };
let traffic: Promise<unknown>;

async function collector(listen: string): Promise<{ c: CtflowChild; url: string }> {
  const c = spawnCtflow(['collect', '--listen', listen, '--format', 'json'], pair.node);
  const end = Date.now() + 30_000;
  for (;;) {
    const m = c.stderr.map((l) => /listening on (\S+)/.exec(l)).find((x) => x);
    if (m) return { c, url: m[1]! };
    if (Date.now() > end || c.child.exitCode !== null) throw new Error(`collect: ${c.stderr.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await sweepStaleNamespaces();
  pair = await createNetnsPair({ acct: 1, timestamp: 1 });
  [client, server] = await Promise.all([startTrafficAgent(pair.node), startTrafficAgent(pair.peer)]);
  ({ c: stable, url: stableUrl } = await collector('tcp://127.0.0.1:0'));
  const f = await collector('tcp://127.0.0.1:0');
  flaky = f.c;
  flakyUrl = f.url;
  run = spawnCtflow(
    [
      'run',
      '--collector',
      stableUrl,
      '--collector',
      flakyUrl,
      '--collector',
      deadUrl,
      '--record',
      RECORD,
      '--poll-interval',
      '1',
      '--active-timeout',
      '60',
      // Idle records of the short UDP flows (quiet after 0.5 s) and end-of-flow records 1 s after a close
      // (default 5 s) come well before the scrape, ~5 s after the traffic starts when the flaky collector
      // comes back fast (with the default end grace a CI run saw only 2 end-of-flow records by then).
      '--idle-timeout',
      '2',
      '--set',
      'flow.endGrace=1',
      '--metrics-listen',
      `127.0.0.1:${METRICS_PORT}`,
      '--set',
      `run.shutdownTimeout=${SHUTDOWN_TIMEOUT_S}`,
      '--node-name',
      'ops-run',
    ],
    pair.node,
  );
  await run.waitForLog('reading conntrack');
  const tcp = await server.tcpServer({ host: '0.0.0.0', port: 0, replyBytes: 3000 });
  const udp = await server.udpServer({ host: '0.0.0.0', port: 0 });
  const peer = RIG_ADDRESSES.peerV4;
  // Load: 20 long TCP connections still sending when SIGTERM comes (forced end), 20 short UDP flows that
  // go quiet (idle timeout), a stream of short TCP connections (end of flow), and, started just before
  // the signal, 20 UDP flows still sending (forced end). The engine reports a forced end for every
  // open flow with traffic not yet reported; a long active timeout makes that every open flow here.
  const long = [];
  for (let i = 0; i < 20; i++) {
    long.push(client.tcpClient({ host: peer, port: tcp.port, bytes: 60_000, chunks: 240, intervalMs: 250 }));
    long.push(client.udpClient({ host: peer, port: udp.port, requests: 5, size: 300, intervalMs: 100 }));
  }
  const short = (async () => {
    for (let i = 0; i < 120; i++) {
      await client.tcpClient({ host: peer, port: tcp.port, bytes: 500 + i, chunks: 1, intervalMs: 0 });
      await sleep(20);
    }
  })();

  // The flaky collector goes away and comes back on the same port: the exporter reconnects.
  await sleep(2500);
  flaky.child.kill('SIGKILL');
  await flaky.exited;
  flaky = (await collector(flakyUrl)).c;

  // Until the exporter has reconnected to it (its backoff grew while the collector was away).
  const end = Date.now() + 30_000;
  while (value(await scrape(BASE, pair.node), `ctflow_ipfix_collector_up{collector="${flakyUrl}"}`) !== 1) {
    if (Date.now() > end) break;
    await sleep(250);
  }
  for (let i = 0; i < 20; i++)
    long.push(client.udpClient({ host: peer, port: udp.port, requests: 30, size: 200, intervalMs: 200 }));
  await sleep(2500);
  during = await scrape(BASE, pair.node);
  // What the record counts below depend on: how many polls (watermarks) and how the event stream kept up.
  const shown =
    /^ctflow_(records_exported_total|poll_duration_seconds_(count|sum)|flows_active|conntrack_event_read_lag_seconds_(count|sum)|observations_read_total)/;
  process.stderr.write(
    `ctflow run, scrape under load: ${[...during]
      .filter(([k]) => shown.test(k))
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}\n`,
  );
  readyWhileRunning = (await httpGet(`${BASE}/readyz`, pair.node)).status;
  healthWhileRunning = (await httpGet(`${BASE}/healthz`, pair.node)).status;
  stop = await run.signal('SIGTERM');
  process.stderr.write(
    `ctflow run: SIGTERM under load -> exit ${stop.code} after ${stop.afterMs.toFixed(0)} ms\n`,
  );
  // The long connections would go on for a minute: end the generators (their calls fail, settled).
  traffic = Promise.allSettled([...long, short]);
  await client.dispose();
  await traffic;
  // The stable collector has printed everything once it is quiet.
  await sleep(1000);
}, 170_000);

afterAll(async () => {
  await killIfRunning(run);
  await killIfRunning(stable);
  await killIfRunning(flaky);
  await client?.dispose();
  await server?.dispose();
  await pair?.dispose();
  rmSync(RECORD, { force: true });
});

interface Collected {
  identity: string;
  reason: number;
  delta: Counters;
}

function collected(): Collected[] {
  return stable.stdout.flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const r = JSON.parse(line) as Record<string, number | string>;
    if (r['protocolIdentifier'] === undefined) return [];
    return [
      {
        identity: `${r['protocolIdentifier']}|${r['sourceIPv4Address']}|${r['sourceTransportPort']}|${r['destinationIPv4Address']}|${r['destinationTransportPort']}`,
        reason: Number(r['flowEndReason']),
        delta: {
          origBytes: Number(r['octetDeltaCount'] ?? 0),
          origPackets: Number(r['packetDeltaCount'] ?? 0),
          replyBytes: Number(r['reverseOctetDeltaCount'] ?? 0),
          replyPackets: Number(r['reversePacketDeltaCount'] ?? 0),
        },
      },
    ];
  });
}

/**
 * Per flow (5-tuple) to the peer (the traffic under test), the last counters of each connection ctflow
 * observed, added up. Loopback flows (collectors, metrics scrapes) are left out: a refused connect to
 * the restarting collector can be observed by an event that the engine, by design, ignores as late.
 */
function lastObserved(): Map<string, Counters> {
  const last = new Map<string, Observation>();
  readFileSync(RECORD, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      const d = parseJsonLine(text, i + 1, RECORD);
      if (d.type !== 'observation' || d.value.orig.dst !== RIG_ADDRESSES.peerV4 || d.value.counters === null)
        return;
      const o = d.value;
      last.set(`${o.conntrackId}|${o.orig.src}|${o.orig.srcPort}`, o);
    });
  const out = new Map<string, Counters>();
  for (const o of last.values()) {
    const id = `${o.protocol}|${o.orig.src}|${o.orig.srcPort}|${o.orig.dst}|${o.orig.dstPort}`;
    const t = out.get(id) ?? { origBytes: 0, origPackets: 0, replyBytes: 0, replyPackets: 0 };
    t.origBytes += o.counters!.origBytes;
    t.origPackets += o.counters!.origPackets;
    t.replyBytes += o.counters!.replyBytes;
    t.replyPackets += o.counters!.replyPackets;
    out.set(id, t);
  }
  return out;
}

describe('ctflow run: SIGTERM under load', () => {
  it(`exits 0 within run.shutdownTimeout (${SHUTDOWN_TIMEOUT_S} s)`, () => {
    expect(stop.code, run.stderr.slice(-20).join('\n')).toBe(0);
    expect(stop.afterMs).toBeLessThan(SHUTDOWN_TIMEOUT_S * 1000);
  });

  it('exports every flow still open at the signal as forced end (flowEndReason 4)', () => {
    const records = collected();
    const forced = new Set(records.filter((r) => r.reason === 4).map((r) => r.identity));
    // The 20 long TCP and 20 UDP flows to the peer were sending when the signal came.
    const toPeer = [...forced].filter((id) => id.includes(`|${RIG_ADDRESSES.peerV4}|`));
    expect(toPeer.length).toBeGreaterThanOrEqual(40);
    const summary = run.logs().find((l) => l['msg'] === 'stopped') as
      | { pipeline?: { byReason?: Record<string, number> } }
      | undefined;
    expect(summary?.pipeline?.byReason?.['4']).toBe(records.filter((r) => r.reason === 4).length);
  });

  it('loses nothing: per flow, the deltas at the collector add up to the last counters observed', () => {
    const truth = lastObserved();
    const got = new Map<string, Counters>();
    for (const r of collected()) {
      const t = got.get(r.identity) ?? { origBytes: 0, origPackets: 0, replyBytes: 0, replyPackets: 0 };
      t.origBytes += r.delta.origBytes;
      t.origPackets += r.delta.origPackets;
      t.replyBytes += r.delta.replyBytes;
      t.replyPackets += r.delta.replyPackets;
      got.set(r.identity, t);
    }
    expect(truth.size).toBeGreaterThan(150);
    const problems: string[] = [];
    for (const [id, want] of truth) {
      const have = got.get(id);
      if (JSON.stringify(have) !== JSON.stringify(want))
        problems.push(`${id}: got ${JSON.stringify(have)} want ${JSON.stringify(want)}`);
    }
    for (const id of got.keys())
      if (id.includes(`|${RIG_ADDRESSES.peerV4}|`) && !truth.has(id)) problems.push(`${id}: not observed`);
    expect(problems).toEqual([]);
  });
});

describe('ctflow run: /metrics, /healthz, /readyz under real traffic', () => {
  it('is live and ready while reading conntrack', () => {
    expect(healthWhileRunning).toBe(200);
    expect(readyWhileRunning).toBe(200);
    expect(value(during, 'ctflow_ready')).toBe(1);
    expect(value(during, 'ctflow_build_info{role="run",version="0.1.0"}')).toBe(1);
  });

  it('counts observations read by kind, polls and their duration, kernel prerequisites', () => {
    for (const kind of ['NEW', 'UPDATE', 'DESTROY', 'POLL'])
      expect(value(during, `ctflow_observations_read_total{kind="${kind}"}`), kind).toBeGreaterThan(0);
    expect(value(during, 'ctflow_poll_duration_seconds_count')).toBeGreaterThan(2);
    expect(value(during, 'ctflow_poll_duration_seconds_sum')).toBeGreaterThan(0);
    expect(value(during, 'ctflow_conntrack_entries')).toBeGreaterThan(10);
    expect(value(during, 'ctflow_kernel_prerequisite{name="nf_conntrack_acct"}')).toBe(1);
    expect(value(during, 'ctflow_kernel_prerequisite{name="nf_conntrack_timestamp"}')).toBe(1);
    expect(value(during, 'ctflow_kernel_prerequisite{name="conntrack_binary"}')).toBe(1);
  });

  it('counts records by flowEndReason, flows and event time', () => {
    expect(value(during, 'ctflow_records_exported_total{reason="end_of_flow"}')).toBeGreaterThan(10);
    expect(value(during, 'ctflow_records_exported_total{reason="idle_timeout"}')).toBeGreaterThanOrEqual(20);
    expect(value(during, 'ctflow_flows_active')).toBeGreaterThanOrEqual(40);
    const eventTime = value(during, 'ctflow_event_time_seconds{node="ops-run"}');
    expect(Math.abs(eventTime - Date.now() / 1000)).toBeLessThan(120);
  });

  it('counts IPFIX messages, bytes, records and templates per collector, reconnects and drops', () => {
    for (const url of [stableUrl, flakyUrl]) {
      const l = [`collector="${url}"`];
      expect(sum(during, 'ctflow_ipfix_messages_total', l), url).toBeGreaterThan(0);
      expect(sum(during, 'ctflow_ipfix_bytes_total', l), url).toBeGreaterThan(1000);
      expect(sum(during, 'ctflow_ipfix_records_total', l), url).toBeGreaterThan(10);
      expect(sum(during, 'ctflow_ipfix_templates_total', l), url).toBeGreaterThan(0);
      expect(value(during, `ctflow_ipfix_collector_up{collector="${url}"}`), url).toBe(1);
    }
    // The restarted collector: reconnected, and the templates went out again on the new connection.
    expect(value(during, `ctflow_ipfix_reconnects_total{collector="${flakyUrl}"}`)).toBeGreaterThanOrEqual(1);
    expect(value(during, `ctflow_ipfix_templates_total{collector="${flakyUrl}"}`)).toBeGreaterThan(
      value(during, `ctflow_ipfix_templates_total{collector="${stableUrl}"}`),
    );
    expect(value(during, `ctflow_ipfix_reconnects_total{collector="${stableUrl}"}`)).toBe(0);
    // Nobody listens on the UDP port: ICMP port unreachable comes back, as a failed send (dropped) or on
    // the receive path (the datagram it answered is counted lost); either way the loss is counted.
    expect(
      value(during, `ctflow_ipfix_records_dropped_total{collector="${deadUrl}"}`) +
        value(during, `ctflow_ipfix_records_lost_total{collector="${deadUrl}"}`),
    ).toBeGreaterThan(0);
  });
});
