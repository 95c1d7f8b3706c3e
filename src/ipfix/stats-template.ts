/**
 * The Exporting Process Reliability Statistics Options Template (RFC 7011 §4.3), which ctflow sends
 * periodically in every observation domain of every transport session. Scope: exportingProcessId.
 * Besides the notSent* counts of §4.3 it carries the exported totals of §4.1, so a collector can see
 * both what was sent and what was lost. The counting interval is systemInitTimeMilliseconds (exporter
 * start) to observationTimeMilliseconds (when counted): exporter clock values, deliberately not
 * flowStart/flowEnd (those carry event time only).
 */
import type { Registry } from './registry.js';
import { type Template, makeTemplate } from './template.js';

/** Element names of the statistics record, in template order (the first is the scope). */
export const STATS_FIELDS = [
  'exportingProcessId',
  'exportedMessageTotalCount',
  'exportedOctetTotalCount',
  'exportedFlowRecordTotalCount',
  'notSentFlowTotalCount',
  'notSentPacketTotalCount',
  'notSentOctetTotalCount',
  'systemInitTimeMilliseconds',
  'observationTimeMilliseconds',
] as const;

/** Values of one statistics record (counts since the exporter started, for one collector). */
export interface ReliabilityStats {
  exportingProcessId: number;
  exportedMessageTotalCount: number;
  exportedOctetTotalCount: number;
  exportedFlowRecordTotalCount: number;
  notSentFlowTotalCount: number;
  notSentPacketTotalCount: number;
  notSentOctetTotalCount: number;
  /** ms since epoch. */
  systemInitTimeMilliseconds: number;
  /** ms since epoch. */
  observationTimeMilliseconds: number;
}

/** The options template with id `id` (scope count 1). */
export function statsTemplate(registry: Registry, id: number): Template {
  return makeTemplate(
    id,
    STATS_FIELDS.map((n) => registry.byName(n)),
    1,
  );
}

/** The record values of `s` in template order. */
export function statsValues(s: ReliabilityStats): number[] {
  return STATS_FIELDS.map((n) => s[n]);
}
