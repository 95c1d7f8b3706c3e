/**
 * Parser of conntrack-tools' line format: `conntrack -L -o extended,id` entries and
 * `conntrack -E -o timestamp,extended,id` events (the same line after a time and an event type).
 *
 * Why this format for events: it is the one whose event time has µs resolution (the XML event form
 * prints only the second), and it carries ICMP type/code/id, which the XML form omits.
 *
 * Grammar (libnetfilter_conntrack snprintf_default.c), fields separated by blanks:
 *   [<sec>.<usec>] [NEW|UPDATE|DESTROY]       (events only)
 *   <l3name> <l3num> <l4name> <l4num> [<timeout>] [<STATE>]
 *   <orig tuple> [UNREPLIED] <reply tuple> [OFFLOAD] [HW_OFFLOAD] [ASSURED] key=value... [start=...] [stop=...]
 *   tuple = src=A dst=B [sport=P dport=Q | type=T code=C id=I | srckey=0xK dstkey=0xK] [packets=N bytes=N]
 * After the reply tuple: mark=, secctx=, zone=, delta-time=, use=, id=<conntrack id>, and for
 * events originated in user space [USERSPACE] portid= progname=.
 */
import type { Counters, Family, TcpState, Tuple } from '../flow/types.js';
import { canonicalAddress } from './address.js';
import {
  type ConntrackEntry,
  type ConntrackEvent,
  emptyTuple,
  IPPROTO,
  isIcmp,
  TCP_STATES,
} from './entry.js';
import { LineFormatError, uint } from './parse-error.js';
import { IPS, statusBits } from './status.js';

interface TupleText {
  src?: string;
  dst?: string;
  sport?: string;
  dport?: string;
  type?: string;
  code?: string;
  icmpId?: string;
  srckey?: string;
  dstkey?: string;
  packets?: string;
  bytes?: string;
}

/** Splits on blanks, keeping bracketed groups with spaces (`[start=Thu Nov 26 08:42:52 2026]`) whole. */
function tokens(line: string): string[] {
  const raw = line.split(/[ \t]+/).filter((t) => t !== '');
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    let t = raw[i] as string;
    if (t.startsWith('[') && !t.endsWith(']')) {
      while (i + 1 < raw.length && !t.endsWith(']')) t += ` ${raw[++i]}`;
      if (!t.endsWith(']')) throw new LineFormatError(`unterminated ${t}`);
    }
    out.push(t);
  }
  return out;
}

function familyOf(l3name: string | undefined, l3num: string | undefined): Family {
  if (l3name === 'ipv4' && l3num === '2') return 'IPV4';
  if (l3name === 'ipv6' && l3num === '10') return 'IPV6';
  throw new LineFormatError(`unknown layer 3 ${l3name} ${l3num}`);
}

function smallUint(text: string | undefined, what: string, max: number): number {
  const n = uint(text, what);
  if (n > max) throw new LineFormatError(`${what} ${n} > ${max}`);
  return n;
}

function buildTuple(t: TupleText, family: Family, protocol: number, which: string): Tuple {
  const src = t.src === undefined ? null : canonicalAddress(t.src, family);
  const dst = t.dst === undefined ? null : canonicalAddress(t.dst, family);
  if (src === null || dst === null)
    throw new LineFormatError(`bad ${which} ${family} address ${t.src} / ${t.dst}`);
  const tuple = emptyTuple(src, dst);
  if (t.sport !== undefined) tuple.srcPort = smallUint(t.sport, 'sport', 65535);
  if (t.dport !== undefined) tuple.dstPort = smallUint(t.dport, 'dport', 65535);
  if (protocol === IPPROTO.GRE) {
    if (t.srckey !== undefined) tuple.srcPort = hexKey(t.srckey);
    if (t.dstkey !== undefined) tuple.dstPort = hexKey(t.dstkey);
  }
  if (isIcmp(protocol)) {
    if (t.type === undefined || t.code === undefined || t.icmpId === undefined) {
      throw new LineFormatError(`${which} ICMP tuple without type/code/id`);
    }
    tuple.icmpType = smallUint(t.type, 'icmp type', 255);
    tuple.icmpCode = smallUint(t.code, 'icmp code', 255);
    tuple.icmpId = smallUint(t.icmpId, 'icmp id', 65535);
  }
  return tuple;
}

function hexKey(text: string): number {
  if (!/^0x[0-9a-fA-F]{1,8}$/.test(text)) throw new LineFormatError(`bad GRE key ${text}`);
  return Number(text) & 0xffff;
}

/**
 * Parses one entry in the line format (without the event prefix). `fields` are the tokens from the
 * layer 3 name on.
 */
