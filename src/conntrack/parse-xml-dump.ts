/**
 * Parser of `conntrack -L -o xml,ktimestamp`, one `<flow>` per line (conntrack-tools prints each
 * entry on its own line, so a dump is parsed line by line and never held whole).
 *
 * Why XML for dumps: it is the only conntrack-tools output that carries the kernel start stamp
 * to the nanosecond (the line format prints `[start=<date>]` to the second, which would put
 * flowStart up to 1 s before the first packet). What it lacks, the ICMP type/code/id, comes
 * from the line format (events, or an ICMP-only `conntrack -L`); see parse-extended-line.ts.
 *
 * Line shape (libnetfilter_conntrack snprintf_xml.c):
 *   <flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>A</src><dst>B</dst>
 *   </layer3><layer4 protonum="6" protoname="tcp"><sport>P</sport><dport>Q</dport></layer4>
 *   [<counters><packets>N</packets><bytes>N</bytes></counters>]</meta><meta direction="reply">...
 *   </meta><meta direction="independent">[<state>S</state>]<timeout>T</timeout><mark>M</mark>
 *   [<zone>Z</zone>]<use>U</use><id>I</id>[<assured/>][<unreplied/>][<timestamp><start>NS</start>
 *   [<stop>NS</stop>]</timestamp>]...</meta></flow>
 */
import type { Counters, Family, TcpState, Tuple } from '../flow/types.js';
import { canonicalAddress } from './address.js';
import { type ConntrackEntry, emptyTuple, IPPROTO, TCP_STATES } from './entry.js';
import { LineFormatError, nsToUs, uint } from './parse-error.js';
import { statusBits } from './status.js';

const ORIG = '<meta direction="original">';
const REPLY = '<meta direction="reply">';
const INDEP = '<meta direction="independent">';
const META_END = '</meta>';

/** Text between `<name>` and `</name>` within [from, to), or undefined when absent. */
function tag(line: string, name: string, from: number, to: number): string | undefined {
  const open = `<${name}>`;
  const start = line.indexOf(open, from);
  if (start < 0 || start >= to) return undefined;
  const valueStart = start + open.length;
  const end = line.indexOf(`</${name}>`, valueStart);
  if (end < 0 || end > to) throw new LineFormatError(`unterminated <${name}>`);
  return line.slice(valueStart, end);
}

/** Value of attribute `attr` in the element starting with `<elem ` within [from, to). */
function attr(line: string, elem: string, attrName: string, from: number, to: number): string {
  const at = line.indexOf(`<${elem} `, from);
  if (at < 0 || at >= to) throw new LineFormatError(`missing <${elem}>`);
  const key = `${attrName}="`;
  const k = line.indexOf(key, at);
  const close = line.indexOf('>', at);
  if (k < 0 || k > close) throw new LineFormatError(`missing ${elem} ${attrName}`);
  const end = line.indexOf('"', k + key.length);
  return line.slice(k + key.length, end);
}

function has(line: string, marker: string, from: number, to: number): boolean {
  const at = line.indexOf(marker, from);
  return at >= 0 && at < to;
}

interface Direction {
  family: Family;
  protocol: number;
  tuple: Tuple;
  packets: number | null;
  bytes: number | null;
}

function section(line: string, head: string, from: number): [number, number] {
  const start = line.indexOf(head, from);
  if (start < 0) throw new LineFormatError(`missing ${head}`);
  const end = line.indexOf(META_END, start);
  if (end < 0) throw new LineFormatError(`unterminated ${head}`);
  return [start + head.length, end];
}

function direction(line: string, from: number, to: number): Direction {
  const l3 = attr(line, 'layer3', 'protonum', from, to);
  let family: Family;
  if (l3 === '2') family = 'IPV4';
  else if (l3 === '10') family = 'IPV6';
  else throw new LineFormatError(`unknown layer3 protonum ${l3}`);
  const srcText = tag(line, 'src', from, to);
  const dstText = tag(line, 'dst', from, to);
  const src = srcText === undefined ? null : canonicalAddress(srcText, family);
  const dst = dstText === undefined ? null : canonicalAddress(dstText, family);
  if (src === null || dst === null)
    throw new LineFormatError(`bad ${family} address ${srcText} / ${dstText}`);
  const protocol = uint(attr(line, 'layer4', 'protonum', from, to), 'layer4 protonum');
  if (protocol > 255) throw new LineFormatError(`layer4 protonum ${protocol} > 255`);
  const tuple = emptyTuple(src, dst);
  const l4 = line.indexOf('<layer4 ', from);
  const l4End = line.indexOf('</layer4>', l4);
  if (l4End < 0 || l4End > to) throw new LineFormatError('unterminated <layer4>');
  const sport = tag(line, 'sport', l4, l4End);
  const dport = tag(line, 'dport', l4, l4End);
  if (sport !== undefined) tuple.srcPort = port(sport);
  if (dport !== undefined) tuple.dstPort = port(dport);
  if (protocol === IPPROTO.GRE) {
    // GRE keys live where ports live in conntrack's tuple (PPTP call ids); they tell GRE flows apart.
    const sk = tag(line, 'srckey', l4, l4End);
    const dk = tag(line, 'dstkey', l4, l4End);
    if (sk !== undefined) tuple.srcPort = hex16(sk);
    if (dk !== undefined) tuple.dstPort = hex16(dk);
  }
  let packets: number | null = null;
  let bytes: number | null = null;
  if (has(line, '<counters>', l4End, to)) {
    packets = uint(tag(line, 'packets', l4End, to), 'packets');
    bytes = uint(tag(line, 'bytes', l4End, to), 'bytes');
  }
  return { family, protocol, tuple, packets, bytes };
}

