/**
 * IPFIX exporter metrics of every exporting role (run, processor, replay), advanced from the running totals
 * the exporter keeps (stats()), so the hot path only increments plain numbers.
 */
import type { ExporterStats } from '../ipfix/exporter.js';
import { advanceCounterTo, type Metrics } from './metrics.js';

/** Advances the per-collector IPFIX metrics (messages, bytes, records, templates, reconnects, drops, re-sends, possible losses) to `stats`. */
export async function syncExporterMetrics(metrics: Metrics, stats: ExporterStats): Promise<void> {
  for (const c of stats.collectors) {
    const l = { collector: c.url };
    await advanceCounterTo(metrics.ipfixMessages, l, c.messages);
    await advanceCounterTo(metrics.ipfixBytes, l, c.bytes);
    await advanceCounterTo(metrics.ipfixRecords, l, c.records);
    await advanceCounterTo(metrics.ipfixTemplates, l, c.templates);
    await advanceCounterTo(metrics.ipfixReconnects, l, c.reconnects);
    await advanceCounterTo(metrics.ipfixRecordsDropped, l, c.droppedRecords);
    await advanceCounterTo(metrics.ipfixRecordsResent, l, c.resentRecords);
    await advanceCounterTo(metrics.ipfixRecordsLost, l, c.lostRecords);
    metrics.ipfixCollectorUp.set(l, c.connected ? 1 : 0);
  }
}