function parseEntryTokens(fields: string[]): ConntrackEntry {
  const family = familyOf(fields[0], fields[1]);
  const protocol = smallUint(fields[3], 'layer 4 protocol number', 255);
  let i = 4;
  // Optional timeout (absent in some DESTROY events), then an optional state word.
  if (i < fields.length && /^\d+$/.test(fields[i] as string)) i++;
  let stateWord: string | undefined;
  if (i < fields.length && !(fields[i] as string).includes('=') && !(fields[i] as string).startsWith('[')) {
    stateWord = fields[i++];
  }
  const tuples: TupleText[] = [];
  let inTuple = false;
  let unreplied = false;
  let assured = false;
  let offload = false;
  let hwOffload = false;
  let mark = 0;
  let zone = 0;
  let conntrackId: number | undefined;
  for (; i < fields.length; i++) {
    const f = fields[i] as string;
    if (f.startsWith('[')) {
      inTuple = false;
      if (f === '[UNREPLIED]') unreplied = true;
      else if (f === '[ASSURED]') assured = true;
      else if (f === '[OFFLOAD]') offload = true;
      else if (f === '[HW_OFFLOAD]') hwOffload = true;
      // [start=..] [stop=..] are printed to the second only: the XML dump gives the exact stamp.
      continue;
    }
    const eq = f.indexOf('=');
    if (eq <= 0) throw new LineFormatError(`unexpected field ${f}`);
    const key = f.slice(0, eq);
    const value = f.slice(eq + 1);
    if (key === 'src') {
      if (tuples.length === 2) throw new LineFormatError('more than two tuples');
      tuples.push({ src: value });
      inTuple = true;
      continue;
    }
    const cur = tuples[tuples.length - 1];
    if (inTuple && cur !== undefined) {
      switch (key) {
        case 'dst':
          cur.dst = value;
          continue;
        case 'sport':
          cur.sport = value;
          continue;
        case 'dport':
          cur.dport = value;
          continue;
        case 'type':
          cur.type = value;
          continue;
        case 'code':
          cur.code = value;
          continue;
        case 'srckey':
          cur.srckey = value;
          continue;
        case 'dstkey':
          cur.dstkey = value;
          continue;
        case 'packets':
          cur.packets = value;
          continue;
        case 'bytes':
          cur.bytes = value;
          continue;
        case 'id':
          // Inside an ICMP tuple `id=` is the echo identifier; after the tuples it is conntrack's id.
          if (isIcmp(protocol) && cur.icmpId === undefined && cur.packets === undefined) {
            cur.icmpId = value;
            continue;
          }
          break;
        default:
          break;
      }
      inTuple = false;
    }
    switch (key) {
      case 'mark':
        mark = uint(value, 'mark');
        break;
      case 'zone':
        zone = smallUint(value, 'zone', 65535);
        break;
      case 'id':
        conntrackId = smallUint(value, 'id', 0xffffffff);
        break;
      default:
        // use=, delta-time=, secctx=, portid=, progname=, labels, vtag=...: not needed downstream.
        break;
    }
  }
  const [o, r] = tuples;
  if (o === undefined || r === undefined) throw new LineFormatError('missing original or reply tuple');
  if (conntrackId === undefined) throw new LineFormatError('missing conntrack id (use -o id)');
  const orig = buildTuple(o, family, protocol, 'original');
  const reply = buildTuple(r, family, protocol, 'reply');
  let counters: Counters | null = null;
  if (o.packets !== undefined && o.bytes !== undefined && r.packets !== undefined && r.bytes !== undefined) {
    counters = {
      origPackets: uint(o.packets, 'packets'),
      origBytes: uint(o.bytes, 'bytes'),
      replyPackets: uint(r.packets, 'packets'),
      replyBytes: uint(r.bytes, 'bytes'),
    };
  }
  let tcpState: TcpState | null = null;
  if (protocol === IPPROTO.TCP) {
    tcpState = stateWord === undefined ? null : (TCP_STATES.get(stateWord) ?? null);
    if (tcpState === null) throw new LineFormatError(`TCP entry without a known state: ${stateWord}`);
  }
  return {
    conntrackId,
    zone,
    family,
    protocol,
    orig,
    reply,
    tcpState,
    status: statusBits({ unreplied, assured, offload, hwOffload, dying: false }, orig, reply),
    mark,
    counters,
    kernelStartUs: null,
    kernelStopUs: null,
  };
}

/** Parses one `conntrack -L -o extended,id` line. */
export function parseExtendedLine(line: string): ConntrackEntry {
  return parseEntryTokens(tokens(line));
}

const EVENT_KINDS: Record<string, ConntrackEvent['kind']> = {
  '[NEW]': 'NEW',
  '[UPDATE]': 'UPDATE',
  '[DESTROY]': 'DESTROY',
};

/**
 * Parses one `conntrack -E -o timestamp,extended,id` line. Returns null for conntrack's closing
 * summary line ("N flow events have been shown"); throws LineFormatError for anything unreadable.
 */
export function parseEventLine(line: string): ConntrackEvent | null {
  if (line.trim() === '' || line.includes('flow events have been shown')) return null;
  const t = tokens(line);
  const stamp = /^\[(\d{1,12})\.(\d{6})\]$/.exec(t[0] ?? '');
  if (stamp === null) throw new LineFormatError('no [seconds.microseconds] event time');
  const kind = EVENT_KINDS[t[1] ?? ''];
  if (kind === undefined) throw new LineFormatError(`unknown event type ${t[1]}`);
  const entry = parseEntryTokens(t.slice(2));
  if (kind === 'DESTROY') entry.status |= IPS.DYING; // conntrack destroys only dying entries.
  return { kind, timeUs: Number(stamp[1]) * 1_000_000 + Number(stamp[2]), entry };
}
