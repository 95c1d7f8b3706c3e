/**
 * Replay: re-derive IPFIX records from a range of the observations topic with the same flow engine as the
 * live processors. It reads outside the live consumer group (a reader group of its own, never committed),
 * one fresh engine per partition, from --from (a time, or the earliest offset) to --to (a time, or the end
 * offsets taken at start), and exports. Replaying from the earliest offset gives the live run's records
 * (event time only, no clock); starting later, flows already open are first met mid-life
 * (firstSeenMidLife), as after a restart without state.
 */
import { randomUUID } from 'node:crypto';
import { AvroCodec } from '../codec/avro-codec.js';
import { CtflowError } from '../errors.js';
import { createFlowEngine } from '../flow/engine.js';
import type { EngineOptions, RecordSink } from '../flow/types.js';
import type { KafkaClient } from '../kafka/client.js';
import { fetchEndOffsets, fetchOffsetsForTime } from '../kafka/offsets.js';
import { createPartitionRangeReader } from '../kafka/range-reader.js';
import { applyMessages } from './apply.js';
import { type RoleLog, SILENT_LOG } from './log.js';

/** Start of a replay: the earliest offset still in the topic, or a time (ms since the epoch). */
export type ReplayFrom = 'earliest' | number;

/** Replay settings. */
export interface ReplayOptions {
  client: KafkaClient;
  /** The observations topic. */
  topic: string;
  from: ReplayFrom;
  /** End time (ms since the epoch, exclusive); default: the end offsets when the replay starts. */
  to?: number;
  engine?: Partial<EngineOptions>;
  sink: RecordSink;
  /** Reader group; default a new unique `ctflow-replay-<time>-<id>` (never the live processors' group). */
  groupId?: string;
  /** The live processors' group, refused as the replay group. Default "ctflow-processor". */
  liveGroupId?: string;
  /** Called as offsets are done. */
  onProgress?: (done: number, total: number) => void;
  log?: RoleLog;
}

/** One partition's replayed offsets [from, to). */
export interface ReplayRange {
  partition: number;
  from: number;
  to: number;
}

/** What a replay did. */
export interface ReplayResult {
  groupId: string;
  ranges: ReplayRange[];
  /** Offsets read (messages in the ranges). */
  messages: number;
  observations: number;
  watermarks: number;
  /** Messages that could not be decoded or were refused (counted and logged; the replay goes on). */
  refused: number;
  records: number;
  /** Flows still open at the end of the range (not exported, as in the live run). */
  openFlows: number;
  durationMs: number;
}

/** The offset range of each partition for `from`/`to` (exported for tests). */
export async function replayRanges(
  client: KafkaClient,
  topic: string,
  from: ReplayFrom,
  to?: number,
): Promise<ReplayRange[]> {
  const ends = await fetchEndOffsets(client, topic);
  const starts = from === 'earliest' ? undefined : await fetchOffsetsForTime(client, topic, from);
  const stops = to === undefined ? undefined : await fetchOffsetsForTime(client, topic, to);
  return ends.map((e) => {
    const start = starts?.find((s) => s.partition === e.partition)?.offset ?? e.low;
    const stop = stops?.find((s) => s.partition === e.partition)?.offset ?? e.high;
    const lo = Math.min(Math.max(start, e.low), e.high);
    return { partition: e.partition, from: lo, to: Math.max(lo, Math.min(stop, e.high)) };
  });
}

/** Runs a replay to its end and flushes the sink (which the caller closes). */
export async function runReplay(options: ReplayOptions): Promise<ReplayResult> {
  const started = Date.now();
  const log = options.log ?? SILENT_LOG;
  const groupId =
    options.groupId ??
    `ctflow-replay-${new Date(started).toISOString().replace(/[:.]/g, '')}-${randomUUID().slice(0, 8)}`;
  const live = options.liveGroupId ?? 'ctflow-processor';
  if (groupId === live) {
    throw new CtflowError('CONFIG_INVALID', `replay group ${groupId} is the live processors' group`, {
      details: { field: 'replay.groupId', value: groupId, expected: `any group but ${live}` },
    });
  }
  if (options.to !== undefined && options.from !== 'earliest' && options.to <= options.from) {
    throw new CtflowError(
      'CONFIG_INVALID',
      `replay --to ${new Date(options.to).toISOString()} is not after --from`,
      {
        details: { field: 'replay.to', value: options.to, expected: `after ${options.from}` },
      },
    );
  }
  const ranges = await replayRanges(options.client, options.topic, options.from, options.to);
  const total = ranges.reduce((n, r) => n + (r.to - r.from), 0);
  log.info({ groupId, total, ranges }, 'replay starting');
  const codec = new AvroCodec();
  const result: ReplayResult = {
    groupId,
    ranges,
    messages: 0,
    observations: 0,
    watermarks: 0,
    refused: 0,
    records: 0,
    openFlows: 0,
    durationMs: 0,
  };
  options.onProgress?.(0, total);
  const reader = await createPartitionRangeReader(options.client, { topic: options.topic, groupId });
  try {
    await Promise.all(
      ranges
        .filter((r) => r.to > r.from)
        .map(async (r) => {
          const engine = createFlowEngine(options.engine);
          await reader.read({
            partition: r.partition,
            fromOffset: r.from,
            toOffset: r.to,
            onBatch: (batch) => {
              const applied = applyMessages(engine, codec, batch.messages);
              result.messages += batch.messages.length;
              result.observations += applied.observations;
              result.watermarks += applied.watermarks;
              result.refused += applied.refused.length;
              for (const x of applied.refused) {
                log.warn(
                  {
                    partition: r.partition,
                    offset: x.message.offset,
                    code: x.error.code,
                    error: x.error.message,
                  },
                  'message skipped',
                );
              }
              const out = engine.drain();
              if (out.records.length > 0) options.sink.write(out.records);
              result.records += out.records.length;
              options.onProgress?.(result.messages, total);
            },
          });
          result.openFlows += engine.size;
        }),
    );
  } finally {
    await reader.close().catch(() => {});
  }
  await options.sink.flush();
  result.durationMs = Date.now() - started;
  log.info({ ...result, ranges: undefined }, 'replay done');
  return result;
}
