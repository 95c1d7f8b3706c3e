import { CtflowError } from '../errors.js';
import type { Observation, Watermark } from '../flow/types.js';
import { type ClockUs, wallClockUs } from './clock.js';
import { DiffSession } from './diff-session.js';
import { type DumpResult, readDump } from './dump.js';
import type { ConntrackEvent } from './entry.js';
import { EventStream, type EventStreamStats } from './events.js';
import { checkKernelSupport, type KernelSupport, readBootId } from './kernel.js';
import { conntrackToolsReader, ctnetlinkReader, type Reader, type ReaderKind } from './reader.js';
import { commandError, runLines } from './run-lines.js';
import { ConntrackTable, emptyTableStats, type TableStats } from './table.js';

/** Where observations and watermarks go. Called synchronously, in the order things were observed. */
export interface SourceHandlers {
  onObservation(obs: Observation): void;
  /** After each poll: everything up to `timeUs` has been observed. */
  onWatermark(wm: Watermark): void;
  /** Parse errors, lost events, failed polls: counted, reported, never fatal. */
  onError(err: CtflowError): void;
  /** Kernel features missing (once, at start), each with its exact fix. */
  onWarning?(message: string): void;
  /**
   * Flow control of dumps: a promise pauses reading the table until it resolves (e.g. while the
   * observations already emitted wait for Kafka). Events are never paused.
   */
  backpressure?(): Promise<void> | null;
  /**
   * Read lag of each event, µs: the agent's clock when it was handled minus its stamp (the reader's
   * receive time; conntrack's print time with conntrack-tools). For a histogram and a debug log.
   */
  onReadLag?(lagUs: number, ev: ConntrackEvent): void;
}

/** Options of the conntrack source. */
export interface SourceOptions {
  /** Node name stamped on every observation. */
  node: string;
  /** Poll interval in ms (default 5000, at least 1000). */
  pollIntervalMs?: number;
  /**
   * Command prefix run before every command, e.g. ['ip', 'netns', 'exec', 'ns1'] to read the table of
   * a network namespace, or ['nsenter', '-t', '1', '-n'] from a container. Default none.
   */
  commandPrefix?: readonly string[];
  /** conntrack binary (default 'conntrack'). */
  conntrackBin?: string;
  /**
   * What reads the kernel table (default 'conntrack-tools'); 'ctnetlink' runs ctnetlinkBin
   * (tools/ctnetlink, built with `go build`), which is faster and exact where the CLI is not.
   */
  reader?: ReaderKind;
  /** Path of the ctnetlink reader binary (reader 'ctnetlink'). */
  ctnetlinkBin?: string;
  /**
   * Reader 'ctnetlink': keep one reader process that diffs each dump against the previous one itself
   * and prints only new and changed entries (default true); false runs a full `ctnetlink dump` per poll.
   */
  diffDumps?: boolean;
  /** Follow the event stream (default true). Without it, times come from polls only. */
  events?: boolean;
  /** Set nf_conntrack_acct/timestamp to 1 when they are 0 (needs root). Default false: warn. */
  enableSysctls?: boolean;
  /** Wait after a dump for events still in flight before judging vanished entries (default 100 ms). */
  eventGraceMs?: number;
  /** Netlink buffer of the event stream (default 8 MiB). */
  eventBufferBytes?: number;
  /** Clock in µs (default: wall clock with µs resolution). */
  clock?: ClockUs;
  /** Boot id file (default /proc/sys/kernel/random/boot_id). */
  bootIdPath?: string;
}

/** Everything the source counts. */
export interface SourceStats {
  polls: number;
  failedPolls: number;
  observations: number;
  parseErrors: number;
  icmpUnresolved: number;
  lastPoll: DumpResult | null;
  table: TableStats;
  events: EventStreamStats | null;
}

const MIN_POLL_MS = 1000;

/** Longest wait of stop() for a poll in progress before it ends the reader (see stop()). */
const STOP_POLL_GRACE_MS = 5000;

/**
 * Longest wait of a poll for the event stream to catch up (EventStream.sync) before it reads the
 * table anyway (counted in stats.events.syncTimeouts).
 */
const SYNC_TIMEOUT_MS = 2000;

