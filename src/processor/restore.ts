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
import { WireRecordView } from '../kafka/wire/record-batch.js';
import { isOwnerKey, OWNER_HEADER, type OwnerClaim, OwnerFence } from './fence.js';
import { decodeMarker, type ExportMarker, isMarkerKey, MARKER_KEY } from './marker.js';

/** Buffer#utf8Slice (Node's own, without toString()'s argument checks), else toString. */
const utf8Slice: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === 'function'
    ? (buf, start, end) => (buf as Buffer & { utf8Slice(s: number, e: number): string }).utf8Slice(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);

/** Ints per folded record in ChangelogFold's position table. */
const REC = 6;
/** First byte of the changelog's special keys (#ctflow-owner, #ctflow-export-marker); never of a flow key. */
const HASH = 0x23;

/**
 * The (key, value) pairs of a changelog read, built one at a time as they are iterated, from the fold's
 * position table. The fold keeps no object per record through the read (100,000 key strings and value
 * views would survive every young-generation collection of the read and be copied twice); built on demand,
 * each pair dies at once. It is an Array of the records' count (holes, never indexed) so that
 * FlowEngine.restoreEncoded, which reserves table room for an array's length, does so.
 */
class ChangelogPairs extends Array<readonly [key: string, value: Buffer | null]> {
  #bufs: readonly Buffer[] = [];
  #pos: Int32Array = new Int32Array(0);
  #count = 0;

  static over(bufs: readonly Buffer[], pos: Int32Array, count: number): ChangelogPairs {
    const pairs = new ChangelogPairs(count);
    pairs.#bufs = bufs;
    pairs.#pos = pos;
    pairs.#count = count;
    return pairs;
  }

  override [Symbol.iterator](): ArrayIterator<readonly [key: string, value: Buffer | null]> {
    const bufs = this.#bufs;
    const pos = this.#pos;
    const end = this.#count * REC;
    let at = 0;
    const it = {
      next: (): IteratorResult<readonly [string, Buffer | null], undefined> => {
        if (at >= end) return { done: true, value: undefined };
        const pair = pairAt(bufs, pos, at);
        at += REC;
        return { done: false, value: pair };
      },
      [Symbol.iterator]: () => it,
    };
    return it as unknown as ArrayIterator<readonly [key: string, value: Buffer | null]>;
  }
}

/** The key text and value view of the folded record at pos[at..at + REC). */
function pairAt(bufs: readonly Buffer[], pos: Int32Array, at: number): [string, Buffer | null] {
  const keyStart = pos[at + 1] as number;
  const key = utf8Slice(bufs[pos[at] as number] as Buffer, keyStart, keyStart + (pos[at + 2] as number));
  const valueLength = pos[at + 5] as number;
  if (valueLength < 0) return [key, null];
  const valueStart = pos[at + 4] as number;
  return [key, (bufs[pos[at + 3] as number] as Buffer).subarray(valueStart, valueStart + valueLength)];
}

/** True when buf[start, start + length) holds exactly `bytes`. */
function sameBytes(buf: Buffer, start: number, length: number, bytes: Buffer): boolean {
  if (length !== bytes.length) return false;
  for (let i = 0; i < length; i++) if (buf[start + i] !== bytes[i]) return false;
  return true;
}

/** Zigzag VARINT bytes of `n` (Kafka record fields, KIP-82 header lengths). */
function zigzagVarint(n: number): number[] {
  let x = (n << 1) ^ (n >> 31);
  const out: number[] = [];
  while (x >>> 7 !== 0) {
    out.push((x & 0x7f) | 0x80);
    x >>>= 7;
  }
  out.push(x);
  return out;
}

/**
 * A record's whole header section (headerCount, then each header: keyLength, key, valueLength, value;
 * KIP-82) when its only header is OWNER_HEADER = `owner`: what the current owner's records carry.
 */
function ownerHeaderSection(owner: Buffer): Buffer {
  const name = Buffer.from(OWNER_HEADER, 'utf8');
  return Buffer.from([
    ...zigzagVarint(1),
    ...zigzagVarint(name.length),
    ...name,
    ...zigzagVarint(owner.length),
    ...owner,
  ]);
}

/**
 * The changelog records of one partition in offset order, the export marker kept apart. No map of the
 * newest value per key is built for the restore: FlowEngine.restoreEncoded lets the last value of a key win
 * (tombstones included) as it goes, which costs less than a Map insert per record unless most records
 * were superseded (compaction keeps them few).
 *
 * Records are kept as positions in the fetched bytes (six ints each), not as objects: from ctflow's own
 * Fetch reader (WireRecordView) a record of the current owner costs no allocation at all during the read.
 */
