/**
 * TCP collector restart while a processor exports: the exporter keeps the records in its bounded buffer,
 * reconnects to the collector restarted on the same port, sends the templates first again, and nothing is
 * lost; with a buffer too small for the outage, what did not fit is counted as dropped, and exactly that is
 * missing at the collector. Records written into the connection just before the exporter saw the
 * collector go are written again after the reconnect (the resend window): the collector may get some of
 * them twice, never more than the exporter counts as resent, and the comparisons count each record once.
 */
import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../kafka/helpers.js';
import { compareTotals } from './collector.js';
import { ProcessorHarness, type RunningProcessor } from './harness.js';
import { Workload } from './workload.js';

let harness: ProcessorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const PARTITIONS = 2;

/** Messages of steps [from, to) of the workload. */
function messagesIn(workload: Workload, from: number, to: number): number {
  let n = 0;
  for (let s = from; s < to; s++) n += workload.messagesAt(s, PARTITIONS).length;
  return n;
}

/** Records the collector decoded, each counted once (a resent record may arrive twice). */
function uniqueRecords(h: ProcessorHarness): number {
  return h.collector.records.length - h.collector.duplicates();
}

/** Waits until every record the exporter sent reached the collector (no record in a socket buffer). */
async function quiet(h: ProcessorHarness, p: RunningProcessor, messages: number): Promise<void> {
  // Completed (records handed to the exporter, changelog acknowledged), not only taken: with the pipelined
  // input a batch is taken before the previous one's records were exported.
  await waitFor(
    'the processor to process the input',
    () => p.processor.stats().completed >= messages,
    60_000,
  );
  await p.exporter.flush();
  await waitFor(
    'the collector to receive what was sent',
    () => p.exporter.stats().collectors[0]!.records === uniqueRecords(h),
    30_000,
  ).catch((err: Error) => {
    const c = p.exporter.stats().collectors[0]!;
    throw new Error(
      `${err.message}: exporter sent ${c.records} records (dropped ${c.droppedRecords}, resent ${c.resentRecords}, lost ${c.lostRecords}, reconnects ${c.reconnects}, errors ${c.errors}), collector decoded ${uniqueRecords(h)} distinct of ${h.collector.records.length} (data sets before their template ${h.collector.unknownTemplateSets}, errors ${h.collector.errors})`,
    );
  });
}

/** Waits until the collector's totals, each record counted once, equal the truth; returns the differences. */
async function settleOnce(h: ProcessorHarness, workload: Workload): Promise<string[]> {
  const truth = workload.truth();
  const diff = (): string[] => compareTotals(truth, h.collector.dedupedTotals());
  await waitFor('collector totals to match the truth', () => diff().length === 0, 60_000).catch(() => {});
  return diff();
}

/**
 * Runs: steps [0, 10) with the collector up; collector down; steps [10, 25) exported into the exporter's
 * buffer; collector up again on the same port; the final watermarks. Returns the running processor.
 */
async function runWithOutage(h: ProcessorHarness, workload: Workload, tcpBufferBytes: number) {
  const topic = h.topics.observations;
  const port = Number(new URL(h.collectorUrl).port);
  const p = await h.startProcessor({ tcpBufferBytes, reconnectMinMs: 50, reconnectMaxMs: 200 });
  await workload.write(h.producer, topic, PARTITIONS, 0, 10);
  await quiet(h, p, messagesIn(workload, 0, 10));
  expect(h.collector.records.length).toBeGreaterThan(0);
  const templatesBefore = p.exporter.stats().collectors[0]!.templates;

  await h.collector.close();
  await waitFor('the exporter to see the collector gone', () => !p.exporter.stats().collectors[0]!.connected);
  // Taken before the write: a processor that keeps up exports the new steps while they are being written.
  const recordsBefore = p.processor.stats().records;
  await workload.write(h.producer, topic, PARTITIONS, 10, 25);
  // Processed, not only taken: a partition's commit (export, changelog) may end after the next partition's
  // batch was taken.
  await waitFor('the processor to process the input', () => {
    return p.processor.stats().completed >= messagesIn(workload, 0, 25);
  });
  // Records were exported while the collector was down.
  expect(p.processor.stats().records).toBeGreaterThan(recordsBefore);

  await h.collector.start(port);
  await waitFor('the exporter to reconnect', () => p.exporter.stats().collectors[0]!.connected, 30_000);
  await h.producer.send(topic, workload.finalMessages(PARTITIONS));
  const stats = p.exporter.stats().collectors[0]!;
  expect(stats.reconnects).toBeGreaterThanOrEqual(1);
  return { p, templatesBefore };
}

test('TCP collector restart: the exporter reconnects, re-sends templates, nothing is lost', async () => {
  harness = await ProcessorHarness.started(PARTITIONS);
  const h = harness;
  const workload = new Workload({
    nodes: 2,
    flowsPerNode: 40,
    steps: 25,
  });
  const { p, templatesBefore } = await runWithOutage(h, workload, 8 * 1024 * 1024);

  expect(await settleOnce(h, workload)).toEqual([]);
  await quiet(h, p, 0);
  const stats = p.exporter.stats().collectors[0]!;
  expect(stats.droppedRecords).toBe(0);
  expect(stats.lostRecords).toBe(0);
  // Templates went again on the new connection, before any data set needed them.
  expect(stats.templates).toBeGreaterThan(templatesBefore);
  expect(h.collector.unknownTemplateSets).toBe(0);
  // Only resent records can arrive twice.
  expect(h.collector.duplicates()).toBeLessThanOrEqual(stats.resentRecords);
  expect(uniqueRecords(h)).toBe(p.processor.stats().records);
});

// Until 2026-11-26 this case failed about 1 run in 4: a record the processor exported just after the
// collector closed went into the dying connection (the kernel took it, the exporter counted it as sent)
// and never arrived. The exporter now writes such records again after the reconnect.
test('TCP collector restart beyond the buffer bound: the overflow is dropped and counted, nothing else lost', async () => {
  harness = await ProcessorHarness.started(PARTITIONS);
  const h = harness;
  const workload = new Workload({
    nodes: 2,
    flowsPerNode: 40,
    steps: 25,
  });
  // Room for a couple of messages only: most of the outage's records cannot be kept.
  const { p } = await runWithOutage(h, workload, 3000);
  await waitFor(
    'the final records',
    () =>
      p.processor.stats().completed >=
      messagesIn(workload, 0, 25) + workload.finalMessages(PARTITIONS).length,
  );
  await quiet(h, p, 0);

  const stats = p.exporter.stats().collectors[0]!;
  expect(stats.droppedRecords).toBeGreaterThan(0);
  expect(stats.lostRecords).toBe(0);
  // Every record the processor exported either reached the collector or is counted as dropped, exactly.
  expect(uniqueRecords(h) + stats.droppedRecords).toBe(p.processor.stats().records);
  expect(stats.records + stats.droppedRecords).toBe(p.processor.stats().records);
  expect(h.collector.duplicates()).toBeLessThanOrEqual(stats.resentRecords);
  expect(h.collector.unknownTemplateSets).toBe(0);
});