/**
 * How long before a poll is due its dump (and event sync) is asked for, when the reader can start it
 * at a given time itself (ctnetlink serve; at most a quarter of the poll interval). A flow's end
 * seen in a dump is timed by that dump, so a late dump makes the end late: under load (2 cores, load
 * average 7) this event loop woke a 1 s poll >100 ms late and an ICMPv6 flow ended 1115 ms after
 * its last packet, past the bound of one poll interval + 100 ms.
 */
const SCHEDULE_LEAD_MS = 250;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Reads one kernel conntrack table and reports Observations: periodic dumps diffed against what was
 * already reported (POLL; synthetic DESTROY for entries that vanished without an event), plus the
 * event stream (NEW, UPDATE, DESTROY with µs times) in between. A Watermark follows every poll.
 *
 * Readers: conntrack-tools (default; the `conntrack` CLI) or ctflow's ctnetlink reader
 * (tools/ctnetlink; exact status bits and kernel stop stamps). The ctnetlink reader runs as one
 * process kept between polls that diffs each dump itself (diff-session.ts): at 100,000 idle entries a
 * steady poll costs Node ~40 ms of CPU instead of ~850 ms (conntrack-tools) and takes about half the
 * time of a bare `conntrack -L` (bench/RESULTS.md).
 *
 * Times: POLL observations carry when their dump output arrived; events carry the reader's stamp:
 * conntrack's µs print time (0-10 ms after the kernel's packet), or with ctnetlink the time the
 * event was received from the kernel, taken by a reader that never waits for this process (so a busy
 * event loop delays when events are handled, not their times). NEW/UPDATE events carry the last
 * known counters (events have none), DESTROY events the final ones. The TCP state change to
 * TIME_WAIT/CLOSE arrives as an UPDATE at the time of the closing packets. Each poll first waits
 * until the events queued before it were handled (EventStream.sync), so a dump does not time a
 * connection its NEW event should. Lost events (overrun, or dropped by the reader) bring the next
 * poll forward.
 */
export class ConntrackSource {
  private readonly clock: ClockUs;
  private readonly prefix: readonly string[];
  private readonly conntrack: readonly string[];
  private readonly reader: Reader;
  private readonly pollIntervalMs: number;
  private table: ConntrackTable | null = null;
  private events: EventStream | null = null;
  /** The reader process that diffs dumps itself (reader ctnetlink), kept between polls. */
  private readonly session: DiffSession | null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Agent clock (ms) when the last poll began. */
  private lastPollStartMs = 0;
  private lastWatermarkUs = 0;
  private bootId = '';
  private readonly statsBase = {
    polls: 0,
    failedPolls: 0,
    observations: 0,
    parseErrors: 0,
    icmpUnresolved: 0,
  };
  private lastPoll: DumpResult | null = null;
  private polling: Promise<void> = Promise.resolve();
  private lastPollError: CtflowError | null = null;
  /** Kernel support found at start(). */
  kernel: KernelSupport | null = null;

  constructor(
    private readonly options: SourceOptions,
    private readonly handlers: SourceHandlers,
  ) {
    const interval = options.pollIntervalMs ?? 5000;
    if (!(interval >= MIN_POLL_MS)) {
      throw new CtflowError(
        'CONFIG_INVALID',
        `poll interval ${interval} ms is below the minimum of ${MIN_POLL_MS} ms`,
        {
          details: { field: 'pollIntervalMs', value: interval, expected: `>= ${MIN_POLL_MS}` },
        },
      );
    }
    this.pollIntervalMs = interval;
    this.clock = options.clock ?? wallClockUs;
    this.prefix = options.commandPrefix ?? [];
    this.conntrack = [...this.prefix, options.conntrackBin ?? 'conntrack'];
    if ((options.reader ?? 'conntrack-tools') === 'ctnetlink') {
      if (options.ctnetlinkBin === undefined) {
        throw new CtflowError(
          'CONFIG_INVALID',
          'reader ctnetlink needs ctnetlinkBin (go build ./tools/ctnetlink)',
          {
            details: { field: 'ctnetlinkBin', value: undefined, expected: 'path of the ctnetlink binary' },
          },
        );
      }
      this.reader = ctnetlinkReader([...this.prefix, options.ctnetlinkBin]);
    } else {
      this.reader = conntrackToolsReader(this.conntrack, options.eventBufferBytes ?? 8 * 1024 * 1024);
    }
    const diffArgv = options.diffDumps === false ? undefined : this.reader.diffArgv;
    this.session = diffArgv === undefined ? null : new DiffSession(diffArgv, this.clock);
  }

