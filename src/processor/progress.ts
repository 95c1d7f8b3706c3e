/**
 * Replay progress for people: a one-line bar redrawn in place on a terminal (offsets done / total, rate,
 * ETA), plain lines at most every few seconds otherwise (logs, CI). The formatting is pure.
 */

/** Where a replay stands. */
export interface ProgressState {
  done: number;
  total: number;
  elapsedMs: number;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** Offsets per second so far (0 before any time passed). */
export function progressRate(p: ProgressState): number {
  return p.elapsedMs > 0 ? (p.done * 1000) / p.elapsedMs : 0;
}

/** "1234/5000 offsets (24.7%), 1850/s, ETA 0:02": the text of a progress line. */
export function formatProgress(p: ProgressState): string {
  const pct = p.total > 0 ? (100 * p.done) / p.total : 100;
  const rate = progressRate(p);
  const eta = p.done >= p.total ? 0 : rate > 0 ? (p.total - p.done) / rate : Number.POSITIVE_INFINITY;
  return `${p.done}/${p.total} offsets (${pct.toFixed(1)}%), ${Math.round(rate)}/s, ETA ${clock(eta)}`;
}

/** A `[#####.....]` bar of `width` cells. */
export function progressBar(p: ProgressState, width = 30): string {
  const filled = p.total > 0 ? Math.min(width, Math.floor((width * p.done) / p.total)) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** Something to write to (process.stderr). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Reports progress to a stream: a bar on a terminal, lines every `lineEveryMs` otherwise. */
export class ProgressReporter {
  readonly #out: ProgressStream;
  readonly #lineEveryMs: number;
  readonly #started: number;
  readonly #now: () => number;
  #lastDraw = 0;

  constructor(
    out: ProgressStream,
    readonly total: number,
    options: { lineEveryMs?: number; now?: () => number } = {},
  ) {
    this.#out = out;
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
    this.#lineEveryMs = options.lineEveryMs ?? 5000;
  }

  /** Offsets done so far (redraws at most 10 times a second on a terminal). */
  update(done: number, force = false): void {
    const now = this.#now();
    const interval = this.#out.isTTY ? 100 : this.#lineEveryMs;
    if (!force && now - this.#lastDraw < interval) return;
    this.#lastDraw = now;
    const state = { done, total: this.total, elapsedMs: now - this.#started };
    if (this.#out.isTTY) this.#out.write(`\r${progressBar(state)} ${formatProgress(state)}\x1b[K`);
    else this.#out.write(`replay: ${formatProgress(state)}\n`);
  }

  /** Final state, and the end of the bar's line. */
  finish(done: number): void {
    this.update(done, true);
    if (this.#out.isTTY) this.#out.write('\n');
  }
}
