/**
 * Observations and watermarks → flow engine → record sink: the one wiring shared by the embedded
 * mode (`ctflow run`, live or from a recording). The engine decides when records are due (event time
 * only); the pipeline just hands what it released to the exporter.
 */
import type { FlowEngineApi, FlowRecord, Observation, RecordSink, Watermark } from '../flow/types.js';

/** Counts by what was released, for metrics and the closing summary. */
export interface PipelineStats {
  observations: number;
  watermarks: number;
  records: number;
  /** Records by flowEndReason (IE 136). */
  byReason: Record<number, number>;
}

/** Feeds one engine and forwards every record it releases to `sink`. */
export class EnginePipeline {
  readonly stats: PipelineStats = { observations: 0, watermarks: 0, records: 0, byReason: {} };

  constructor(
    private readonly engine: FlowEngineApi,
    private readonly sink: RecordSink,
    private readonly onRecords: (records: readonly FlowRecord[]) => void = () => {},
  ) {}

  /** One observation; records it releases (end of flow, id reuse) are forwarded at once. */
  observation(obs: Observation): void {
    this.stats.observations++;
    this.engine.observe(obs);
    this.pump();
  }

  /** A node's event time moved on: timers up to it fire. */
  watermark(wm: Watermark): void {
    this.stats.watermarks++;
    this.engine.watermark(wm);
    this.pump();
  }

  /** Ends every open flow as forced end (reason 4) and waits until the sink has sent everything. */
  async shutdown(): Promise<void> {
    this.engine.shutdown();
    this.pump();
    await this.sink.flush();
  }

  private pump(): void {
    const records = this.engine.drainRecords();
    if (records.length === 0) return;
    this.stats.records += records.length;
    for (const r of records) this.stats.byReason[r.endReason] = (this.stats.byReason[r.endReason] ?? 0) + 1;
    this.sink.write(records);
    this.onRecords(records);
  }
}
