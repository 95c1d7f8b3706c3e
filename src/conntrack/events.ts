import { type ChildProcess, spawn } from 'node:child_process';
import type { CtflowError } from '../errors.js';
import type { ClockUs } from './clock.js';
import type { ConntrackEvent } from './entry.js';
import { LineSplitter } from './lines.js';
import { LineFormatError, parseError } from './parse-error.js';
import type { EventLine, Reader } from './reader.js';
import { commandError } from './run-lines.js';

/** Counters of the event stream. */
export interface EventStreamStats {
  events: number;
  parseErrors: number;
  /**
   * Times events were lost: the kernel's netlink socket overran (ENOBUFS), or the reader dropped
   * events itself because its output queue was full (ctnetlink "!DROPPED", also in `dropped`).
   */
  overruns: number;
  /** Events the reader dropped itself (ctnetlink: its output queue, 32 MiB, was full). */
  dropped: number;
  restarts: number;
  /**
   * Read lag of events: the agent's clock when it handled an event minus the event's stamp (the
   * reader's receive time). Largest seen, and how many reached SLOW_EVENT_US.
   */
  readLagMaxUs: number;
  slowEvents: number;
  /** Sync requests answered by a mark, and those given up after their timeout (sync()). */
  syncs: number;
  syncTimeouts: number;
  /** Longest wait for a mark (request written to its mark handled), µs. */
  syncWaitMaxUs: number;
}

/** EventStreamStats of a stream that has not read anything yet. */
export function emptyEventStreamStats(): EventStreamStats {
  return {
    events: 0,
    parseErrors: 0,
    overruns: 0,
    dropped: 0,
    restarts: 0,
    readLagMaxUs: 0,
    slowEvents: 0,
    syncs: 0,
    syncTimeouts: 0,
    syncWaitMaxUs: 0,
  };
}

/** Read lag from which an event counts as slow (stats.slowEvents; logged by the agent, see onReadLag). */
export const SLOW_EVENT_US = 100_000;

/** How to run and where to deliver the event stream. */
export interface EventStreamOptions {
  /** Which program to run and how to read it. */
  reader: Reader;
  clock: ClockUs;
  onEvent(ev: ConntrackEvent): void;
  onError(err: CtflowError): void;
  /** Events were lost (overrun or dropped): the table should be read again soon. */
  onOverrun?(): void;
  /** Read lag of every event, µs (agent clock when handled − the event's stamp). */
  onReadLag?(lagUs: number, ev: ConntrackEvent): void;
  /** Delay before restarting a conntrack -E that exited (default 1000 ms). */
  restartDelayMs?: number;
}

/** Longest wait for conntrack -E to confirm it is listening before going on anyway. */
const READY_TIMEOUT_MS = 2000;

/**
 * The conntrack event stream (reader.eventsArgv, e.g. `conntrack -E -o timestamp,extended,id`):
 * NEW, UPDATE (state changes) and DESTROY with µs times, parsed line by line. Restarts the reader if
 * it exits; what was missed meanwhile is reconciled by the next dump.
 */
export class EventStream {
  readonly stats: EventStreamStats = emptyEventStreamStats();
  /** Callers of sync() waiting for the next mark. */
  private syncWaiters: Array<(marked: boolean) => void> = [];
  /** Whether sync() asks the reader (reader.syncsEvents, until it failed to answer even once). */
  private syncable: boolean;
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Consecutive exits without a single event in between. */
  private failures = 0;

  constructor(private readonly options: EventStreamOptions) {
    this.syncable = options.reader.syncsEvents;
  }

