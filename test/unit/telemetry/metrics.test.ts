import { describe, expect, it } from 'vitest';
import { METRIC_DEFINITIONS, type MetricDef } from '../../../src/telemetry/metric-definitions.js';
import { advanceCounterTo, createMetrics, endReasonLabel } from '../../../src/telemetry/metrics.js';

const defs = Object.values(METRIC_DEFINITIONS) as MetricDef[];

describe('metric definitions', () => {
  it('defines every metric issue 7 lists', () => {
    const names = defs.map((d) => d.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'ctflow_observations_read_total',
        'ctflow_observations_published_total',
        'ctflow_observations_buffered',
        'ctflow_observations_dropped_total',
        'ctflow_poll_duration_seconds',
        'ctflow_kernel_prerequisite',
        'ctflow_records_exported_total',
        'ctflow_ipfix_messages_total',
        'ctflow_ipfix_bytes_total',
        'ctflow_ipfix_templates_total',
        'ctflow_ipfix_reconnects_total',
        'ctflow_ipfix_records_dropped_total',
        'ctflow_consumer_lag',
        'ctflow_restore_duration_seconds',
        'ctflow_rebalances_total',
        'ctflow_dead_letter_total',
        'ctflow_duplicate_records_total',
      ]),
    );
  });

  it('follows Prometheus naming: ctflow_ prefix, counters end in _total, units in the name', () => {
    expect(new Set(defs.map((d) => d.name)).size).toBe(defs.length);
    for (const d of defs) {
      expect(d.name).toMatch(/^ctflow_[a-z0-9_]+$/);
      expect(d.name.endsWith('_total'), d.name).toBe(d.type === 'counter');
      if (d.type === 'histogram') expect(d.name).toMatch(/_seconds$/);
      expect(d.help.length, d.name).toBeGreaterThan(10);
      for (const l of d.labels) expect(l).toMatch(/^[a-z_]+$/);
    }
  });
});

describe('createMetrics', () => {
  it('registers every metric in its own registry with the build info and zeroed known series', async () => {
    const m = createMetrics({ role: 'processor', version: '1.2.3', processMetrics: false });
    const text = await m.registry.metrics();
    for (const d of defs) expect(text).toContain(`# HELP ${d.name} ${d.help}`);
    expect(text).toContain('ctflow_build_info{version="1.2.3",role="processor"} 1');
    expect(text).toContain('ctflow_records_exported_total{reason="forced_end"} 0');
    expect(text).toContain('ctflow_observations_read_total{kind="DESTROY"} 0');
    // A second process-local registry does not clash with the first.
    expect(() => createMetrics({ role: 'agent', version: '1', processMetrics: false })).not.toThrow();
  });

  it('moves counters, gauges and histograms with labels', async () => {
    const m = createMetrics({ role: 'run', version: '0', processMetrics: false });
    m.recordsExported.inc({ reason: endReasonLabel(2) }, 3);
    m.ipfixBytes.inc({ collector: 'udp://127.0.0.1:4739' }, 1500);
    m.consumerLag.set({ partition: '4' }, 17);
    m.observationsDropped.inc({ reason: 'buffer_full' });
    m.pollDuration.observe(0.3);
    const text = await m.registry.metrics();
    expect(text).toContain('ctflow_records_exported_total{reason="active_timeout"} 3');
    expect(text).toContain('ctflow_ipfix_bytes_total{collector="udp://127.0.0.1:4739"} 1500');
    expect(text).toContain('ctflow_consumer_lag{partition="4"} 17');
    expect(text).toContain('ctflow_observations_dropped_total{reason="buffer_full"} 1');
    expect(text).toContain('ctflow_poll_duration_seconds_bucket{le="0.5"} 1');
    expect(text).toContain('ctflow_poll_duration_seconds_count 1');
  });

  it('includes Node.js process metrics unless turned off', async () => {
    const m = createMetrics({ role: 'agent', version: '0' });
    expect(await m.registry.metrics()).toContain('process_cpu_user_seconds_total');
  });

  it('advances a counter to an external running total, never backwards', async () => {
    const m = createMetrics({ role: 'run', version: '0', processMetrics: false });
    const collector = 'tcp://[::1]:4739';
    await advanceCounterTo(m.ipfixMessages, { collector }, 5);
    await advanceCounterTo(m.ipfixMessages, { collector }, 9);
    await advanceCounterTo(m.ipfixMessages, { collector }, 7);
    expect(await m.registry.metrics()).toContain(`ctflow_ipfix_messages_total{collector="${collector}"} 9`);
  });
});
