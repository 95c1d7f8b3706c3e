import type { ConntrackEntry, ConntrackEvent } from './entry.js';
import { hashBytes, lineConntrackId, lineFingerprint } from './fingerprint.js';
import { withStdinLifeline } from './lifeline.js';
import { parseEventLine } from './parse-extended-line.js';
import { parseNetlinkLine } from './parse-netlink-line.js';
import { LineFormatError } from './parse-error.js';
import { parseXmlDumpLine } from './parse-xml-dump.js';

/**
 * Which program reads the kernel table:
 * - 'conntrack-tools': the `conntrack` CLI (Debian package conntrack): XML dumps, line-format events.
 * - 'ctnetlink': ctflow's own netlink reader (tools/ctnetlink, built with `go build`): faster, and
 *   exact where the CLI is not (status bits, kernel stamps in DESTROY events, ICMP fields in dumps).
 */
export type ReaderKind = 'conntrack-tools' | 'ctnetlink';

/**
 * A framing line of the event stream that is not an event: a sync mark (every event the kernel had
 * queued at timeUs came before it) or events the reader dropped itself (its output queue was full).
 */
export type EventMark = { mark: 'sync'; timeUs: number } | { mark: 'dropped'; count: number };

/** What one events line is: an event, nothing (a line to ignore), lost events, or a mark. */
export type EventLine = ConntrackEvent | null | 'overrun' | EventMark;

/** How to run one reader and read its output. */
export interface Reader {
  kind: ReaderKind;
  /** Command that prints the whole table and exits. */
  dumpArgv: readonly string[];
  /**
   * Command that dumps on request and diffs each dump against the previous one itself
   * (diff-session.ts); when set, polls use it instead of dumpArgv.
   */
  diffArgv?: readonly string[];
  /**
   * Command that prints events until killed, or until its stdin (a pipe from ctflow) reaches EOF:
   * ctflow's death then ends it too (lifeline.ts).
   */
  eventsArgv: readonly string[];
  /**
   * Whether the events command answers a "sync" line on its stdin with a sync mark (EventMark),
   * which lets a poll first take in every event queued before it (EventStream.sync).
   */
  syncsEvents: boolean;
  /** Text on the events command's stderr that means it is subscribed. */
  readyMarker: string;
  /** Entry of a dump line; null for framing lines; throws LineFormatError. */
  parseDumpLine(line: string): ConntrackEntry | null;
  /** Event of an events line; null for lines to ignore; 'overrun' when events were lost; marks. */
  parseEventLine(line: string): EventLine;
  /** Hash of a dump line without fields that change by themselves; null if not an entry. */
  fingerprint(line: Buffer): number | null;
  /** Conntrack id of a dump line, read from its bytes; null if not found. */
  conntrackId(line: Buffer): number | null;
  /**
   * Time a dump line carries, µs (the reader's receive time of the entry from the kernel); 0 when
   * it carries none, and the agent's clock at the line's arrival stands in.
   */
  lineTimeUs(line: Buffer): number;
}

/** conntrack-tools as the reader; `conntrack` = prefix + binary. */
export function conntrackToolsReader(conntrack: readonly string[], eventBufferBytes: number): Reader {
  return {
    kind: 'conntrack-tools',
    dumpArgv: [...conntrack, '-L', '-o', 'xml,ktimestamp'],
    // conntrack -E knows nothing of its stdin: a shell watchdog ends it when ctflow is gone.
    eventsArgv: withStdinLifeline([
      ...conntrack,
      '-E',
      '-o',
      'timestamp,extended,id',
      '-b',
      String(eventBufferBytes),
    ]),
    syncsEvents: false,
    // conntrack opens its subscribed socket before it sizes the buffer, and says so.
    readyMarker: 'buffer size',
    parseDumpLine: parseXmlDumpLine,
    parseEventLine: (line) => (/ENOBUFS/.test(line) ? 'overrun' : parseEventLine(line)),
    fingerprint: lineFingerprint,
    conntrackId: lineConntrackId,
    lineTimeUs: () => 0,
  };
}

/** Second tab-separated field of a ctnetlink line (its time), as a number; 0 if not one. */
function netlinkTime(line: Buffer): number {
  const a = line.indexOf(9);
  const b = a < 0 ? -1 : line.indexOf(9, a + 1);
  if (b < 0 || b - a > 17) return 0;
  let n = 0;
  for (let i = a + 1; i < b; i++) {
    const d = (line[i] as number) - 48;
    if (d < 0 || d > 9) return 0;
    n = n * 10 + d;
  }
  return n;
}

/** Third tab-separated field of a ctnetlink line, as a number. */
function netlinkId(line: Buffer): number | null {
  const a = line.indexOf(9);
  const b = a < 0 ? -1 : line.indexOf(9, a + 1);
  const c = b < 0 ? -1 : line.indexOf(9, b + 1);
  if (c < 0 || c === b + 1 || c - b > 11) return null;
  let n = 0;
  for (let i = b + 1; i < c; i++) {
    const d = (line[i] as number) - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return n;
}

/** ctflow's ctnetlink reader as the reader; `ctnetlink` = prefix + binary. */
export function ctnetlinkReader(ctnetlink: readonly string[]): Reader {
  return {
    kind: 'ctnetlink',
    dumpArgv: [...ctnetlink, 'dump'],
    diffArgv: [...ctnetlink, 'serve'],
    // Exits by itself when its stdin, a pipe, reaches EOF (tools/ctnetlink/lifeline.go).
    eventsArgv: [...ctnetlink, 'events'],
    syncsEvents: true,
    readyMarker: 'listening',
    parseDumpLine: (line) => {
      const parsed = parseNetlinkLine(line);
      if (parsed.type !== 'entry') throw new LineFormatError('not a dump entry');
      return parsed.entry;
    },
    parseEventLine: (line) => {
      const parsed = parseNetlinkLine(line);
      switch (parsed.type) {
        case 'event':
          return parsed.event;
        case 'overrun':
          return 'overrun';
        case 'sync':
          return { mark: 'sync', timeUs: parsed.timeUs };
        case 'dropped':
          return { mark: 'dropped', count: parsed.count };
        default:
          throw new LineFormatError('not an event');
      }
    },
    // Nothing in a ctnetlink line changes by itself (no timeout is printed): hash all of it.
    fingerprint: (line) => (line[0] === 80 /* P */ ? hashBytes(line, [line.length, line.length]) : null),
    conntrackId: netlinkId,
    lineTimeUs: netlinkTime,
  };
}