  /** Starts conntrack -E; resolves once it is subscribed (or after 2 s without confirmation). */
  start(): Promise<void> {
    this.stopping = false;
    const argv = this.options.reader.eventsArgv;
    const [file, ...args] = argv;
    return new Promise((resolve) => {
      // stdin: the reader's lifeline (reader.eventsArgv), held open and never written to.
      const child = spawn(file as string, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin?.on('error', () => {});
      this.child = child;
      let ready = false;
      const markReady = (): void => {
        if (!ready) {
          ready = true;
          clearTimeout(readyTimer);
          resolve();
        }
      };
      const readyTimer = setTimeout(markReady, READY_TIMEOUT_MS);
      const splitter = new LineSplitter();
      const onLine = (line: string, lineNo: number): void => {
        let ev: EventLine;
        try {
          ev = this.options.reader.parseEventLine(line);
        } catch (err) {
          if (!(err instanceof LineFormatError)) throw err;
          this.stats.parseErrors++;
          this.options.onError(parseError('events', lineNo, line, err.message));
          return;
        }
        if (ev === null) return;
        if (ev === 'overrun') {
          this.overrun(argv);
          return;
        }
        if ('mark' in ev) {
          if (ev.mark === 'sync') this.releaseSyncs(true);
          else {
            this.stats.dropped += ev.count;
            this.overrun(argv, `${ev.count} events were dropped by the reader (its output queue was full)`);
          }
          return;
        }
        this.failures = 0;
        this.stats.events++;
        this.options.onEvent(ev);
        // After the event was handled: the lag covers the reader's pipe, this event loop and the table.
        const lagUs = this.options.clock() - ev.timeUs;
        if (lagUs > this.stats.readLagMaxUs) this.stats.readLagMaxUs = lagUs;
        if (lagUs >= SLOW_EVENT_US) this.stats.slowEvents++;
        this.options.onReadLag?.(lagUs, ev);
      };
      const onBytes = (bytes: Buffer, lineNo: number): void => onLine(bytes.toString('latin1'), lineNo);
      child.stdout?.on('data', (chunk: Buffer) => splitter.push(chunk, onBytes));
      // Line by line: one chunk can hold many overrun warnings (measured: 47 in a 5000-connection
      // burst), each one a separate loss.
      let stderrTail = '';
      child.stderr?.setEncoding('utf8').on('data', (text: string) => {
        const lines = (stderrTail + text).split('\n');
        stderrTail = lines.pop() ?? '';
        for (const line of lines) {
          // The reader is subscribed (conntrack sizes its buffer after it subscribed and says so;
          // ctnetlink says "listening"). The marker used to be conntrack's only: with ctnetlink,
          // start() always waited READY_TIMEOUT_MS.
          if (line.includes(this.options.reader.readyMarker)) markReady();
          if (/ENOBUFS|No buffer space/i.test(line)) this.overrun(argv);
        }
      });
      child.on('error', (err) => {
        markReady();
        this.options.onError(commandError(argv, err.message, err));
      });
      child.on('close', (code, signal) => {
        markReady();
        splitter.end(onBytes);
        if (this.child === child) this.child = null;
        // The reader is gone: no mark will come.
        this.releaseSyncs(false);
        if (this.stopping) return;
        this.options.onError(commandError(argv, `event stream ended (${code ?? signal}); restarting`));
        // Back off (doubling, up to 30 s) while it keeps failing, e.g. without permission.
        const base = this.options.restartDelayMs ?? 1000;
        const delay = Math.min(30_000, base * 2 ** Math.min(this.failures++, 5));
        this.restartTimer = setTimeout(() => {
          this.restartTimer = null;
          if (this.stopping) return;
          this.stats.restarts++;
          void this.start();
        }, delay);
      });
    });
  }

  private overrun(argv: readonly string[], what = 'events were lost (netlink socket overrun)'): void {
    this.stats.overruns++;
    this.options.onError(commandError(argv, `${what}; the next dump reconciles the table`));
    this.options.onOverrun?.();
  }

  private releaseSyncs(marked: boolean): void {
    if (marked) this.stats.syncs++;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w(marked);
  }

  /**
   * Resolves once every event the kernel had queued when it was called has been handled (onEvent):
   * the reader answers a "sync" line on its stdin with a mark after them (reader.syncsEvents). A
   * poll calls it before it reads the table, so a dump never shows a connection before the events
   * that started or changed it, however long this event loop was busy: the table would otherwise
   * report it at the dump's time and drop the earlier NEW as already known. With `atUs` (wall-clock
   * µs), the reader marks at that time (a poll asks ahead, as it schedules its dump). Resolves false
   * after `timeoutMs` (from `atUs` when later) without a mark (counted), at once when the reader
   * cannot sync or is not running.
   */
  sync(timeoutMs: number, atUs?: number): Promise<boolean> {
    const child = this.child;
    const stdin = child?.stdin;
    if (!this.syncable || child === null || stdin == null || hasExited(child)) {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
          this.stats.syncTimeouts++;
          if (this.stats.syncs === 0) {
            // Never answered: a reader built before sync marks existed. Polls stop waiting for it.
            this.syncable = false;
            this.options.onError(
              commandError(
                this.options.reader.eventsArgv,
                'the event reader does not answer sync requests (rebuild tools/ctnetlink); polls no longer wait for it',
              ),
            );
          }
          resolve(false);
        },
        timeoutMs + (atUs === undefined ? 0 : Math.max(0, (atUs - this.options.clock()) / 1000)),
      );
      const askedUs = Math.max(this.options.clock(), atUs ?? 0);
      const done = (marked: boolean): void => {
        clearTimeout(timer);
        if (marked)
          this.stats.syncWaitMaxUs = Math.max(this.stats.syncWaitMaxUs, this.options.clock() - askedUs);
        resolve(marked);
      };
      this.syncWaiters.push(done);
      stdin.write(atUs === undefined ? 'sync\n' : `sync at ${Math.round(atUs)}\n`);
    });
  }

  /** Stops the stream (idempotent); resolves when conntrack -E has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const child = this.child;
    // Exited already (Ctrl-C signals the whole process group: the reader may be gone before this runs,
    // its 'close' still pending): 'exit' will not come again. Checking exitCode alone missed a reader
    // killed by a signal (exitCode null, signalCode set), and stop() waited forever (the demo's Ctrl-C
    // stop hit the 12 s shutdown timeout in phase "source").
    if (child === null || hasExited(child)) return;
    // 'exit', not 'close': a wrapper's leftover child could keep the pipes open.
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(force);
  }
}

/** Whether a child process has exited (by itself or by a signal): 'exit' was emitted. */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}
