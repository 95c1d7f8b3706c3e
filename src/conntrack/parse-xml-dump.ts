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
 *
 * One left-to-right pass over the line (a dump is 100,000 lines every few seconds): elements are
 * read in whatever order they come, unknown ones are skipped, required ones must be present.
 */
import type { Counters, Family, TcpState, Tuple } from '../flow/types.js';
import { canonicalAddress } from './address.js';
import { type ConntrackEntry, emptyTuple, IPPROTO, TCP_STATES } from './entry.js';
import { LineFormatError, nsToUs, uint } from './parse-error.js';
import { statusBits } from './status.js';

const META_OPEN = '<meta direction="';
const META_CLOSE = '</meta>';

/** A position in one line, moving forward only. */
class Cursor {
  pos = 0;
  constructor(readonly line: string) {}

  /** Consumes `lit` or throws. */
  expect(lit: string): void {
    if (!this.line.startsWith(lit, this.pos))
      throw new LineFormatError(`expected ${lit} at column ${this.pos + 1}`);
    this.pos += lit.length;
  }

  /** Consumes `lit` if it is next. */
  accept(lit: string): boolean {
    if (!this.line.startsWith(lit, this.pos)) return false;
    this.pos += lit.length;
    return true;
  }

  /** Returns the text up to `lit` and consumes both. */
  upTo(lit: string): string {
    const end = this.line.indexOf(lit, this.pos);
    if (end < 0) throw new LineFormatError(`expected ${lit} after column ${this.pos + 1}`);
    const text = this.line.slice(this.pos, end);
    this.pos = end + lit.length;
    return text;
  }

  /**
   * Reads the next element's start tag `<name ...>` or `<name/>`; returns its name, or null at a
   * closing tag (not consumed). `selfClosing` tells which form it was.
   */
  openTag(): string | null {
    const line = this.line;
    if (line.charCodeAt(this.pos) !== 60 /* < */)
      throw new LineFormatError(`expected < at column ${this.pos + 1}`);
    if (line.charCodeAt(this.pos + 1) === 47 /* / */) return null;
    let i = this.pos + 1;
    for (;;) {
      const c = line.charCodeAt(i);
      if (c === 62 /* > */ || c === 32 /* space */ || c === 47 /* / */) break;
      if (Number.isNaN(c)) throw new LineFormatError('unterminated tag');
      i++;
    }
    const name = line.slice(this.pos + 1, i);
    this.pos = i;
    return name;
  }

  /** After openTag(): consumes the rest of the start tag; true when it was `/>`. */
  endOfStartTag(): boolean {
    const close = this.line.indexOf('>', this.pos);
    if (close < 0) throw new LineFormatError('unterminated start tag');
    const selfClosing = this.line.charCodeAt(close - 1) === 47;
    this.pos = close + 1;
    return selfClosing;
  }

  /** Leaf value `text</name>`: returns text. */
  leaf(name: string): string {
    const end = this.line.indexOf('<', this.pos);
    if (end < 0 || !this.line.startsWith('</', end) || !this.line.startsWith(name, end + 2)) {
      throw new LineFormatError(`unterminated <${name}>`);
    }
    const text = this.line.slice(this.pos, end);
    this.pos = end + 3 + name.length;
    return text;
  }

  /** Skips one element whose start tag was just read (self-closing or with content). */
  skip(name: string, selfClosing: boolean): void {
    if (selfClosing) return;
    this.upTo(`</${name}>`);
  }
}

/** Value of `name="..."` inside the start tag being read (cursor just after the tag name). */
function attribute(c: Cursor, name: string): string {
  const close = c.line.indexOf('>', c.pos);
  const at = c.line.indexOf(` ${name}="`, c.pos);
  if (at < 0 || at > close) throw new LineFormatError(`missing ${name}`);
  const start = at + name.length + 3;
  const end = c.line.indexOf('"', start);
  return c.line.slice(start, end);
}

interface Direction {
  family: Family;
  protocol: number;
  tuple: Tuple;
  packets: number | null;
  bytes: number | null;
}