  /** Process id of the reader that serves diffed dumps (reader ctnetlink), while it runs. */
  get readerPid(): number | undefined {
    return this.session?.pid;
  }

  /** Counters for metrics. */
  get stats(): SourceStats {
    return {
      ...this.statsBase,
      lastPoll: this.lastPoll,
      table: this.table?.stats ?? emptyTableStats(),
      events: this.events?.stats ?? null,
    };
  }

  private emit = (obs: Observation): void => {
    this.statsBase.observations++;
    this.handlers.onObservation(obs);
  };

  private onError = (err: CtflowError): void => {
    if (err.code === 'CONNTRACK_PARSE') this.statsBase.parseErrors++;
    this.handlers.onError(err);
  };

  /**
   * Checks prerequisites (conntrack runs, kernel features), starts the event stream and runs the
   * first poll. Throws PREREQUISITE / CONNTRACK_SOURCE errors that name what is missing.
   * Then polls every interval until stop().
   */
  async start(): Promise<KernelSupport> {
    await this.checkConntrack();
    this.kernel = await checkKernelSupport(
      { prefix: this.prefix, enable: this.options.enableSysctls ?? false },
      this.clock,
    );
    for (const w of this.kernel.warnings) this.handlers.onWarning?.(w);
    this.bootId = await readBootId(this.options.bootIdPath);
    this.table = new ConntrackTable({ node: this.options.node, bootId: this.bootId, acct: this.kernel.acct });
    if (this.options.events ?? true) {
      const table = this.table;
      this.events = new EventStream({
        reader: this.reader,
        clock: this.clock,
        onEvent: (ev) => {
          // The table now holds what the event said: the next diffed dump confirms it in full.
          this.session?.forget(ev.entry.conntrackId);
          for (const o of table.event(ev)) this.emit(o);
        },
        onError: this.onError,
        // Events were lost: read the table now rather than at the next tick (at most one poll a
        // second), so what they carried is reconciled soon.
        onOverrun: () => {
          if (this.clock() / 1000 - this.lastPollStartMs >= MIN_POLL_MS) this.wake?.();
        },
        ...(this.handlers.onReadLag === undefined ? {} : { onReadLag: this.handlers.onReadLag }),
      });
      await this.events.start();
    }
    this.running = true;
    await this.pollOnce();
    const failure = this.lastPollError;
    if (failure !== null && !failure.retriable) {
      // E.g. no permission to read the table: polling again will not help; say so at once.
      this.running = false;
      await this.events?.stop();
      await this.session?.close();
      throw failure;
    }
    this.loop = this.runLoop();
    return this.kernel;
  }

  private async checkConntrack(): Promise<void> {
    const probe =
      this.reader.kind === 'ctnetlink'
        ? [...this.reader.dumpArgv.slice(0, -1), '--version']
        : [...this.conntrack, '--version'];
    try {
      await runLines(probe, this.clock, () => {});
    } catch (err) {
      const cause = err instanceof CtflowError ? err.message : String(err);
      throw new CtflowError('PREREQUISITE', `conntrack cannot be run: ${cause}`, {
        details: { command: this.conntrack.join(' ') },
        cause: err,
      });
    }
  }

