/**
 * Parser of the lines printed by ctflow's own ctnetlink reader (tools/ctnetlink/main.go), which
 * talks netlink to the kernel directly instead of going through conntrack-tools' text. It carries
 * everything the kernel sends: exact status bits, ICMP fields, ns start and stop stamps (also in
 * DESTROY events), counters. 29 tab-separated fields, "-" for absent:
 *
 *   kind timeUs id zone family proto | osrc odst osport odport otype ocode oid
 *   | rsrc rdst rsport rdport rtype rcode rid | tcpState status mark | opk oby rpk rby | startNs stopNs
 *
 * kind: P (dump entry), N (new), U (update), D (destroy); timeUs: receive time from the kernel of
 * events and of the entries `ctnetlink serve` prints (0 in `ctnetlink dump`).
 * Framing lines of `ctnetlink events`: "!ENOBUFS" (the kernel dropped events), "!DROPPED n" (the
 * reader dropped n events: its output queue was full), "!SYNC timeUs" (every event the kernel had
 * queued at timeUs came before this line; the answer to a "sync" line on its stdin).
 */
import type { Counters, Family, TcpState, Tuple } from '../flow/types.js';
import { canonicalAddress } from './address.js';
import { type ConntrackEntry, type ConntrackEvent, emptyTuple, isIcmp, TCP_STATES } from './entry.js';
import { LineFormatError, nsToUs, uint } from './parse-error.js';

const FIELDS = 29;
const KINDS: Record<string, ConntrackEvent['kind'] | 'DUMP'> = {
  P: 'DUMP',
  N: 'NEW',
  U: 'UPDATE',
  D: 'DESTROY',
};

/** What one line is: a dump entry, an event, a notice that events were lost, or a sync mark. */
export type NetlinkLine =
  | { type: 'entry'; entry: ConntrackEntry }
  | { type: 'event'; event: ConntrackEvent }
  | { type: 'overrun' }
  | { type: 'dropped'; count: number }
  | { type: 'sync'; timeUs: number };

/** "!DROPPED n" / "!SYNC timeUs"; null for any other line. */
function framing(line: string): NetlinkLine | null {
  const tab = line.indexOf('\t');
  const head = tab < 0 ? line : line.slice(0, tab);
  if (head === '!DROPPED') return { type: 'dropped', count: uint(line.slice(tab + 1), 'dropped') };
  if (head === '!SYNC') return { type: 'sync', timeUs: uint(line.slice(tab + 1), 'sync time') };
  return null;
}

function opt(text: string, what: string, max: number): number | null {
  if (text === '-') return null;
  const n = uint(text, what);
  if (n > max) throw new LineFormatError(`${what} ${n} > ${max}`);
  return n;
}

function tuple(f: string[], at: number, family: Family, protocol: number, which: string): Tuple {
  const src = canonicalAddress(f[at] as string, family);
  const dst = canonicalAddress(f[at + 1] as string, family);
  if (src === null || dst === null)
    throw new LineFormatError(`bad ${which} ${family} address ${f[at]} / ${f[at + 1]}`);
  const t = emptyTuple(src, dst);
  t.srcPort = opt(f[at + 2] as string, 'sport', 65535) ?? 0;
  t.dstPort = opt(f[at + 3] as string, 'dport', 65535) ?? 0;
  if (isIcmp(protocol)) {
    t.icmpType = opt(f[at + 4] as string, 'icmp type', 255);
    t.icmpCode = opt(f[at + 5] as string, 'icmp code', 255);
    t.icmpId = opt(f[at + 6] as string, 'icmp id', 65535);
    if (t.icmpType === null || t.icmpCode === null || t.icmpId === null) {
      throw new LineFormatError(`${which} ICMP tuple without type/code/id`);
    }
  }
  return t;
}

/** Parses one line of `ctnetlink dump` or `ctnetlink events`; throws LineFormatError when unreadable. */
export function parseNetlinkLine(line: string): NetlinkLine {
  if (line === '!ENOBUFS') return { type: 'overrun' };
  if (line.charCodeAt(0) === 33 /* ! */) {
    const mark = framing(line);
    if (mark !== null) return mark;
  }
  const f = line.split('\t');
  if (f.length !== FIELDS) throw new LineFormatError(`${f.length} fields, expected ${FIELDS}`);
  const kind = KINDS[f[0] as string];
  if (kind === undefined) throw new LineFormatError(`unknown kind ${f[0]}`);
  const timeUs = uint(f[1], 'time');
  const conntrackId = opt(f[2] as string, 'id', 0xffffffff);
  if (conntrackId === null) throw new LineFormatError('missing conntrack id');
  const zone = uint(f[3], 'zone');
  let family: Family;
  if (f[4] === 'ipv4') family = 'IPV4';
  else if (f[4] === 'ipv6') family = 'IPV6';
  else throw new LineFormatError(`unknown family ${f[4]}`);
  const protocol = opt(f[5] as string, 'protocol', 255);
  if (protocol === null) throw new LineFormatError('missing protocol');
  const orig = tuple(f, 6, family, protocol, 'original');
  const reply = tuple(f, 13, family, protocol, 'reply');
  let tcpState: TcpState | null = null;
  if (protocol === 6) {
    tcpState = TCP_STATES.get(f[20] as string) ?? null;
    // A DESTROY of an entry the kernel never saw a TCP state for carries none.
    if (tcpState === null && f[20] !== '-') throw new LineFormatError(`unknown TCP state ${f[20]}`);
  }
  const status = opt(f[21] as string, 'status', 0xffffffff) ?? 0;
  const mark = uint(f[22], 'mark');
  const c = [f[23], f[24], f[25], f[26]].map((x, i) =>
    opt(x as string, `counter ${i}`, Number.MAX_SAFE_INTEGER),
  );
  let counters: Counters | null = null;
  if (c.every((x) => x !== null)) {
    counters = {
      origPackets: c[0] as number,
      origBytes: c[1] as number,
      replyPackets: c[2] as number,
      replyBytes: c[3] as number,
    };
  }
  const entry: ConntrackEntry = {
    conntrackId,
    zone,
    family,
    protocol,
    orig,
    reply,
    tcpState,
    status,
    mark,
    counters,
    kernelStartUs: f[27] === '-' ? null : nsToUs(f[27], 'start'),
    kernelStopUs: f[28] === '-' ? null : nsToUs(f[28], 'stop'),
  };
  if (kind === 'DUMP') return { type: 'entry', entry };
  return { type: 'event', event: { kind, timeUs, entry } };
}