function familyOf(protonum: string): Family {
  if (protonum === '2') return 'IPV4';
  if (protonum === '10') return 'IPV6';
  throw new LineFormatError(`unknown layer3 protonum ${protonum}`);
}

function port(text: string): number {
  const n = uint(text, 'port');
  if (n > 65535) throw new LineFormatError(`port ${n} > 65535`);
  return n;
}

function hex16(text: string): number {
  if (!/^0x[0-9a-fA-F]{1,4}$/.test(text)) throw new LineFormatError(`bad GRE key ${text}`);
  return Number(text);
}

/** Reads `<meta direction="original|reply">...</meta>` (the cursor is past the opening tag). */
function direction(c: Cursor): Direction {
  let family: Family | null = null;
  let protocol = -1;
  let srcText: string | undefined;
  let dstText: string | undefined;
  let sport: string | undefined;
  let dport: string | undefined;
  let srckey: string | undefined;
  let dstkey: string | undefined;
  let packets: number | null = null;
  let bytes: number | null = null;
  for (let name = c.openTag(); name !== null; name = c.openTag()) {
    if (name === 'layer3') {
      family = familyOf(attribute(c, 'protonum'));
      c.endOfStartTag();
      for (let n = c.openTag(); n !== null; n = c.openTag()) {
        const self = c.endOfStartTag();
        if (n === 'src' && !self) srcText = c.leaf('src');
        else if (n === 'dst' && !self) dstText = c.leaf('dst');
        else c.skip(n, self);
      }
      c.expect('</layer3>');
    } else if (name === 'layer4') {
      protocol = uint(attribute(c, 'protonum'), 'layer4 protonum');
      if (protocol > 255) throw new LineFormatError(`layer4 protonum ${protocol} > 255`);
      c.endOfStartTag();
      for (let n = c.openTag(); n !== null; n = c.openTag()) {
        const self = c.endOfStartTag();
        if (self) continue;
        if (n === 'sport') sport = c.leaf('sport');
        else if (n === 'dport') dport = c.leaf('dport');
        else if (n === 'srckey') srckey = c.leaf('srckey');
        else if (n === 'dstkey') dstkey = c.leaf('dstkey');
        else c.skip(n, self);
      }
      c.expect('</layer4>');
    } else if (name === 'counters') {
      c.endOfStartTag();
      for (let n = c.openTag(); n !== null; n = c.openTag()) {
        const self = c.endOfStartTag();
        if (n === 'packets' && !self) packets = uint(c.leaf('packets'), 'packets');
        else if (n === 'bytes' && !self) bytes = uint(c.leaf('bytes'), 'bytes');
        else c.skip(n, self);
      }
      c.expect('</counters>');
      if (packets === null || bytes === null) throw new LineFormatError('counters without packets or bytes');
    } else {
      c.skip(name, c.endOfStartTag());
    }
  }
  c.expect(META_CLOSE);
  if (family === null || protocol < 0) throw new LineFormatError('missing <layer3> or <layer4>');
  const src = srcText === undefined ? null : canonicalAddress(srcText, family);
  const dst = dstText === undefined ? null : canonicalAddress(dstText, family);
  if (src === null || dst === null)
    throw new LineFormatError(`bad ${family} address ${srcText} / ${dstText}`);
  const tuple = emptyTuple(src, dst);
  if (sport !== undefined) tuple.srcPort = port(sport);
  if (dport !== undefined) tuple.dstPort = port(dport);
  if (protocol === IPPROTO.GRE) {
    // GRE keys live where ports live in conntrack's tuple (PPTP call ids); they tell GRE flows apart.
    if (srckey !== undefined) tuple.srcPort = hex16(srckey);
    if (dstkey !== undefined) tuple.dstPort = hex16(dstkey);
  }
  return { family, protocol, tuple, packets, bytes };
}

interface Independent {
  conntrackId: number | null;
  zone: number;
  mark: number;
  state: string | undefined;
  assured: boolean;
  unreplied: boolean;
  offload: boolean;
  hwOffload: boolean;
  startUs: number | null;
  stopUs: number | null;
}

