/**
 * `ctflow processor` operated as a process (issue 7): the real CLI in the test group under a synthetic
 * agent's load. While it works, /metrics moves (messages, records by flowEndReason, IPFIX per collector,
 * consumer lag, restore duration, rebalances, dead letters) and /readyz is ready; SIGTERM in the middle
 * of the stream ends within processor.shutdownTimeout with exit 0 after committing, and a successor
 * continues: every flow's deltas at the collector add up to the truth, nothing counted twice.
 */
import { afterEach, expect, test } from 'vitest';
import { consumerLag } from '../../../src/processor/lag.js';
import { waitFor } from '../kafka/helpers.js';
import { compareTotals } from '../processor/collector.js';
import { ProcessorHarness } from '../processor/harness.js';
import { Workload } from '../processor/workload.js';
import { type CtflowChild, killIfRunning } from './cli.js';
import { spawnProcessor } from './processor-child.js';
import { httpGet, type Samples, scrape, sum, value } from './scrape.js';

const SHUTDOWN_TIMEOUT_S = 20;

let harness: ProcessorHarness | undefined;
let child: CtflowChild | undefined;

afterEach(async () => {
  await killIfRunning(child);
  child = undefined;
  await harness?.close();
  harness = undefined;
});

test.each(['wire', 'kafkajs'] as const)(
  'ctflow processor (input %s): metrics move under load; SIGTERM mid-stream stops in the bound, exit 0, successor loses nothing',
  async (input) => {
    const partitions = 4;
    harness = await ProcessorHarness.started(partitions);
    const h = harness;
    const topic = h.topics.observations;
    const workload = new Workload({
      nodes: 2,
      flowsPerNode: 80,
      steps: 40,
    });

    const p = spawnProcessor(h, SHUTDOWN_TIMEOUT_S, input);
    child = p;
    const base = String((await p.waitForLog('metrics and health endpoints listening', 60_000))['url']);
    expect((await p.waitForLog('processor joined its group', 60_000))['input']).toBe(input);
    expect((await httpGet(`${base}/healthz`)).status).toBe(200);
    await p.waitForLog('processor running', 60_000);

    await workload.write(h.producer, topic, partitions, 0, 14);
    // Set aside by the processor: not Avro, and an Avro body cut short.
    await h.producer.send(topic, [
      { key: 'bad-0', value: Buffer.from('this is not an Avro single object'), partition: 0 },
      { key: 'bad-1', value: Buffer.from([0xc3, 0x01, 1, 2, 3]), partition: 1 },
    ]);
    await waitFor('the processor to export records', () => h.collector.records.length > 20, 60_000);

    // Load: keep writing while scraping and while the signal lands.
    let maxLag = 0;
    let ready = 0;
    const writing = workload.write(h.producer, topic, partitions, 14, 40, 40);
    let during: Samples = new Map();
    const scrapeUntil = Date.now() + 8000;
    while (Date.now() < scrapeUntil) {
      during = await scrape(base);
      maxLag = Math.max(maxLag, sum(during, 'ctflow_consumer_lag'));
      if ((await httpGet(`${base}/readyz`)).status === 200) ready++;
      await new Promise((r) => setTimeout(r, 200));
    }

    expect(ready).toBeGreaterThan(0);
    expect(value(during, 'ctflow_ready')).toBe(1);
    expect(value(during, 'ctflow_kafka_connected')).toBe(1);
    expect(value(during, 'ctflow_partitions_assigned')).toBe(partitions);
    expect(value(during, 'ctflow_messages_consumed_total{type="observation"}')).toBeGreaterThan(500);
    expect(value(during, 'ctflow_messages_consumed_total{type="watermark"}')).toBeGreaterThan(20);
    expect(value(during, 'ctflow_records_exported_total{reason="end_of_flow"}')).toBeGreaterThan(0);
    expect(value(during, 'ctflow_records_exported_total{reason="active_timeout"}')).toBeGreaterThan(0);
    expect(value(during, 'ctflow_flows_active')).toBeGreaterThan(0);
    const l = [`collector="${h.collectorUrl}"`];
    expect(sum(during, 'ctflow_ipfix_messages_total', l)).toBeGreaterThan(0);
    expect(sum(during, 'ctflow_ipfix_bytes_total', l)).toBeGreaterThan(1000);
    expect(sum(during, 'ctflow_ipfix_templates_total', l)).toBeGreaterThan(0);
    expect(sum(during, 'ctflow_ipfix_records_total', l)).toBeGreaterThan(20);
    expect(value(during, `ctflow_ipfix_collector_up{collector="${h.collectorUrl}"}`)).toBe(1);
    // Every partition was restored (empty changelog) before processing: one sample each.
    expect(value(during, 'ctflow_restore_duration_seconds_count')).toBeGreaterThanOrEqual(partitions);
    expect(value(during, 'ctflow_rebalances_total')).toBeGreaterThanOrEqual(1);
    expect(value(during, 'ctflow_offset_commits_total')).toBeGreaterThan(0);
    expect(sum(during, 'ctflow_dead_letter_total')).toBe(2);
    // The lag series exist for each assigned partition (0 while this processor keeps up; what they
    // measure is checked below against a known backlog).
    expect([...during.keys()].filter((k) => k.startsWith('ctflow_consumer_lag{')).length).toBe(partitions);

    const stop = await p.signal('SIGTERM');
    process.stderr.write(
      `ctflow processor: SIGTERM under load -> exit ${stop.code} after ${stop.afterMs.toFixed(0)} ms\n`,
    );
    expect(stop.code, p.stderr.slice(-20).join('\n')).toBe(0);
    expect(stop.afterMs).toBeLessThan(SHUTDOWN_TIMEOUT_S * 1000);
    expect(p.logs().some((x) => x['msg'] === 'processor stopped')).toBe(true);

    // With no processor running, a known backlog: the lag grows by exactly what is written.
    await writing;
    const all = [...Array(partitions).keys()];
    const lagOf = async () =>
      [...(await consumerLag(h.client, h.groupId, topic, all)).values()].reduce((a, b) => a + b, 0);
    const before = await lagOf();
    const final = workload.finalMessages(partitions);
    await h.producer.send(topic, final);
    const backlog = await lagOf();
    expect(backlog - before).toBe(final.length);
    process.stderr.write(
      `ctflow processor: consumer lag max ${maxLag} while running, ${backlog} with no processor\n`,
    );

    const successor = await h.startProcessor();
    let drained = false;
    const watchLag = setInterval(() => {
      void lagOf().then((n) => {
        drained = n === 0;
      });
    }, 1000);
    await waitFor(
      'every flow at the collector',
      () => compareTotals(workload.truth(), h.collector.totals()).length === 0,
      90_000,
    ).catch(() => {});
    await waitFor('the lag to drain', () => drained, 30_000).catch(() => {});
    clearInterval(watchLag);
    // Nothing lost and, after a graceful stop, nothing counted twice.
    expect(compareTotals(workload.truth(), h.collector.totals())).toEqual([]);
    expect(h.collector.duplicates()).toBe(0);
    expect(successor.processor.stats().restoredEntries).toBeGreaterThan(0);
    // The successor caught up: its commits brought the lag back to 0.
    expect(await lagOf()).toBe(0);
  },
);
