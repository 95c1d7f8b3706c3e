import { describe, expect, it } from 'vitest';
import {
  EVENT_READ_LAG_METRIC,
  eventReadLagObserver,
  setKernelPrerequisites,
  sourceMetricsSync,
} from '../../../src/agent/source-metrics.js';
import type { ConntrackEvent } from '../../../src/conntrack/entry.js';
import { emptyEventStreamStats } from '../../../src/conntrack/events.js';
import type { SourceStats } from '../../../src/conntrack/source.js';
import { emptyTableStats } from '../../../src/conntrack/table.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

function stats(over: Partial<SourceStats>): SourceStats {
  return {
    polls: 0,
    failedPolls: 0,
    observations: 0,
    parseErrors: 0,
    icmpUnresolved: 0,
    lastPoll: null,
    table: emptyTableStats(),
    events: null,
    ...over,
  } as SourceStats;
}

async function read(m: ReturnType<typeof createMetrics>, name: string): Promise<number> {
  const text = await m.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

describe('sourceMetricsSync (shared by the agent and ctflow run)', () => {
  it('advances counters by what happened since the previous sync, one duration sample per new poll', async () => {
    const m = createMetrics({ role: 'run', version: 't', processMetrics: false });
    let s = stats({});
    const sync = sourceMetricsSync(m, () => s);
    sync();
    expect(await read(m, 'ctflow_poll_duration_seconds_count')).toBe(0);
    s = stats({
      polls: 2,
      failedPolls: 1,
      parseErrors: 3,
      lastPoll: { durationUs: 250_000, entries: 42 } as never,
    });
    sync();
    s = stats({
      polls: 2,
      failedPolls: 1,
      parseErrors: 3,
      lastPoll: { durationUs: 250_000, entries: 42 } as never,
    });
    sync(); // nothing new: nothing added
    s = stats({
      polls: 2,
      failedPolls: 1,
      parseErrors: 3,
      lastPoll: { durationUs: 250_000, entries: 42 } as never,
      table: { ...emptyTableStats(), retimed: 5 },
      events: { ...emptyEventStreamStats(), events: 10, overruns: 2 },
    });
    sync();
    sync();
    expect(await read(m, 'ctflow_observations_retimed_total')).toBe(5);
    expect(await read(m, 'ctflow_conntrack_event_overruns_total')).toBe(2);
    expect(await read(m, 'ctflow_poll_duration_seconds_count')).toBe(1);
    expect(await read(m, 'ctflow_poll_duration_seconds_sum')).toBe(0.25);
    expect(await read(m, 'ctflow_conntrack_entries')).toBe(42);
    expect(await read(m, 'ctflow_poll_failures_total')).toBe(1);
    expect(await read(m, 'ctflow_conntrack_parse_errors_total')).toBe(3);
  });

  it('sets the kernel prerequisites from what the source found', async () => {
    const m = createMetrics({ role: 'agent', version: 't', processMetrics: false });
    setKernelPrerequisites(m, { acct: true, timestamp: false, warnings: [] });
    const text = await m.registry.metrics();
    expect(text).toContain('ctflow_kernel_prerequisite{name="nf_conntrack_acct"} 1');
    expect(text).toContain('ctflow_kernel_prerequisite{name="nf_conntrack_timestamp"} 0');
    expect(text).toContain('ctflow_kernel_prerequisite{name="conntrack_binary"} 1');
  });

  it('eventReadLagObserver: every event read lag into the histogram, slow ones in a throttled debug line', async () => {
    const m = createMetrics({ role: 'run', version: 't', processMetrics: false });
    const lines: Array<{ obj: Record<string, unknown>; msg: string | undefined }> = [];
    let nowMs = 0;
    const log = {
      debug: (obj: object, msg?: string) => lines.push({ obj: obj as Record<string, unknown>, msg }),
    };
    const observe = eventReadLagObserver(m, log, 10_000, () => nowMs);
    const ev = { kind: 'UPDATE', timeUs: 0, entry: { conntrackId: 7 } } as unknown as ConntrackEvent;
    observe(300, ev);
    observe(250_000, ev); // slow: logged
    nowMs = 5_000;
    observe(1_200_000, ev); // slow, within the interval: counted for the next line
    nowMs = 10_000;
    observe(150_000, ev); // slow: logged with the two since the last line
    expect(await read(m, `${EVENT_READ_LAG_METRIC}_count`)).toBe(4);
    expect(await read(m, `${EVENT_READ_LAG_METRIC}_sum`)).toBeCloseTo(1.6003, 6);
    const text = await m.registry.metrics();
    expect(text).toContain(`${EVENT_READ_LAG_METRIC}_bucket{le="0.0005"} 1`);
    expect(text).toContain(`${EVENT_READ_LAG_METRIC}_bucket{le="1"} 3`);
    expect(lines.map((l) => [l.obj.slowEvents, l.obj.maxLagMs])).toEqual([
      [1, 250],
      [2, 1200],
    ]);
    expect(lines[0]!.msg).toContain('read lag');
    // A second observer on the same registry (a restarted source) shares the histogram.
    eventReadLagObserver(m)(1000, ev);
    expect(await read(m, `${EVENT_READ_LAG_METRIC}_count`)).toBe(5);
  });
});
