import type { CtflowError } from '../errors.js';
import type { Observation } from '../flow/types.js';
import type { ClockUs } from './clock.js';
import type { DiffSession } from './diff-session.js';
import { type ConntrackEntry, IPPROTO } from './entry.js';
import { LineFormatError, parseError } from './parse-error.js';
import { parseExtendedLine } from './parse-extended-line.js';
import type { Reader } from './reader.js';
import { type ReadGate, runByteLines, runLines } from './run-lines.js';
import type { ConntrackTable } from './table.js';

/** What one dump did. */
export interface DumpResult {
  /** Entries read. */
  entries: number;
  /** Observations reported from this dump (changed, new, vanished). */
  reported: number;
  parseErrors: number;
  /** ICMP entries whose type/code/id could not be found (destroyed before the ICMP listing). */
  icmpUnresolved: number;
  /** When the dump output ended, µs: the observation time of the dump as a whole. */
  endUs: number;
  durationUs: number;
  /** Diffed dumps (reader ctnetlink): entries printed (new or changed) and ids gone. */
  diff?: { printed: number; gone: number; full: boolean };
}

/** Inputs of one dump. */
export interface DumpOptions {
  reader: Reader;
  /** conntrack-tools command (prefix + binary), to list ICMP entries the reader left incomplete. */
  conntrack: readonly string[];
  clock: ClockUs;
  table: ConntrackTable;
  emit(obs: Observation): void;
  onError(err: CtflowError): void;
  /** Reader process that diffs its dumps itself (reader.diffArgv); when set, dumps go through it. */
  session?: DiffSession;
  /** Flow control: pauses reading the dump while what it emitted waits downstream. */
  gate?: ReadGate;
  /**
   * Lines of a diffed dump are handled only once this settles (the event stream's sync, asked for
   * at the same time as the dump): a dump never shows a connection before the events queued ahead
   * of it, and the sync's round trip does not delay the dump. Its lines carry the reader's stamps,
   * so holding them changes no time. Must not reject.
   */
  after?: Promise<unknown>;
  /**
   * Wall-clock time (µs) the session's reader starts the dump at (DiffSession.dump): asked for ahead
   * of the poll's due time, so that a busy event loop then does not make the dump late.
   */
  atUs?: number;
}

type Deferred = { entry: ConntrackEntry; seenUs: number; fingerprint: number | null };

/**
 * Reads the whole table once (reader.dumpArgv, e.g. `conntrack -L -o xml,ktimestamp`, streamed line by line) into
 * `table`, emitting what changed. Every entry is stamped with the time its output chunk arrived:
 * never before the kernel read its counters, so an interval never ends before its last packet.
 * ICMP entries the table cannot complete are completed from an ICMP-only line-format listing.
 * Does not end the dump: the caller calls table.endDump() once late events had time to arrive.
 */
export async function readDump(options: DumpOptions): Promise<DumpResult> {
  if (options.session !== undefined) return readDiffDump(options, options.session);
  const { table, clock, emit } = options;
  const startUs = clock();
  let entries = 0;
  let reported = 0;
  let parseErrors = 0;
  const deferred: Deferred[] = [];
  const report = (list: Observation[]): void => {
    for (const o of list) emit(o);
    reported += list.length;
  };
  table.beginDump();
  const { reader } = options;
  const { endUs } = await runByteLines(
    reader.dumpArgv,
    clock,
    (bytes, lineNo, seenUs) => {
      // Unchanged entries (most of a big table) are recognised from their bytes, never decoded.
      const fingerprint = reader.fingerprint(bytes);
      if (fingerprint !== null) {
        const id = reader.conntrackId(bytes);
        if (id !== null && table.unchanged(id, fingerprint)) {
          entries++;
          return;
        }
      }
      const line = bytes.toString('latin1');
      let entry: ConntrackEntry | null;
      try {
        entry = reader.parseDumpLine(line);
      } catch (err) {
        if (!(err instanceof LineFormatError)) throw err;
        parseErrors++;
        options.onError(parseError('dump', lineNo, line, err.message));
        return;
      }
      if (entry === null) return;
      entries++;
      const complete = table.completeIcmp(entry);
      if (complete === null) deferred.push({ entry, seenUs, fingerprint });
      else report(table.dumpEntry(complete, seenUs, fingerprint));
    },
    options.gate,
  );
  const icmpUnresolved = deferred.length === 0 ? 0 : await completeFromListing(options, deferred, report);
  return { entries, reported, parseErrors, icmpUnresolved, endUs, durationUs: clock() - startUs };
}

/**
 * readDump() through a reader that diffs the table itself: only new and changed entries arrive
 * (parsed and handed to the table as usual); the table then keeps every entry the reader held
 * unchanged through the dump (neither printed nor gone).
 */
