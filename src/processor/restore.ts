/**
 * Restoring one partition's flow state from the compacted changelog: read changelog partition p from its
 * first offset to the end offset taken before the read and load it into a fresh engine, where the newest
 * value of each key wins (compaction may not have run yet).
 */
import { CtflowError } from '../errors.js';
import type { FlowEngine } from '../flow/engine.js';
import type { FlowStateCodec } from '../flow/state-codec.js';
import type { FlowStateEntry } from '../flow/types.js';
import type { MessageBatch } from '../kafka/message.js';
import type { PartitionRecordReader, RecordView } from '../kafka/record-range-reader.js';
import { isOwnerKey, OWNER_HEADER, type OwnerClaim, OwnerFence } from './fence.js';
import { decodeMarker, type ExportMarker, isMarkerKey, MARKER_KEY } from './marker.js';

/**
 * The (key, value) pairs of a changelog read, built one at a time as they are iterated, from two parallel
 * arrays. A pair object per record kept through the whole read was the fold's largest cost (100,000 of
 * them survive every young-generation collection of the read and are copied twice); built on demand, each
 * dies at once. It is an Array of the records' count (holes, never indexed) so that
 * FlowEngine.restoreEncoded, which reserves table room for an array's length, does so.
 */
class ChangelogPairs extends Array<readonly [key: string, value: Buffer | null]> {
  #keys: readonly string[] = [];
  #values: ReadonlyArray<Buffer | null> = [];

  static over(keys: readonly string[], values: ReadonlyArray<Buffer | null>): ChangelogPairs {
    const pairs = new ChangelogPairs(keys.length);
    pairs.#keys = keys;
    pairs.#values = values;
    return pairs;
  }

  override [Symbol.iterator](): ArrayIterator<readonly [key: string, value: Buffer | null]> {
    const keys = this.#keys;
    const values = this.#values;
    let i = 0;
    const it = {
      next: (): IteratorResult<readonly [string, Buffer | null], undefined> =>
        i < keys.length
          ? { done: false, value: [keys[i] as string, values[i++] ?? null] }
          : { done: true, value: undefined },
      [Symbol.iterator]: () => it,
    };
    return it as unknown as ArrayIterator<readonly [key: string, value: Buffer | null]>;
  }
}

/**
 * The changelog records of one partition in offset order, the export marker kept apart. No map of the
 * newest value per key is built for the restore: FlowEngine.restoreEncoded lets the last value of a key win
 * (tombstones included) as it goes, which costs less than a Map insert per record unless most records
 * were superseded (compaction keeps them few).
 */
export class ChangelogFold {
  readonly #keys: string[] = [];
  /** Views on the fetched bytes (null: tombstone), parallel to #keys. */
  readonly #values: Array<Buffer | null> = [];
  #marker: ExportMarker | undefined;
  readonly #where: string;
  readonly #fence = new OwnerFence();
  /** Keys whose newest record so far is stale (compaction would keep that one). */
  readonly #staleLast = new Set<string>();
  /** Changelog records folded. */
  records = 0;

  /** `where` names the changelog partition in errors (e.g. "ctflow.flowstate[3]"). */
  constructor(where = 'changelog') {
    this.#where = where;
  }

  /** Folds one changelog record (in offset order): its key as text, its value kept as a view. */
  addRecord(r: RecordView): void {
    this.records++;
    const key = r.keyString();
    if (key === null) return;
    this.#fold(key, r.value(), r.header(OWNER_HEADER), r.offset);
  }

  /** Folds one batch of changelog records (in offset order). */
  add(batch: MessageBatch): void {
    for (const m of batch.messages) {
      this.records++;
      if (m.key === null) continue;
      this.#fold(m.key.toString('utf8'), m.value, m.headers[OWNER_HEADER] ?? null, m.offset);
    }
  }

  #fold(key: string, value: Buffer | null, owner: Buffer | null, offset: number): void {
    if (isOwnerKey(key)) {
      this.#fence.claim(owner, `${this.#where}@${offset}`);
      return;
    }
    if (!this.#fence.accepts(owner, `${this.#where}@${offset}`)) {
      // A zombie's late write: left out. Its key is repaired if no good record of it comes later.
      this.#staleLast.add(key);
      return;
    }
    if (this.#staleLast.size > 0) this.#staleLast.delete(key);
    if (isMarkerKey(key)) {
      if (value !== null) this.#marker = decodeMarker(value, `${this.#where}@${offset}`);
      return;
    }
    this.#keys.push(key);
    this.#values.push(value);
  }

