import { expect, test } from 'vitest';
import { createFlowEngine } from '../../../src/flow/engine.js';
import { FlowStateCodec } from '../../../src/flow/state-codec.js';
import type { WireRecordView } from '../../../src/kafka/wire/record-batch.js';
import { restorePartition } from '../../../src/processor/restore.js';
import {
  MemoryRecordReader,
  syntheticChangelog,
  WARM_UP_NODES,
  warmUpRestore,
  warmUpRestoreOnce,
} from '../../../src/processor/warm-up.js';

const codec = new FlowStateCodec();

test('the synthetic changelog holds IPv4 and IPv6 flows of several nodes, a claim and tombstones, in several fetches', async () => {
  const log = syntheticChangelog(2000, {}, codec);
  expect(log.fetches.length).toBeGreaterThan(1);
  const keys: string[] = [];
  let tombstones = 0;
  let withHeader = 0;
  const result = await new MemoryRecordReader(log.fetches).readRecords({
    partition: 0,
    fromOffset: 0,
    toOffset: log.records,
    onRecord: (r) => {
      const v = r as WireRecordView;
      keys.push(v.keyString() as string);
      if (v.valueLength < 0) tombstones++;
      if (v.findHeader('ctflow-owner')) withHeader++;
    },
  });
  expect(result).toEqual({ partition: 0, records: log.records, lastOffset: log.records - 1, complete: true });
  expect(keys[0]).toBe('#ctflow-owner');
  expect(withHeader).toBe(log.records);
  const flowKeys = keys.filter((k) => !k.startsWith('#') && !k.startsWith('@'));
  expect(flowKeys.some((k) => k.includes('fd00:'))).toBe(true);
  expect(flowKeys.some((k) => k.includes('10.'))).toBe(true);
  expect(new Set(keys.filter((k) => k.startsWith('@'))).size).toBe(WARM_UP_NODES);
  expect(tombstones).toBeGreaterThan(0);
  expect(log.flows).toBe(new Set(flowKeys).size - tombstones);
});

test('the synthetic changelog restores through the processor restore path to its live flows', async () => {
  const log = syntheticChangelog(300, {}, codec);
  const restored = await restorePartition({
    reader: new MemoryRecordReader(log.fetches),
    codec,
    topic: 'warm-up',
    partition: 0,
    fromOffset: 0,
    toOffset: log.records,
    createEngine: () => createFlowEngine(),
  });
  expect(restored.records).toBe(log.records);
  expect(restored.entries).toBe(log.flows);
  expect(restored.claim).toEqual({ epoch: 0, owner: 'warm-up' });
  expect(restored.staleRecords).toBe(0);
});

test('warmUpRestore runs the given rounds and reports each', async () => {
  const r = await warmUpRestore({ flows: 256, rounds: 3 });
  expect(r.rounds).toBe(3);
  expect(r.roundMs).toHaveLength(3);
  expect(r.flows).toBe(syntheticChangelog(256, {}, codec).flows);
  expect(r.records).toBeGreaterThan(256);
  expect(r.ms).toBeGreaterThanOrEqual(Math.floor(r.roundMs.reduce((a, b) => a + b, 0)));
  expect(r.cpuMs).toBeGreaterThan(0);
});

test('warmUpRestoreOnce warms up once per process', async () => {
  const first = warmUpRestoreOnce({ flows: 128, rounds: 1 });
  const second = warmUpRestoreOnce({ flows: 4096, rounds: 9 });
  expect(second).toBe(first);
  expect((await second).rounds).toBe(1);
});