async function readDiffDump(options: DumpOptions, session: DiffSession): Promise<DumpResult> {
  const { table, clock, reader } = options;
  const startUs = clock();
  let reported = 0;
  let parseErrors = 0;
  const deferred: Deferred[] = [];
  const report = (list: Observation[]): void => {
    for (const o of list) options.emit(o);
    reported += list.length;
  };
  table.beginDump();
  const handle = (bytes: Buffer, lineNo: number, seenUs: number): void => {
    const line = bytes.toString('latin1');
    let entry: ConntrackEntry | null;
    try {
      entry = reader.parseDumpLine(line);
    } catch (err) {
      if (!(err instanceof LineFormatError)) throw err;
      parseErrors++;
      options.onError(parseError('dump', lineNo, line, err.message));
      // The reader now holds this line as told: have it printed again rather than trust the table.
      const id = reader.conntrackId(bytes);
      if (id === null) session.forgetAll();
      else session.forget(id);
      return;
    }
    if (entry === null) return;
    // The reader's receive stamp, not this process's arrival time, which a busy event loop delays
    // (no later than the arrival: the two clocks agree to about 1 ms).
    const stampUs = reader.lineTimeUs(bytes);
    const atUs = stampUs > 0 && stampUs < seenUs ? stampUs : seenUs;
    const complete = table.completeIcmp(entry);
    if (complete === null) deferred.push({ entry, seenUs: atUs, fingerprint: null });
    else report(table.dumpEntry(complete, atUs));
  };
  // Lines that arrive before `after` settles wait here (copied: a line may share its chunk's bytes).
  let held: Array<[Buffer, number, number]> | null = options.after === undefined ? null : [];
  let failed = false;
  const released = (options.after ?? Promise.resolve()).then(() => {
    const lines = held ?? [];
    held = null;
    if (failed) return;
    for (const [bytes, lineNo, seenUs] of lines) handle(bytes, lineNo, seenUs);
  });
  // Awaited below on success; a failed dump must not leave it unhandled.
  released.catch(() => {});
  let result: Awaited<ReturnType<DiffSession['dump']>>;
  try {
    result = await session.dump(
      (bytes, lineNo, seenUs) => {
        if (held !== null) held.push([Buffer.from(bytes), lineNo, seenUs]);
        else handle(bytes, lineNo, seenUs);
      },
      options.gate,
      options.atUs,
    );
  } catch (err) {
    // The dump failed: what it held is not handled (the caller does not end the dump either).
    failed = true;
    throw err;
  }
  await released;
  if (!result.full) table.keepUnchanged((id) => session.holds(id));
  // Incomplete ICMP lines may stay unresolved: have them printed again next time.
  for (const d of deferred) session.forget(d.entry.conntrackId);
  const icmpUnresolved = deferred.length === 0 ? 0 : await completeFromListing(options, deferred, report);
  return {
    entries: result.entries,
    reported,
    parseErrors,
    icmpUnresolved,
    endUs: result.endUs,
    durationUs: clock() - startUs,
    diff: { printed: result.printed, gone: result.gone.length, full: result.full },
  };
}

/** Lists ICMP/ICMPv6 entries in the line format (which prints type/code/id) and completes `deferred`. */
async function completeFromListing(
  options: DumpOptions,
  deferred: Deferred[],
  report: (list: Observation[]) => void,
): Promise<number> {
  const byId = new Map<number, ConntrackEntry>();
  const protocols = new Set(deferred.map((d) => d.entry.protocol));
  for (const proto of protocols) {
    const name = proto === IPPROTO.ICMP ? 'icmp' : 'icmpv6';
    await runLines(
      [...options.conntrack, '-L', '-p', name, '-o', 'extended,id'],
      options.clock,
      (line, lineNo) => {
        try {
          const e = parseExtendedLine(line);
          byId.set(e.conntrackId, e);
        } catch (err) {
          if (!(err instanceof LineFormatError)) throw err;
          options.onError(parseError(`${name} listing`, lineNo, line, err.message));
        }
      },
    );
  }
  let unresolved = 0;
  for (const { entry, seenUs, fingerprint } of deferred) {
    const listed = byId.get(entry.conntrackId);
    if (listed === undefined || listed.orig.src !== entry.orig.src || listed.orig.dst !== entry.orig.dst) {
      unresolved++;
      continue;
    }
    const complete: ConntrackEntry = {
      ...entry,
      orig: {
        ...entry.orig,
        icmpType: listed.orig.icmpType,
        icmpCode: listed.orig.icmpCode,
        icmpId: listed.orig.icmpId,
      },
      reply: {
        ...entry.reply,
        icmpType: listed.reply.icmpType,
        icmpCode: listed.reply.icmpCode,
        icmpId: listed.reply.icmpId,
      },
    };
    report(options.table.dumpEntry(complete, seenUs, fingerprint));
  }
  return unresolved;
}
