import { type ChildProcess, spawn } from 'node:child_process';
import type { CtflowError } from '../errors.js';
import type { ClockUs } from './clock.js';
import type { ConntrackEvent } from './entry.js';
import { LineSplitter } from './lines.js';
import { LineFormatError, parseError } from './parse-error.js';
import type { Reader } from './reader.js';
import { commandError } from './run-lines.js';

/** Counters of the event stream. */
export interface EventStreamStats {
  events: number;
  parseErrors: number;
  /** Times conntrack -E reported lost events (netlink socket overrun, ENOBUFS). */
  overruns: number;
  restarts: number;
}

/** How to run and where to deliver the event stream. */
export interface EventStreamOptions {
  /** Which program to run and how to read it. */
  reader: Reader;
  clock: ClockUs;
  onEvent(ev: ConntrackEvent): void;
  onError(err: CtflowError): void;
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
  readonly stats: EventStreamStats = { events: 0, parseErrors: 0, overruns: 0, restarts: 0 };
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Consecutive exits without a single event in between. */
  private failures = 0;

  constructor(private readonly options: EventStreamOptions) {}

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
        let ev: ConntrackEvent | null | 'overrun';
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
        this.failures = 0;
        this.stats.events++;
        this.options.onEvent(ev);
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
          // conntrack opens its subscribed socket before it sizes the buffer and says so.
          if (line.includes('buffer size')) markReady();
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

  private overrun(argv: readonly string[]): void {
    this.stats.overruns++;
    this.options.onError(
      commandError(argv, 'events were lost (netlink socket overrun); the next dump reconciles the table'),
    );
  }

  /** Stops the stream (idempotent); resolves when conntrack -E has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child === null || child.exitCode !== null) return;
    // 'exit', not 'close': a wrapper's leftover child could keep the pipes open.
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(force);
  }
}
