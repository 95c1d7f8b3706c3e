/**
 * Recordings: what the agent observed, as JSON Lines in the Avro JSON form (src/codec/json-lines.ts),
 * written by `ctflow run --record PATH` and replayed by `ctflow run --source file:PATH`.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { observationToJsonLine, parseJsonLine, watermarkToJsonLine } from '../codec/json-lines.js';
import { CtflowError } from '../errors.js';
import type { Observation, Watermark } from '../flow/types.js';

/** Appends observations and watermarks to a JSON Lines file, in the order they were seen. */
export class RecordingWriter {
  private readonly out: WriteStream;
  private failed: Error | null = null;

  constructor(readonly path: string) {
    this.out = createWriteStream(path, { flags: 'a' });
    this.out.on('error', (err) => {
      this.failed = err;
    });
  }

  observation(obs: Observation): void {
    this.write(observationToJsonLine(obs));
  }

  watermark(wm: Watermark): void {
    this.write(watermarkToJsonLine(wm));
  }

  private write(line: string): void {
    if (this.failed)
      throw new CtflowError('CONFIG_INVALID', `cannot write recording ${this.path}: ${this.failed.message}`, {
        cause: this.failed,
      });
    this.out.write(`${line}\n`);
  }

  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'close');
  }
}

/** What a replayed recording held. */
export interface RecordingStats {
  lines: number;
  observations: number;
  watermarks: number;
  /** Lines that were not a valid observation or watermark: reported through onError, skipped. */
  badLines: number;
}

/**
 * Reads a recording and calls the handlers in file order. A bad line is reported (CODEC_DECODE naming
 * the file and line number) and skipped; the rest of the file goes on. `signal` stops reading early (a
 * signal to `ctflow run` mid-way): what was read so far stays read.
 */
export async function readRecording(
  path: string,
  handlers: {
    onObservation(obs: Observation): void;
    onWatermark(wm: Watermark): void;
    onError(err: CtflowError): void;
  },
  signal?: AbortSignal,
): Promise<RecordingStats> {
  const stats: RecordingStats = { lines: 0, observations: 0, watermarks: 0, badLines: 0 };
  const input = createReadStream(path, { encoding: 'utf8' });
  const opened = once(input, 'open').catch((err: Error) => {
    throw new CtflowError('CONFIG_INVALID', `cannot read recording ${path}: ${err.message}`, {
      details: { path },
      cause: err,
    });
  });
  await opened;
  for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (signal?.aborted) break;
    stats.lines++;
    if (text.trim() === '') continue;
    let decoded: ReturnType<typeof parseJsonLine>;
    try {
      decoded = parseJsonLine(text, stats.lines, path);
    } catch (err) {
      stats.badLines++;
      handlers.onError(
        err instanceof CtflowError ? err : new CtflowError('CODEC_DECODE', String(err), { cause: err }),
      );
      continue;
    }
    if (decoded.type === 'observation') {
      stats.observations++;
      handlers.onObservation(decoded.value);
    } else {
      stats.watermarks++;
      handlers.onWatermark(decoded.value);
    }
  }
  return stats;
}
