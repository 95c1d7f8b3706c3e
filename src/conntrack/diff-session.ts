import { type ChildProcess, spawn } from 'node:child_process';
import { CtflowError } from '../errors.js';
import type { ClockUs } from './clock.js';
import { IdSet } from './id-set.js';
import { LineSplitter } from './lines.js';
import { commandError, type ReadGate } from './run-lines.js';

/** What one diffed dump returned, besides its lines. */
export interface DiffDumpResult {
  /** Entries in the table. */
  entries: number;
  /** Entries printed (new or changed since the previous dump of this session). */
  printed: number;
  /** Ids in the previous dump that this one no longer shows. */
  gone: number[];
  /** True when every entry was printed (nothing was diffed): a new process, after a failure, on request. */
  full: boolean;
  /** When the end of the dump arrived, µs. */
  endUs: number;
}

/** Receives one printed entry line (bytes valid during the call) with the time its chunk arrived. */
export type DiffLineHandler = (line: Buffer, lineNo: number, seenUs: number) => void;

interface Pending {
  onLine: DiffLineHandler;
  /** Flow control: may pause reading between output chunks. */
  gate: ReadGate | undefined;
  gone: number[];
  full: boolean;
  /** Asked for as `dump at T`. */
  scheduled: boolean;
  timer: NodeJS.Timeout;
  /** A printed line had no readable id: the mirror of the reader's state is incomplete. */
  broken: boolean;
  resolve(result: DiffDumpResult): void;
  reject(err: unknown): void;
}

/** Longest wait for a dump's end before the reader is taken as hung (a 100,000-entry dump takes ~1 s). */
const DUMP_TIMEOUT_MS = 60_000;
/** Longest stderr kept for error messages. */
const MAX_STDERR = 4096;
/** Ids per `forget` command line. */
const FORGET_PER_LINE = 1000;
const TAB = 9;