export class ChangelogFold {
  /** Byte sources of the kept records: fetch responses, inflated batches, kafkajs keys and values. */
  readonly #bufs: Buffer[] = [];
  #lastBuf: Buffer | undefined;
  /** Per kept record: key source, key start, key length, value source, value start, value length (-1: null). */
  #pos = new Int32Array(REC * 4096);
  #count = 0;
  /** Records already handed to an engine by loadInto(). */
  #loaded = 0;

  #marker: ExportMarker | undefined;
  readonly #where: string;
  readonly #fence = new OwnerFence();
  /** Keys whose newest record so far is stale (compaction would keep that one). */
  readonly #staleLast = new Set<string>();
  /** ownerHeaderSection() of the current claim's header (#sectionOf): one compare per record, no parse. */
  #section: Buffer | undefined;
  #sectionOf: Buffer | undefined;
  /** Changelog records folded. */
  records = 0;

  /** Records handed to an engine by loadInto() so far. */
  get loaded(): number {
    return this.#loaded;
  }

  /** `where` names the changelog partition in errors (e.g. "ctflow.flowstate[3]"). */
  constructor(where = 'changelog') {
    this.#where = where;
  }

  /** Folds one changelog record (in offset order); its key and value stay where they are (no copy). */
  addRecord(r: RecordView): void {
    this.records++;
    if (r instanceof WireRecordView) {
      this.#addWire(r);
      return;
    }
    const key = r.key();
    if (key === null) return;
    this.#fold(key.toString('utf8'), key, r.value(), r.header(OWNER_HEADER), r.offset);
  }

  /**
   * A record of ctflow's Fetch reader: a flow or node key of the current owner (or of no owner) is kept as
   * positions, compared in place; anything else (claims, the marker, other owners, pending repairs) goes
   * through #fold.
   */
  #addWire(r: WireRecordView): void {
    const keyLength = r.keyLength;
    if (keyLength < 0) return;
    const buf = r.buf;
    const keyStart = r.keyStart;
    const current = this.#fence.currentHeader;
    if (current !== undefined && current !== this.#sectionOf) {
      this.#sectionOf = current;
      this.#section = ownerHeaderSection(current);
    }
    if (
      keyLength === 0 ||
      buf[keyStart] === HASH ||
      this.#staleLast.size > 0 ||
      (current !== undefined &&
        // The current owner's record (its one header, byte for byte), else the header looked up.
        !sameBytes(buf, r.headersStart, r.recordEnd - r.headersStart, this.#section as Buffer) &&
        r.findHeader(OWNER_HEADER) &&
        !sameBytes(buf, r.headerValueStart, r.headerValueLength, current))
    ) {
      this.#fold(r.keyString() as string, r.key() as Buffer, r.value(), r.header(OWNER_HEADER), r.offset);
      return;
    }
    const source = this.#source(buf);
    this.#keep(source, keyStart, keyLength, source, r.valueStart, r.valueLength);
  }

  /** Folds one batch of changelog records (in offset order). */
  add(batch: MessageBatch): void {
    for (const m of batch.messages) {
      this.records++;
      if (m.key === null) continue;
      this.#fold(m.key.toString('utf8'), m.key, m.value, m.headers[OWNER_HEADER] ?? null, m.offset);
    }
  }

