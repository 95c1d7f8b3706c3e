/**
 * Scraping a role's /metrics, /healthz and /readyz over HTTP as Prometheus would, from this network
 * namespace (fetch) or from inside another one (curl through `ip netns exec`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inNetns } from '../../rig/netns.js';

const run = promisify(execFile);

/** An HTTP answer. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/** GET `url`, from namespace `ns` when given. */
export async function httpGet(url: string, ns?: string): Promise<HttpAnswer> {
  if (ns === undefined) {
    const res = await fetch(url);
    return { status: res.status, body: await res.text() };
  }
  const argv = inNetns(ns, ['curl', '-s', '-w', '\n%{http_code}', url]);
  const { stdout } = await run(argv[0]!, argv.slice(1));
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

/** Samples of a Prometheus text exposition: `name{a="x",b="y"}` (labels sorted) -> value. */
export type Samples = Map<string, number>;

/** Parses the Prometheus text format (enough for prom-client's output). */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map((l) => `${l[1]}="${l[2]}"`)
      .sort();
    out.set(labels.length ? `${m[1]}{${labels.join(',')}}` : m[1]!, Number(m[3]));
  }
  return out;
}

/** Scrapes `base`/metrics. */
export async function scrape(base: string, ns?: string): Promise<Samples> {
  const res = await httpGet(`${base}/metrics`, ns);
  if (res.status !== 200) throw new Error(`GET ${base}/metrics: ${res.status} ${res.body}`);
  return parseMetrics(res.body);
}

/** The value of one series (`name` or `name{k="v",...}` with labels in any order); 0 when absent. */
export function value(samples: Samples, series: string): number {
  const m = /^([^{]+)(?:\{(.*)\})?$/.exec(series);
  const labels = (m?.[2] ?? '')
    .split(',')
    .filter((x) => x)
    .sort();
  const key = labels.length ? `${m?.[1]}{${labels.join(',')}}` : (m?.[1] ?? series);
  return samples.get(key) ?? 0;
}

/** Sum of every series of metric `name` whose labels include all of `match` (e.g. ['collector="udp://…"']). */
export function sum(samples: Samples, name: string, match: readonly string[] = []): number {
  let total = 0;
  for (const [k, v] of samples) {
    const base = k.split('{')[0];
    if (base !== name) continue;
    if (match.every((l) => k.includes(l))) total += v;
  }
  return total;
}