/** The conntrack id of a P line (third field), or null. */
function lineId(line: Buffer): number | null {
  const a = line.indexOf(TAB);
  const b = a < 0 ? -1 : line.indexOf(TAB, a + 1);
  const c = b < 0 ? -1 : line.indexOf(TAB, b + 1);
  if (c < 0 || c === b + 1 || c - b > 11) return null;
  let n = 0;
  for (let i = b + 1; i < c; i++) {
    const d = (line[i] as number) - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return n;
}

/**
 * A long-lived `ctnetlink serve` (tools/ctnetlink/serve.go; `argv` includes `serve`): the reader that dumps the table on
 * request and diffs it against its previous dump itself, keeping 16 bytes per entry, so that only
 * new and changed entries cross the pipe and get parsed. Protocol: one command per stdin line
 * (`forget ID...`, `dump`, `dump full`); per dump, P lines (tools/ctnetlink/main.go), G lines of gone
 * ids, then `E entries printed gone`, or `X reason` when the dump failed.
 *
 * The session asks for a full dump whenever the two sides may disagree about what was last printed:
 * first dump of a process, after any failure, after forgetAll().
 */
export class DiffSession {
  private child: ChildProcess | null = null;
  private pending: Pending | null = null;
  private forgotten = new Set<number>();
  /** The reader's diff state and ours may disagree (new process, failure, forgetAll()). */
  private needFull = true;
  /** forgetAll() was called: the next dump is full. */
  private fullRequested = false;
  /**
   * Ids the reader holds a fingerprint of (mirror of its diff state, as of the last dump): one per
   * table entry, hence a typed-array set.
   */
  private readonly held = new IdSet();
  /** Processes started (1 after the first dump; more after the reader exited). */
  starts = 0;
  /**
   * Whether the reader takes `dump at T` (a binary built before it answers "unknown command": its
   * dumps are then asked for at their time, by the caller).
   */
  schedules = true;

  constructor(
    private readonly argv: readonly string[],
    private readonly clock: ClockUs,
    private readonly dumpTimeoutMs: number = DUMP_TIMEOUT_MS,
  ) {}

  /** Process id of the running reader, if any (for RSS figures). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Whether the reader held `id` through the last dump: the entry was printed by an earlier dump
   * (or this one) and this one found it again, unchanged or printed. Valid until the next dump.
   */
  holds(id: number): boolean {
    return this.held.has(id);
  }

  /**
   * Entry `id` changed outside the dumps (an event): the next dump prints it in full if present, so
   * a dump never leaves a table entry that an event rewrote unconfirmed.
   */
  forget(id: number): void {
    this.forgotten.add(id);
  }

  /** The next dump prints every entry (e.g. a printed line could not be handled). */
  forgetAll(): void {
    this.fullRequested = true;
  }

  /**
   * Dumps the table; `onLine` gets every printed entry line as it arrives. With `atUs` (wall-clock
   * µs, only while `schedules`), the reader starts the dump at that time, however busy this process
   * is then. Rejects with CONNTRACK_SOURCE when the dump failed or the reader exited; the next dump is
   * then full.
   */
  dump(onLine: DiffLineHandler, gate?: ReadGate, atUs?: number): Promise<DiffDumpResult> {
    if (this.pending !== null)
      return Promise.reject(new CtflowError('CONNTRACK_SOURCE', 'dump already running'));
    const child = this.child ?? this.spawnReader();
    const full = this.needFull || this.fullRequested;
    this.fullRequested = false;
    // Until this dump ends well, the two sides may disagree.
    this.needFull = true;
    const commands: string[] = [];
    if (full) this.held.clear();
    else {
      const ids = [...this.forgotten];
      for (const id of ids) this.held.delete(id);
      for (let i = 0; i < ids.length; i += FORGET_PER_LINE) {
        commands.push(`forget ${ids.slice(i, i + FORGET_PER_LINE).join(' ')}\n`);
      }
    }
    this.forgotten = new Set();
    const at = atUs === undefined || !this.schedules ? '' : ` at ${Math.round(atUs)}`;
    commands.push(`${full ? 'dump full' : 'dump'}${at}\n`);
    const delayMs = atUs === undefined ? 0 : Math.max(0, (atUs - this.clock()) / 1000);
    return new Promise<DiffDumpResult>((resolve, reject) => {
      // A hung reader must not stop the polls for good: end it, the next dump starts a new one.
      const timer = setTimeout(() => {
        this.abandon();
        this.fail(commandError(this.argv, `no end of dump within ${this.dumpTimeoutMs} ms`));
      }, this.dumpTimeoutMs + delayMs);
      this.pending = {
        onLine,
        gate,
        gone: [],
        full,
        scheduled: at !== '',
        timer,
        broken: false,
        resolve,
        reject,
      };
      child.stdin?.write(commands.join(''));
    });
  }

  /** Ends the reader (idempotent): closes its stdin, then kills it if it does not exit within 2 s. */
  async close(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin?.end();
    const force = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(force);
  }

  private spawnReader(): ChildProcess {
    const [file, ...args] = this.argv;
    const child = spawn(file as string, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.starts++;
    const splitter = new LineSplitter();
    let stderr = '';
    this.needFull = true;
    this.held.clear();
    child.stdout?.on('data', (chunk: Buffer) => {
      const seenUs = this.clock();
      // Output of a reader already abandoned (timeout, handler failure) belongs to no dump.
      if (this.child !== child) return;
      splitter.push(chunk, (line, lineNo) => this.onLine(line, lineNo, seenUs));
      const wait = this.pending?.gate?.();
      if (wait) {
        child.stdout?.pause();
        void wait.then(() => child.stdout?.resume());
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_STDERR) stderr += d;
    });
    // A write after the reader died: the exit handler reports it.
    child.stdin?.on('error', () => {});
    child.on('error', (err) => this.lost(child, commandError(this.argv, err.message, err)));
    // 'close' (after the pipes are drained), so stderr is complete and no line is left unread.
    child.on('close', (code, signal) =>
      this.lost(child, commandError(this.argv, `exited with ${code ?? signal}: ${stderr}`)),
    );
    return child;
  }

  /** The reader is gone: the dump in progress fails; the next dump starts a new one. */
  private lost(child: ChildProcess, err: CtflowError): void {
    // A reader ended earlier (see onLine) must not fail the dump of its successor.
    if (this.child !== null && this.child !== child) return;
    this.child = null;
    this.needFull = true;
    this.fail(err);
  }

  private fail(err: unknown): void {
    const p = this.pending;
    this.pending = null;
    if (p === null) return;
    clearTimeout(p.timer);
    p.reject(err);
  }

  /** Ends the reader at once; the next dump starts a new one (and is full). */
  private abandon(): void {
    const child = this.child;
    this.child = null;
    this.needFull = true;
    child?.kill('SIGKILL');
  }

  private onLine(line: Buffer, lineNo: number, seenUs: number): void {
    const p = this.pending;
    const kind = line[0];
    if (p === null || line.length === 0) return;
    if (kind === 80 /* P */) {
      const id = lineId(line);
      if (id === null) p.broken = true;
      else this.held.add(id);
      try {
        p.onLine(line, lineNo, seenUs);
      } catch (err) {
        // The handler must not throw; if it does, the rest of this dump's output would be read as
        // the next one's: end this reader, the next dump starts a new one.
        this.abandon();
        this.fail(err);
      }
    } else if (kind === 71 /* G */) {
      let n = -1;
      for (let i = 1; i <= line.length; i++) {
        const c = i < line.length ? (line[i] as number) : TAB;
        if (c === TAB) {
          if (n >= 0) p.gone.push(n);
          n = 0;
        } else n = n * 10 + (c - 48);
      }
    } else if (kind === 69 /* E */) {
      const [entries = 0, printed = 0] = line.toString('latin1').split('\t').slice(1).map(Number);
      for (const id of p.gone) this.held.delete(id);
      clearTimeout(p.timer);
      this.pending = null;
      this.needFull = p.broken;
      p.resolve({ entries, printed, gone: p.gone, full: p.full, endUs: seenUs });
    } else if (kind === 88 /* X */) {
      const reason = line.toString('latin1').slice(2);
      if (p.scheduled && reason.startsWith('unknown command')) {
        // A reader built before scheduled dumps: from now on the caller asks at the due time.
        this.schedules = false;
        this.fail(
          commandError(
            this.argv,
            `the reader does not take scheduled dumps (${reason}; rebuild tools/ctnetlink): polls go on unscheduled`,
          ),
        );
      } else this.fail(commandError(this.argv, `dump failed: ${reason}`));
    }
  }
}