  private async runLoop(): Promise<void> {
    let next = this.clock() / 1000 + this.pollIntervalMs;
    while (this.running) {
      const lead = this.schedulesDumps() ? Math.min(SCHEDULE_LEAD_MS, this.pollIntervalMs / 4) : 0;
      const wait = next - lead - this.clock() / 1000;
      let woken = false;
      if (wait > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          this.wake = () => {
            woken = true;
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = null;
      }
      if (!this.running) break;
      // Brought forward (lost events): now; else at its time, however late this loop woke.
      await this.pollOnce(woken ? undefined : next);
      // Keep the cadence; if a poll overran, start the next one right away rather than pile up.
      next = Math.max(next + this.pollIntervalMs, this.clock() / 1000);
    }
  }

  /** Whether the reader starts a dump at a given time itself (so polls ask ahead of their time). */
  private schedulesDumps(): boolean {
    // Only on the wall clock: the reader's "at" is wall-clock time.
    return this.session?.schedules === true && this.clock === wallClockUs;
  }

  /**
   * One poll cycle: dump, diff, let late events arrive, report vanished entries, then the watermark.
   * A failed dump is reported through onError and counted; the next poll tries again. `dueMs`
   * (agent clock, ms): the dump starts then, not before (asked for ahead when the reader schedules
   * dumps); default now.
   */
  pollOnce(dueMs?: number): Promise<DumpResult | null> {
    // Polls never overlap: a caller arriving during a poll gets the next one.
    const run = this.polling.then(() => this.poll(dueMs));
    this.polling = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async poll(dueMs?: number): Promise<DumpResult | null> {
    const table = this.table;
    if (table === null) throw new CtflowError('CONNTRACK_SOURCE', 'pollOnce() before start()');
    const scheduled = dueMs !== undefined && dueMs > this.clock() / 1000 && this.schedulesDumps();
    if (dueMs !== undefined && !scheduled) {
      const wait = dueMs - this.clock() / 1000;
      if (wait > 0) await sleep(wait);
    }
    const atUs = scheduled ? dueMs * 1000 : undefined;
    this.lastPollStartMs = scheduled ? dueMs : this.clock() / 1000;
    // Every event queued before this poll is handled before the dump shows its connection (see
    // EventStream.sync): the NEW event, not the dump, times a connection's start. A diffed dump runs
    // meanwhile and its lines wait for the sync (their times are the reader's); a full dump's lines
    // are stamped on arrival, so it starts after the sync.
    const synced = this.events?.sync(SYNC_TIMEOUT_MS, atUs);
    if (this.session === null) await synced;
    let result: DumpResult;
    try {
      result = await readDump({
        reader: this.reader,
        conntrack: this.conntrack,
        clock: this.clock,
        table,
        emit: this.emit,
        onError: this.onError,
        ...(this.session === null ? {} : { session: this.session }),
        ...(this.session === null || synced === undefined ? {} : { after: synced }),
        ...(atUs === undefined ? {} : { atUs }),
        ...(this.handlers.backpressure === undefined
          ? {}
          : { gate: () => this.handlers.backpressure?.() ?? null }),
      });
    } catch (err) {
      this.statsBase.failedPolls++;
      this.lastPollError =
        err instanceof CtflowError ? err : commandError(this.conntrack, `dump failed: ${String(err)}`, err);
      this.handlers.onError(this.lastPollError);
      // No endDump(): entries the failed dump did not reach must not be taken as vanished; the next
      // dump judges them.
      return null;
    }
    this.statsBase.polls++;
    this.lastPollError = null;
    this.statsBase.icmpUnresolved += result.icmpUnresolved;
    if (this.events !== null) await sleep(this.options.eventGraceMs ?? 100);
    for (const o of table.endDump(result.endUs)) this.emit(o);
    this.lastPoll = result;
    if (result.endUs > this.lastWatermarkUs) {
      this.lastWatermarkUs = result.endUs;
      this.handlers.onWatermark({ node: this.options.node, bootId: this.bootId, timeUs: result.endUs });
    }
    return result;
  }

  /**
   * Stops polling and the event stream; resolves when no poll is running. A poll in progress may end
   * (its counters are the freshest the forced-end records can carry), but a reader that stopped
   * answering must not hold the stop until the dump timeout: past STOP_POLL_GRACE_MS the reader is
   * ended, which fails that dump (reported like any failed dump).
   */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    const loop = this.loop;
    if (loop !== null) {
      let grace: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        loop.then(() => true),
        new Promise<false>((r) => {
          grace = setTimeout(() => r(false), STOP_POLL_GRACE_MS);
        }),
      ]);
      clearTimeout(grace);
      if (!ended) await this.session?.close();
      await loop;
    }
    this.loop = null;
    await this.events?.stop();
    await this.session?.close();
  }
}