  #fold(key: string, keyBytes: Buffer, value: Buffer | null, owner: Buffer | null, offset: number): void {
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
    const keySource = this.#source(keyBytes);
    if (value === null) this.#keep(keySource, 0, keyBytes.length, 0, 0, -1);
    else this.#keep(keySource, 0, keyBytes.length, this.#source(value), 0, value.length);
  }

  /** Index of `buf` among the byte sources (consecutive records mostly share one). */
  #source(buf: Buffer): number {
    if (buf !== this.#lastBuf) {
      this.#bufs.push(buf);
      this.#lastBuf = buf;
    }
    return this.#bufs.length - 1;
  }

  #keep(
    keySource: number,
    keyStart: number,
    keyLength: number,
    valueSource: number,
    valueStart: number,
    valueLength: number,
  ): void {
    let pos = this.#pos;
    const at = this.#count * REC;
    if (at + REC > pos.length) {
      const grown = new Int32Array(pos.length * 2);
      grown.set(pos);
      this.#pos = pos = grown;
    }
    pos[at] = keySource;
    pos[at + 1] = keyStart;
    pos[at + 2] = keyLength;
    pos[at + 3] = valueSource;
    pos[at + 4] = valueStart;
    pos[at + 5] = valueLength;
    this.#count++;
  }

  /**
   * Hands the records kept since the previous call to an engine in an incremental restore
   * (FlowEngine.restoreBegin() .. restoreEnd()) as positions in the fetched bytes: called after each fetch,
   * the engine loads what was read while the next fetch is on its way. The engine sees the records of
   * `sequence` in the same order, so it ends as restoreEncoded(sequence) would.
   */
  loadInto(engine: FlowEngine, codec: FlowStateCodec, where: string): void {
    const count = this.#count;
    if (count === this.#loaded) return;
    engine.restoreRecords(this.#bufs, this.#pos, this.#loaded, count, codec, where);
    this.#loaded = count;
  }

  /**
   * Every (key, value) in offset order, the marker left out (null: tombstone), for FlowEngine.restoreEncoded:
   * iterate it (pairs are built as they are iterated), do not index it.
   */
  get sequence(): Iterable<readonly [key: string, value: Buffer | null]> {
    return ChangelogPairs.over(this.#bufs, this.#pos, this.#count);
  }

  /** The newest value of each key (null: tombstone), the marker left out, in first-seen order. */
  get latest(): ReadonlyMap<string, Buffer | null> {
    const latest = new Map<string, Buffer | null>();
    for (const [key, value] of this.sequence) latest.set(key, value);
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
    for (let at = (this.#count - 1) * REC; at >= 0 && out.size < want.size; at -= REC) {
      const [key, value] = pairAt(this.#bufs, this.#pos, at);
      if (want.has(key) && !out.has(key)) out.set(key, value);
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

/**
 * Before the next fetch is loaded: table room for the partition's estimated final size, `records` (the
 * offsets to read) times the share of the records loaded so far that were new flows, so that the table grows
 * once or twice instead of ×1.5 at a time (a 300,000-flow restore spent a fifth of its time copying the table
 * and rehashing its index). Grown only when the estimate passes what was reserved (`reserved`), then to 10 %
 * above it: the estimate drifts from fetch to fetch, and every growth copies the whole table. At most 8× the
 * flows loaded so far: a compacted head followed by an active segment full of updates of the same flows would
 * otherwise reserve for every update. Returns the room reserved now.
 */
function reserveEstimate(engine: FlowEngine, loaded: number, records: number, reserved: number): number {
  if (loaded === 0) return reserved;
  const flows = engine.size;
  const estimate = Math.ceil((flows / loaded) * records);
  if (estimate <= reserved) return reserved;
  const room = Math.min(Math.ceil(estimate * 1.1), 8 * flows);
  if (room <= reserved) return reserved;
  engine.restoreReserve(room);
  return room;
}

/**
 * Most flows a restore reserves table room for before reading (~23 MB of table and index): beyond it the
 * table grows as flows come (×1.5 each time).
 */
const RESERVE_MAX = 131_072;

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
  /**
   * Of durationMs: reading and folding the changelog (engine time left out); loading the records into the
   * engine (decoding values, the flow table, the timer heaps), mostly while the next fetch is on its way.
   */
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
  const started = performance.now();
  const where = `${req.topic}[${req.partition}]`;
  const fold = new ChangelogFold(where);
  // Straight from the changelog bytes into the flow table (no key string, value view or decoded object per
  // flow), fetch by fetch: the engine loads one response while the broker sends the next.
  const engine = req.createEngine();
  // Table room for the records to read (a compacted changelog holds about one per flow), up to a bound: a
  // changelog whose active segment holds many superseded values of few flows must not reserve for them all.
  let reserved = Math.min(req.toOffset - req.fromOffset, RESERVE_MAX);
  engine.restoreBegin(reserved);
  let loadMs = 0;
  // An error of the engine (a corrupt changelog value) is kept and thrown after the read, as before the loads
  // moved into the read: thrown into the reader, the kafkajs fallback would retry the batch (folding its
  // records twice) instead of failing the read.
  let loadError: { error: unknown } | undefined;
  const records = req.toOffset - req.fromOffset;
  const load = (): void => {
    if (loadError !== undefined) return;
    const t = performance.now();
    try {
      reserved = reserveEstimate(engine, fold.loaded, records, reserved);
      fold.loadInto(engine, req.codec, where);
    } catch (error) {
      loadError = { error };
    }
    loadMs += performance.now() - t;
  };
  if (req.toOffset > req.fromOffset) {
    const onProgress = req.onProgress;
    const result = await req.reader.readRecords({
      partition: req.partition,
      fromOffset: req.fromOffset,
      toOffset: req.toOffset,
      idleTimeoutMs: req.idleTimeoutMs ?? 60_000,
      onRecord: (r) => fold.addRecord(r),
      onProgress:
        onProgress === undefined
          ? load
          : () => {
              load();
              return onProgress(fold.records);
            },
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
  if (loadError !== undefined) throw loadError.error;
  const t = performance.now();
  fold.loadInto(engine, req.codec, where);
  engine.restoreEnd();
  loadMs += performance.now() - t;
  const durationMs = Math.round(performance.now() - started);
  const loadRounded = Math.min(Math.round(loadMs), durationMs);
  return {
    engine,
    marker: fold.marker,
    claim: fold.claim,
    staleRecords: fold.staleRecords,
    repairs: fold.repairs(),
    markerStale: fold.markerStale,
    records: fold.records,
    entries: engine.size,
    durationMs,
    readMs: durationMs - loadRounded,
    loadMs: loadRounded,
  };
}
