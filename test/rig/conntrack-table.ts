import { run } from './exec.js';
import { inNetns } from './netns.js';

/**
 * One entry of `conntrack -L -o xml,ktimestamp`, read with plain regular expressions. The rig keeps
 * its own tiny reader so rig tests do not depend on (and cannot be fooled by) src/conntrack.
 */
export interface RigConntrackEntry {
  protocol: number;
  family: 'ipv4' | 'ipv6';
  src: string;
  dst: string;
  sport: number | null;
  dport: number | null;
  /**
   * Reply tuple ports (the server's and the client's port as they are on the wire: NAT, or a source
   * port conntrack remapped because the reply tuple was taken, makes them differ from sport/dport).
   */
  replySport: number | null;
  replyDport: number | null;
  /** Original direction counters, null without nf_conntrack_acct. */
  origPackets: number | null;
  origBytes: number | null;
  replyPackets: number | null;
  replyBytes: number | null;
  state: string | null;
  /** Kernel start stamp in ns (as bigint: it does not fit a double exactly), null without timestamps. */
  startNs: bigint | null;
  id: number;
}

function section(flow: string, dir: string): string {
  const m = new RegExp(`<meta direction="${dir}">(.*?)</meta>`).exec(flow);
  if (!m?.[1]) throw new Error(`no ${dir} section in ${flow}`);
  return m[1];
}

function tag(text: string, name: string): string | null {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1] ?? null;
}

function num(text: string, name: string): number | null {
  const v = tag(text, name);
  return v === null ? null : Number(v);
}

/** Dumps the conntrack table of namespace `ns`. */
export async function readConntrackTable(ns: string): Promise<RigConntrackEntry[]> {
  const { stdout } = await run(inNetns(ns, ['conntrack', '-L', '-o', 'xml,ktimestamp']));
  const entries: RigConntrackEntry[] = [];
  for (const flow of stdout.split('\n').filter((l) => l.startsWith('<flow>'))) {
    const orig = section(flow, 'original');
    const reply = section(flow, 'reply');
    const indep = section(flow, 'independent');
    const l3 = /<layer3 protonum="\d+" protoname="(ipv4|ipv6)">/.exec(orig);
    const l4 = /<layer4 protonum="(\d+)"/.exec(orig);
    const counters = (s: string): [number | null, number | null] => [num(s, 'packets'), num(s, 'bytes')];
    const [op, ob] = counters(orig);
    const [rp, rb] = counters(reply);
    const start = /<timestamp><start>(\d+)<\/start>/.exec(indep)?.[1];
    entries.push({
      protocol: Number(l4?.[1]),
      family: l3?.[1] === 'ipv6' ? 'ipv6' : 'ipv4',
      src: tag(orig, 'src') ?? '',
      dst: tag(orig, 'dst') ?? '',
      sport: num(orig, 'sport'),
      dport: num(orig, 'dport'),
      replySport: num(reply, 'sport'),
      replyDport: num(reply, 'dport'),
      origPackets: op,
      origBytes: ob,
      replyPackets: rp,
      replyBytes: rb,
      state: tag(indep, 'state'),
      startNs: start === undefined ? null : BigInt(start),
      id: num(indep, 'id') ?? 0,
    });
  }
  return entries;
}

/** Kernel start stamp of `entry` in µs (floor), or null. */
export function startUs(entry: RigConntrackEntry): number | null {
  return entry.startNs === null ? null : Number(entry.startNs / 1000n);
}