  /**
   * Every (key, value) in offset order, the marker left out (null: tombstone), for FlowEngine.restoreEncoded:
   * iterate it (pairs are built as they are iterated), do not index it.
   */
  get sequence(): Iterable<readonly [key: string, value: Buffer | null]> {
    return ChangelogPairs.over(this.#keys, this.#values);
  }

  /** The newest value of each key (null: tombstone), the marker left out, in first-seen order. */
  get latest(): ReadonlyMap<string, Buffer | null> {
    const latest = new Map<string, Buffer | null>();
    for (let i = 0; i < this.#keys.length; i++) latest.set(this.#keys[i] as string, this.#values[i] ?? null);
    return latest;
  }

  /** The newest owner claim that counted, if any. */
  get claim(): OwnerClaim | undefined {
    return this.#fence.current;
  }

  /** Stale records (and claims) left out. */
  get staleRecords(): number {
    return this.#fence.staleRecords + this.#fence.staleClaims;
  }

  /**
   * What to write again so that the changelog's newest record of every key counts even once compaction has
   * removed the claim that made the stale ones stale: for each key whose newest record is stale, its newest
   * counted value (null: tombstone, also when none counted). The export marker's key gets the marker's
   * current value; encode it with encodeMarker (undefined here: none counted, write a tombstone).
   */
  repairs(): Array<[key: string, value: Buffer | null]> {
    if (this.#staleLast.size === 0) return [];
    const want = new Set(this.#staleLast);
    want.delete(MARKER_KEY);
    const out = new Map<string, Buffer | null>();
    for (let i = this.#keys.length - 1; i >= 0 && out.size < want.size; i--) {
      const key = this.#keys[i] as string;
      if (want.has(key) && !out.has(key)) out.set(key, this.#values[i] ?? null);
    }
    for (const key of want) if (!out.has(key)) out.set(key, null);
    return [...out];
  }

  /** True when the export marker's newest record is stale (write the current marker again). */
  get markerStale(): boolean {
    return this.#staleLast.has(MARKER_KEY);
  }

  /** The newest export marker seen, if any. */
  get marker(): ExportMarker | undefined {
    return this.#marker;
  }

  /** Decoded live entries (tombstoned keys left out), ready for FlowEngineApi.restore. */
  entries(codec: FlowStateCodec, where: string): FlowStateEntry[] {
    const out: FlowStateEntry[] = [];
    for (const [key, value] of this.latest) {
      if (value === null) continue;
      out.push(codec.decodeEntry(key, value, `${where} key ${key}`));
    }
    return out;
  }
}

/** One partition's restored state. */
export interface RestoredPartition {
  engine: FlowEngine;
  marker: ExportMarker | undefined;
  /** The newest owner claim that counted (the restoring owner's own, if nobody claimed after it). */
  claim: OwnerClaim | undefined;
  /** Stale records and claims left out (zombie writes). */
  staleRecords: number;
  /** Flow keys to write again (see ChangelogFold.repairs) and whether the export marker needs it too. */
  repairs: Array<[key: string, value: Buffer | null]>;
  markerStale: boolean;
  /** Changelog records read. */
  records: number;
  /** Flows loaded. */
  entries: number;
  durationMs: number;
  /** Of durationMs: reading and folding the changelog; decoding the newest values into the engine. */
  readMs: number;
  loadMs: number;
}

/** What restorePartition needs. */
export interface RestoreRequest {
  reader: PartitionRecordReader;
  codec: FlowStateCodec;
  topic: string;
  partition: number;
  /** First offset still in the changelog partition. */
  fromOffset: number;
  /** End offset of the changelog partition taken before the read (exclusive). */
  toOffset: number;
  createEngine: () => FlowEngine;
  /** Called after each changelog batch (e.g. a consumer-group heartbeat during a long restore). */
  onProgress?: (recordsRead: number) => Promise<void> | void;
  /**
   * Give up (CtflowError KAFKA, retriable) after this long without a new changelog record. The record at
   * end - 1 always exists: Kafka's log cleaner never compacts the active segment, and with idempotent,
   * non-transactional writes there are no control records. So a read that stalls means the broker is not
   * answering, and a partial state must never be used. Default 60000.
   */
  idleTimeoutMs?: number;
}

/** Reads changelog partition `partition` up to `toOffset` into a fresh engine. */
export async function restorePartition(req: RestoreRequest): Promise<RestoredPartition> {
  const started = Date.now();
  const where = `${req.topic}[${req.partition}]`;
  const fold = new ChangelogFold(where);
  if (req.toOffset > req.fromOffset) {
    const onProgress = req.onProgress;
    const result = await req.reader.readRecords({
      partition: req.partition,
      fromOffset: req.fromOffset,
      toOffset: req.toOffset,
      idleTimeoutMs: req.idleTimeoutMs ?? 60_000,
      onRecord: (r) => fold.addRecord(r),
      ...(onProgress === undefined ? {} : { onProgress: () => onProgress(fold.records) }),
    });
    if (!result.complete) {
      throw new CtflowError(
        'KAFKA',
        `restoring ${where}: no changelog record for ${req.idleTimeoutMs ?? 60_000} ms before the end offset ${req.toOffset} (last read ${result.lastOffset})`,
        {
          details: {
            topic: req.topic,
            partition: req.partition,
            toOffset: req.toOffset,
            lastOffset: result.lastOffset,
          },
          retriable: true,
        },
      );
    }
  }
  const read = Date.now();
  // Straight from the changelog bytes into the flow table: no decoded object per flow.
  const engine = req.createEngine();
  engine.restoreEncoded(fold.sequence, req.codec, where);
  const loaded = Date.now();
  return {
    engine,
    marker: fold.marker,
    claim: fold.claim,
    staleRecords: fold.staleRecords,
    repairs: fold.repairs(),
    markerStale: fold.markerStale,
    records: fold.records,
    entries: engine.size,
    durationMs: loaded - started,
    readMs: read - started,
    loadMs: loaded - read,
  };
}
