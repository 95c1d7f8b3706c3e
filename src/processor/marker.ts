/**
 * Export markers: one small changelog entry per partition that says which input offsets the flow state
 * in the changelog already covers, and which input offsets were being exported when the writer stopped.
 *
 * A batch is exported in this order (docs/processor.md):
 *   1. marker { phase: "exporting", coveredTo: A, to: B }      (acknowledged before anything is exported)
 *   2. the records of input [A, B) to the IPFIX exporter, flushed
 *   3. the state changes of [A, B), then marker { phase: "exported", coveredTo: B, to: B } (acknowledged)
 *   4. commit input offset B
 * A processor restoring the partition reads the newest marker: state covers input below `coveredTo`
 * (those messages are skipped), and records derived from input below `to` of an "exporting" marker may
 * already have reached the collectors before a crash: they are counted as possible duplicates.
 */
import { CtflowError } from '../errors.js';

/**
 * Changelog key of the marker. It contains no `|` (so it is never a flow key) and does not start with
 * `@` (so it is never a node key); the processor keeps it away from the engine.
 */
export const MARKER_KEY = '#ctflow-export-marker';

/** What the changelog says about the input partition it belongs to. */
export interface ExportMarker {
  /** "exporting": records of input [coveredTo, to) were being handed to the exporter. "exported": done. */
  phase: 'exporting' | 'exported';
  /** The flow state in the changelog before this marker reflects every input offset below this one. */
  coveredTo: number;
  /** End (exclusive) of the input range the marker is about. */
  to: number;
}

/** True when a changelog key is the export marker. */
export function isMarkerKey(key: string): boolean {
  return key === MARKER_KEY;
}

/** JSON bytes of a marker (small, human-readable with kafka-console-consumer). */
export function encodeMarker(marker: ExportMarker): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...marker }));
}

function offsetField(o: Record<string, unknown>, field: string, where: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new CtflowError('CODEC_DECODE', `${where}: export marker field ${field} = ${String(v)}`, {
      details: { where, field, value: v, expected: 'an offset (integer >= 0)' },
    });
  }
  return v;
}

/** Parses a marker value; throws CODEC_DECODE naming the field when it is not one. */
export function decodeMarker(value: Buffer, where = 'export marker'): ExportMarker {
  let o: unknown;
  try {
    o = JSON.parse(value.toString('utf8'));
  } catch (cause) {
    throw new CtflowError('CODEC_DECODE', `${where}: export marker is not JSON`, {
      details: { where },
      cause,
    });
  }
  if (typeof o !== 'object' || o === null || (o as { v?: unknown }).v !== 1) {
    throw new CtflowError('CODEC_DECODE', `${where}: not a version 1 export marker`, {
      details: { where, expected: '{"v":1,...}' },
    });
  }
  const rec = o as Record<string, unknown>;
  const phase = rec['phase'];
  if (phase !== 'exporting' && phase !== 'exported') {
    throw new CtflowError('CODEC_DECODE', `${where}: export marker phase = ${String(phase)}`, {
      details: { where, field: 'phase', value: phase, expected: 'exporting or exported' },
    });
  }
  return { phase, coveredTo: offsetField(rec, 'coveredTo', where), to: offsetField(rec, 'to', where) };
}

/** Where a restored partition stands, derived from its newest marker. */
export interface ResumePoint {
  /** Input below this offset is already in the restored state: skip it. */
  coveredTo: number;
  /** Records derived from input below this offset may have been exported already (possible duplicates). */
  duplicatesBelow: number;
}

/** The resume point of a partition from its newest marker (none: nothing covered, nothing exported). */
export function resumePoint(marker: ExportMarker | undefined): ResumePoint {
  if (marker === undefined) return { coveredTo: 0, duplicatesBelow: 0 };
  if (marker.phase === 'exported') return { coveredTo: marker.to, duplicatesBelow: 0 };
  return { coveredTo: marker.coveredTo, duplicatesBelow: marker.to };
}