/** Reads `<meta direction="independent">...</meta>` (the cursor is past the opening tag). */
function independent(c: Cursor): Independent {
  const ind: Independent = {
    conntrackId: null,
    zone: 0,
    mark: 0,
    state: undefined,
    assured: false,
    unreplied: false,
    offload: false,
    hwOffload: false,
    startUs: null,
    stopUs: null,
  };
  for (let name = c.openTag(); name !== null; name = c.openTag()) {
    const self = c.endOfStartTag();
    if (self) {
      if (name === 'assured') ind.assured = true;
      else if (name === 'unreplied') ind.unreplied = true;
      else if (name === 'offload') ind.offload = true;
      else if (name === 'hw_offload') ind.hwOffload = true;
      continue;
    }
    switch (name) {
      case 'id': {
        const id = uint(c.leaf('id'), 'id');
        if (id > 0xffffffff) throw new LineFormatError(`id ${id} > uint32`);
        ind.conntrackId = id;
        break;
      }
      case 'mark':
        ind.mark = uint(c.leaf('mark'), 'mark');
        break;
      case 'zone':
        ind.zone = uint(c.leaf('zone'), 'zone');
        break;
      case 'state':
        ind.state = c.leaf('state');
        break;
      case 'timestamp':
        for (let n = c.openTag(); n !== null; n = c.openTag()) {
          const s = c.endOfStartTag();
          if (n === 'start' && !s) ind.startUs = nsToUs(c.leaf('start'), 'timestamp start');
          else if (n === 'stop' && !s) ind.stopUs = nsToUs(c.leaf('stop'), 'timestamp stop');
          else c.skip(n, s);
        }
        c.expect('</timestamp>');
        break;
      default:
        // timeout, use, secmark, deltatime, helper, labels...: not needed downstream.
        c.skip(name, false);
    }
  }
  c.expect(META_CLOSE);
  return ind;
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
  const c = new Cursor(line);
  c.upTo('>'); // <flow> or <flow type="...">
  let o: Direction | null = null;
  let r: Direction | null = null;
  let ind: Independent | null = null;
  while (c.accept(META_OPEN)) {
    const which = c.upTo('">');
    if (which === 'original') o = direction(c);
    else if (which === 'reply') r = direction(c);
    else if (which === 'independent') ind = independent(c);
    else throw new LineFormatError(`unknown meta direction ${which}`);
  }
  if (o === null || r === null || ind === null)
    throw new LineFormatError('missing original, reply or independent meta');
  if (o.family !== r.family || o.protocol !== r.protocol) {
    throw new LineFormatError('original and reply directions disagree on family/protocol');
  }
  if (ind.conntrackId === null) throw new LineFormatError('missing <id>');
  let counters: Counters | null = null;
  if (o.packets !== null && o.bytes !== null && r.packets !== null && r.bytes !== null) {
    counters = { origPackets: o.packets, origBytes: o.bytes, replyPackets: r.packets, replyBytes: r.bytes };
  }
  // The XML printer names SCTP/DCCP states with TCP names (states[] indexed by the SCTP state),
  // so a state is only taken as a TCP state for TCP.
  let tcpState: TcpState | null = null;
  if (o.protocol === IPPROTO.TCP && ind.state !== undefined) {
    tcpState = TCP_STATES.get(ind.state) ?? null;
    if (tcpState === null) throw new LineFormatError(`unknown TCP state ${ind.state}`);
  }
  const status = statusBits(
    {
      unreplied: ind.unreplied,
      assured: ind.assured,
      offload: ind.offload,
      hwOffload: ind.hwOffload,
      dying: false,
    },
    o.tuple,
    r.tuple,
  );
  return {
    conntrackId: ind.conntrackId,
    zone: ind.zone,
    family: o.family,
    protocol: o.protocol,
    orig: o.tuple,
    reply: r.tuple,
    tcpState,
    status,
    mark: ind.mark,
    counters,
    kernelStartUs: ind.startUs,
    kernelStopUs: ind.stopUs,
  };
}