function port(text: string): number {
  const n = uint(text, 'port');
  if (n > 65535) throw new LineFormatError(`port ${n} > 65535`);
  return n;
}

function hex16(text: string): number {
  const n = Number(text);
  if (!/^0x[0-9a-fA-F]{1,4}$/.test(text) || !Number.isInteger(n))
    throw new LineFormatError(`bad GRE key ${text}`);
  return n;
}

/**
 * Parses one line of an XML dump. Returns null for the framing lines (`<?xml ...?>`, `<conntrack>`,
 * `</conntrack>`, empty); throws LineFormatError for anything else it cannot read completely.
 */
export function parseXmlDumpLine(line: string): ConntrackEntry | null {
  if (!line.startsWith('<flow')) {
    const t = line.trim();
    if (t === '' || t.startsWith('<?xml') || t === '<conntrack>' || t === '</conntrack>') return null;
    throw new LineFormatError('not a <flow> element');
  }
  if (!line.endsWith('</flow>')) throw new LineFormatError('truncated: no </flow>');
  const [oFrom, oTo] = section(line, ORIG, 0);
  const [rFrom, rTo] = section(line, REPLY, oTo);
  const [iFrom, iTo] = section(line, INDEP, rTo);
  const o = direction(line, oFrom, oTo);
  const r = direction(line, rFrom, rTo);
  if (o.family !== r.family || o.protocol !== r.protocol) {
    throw new LineFormatError('original and reply directions disagree on family/protocol');
  }
  let counters: Counters | null = null;
  if (o.packets !== null && o.bytes !== null && r.packets !== null && r.bytes !== null) {
    counters = { origPackets: o.packets, origBytes: o.bytes, replyPackets: r.packets, replyBytes: r.bytes };
  }
  const idText = tag(line, 'id', iFrom, iTo);
  const conntrackId = uint(idText, 'id');
  if (conntrackId > 0xffffffff) throw new LineFormatError(`id ${conntrackId} > uint32`);
  const markText = tag(line, 'mark', iFrom, iTo);
  const zoneText = tag(line, 'zone', iFrom, iTo);
  // The XML printer names SCTP/DCCP states with TCP names (states[] indexed by the SCTP state),
  // so a state is only taken as a TCP state for TCP.
  const stateText = tag(line, 'state', iFrom, iTo);
  let tcpState: TcpState | null = null;
  if (o.protocol === IPPROTO.TCP && stateText !== undefined) {
    tcpState = TCP_STATES.get(stateText) ?? null;
    if (tcpState === null) throw new LineFormatError(`unknown TCP state ${stateText}`);
  }
  const ts = tag(line, 'timestamp', iFrom, iTo);
  let kernelStartUs: number | null = null;
  let kernelStopUs: number | null = null;
  if (ts !== undefined) {
    const start = tag(ts, 'start', 0, ts.length);
    const stop = tag(ts, 'stop', 0, ts.length);
    if (start !== undefined) kernelStartUs = nsToUs(start, 'timestamp start');
    if (stop !== undefined) kernelStopUs = nsToUs(stop, 'timestamp stop');
  }
  const status = statusBits(
    {
      unreplied: has(line, '<unreplied/>', iFrom, iTo),
      assured: has(line, '<assured/>', iFrom, iTo),
      offload: has(line, '<offload/>', iFrom, iTo),
      hwOffload: has(line, '<hw_offload/>', iFrom, iTo),
      dying: false,
    },
    o.tuple,
    r.tuple,
  );
  return {
    conntrackId,
    zone: zoneText === undefined ? 0 : uint(zoneText, 'zone'),
    family: o.family,
    protocol: o.protocol,
    orig: o.tuple,
    reply: r.tuple,
    tcpState,
    status,
    mark: markText === undefined ? 0 : uint(markText, 'mark'),
    counters,
    kernelStartUs,
    kernelStopUs,
  };
}
