/**
 * The flow engine: conntrack observations in, flow records and changelog states out. Pure and
 * deterministic: no clock, no I/O; time arrives as data. The same engine serves the embedded mode,
 * each Kafka processor partition and replay (docs/timestamps.md explains the rules with examples).
 *
 * Design decisions (normative text: DESIGN.md "Timestamp semantics", "Export semantics"):
 *
 * - Flow = flowKey(): node, zone, protocol, original tuple. Within a key, a different conntrack id,
 *   a different kernel start stamp, counters going backwards, or a new boot id of the node means a
 *   new connection: the old one is ended as end of flow (3) with what is known, then the new one
 *   starts from zero, so no delta is ever negative or double counted.
 * - Event time per node = max(observation times, watermarks) of that node. Per node, input must be
 *   in time order: an observation older than its node's event time is late (replayed/duplicate)
 *   and ignored, counted in stats.lateObservations. A node whose event time lags the newest
 *   node's by nodeTimeoutUs is presumed gone: its flows are force-ended (4) and dropped.
 * - Timers fire on the node's newest watermark (its timer horizon, NodeState.watermarkUs), never on
 *   an observation: counters reach the engine only in dumps, and the agent's watermark after a
 *   dump cycle says "everything up to here, counters included, was observed". Were an event of
 *   another flow allowed to fire a timer, a flow whose idle deadline falls between two dumps would
 *   be ended (zero-delta idle record, series split) just before the dump showing its new packets.
 *   A watermark older than the node's event time (events observed after the dump ended) still
 *   raises the horizon. Endings the input states (DESTROY, TCP close seen, id reuse, reboot) act at
 *   once; a DESTROYed remnant met again later than its DESTROY is dropped then, as its timer would.
 *   One exception, for the observed flow only: its own observation past its active (or max-life)
 *   deadline reports the interval before that observation is applied, so an active record covers
 *   at most one active timeout (what the flow's next dump reveals may lie after the deadline).
 * - Idempotent: an observation at the same instant as the flow's newest one only merges
 *   (counters max per direction, no identity change); anything older is late. A flow's state is
 *   only dropped once its node's time has passed its last observation, so a duplicate can never
 *   resurrect it.
 * - Timers per flow (one valid heap entry per flow, O(log n); lazy deletion, deadlines that move
 *   later are not re-pushed): idle = last growth + idle timeout; active at origin + k·A (origin =
 *   the flow's own start, so reports spread); max life at origin + maxLife (cuts the series,
 *   reason 2, the next traffic starts a new series with recordIndex 0); TCP end of flow at
 *   TIME_WAIT/CLOSE + endGrace (or at DESTROY if sooner); removal after DESTROY (when the node's
 *   time passes it) or after forgetAfter without observation once nothing is left to report.
 * - Times: a counter growth is attributed to the observation that revealed it, except: after
 *   TIME_WAIT/CLOSE it is attributed to the close (late final ACKs), and growth first revealed by
 *   a DESTROY is attributed to the flow's previous observation (the destroy comes a conntrack
 *   timeout after the last packet; the kernel stop stamp is never used). Record start = the
 *   connection start for a connection's first record (kernel stamp, else NEW time, else first
 *   observation, then firstSeenMidLife = true), else the first growth of the interval; record end
 *   = the close for end of flow of a closed TCP flow, else the newest growth. Hence
 *   0 < start ≤ end ≤ the releasing node time, and records of a flow never overlap.
 * - TCP end of flow: the end-of-flow record goes out endGrace after TIME_WAIT/CLOSE (or at DESTROY);
 *   the flow then stays as a closed remnant until DESTROY, so final counters that grow after the
 *   record (final ACK, retransmitted FIN) are reported in one more end-of-flow record (start = end
 *   = the close) at DESTROY. Deltas thus add up exactly to the kernel's final counters.
 * - Counters: delta = current − exported per direction; active records with zero delta are
 *   suppressed unless suppressZeroDeltaActive = false; a node without accounting yields records
 *   with delta/total null, and "activity" is then its events and TCP state changes.
 * - State: per-flow FlowState and per-node NodeState (node clock, boot id, seq counter), emitted by
 *   drain() at most once per changed key; restore() rebuilds heaps from them, and because timers
 *   are ordered by (deadline, seq) a restored engine behaves exactly like one that never stopped.
 */
import { CtflowError } from '../errors.js';
import { DIRTY, F_STRIDE, Flag, FlowTable, Fx, tcpCode, U_STRIDE, Ux } from './flow-table.js';
import { readFlowState, writeDecodedState, writeFlowState } from './flow-state.js';
import { checkNodeName, flowKey, isNodeStateKey, nodeOfFlowKey, nodeStateKey } from './key.js';
import { flowHash, flowHashOfKey } from './key-index.js';
import { ObservationV1Decoder, ObservationV1Reader } from '../codec/observation-v1-decoder.js';
import {
  encodeKey,
  encodeKeyFields,
  encodeKeyString,
  KEY_WORDS,
  keyWordsHash,
  parseIPv4Bytes,
} from './tuple-key.js';
import { NodeClock } from './node-clock.js';
import { resolveEngineOptions } from './options.js';
import {
  DecodedState,
  decodeStateAt,
  decodeStateInto,
  type FlowStateCodec,
  KeyBytes,
  SN,
} from './state-codec.js';
import { barAt, encodeKeyBytes, NodesByBytes, nameBytesHash } from './key-bytes.js';
import { buildRecord, isNat, isPlainInversion } from './record.js';
import { ChangeWriter, type EncodedChanges } from './change-writer.js';
import {
  type Counters,
  type EngineOptions,
  type EngineOutput,
  type EngineStats,
  FlowEndReason,
  type FlowEngineApi,
  type FlowRecord,
  type FlowState,
  type FlowStateEntry,
  type NodeState,
  type Observation,
  type Watermark,
} from './types.js';

/**
 * Observations looked up together by observeBatch(): enough misses in flight to hide most of their
 * latency, few enough that the rows touched (~170 B each) are still in cache when applied.
 */
const BATCH_CHUNK = 256;
/** Kernel start stamps before 2000-01-01 are treated as absent (e.g. a zero time). */
const MIN_PLAUSIBLE_US = 946_684_800_000_000;
const TIME_WAIT = tcpCode('TIME_WAIT');
const CLOSE = tcpCode('CLOSE');
const TCP = 6;
/** Progress rank of TCP state codes (index = tcpCode), for merging observations of one instant. */
const TCP_RANK: readonly number[] = [0, 1, 3, 4, 5, 6, 7, 8, 9, 2, 0, 0, 0, 0, 0, -1];

function badObservation(obs: Observation, field: string, value: unknown, expected: string): CtflowError {
  return new CtflowError('OBSERVATION_INVALID', `observation of ${obs.node}: ${field} = ${String(value)}`, {
    details: { node: obs.node, conntrackId: obs.conntrackId, field, value, expected },
  });
}

function checkTime(obs: Observation | Watermark, t: number): void {
  if (!Number.isSafeInteger(t) || t <= 0) {
    throw new CtflowError('OBSERVATION_INVALID', `time of ${obs.node} = ${t}`, {
      details: {
        node: obs.node,
        field: 'timeUs',
        value: t,
        expected: 'a positive integer µs since the epoch',
      },
    });
  }
}

function checkCounters(obs: Observation, c: Counters): void {
  if (
    !(Number.isSafeInteger(c.origPackets) && c.origPackets >= 0) ||
    !(Number.isSafeInteger(c.origBytes) && c.origBytes >= 0) ||
    !(Number.isSafeInteger(c.replyPackets) && c.replyPackets >= 0) ||
    !(Number.isSafeInteger(c.replyBytes) && c.replyBytes >= 0)
  ) {
    throw badObservation(obs, 'counters', JSON.stringify(c), 'non-negative integers');
  }
}

/** A usable kernel start stamp of `obs`, or 0. */
function kernelStart(obs: Observation): number {
  const k = obs.kernelStartUs;
  return k !== null && k >= MIN_PLAUSIBLE_US && k <= obs.timeUs ? k : 0;
}

/** Ints per record in restoreRecords()' position table. */
const REC_INTS = 6;
/** restoreRecords(): how a record of a chunk is applied. */
const SKIP = 0;
const AS_TEXT = 1;
const NARROW = 2;

/** State of an incremental restore (restoreBegin() .. restoreEnd()). */
class Restoring {
  /** The value reader's output, reused. */
  readonly d = new DecodedState();
  /** restoreEncodedChunk(): the pending chunk. */
  readonly keys: string[] = [];
  readonly values: (Buffer | null)[] = [];
  /** restoreRecords(): per record of a chunk, its kind, its node if met already, its first '|'. */
  readonly kinds = new Uint8Array(BATCH_CHUNK);
  readonly nodes: (NodeClock | undefined)[] = new Array<NodeClock | undefined>(BATCH_CHUNK).fill(undefined);
  readonly bars = new Int32Array(BATCH_CHUNK);
  /** Nodes by the bytes of their name in keys. */
  readonly byBytes = new NodesByBytes<NodeClock>();
  /** The key of the value being decoded, for error messages. */
  readonly key = new KeyBytes();
  /** restoreRecords(): the slots a chunk wrote, then timer entries appended for them (#restoreTimers()). */
  readonly written = new Int32Array(BATCH_CHUNK);
  /** Timer entries appended so far (restoreEnd() compares it with the flow count). */
  timers = 0;
  /** A flow was replaced or removed by a later value (its timer entry, if any, is stale). */
  released = false;
}

function notRestoring(method: string): CtflowError {
  return new CtflowError('CONFIG_INVALID', `${method}() without restoreBegin()`, {
    details: { method, expected: 'restoreBegin() first' },
  });
}

/** The flow engine (see the module comment for its rules). */
export class FlowEngine implements FlowEngineApi {
  readonly #o: EngineOptions;
  readonly #nodes = new Map<string, NodeClock>();
  readonly #nodeList: NodeClock[] = [];
  readonly #t: FlowTable;
  /** Key words of the observation being processed (observe()). */
  readonly #kw = new Uint32Array(KEY_WORDS);
  /** observeBatch() scratch: key words and hashes (-1 = not prefetched) of a chunk. */
  readonly #batchWords = new Uint32Array(BATCH_CHUNK * KEY_WORDS);
  readonly #batchHashes = new Float64Array(BATCH_CHUNK);
  /** Keeps the prefetching loads of observeBatch() from being optimised away. */
  #sink = 0;
  /** observeEncoded(): its reader, the message being applied, and the full decoder (rare cases). */
  readonly #reader = new ObservationV1Reader();
  /** observeEncodedBatch(): one reader per message of a chunk (created on first use). */
  #readers: ObservationV1Reader[] = [];
  #encBytes: Buffer | undefined;
  /** The reused Observation that #encBytes was read into (#whole() decodes the bytes fully). */
  #encObs: Observation | undefined;
  #encStart = 0;
  readonly #decoder = new ObservationV1Decoder();
  /** restoreBegin() .. restoreEnd(): the reader's scratch and the pending chunk. */
  #restoring: Restoring | undefined;
  /** Node of the previous restored flow key. */
  #restoreLast: NodeClock | undefined;
  /** drainEncoded(): the writer of its codec (made on first use). */
  #changeWriter: ChangeWriter | undefined;
  #records: FlowRecord[] = [];
  #dirtySlots: number[] = [];
  #dirtyNodes: NodeClock[] = [];
  #removed: string[] = [];
  #globalMaxUs = 0;
  #nextNodeCheckUs = Number.POSITIVE_INFINITY;
  readonly #stats: EngineStats = {
    lateObservations: 0,
    sameInstantConflicts: 0,
    counterResets: 0,
    connectionReplaced: 0,
    reboots: 0,
    nodesGone: 0,
    records: 0,
  };

  constructor(options: Partial<EngineOptions> = {}) {
    this.#o = resolveEngineOptions(options);
    this.#t = new FlowTable(this.#nodeList, this.#o.activeTimeoutUs);
  }

  get size(): number {
    return this.#t.size;
  }

  /**
   * At least the number of changelog entries the next drain() returns: flows and nodes changed and flow keys
   * removed since the last drain (or drainRecords()). O(1), so a caller can bound what it will drain (the
   * processor's commit size) without tracking keys itself.
   */
  get pendingChanges(): number {
    return this.#dirtySlots.length + this.#dirtyNodes.length + this.#removed.length;
  }

  get stats(): Readonly<EngineStats> {
    return this.#stats;
  }

  /** The resolved options. */
  get options(): Readonly<EngineOptions> {
    return this.#o;
  }

  observe(obs: Observation): void {
    const t = obs.timeUs;
    checkTime(obs, t);
    const node = this.#node(obs.node);
    if (!this.#admit(node, obs.bootId, t)) {
      this.#stats.lateObservations++;
      return;
    }
    const w = this.#kw;
    if (encodeKey(obs.zone, obs.protocol, obs.orig, w, 0)) this.#observeNarrow(obs, node, w, 0);
    else this.#observeWide(obs, node);
  }

  /**
   * observe() of the observation.v1 Avro body at bytes[start..] (the message value after its
   * single-object header, whose fingerprint the caller checked is observation.v1's): the same
   * records, states, stats and errors as observe() of what ObservationV1Decoder makes of it, without
   * building that Observation for the common case (an update of a tracked IPv4 flow): the fields
   * are read into one reused object and the flow's key words straight from the address bytes. A new
   * flow, a new connection on a key or a wide (IPv6) flow decodes the message fully first.
   * False, with nothing done, when the bytes are not exactly one valid v1 body (decode() would
   * return undefined): the caller decodes them with its codec, which names the error.
   */
  observeEncoded(bytes: Buffer, start: number): boolean {
    const r = this.#reader;
    if (!r.read(bytes, start)) return false;
    this.#encBytes = bytes;
    this.#encObs = r.obs;
    this.#encStart = start;
    try {
      this.#applyRead(r, bytes, -1);
    } finally {
      this.#encBytes = undefined;
      this.#encObs = undefined;
    }
    return true;
  }

  /**
   * observeEncoded() of messages[from..to) in order (`start` = the body's offset in every message),
   * faster: as observeBatch() does, the flows of a chunk of messages are read and looked up
   * together first so that their cache misses overlap, then applied one by one. Returns the index
   * of the first message observeEncoded() would decline (false: not exactly one valid
   * observation.v1 body), with every message before it applied and nothing done for it or after
   * it; `to` when all were applied. The caller decodes the declined message with its codec (for
   * the error) and calls again from the next index. Errors are observe()'s, at the same message,
   * the earlier ones applied.
   */
  observeEncodedBatch(messages: readonly Buffer[], start: number, from = 0, to = messages.length): number {
    const readers = this.#readers;
    while (readers.length < BATCH_CHUNK) readers.push(new ObservationV1Reader());
    for (let i = from; i < to; ) {
      const end = Math.min(to, i + BATCH_CHUNK);
      const words = this.#batchWords;
      const hashes = this.#batchHashes;
      // Pass 1: read the chunk's messages (each into its own reader) and their key words and
      // index hashes; stops at a declined message. Reads only the messages.
      let n = 0;
      let lastName: string | undefined;
      let lastNode: NodeClock | undefined;
      for (; i + n < end; n++) {
        const bytes = messages[i + n] as Buffer;
        const r = readers[n] as ObservationV1Reader;
        if (!r.read(bytes, start)) break;
        hashes[n] = -1;
        const obs = r.obs;
        if (obs.node !== lastName) {
          lastName = obs.node;
          lastNode = this.#nodes.get(lastName);
        }
        if (lastNode !== undefined && this.#encodedWords(r, bytes, words, n * KEY_WORDS)) {
          hashes[n] = keyWordsHash(lastNode.hash, words, n * KEY_WORDS);
        }
      }
      // Passes 2 and 3: index buckets, then candidate rows.
      this.#prefetch(n);
      // Pass 4: observeEncoded() itself, in order, on warm memory.
      for (let j = 0; j < n; j++) {
        const r = readers[j] as ObservationV1Reader;
        const bytes = messages[i + j] as Buffer;
        this.#encBytes = bytes;
        this.#encObs = r.obs;
        this.#encStart = start;
        try {
          this.#applyRead(r, bytes, (hashes[j] as number) >= 0 ? j * KEY_WORDS : -1);
        } finally {
          this.#encBytes = undefined;
          this.#encObs = undefined;
        }
      }
      i += n;
      if (i < end) return i; // declined
    }
    return to;
  }

  /**
   * The flow key words of the narrow flow `r` read from `bytes` into w[at..); false for a wide flow
   * (IPv6, unusual fields), w then unspecified.
   */
  #encodedWords(r: ObservationV1Reader, bytes: Buffer, w: Uint32Array, at: number): boolean {
    const obs = r.obs;
    const o = obs.orig;
    const t = r.orig;
    const src = parseIPv4Bytes(bytes, t.srcFrom, t.srcTo);
    const dst = src < 0 ? -1 : parseIPv4Bytes(bytes, t.dstFrom, t.dstTo);
    return (
      dst >= 0 &&
      encodeKeyFields(
        obs.zone,
        obs.protocol,
        src,
        dst,
        o.srcPort,
        o.dstPort,
        o.icmpType,
        o.icmpCode,
        o.icmpId,
        w,
        at,
      )
    );
  }

  /**
   * observe() of what `r` read from `bytes` (#encBytes/#encObs set); `pre` ≥ 0: its narrow key
   * words are #batchWords[pre..) already.
   */
  #applyRead(r: ObservationV1Reader, bytes: Buffer, pre: number): void {
    const obs = r.obs;
    const t = obs.timeUs;
    checkTime(obs, t);
    const node = this.#node(obs.node);
    if (!this.#admit(node, obs.bootId, t)) {
      this.#stats.lateObservations++;
      return;
    }
    if (pre >= 0) this.#observeNarrow(obs, node, this.#batchWords, pre);
    else if (this.#encodedWords(r, bytes, this.#kw, 0)) this.#observeNarrow(obs, node, this.#kw, 0);
    else this.#observeWide(this.#whole(obs), node);
  }

  /**
   * `obs` itself, or when it is observeEncoded()'s reused object (addresses not decoded), the full
   * Observation decoded from the same message bytes.
   */
  #whole(obs: Observation): Observation {
    const bytes = this.#encBytes;
    if (bytes === undefined || obs !== this.#encObs) return obs;
    const full = this.#decoder.decode(bytes, this.#encStart);
    if (full === undefined) {
      // Cannot happen: the reader accepted these bytes with the decoder's own checks.
      throw new CtflowError(
        'CODEC_DECODE',
        'observation.v1 body accepted by the reader, refused by the decoder',
        {
          details: {
            offset: this.#encStart,
            expected: 'ObservationV1Reader and ObservationV1Decoder to agree',
          },
        },
      );
    }
    return full;
  }

  /**
   * Exactly observe() on each observation in order (same records, states and errors), faster: the
   * flows of a chunk are looked up together first, so that their cache misses (index bucket, flow
   * row) overlap instead of following one another. Those first passes only read memory; the
   * observations are then applied one by one, so a flow seen twice in a batch sees its own update,
   * and timers fire exactly where observe() would fire them.
   */
  observeBatch(observations: readonly Observation[]): void {
    const n = observations.length;
    for (let from = 0; from < n; from += BATCH_CHUNK) {
      this.#observeChunk(observations, from, Math.min(n, from + BATCH_CHUNK));
    }
  }

  #observeChunk(list: readonly Observation[], from: number, to: number): void {
    const words = this.#batchWords;
    const hashes = this.#batchHashes;
    // Pass 1: key words and index hashes (reads only the observations). 0 = not prefetched: a node
    // not met yet (meeting it is observe()'s business) or a wide flow.
    let lastName: string | undefined;
    let lastNode: NodeClock | undefined;
    for (let i = from; i < to; i++) {
      const j = i - from;
      const obs = list[i] as Observation;
      hashes[j] = -1;
      if (obs.node !== lastName) {
        lastName = obs.node;
        lastNode = this.#nodes.get(lastName);
      }
      if (lastNode === undefined) continue;
      const at = j * KEY_WORDS;
      if (encodeKey(obs.zone, obs.protocol, obs.orig, words, at)) {
        hashes[j] = keyWordsHash(lastNode.hash, words, at);
      }
    }
    this.#prefetch(to - from);
    // Pass 4: observe() itself, in order, on warm memory.
    for (let i = from; i < to; i++) {
      const obs = list[i] as Observation;
      const time = obs.timeUs;
      checkTime(obs, time);
      const node = this.#node(obs.node);
      if (!this.#admit(node, obs.bootId, time)) {
        this.#stats.lateObservations++;
        continue;
      }
      const j = i - from;
      if ((hashes[j] as number) >= 0) this.#observeNarrow(obs, node, words, j * KEY_WORDS);
      else {
        const w = this.#kw;
        if (encodeKey(obs.zone, obs.protocol, obs.orig, w, 0)) this.#observeNarrow(obs, node, w, 0);
        else this.#observeWide(obs, node);
      }
    }
  }

  /**
   * Passes 2 and 3 of a batch: touches the home index buckets of the first `n` hashes of
   * #batchHashes (≥ 0; -1 = skip), then the candidate rows (every cache line of the row the apply
   * pass reads). Independent loads the CPU keeps in flight together; only reads.
   */
  #prefetch(n: number): void {
    const t = this.#t;
    const hashes = this.#batchHashes;
    // Pass 2: the home buckets.
    const { table, mask } = t.index;
    let sink = 0;
    for (let j = 0; j < n; j++) {
      const h = hashes[j] as number;
      if (h >= 0) sink ^= table[h & mask] as number;
    }
    // Pass 3: the candidate rows (every cache line of the row the apply pass reads); the buckets
    // are in cache now, only the rows miss.
    const u = t.u;
    for (let j = 0; j < n; j++) {
      const h = hashes[j] as number;
      if (h < 0) continue;
      const tag = (h & 0xff000000) >>> 0;
      for (let i = h & mask, probes = 0; probes < 4; i = (i + 1) & mask, probes++) {
        const v = table[i] as number;
        if (v === 0) break;
        if ((v & 0xff000000) >>> 0 !== tag) continue;
        const ub = ((v & 0xffffff) - 1) * U_STRIDE;
        sink ^= (u[ub] as number) ^ (u[ub + 16] as number) ^ (u[ub + U_STRIDE - 1] as number);
        break;
      }
    }
    this.#sink ^= sink;
  }

  /** An admitted observation of a narrow flow whose key words are `w[at..)`. */
  #observeNarrow(obs: Observation, node: NodeClock, w: Uint32Array, at: number): void {
    const h = keyWordsHash(node.hash, w, at);
    const slot = this.#t.findWords(w, at, node.idx, h);
    if (slot < 0) this.#create(obs, h, node, w, at, undefined);
    else this.#apply(slot, obs, h, node, w, at);
  }

  /** An admitted observation of a wide flow (IPv6, unusual fields): identity = its key string. */
  #observeWide(obs: Observation, node: NodeClock): void {
    const h = flowHash(node.hash, obs.zone, obs.protocol, obs.orig);
    const slot = this.#t.findWide(obs, node.idx, h);
    if (slot < 0) this.#create(obs, h, node, this.#kw, 0, flowKey(obs));
    else this.#apply(slot, obs, h, node, this.#kw, 0);
  }

  watermark(wm: Watermark): void {
    const t = wm.timeUs;
    checkTime(wm, t);
    const node = this.#node(wm.node);
    // The dump cycle's watermark may be older than events observed after the dump ended: it is
    // not late as a timer horizon (it only moves event time when newer).
    if (node.bootId === wm.bootId && t < node.eventTimeUs && !node.gone) this.#release(node, t);
    else if (this.#admit(node, wm.bootId, t)) this.#release(node, t);
  }

  /** Raises `node`'s timer horizon to `t` and fires the timers due by then. */
  #release(node: NodeClock, t: number): void {
    if (t <= node.watermarkUs) return;
    node.watermarkUs = t;
    this.#markNode(node);
    if (node.heap.topDeadline() <= t) this.#fire(node, t);
  }

  shutdown(): void {
    const nodes = [...this.#nodeList].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const node of nodes) this.#endAll(node, FlowEndReason.forcedEnd);
  }

  drain(): EngineOutput {
    const changes: FlowStateEntry[] = [];
    for (const node of this.#dirtyNodes) {
      node.dirty = false;
      changes.push({ key: nodeStateKey(node.name), state: { flow: null, node: node.toState() } });
    }
    this.#dirtyNodes = [];
    const t = this.#t;
    const dirty = this.#dirtySlots;
    for (let from = 0; from < dirty.length; from += BATCH_CHUNK) {
      const to = Math.min(dirty.length, from + BATCH_CHUNK);
      // The rows of a chunk first (read-only loads whose misses overlap, as in observeBatch()).
      this.#touchRows(dirty, from, to);
      for (let i = from; i < to; i++) {
        const slot = dirty[i] as number;
        const fi = slot * U_STRIDE + Ux.flags;
        const word = t.u[fi] as number;
        t.u[fi] = (word & ~DIRTY) >>> 0;
        if (word & Flag.live) {
          changes.push({ key: t.keyOf(slot), state: { flow: readFlowState(t, slot), node: null } });
        }
      }
    }
    this.#dirtySlots = [];
    if (this.#removed.length > 0) {
      for (const key of new Set(this.#removed)) {
        const node = this.#nodes.get(nodeOfFlowKey(key)) as NodeClock;
        if (this.#findKey(key, node) < 0) changes.push({ key, state: null });
      }
      this.#removed = [];
    }
    const records = this.#records;
    this.#records = [];
    return { records, changes };
  }

  /**
   * drain() with the changelog entries as message bytes: the same records, and the same entries in the
   * same order, each as its key's UTF-8 bytes and FlowStateCodec.encode() of its state (`codec`: the
   * processor's changelog codec), written from the flow rows without the FlowStateEntry/FlowState
   * objects and key strings drain() builds per changed flow. Clears the pending changes as drain() does.
   */
  drainEncoded(codec: FlowStateCodec): { records: FlowRecord[]; changes: EncodedChanges } {
    let w = this.#changeWriter;
    if (w === undefined || w.codec !== codec) {
      w = new ChangeWriter(codec);
      this.#changeWriter = w;
    }
    for (const node of this.#dirtyNodes) {
      node.dirty = false;
      w.add(nodeStateKey(node.name), codec.encode({ flow: null, node: node.toState() }));
    }
    this.#dirtyNodes = [];
    const t = this.#t;
    const dirty = this.#dirtySlots;
    for (let from = 0; from < dirty.length; from += BATCH_CHUNK) {
      const to = Math.min(dirty.length, from + BATCH_CHUNK);
      this.#touchRows(dirty, from, to);
      for (let i = from; i < to; i++) {
        const slot = dirty[i] as number;
        const fi = slot * U_STRIDE + Ux.flags;
        const word = t.u[fi] as number;
        t.u[fi] = (word & ~DIRTY) >>> 0;
        if (!(word & Flag.live)) continue;
        const node = this.#nodeList[t.u[slot * U_STRIDE + Ux.node] as number] as NodeClock;
        if (!w.addFlow(t, slot, node.name)) {
          w.add(t.keyOf(slot), codec.encode({ flow: readFlowState(t, slot), node: null }));
        }
      }
    }
    this.#dirtySlots = [];
    if (this.#removed.length > 0) {
      for (const key of new Set(this.#removed)) {
        const node = this.#nodes.get(nodeOfFlowKey(key)) as NodeClock;
        if (this.#findKey(key, node) < 0) w.add(key, null);
      }
      this.#removed = [];
    }
    const records = this.#records;
    this.#records = [];
    return { records, changes: w.take() };
  }

  /** Loads every cache line of the rows of slots[from..to) (only reads: their misses overlap). */
  #touchRows(slots: readonly number[], from: number, to: number): void {
    const u = this.#t.u;
    let sink = 0;
    for (let i = from; i < to; i++) {
      const ub = (slots[i] as number) * U_STRIDE;
      sink ^= (u[ub] as number) ^ (u[ub + 16] as number) ^ (u[ub + U_STRIDE - 1] as number);
    }
    this.#sink ^= sink;
  }

  /**
   * Records released since the last drain, without building changelog states (the embedded mode
   * keeps no changelog). Clears the pending changes as drain() does.
   */
  drainRecords(): FlowRecord[] {
    for (const node of this.#dirtyNodes) node.dirty = false;
    this.#dirtyNodes = [];
    const t = this.#t;
    for (const slot of this.#dirtySlots) {
      const fi = slot * U_STRIDE + Ux.flags;
      t.u[fi] = ((t.u[fi] as number) & ~DIRTY) >>> 0;
    }
    this.#dirtySlots = [];
    this.#removed = [];
    const records = this.#records;
    this.#records = [];
    return records;
  }

  snapshot(): FlowStateEntry[] {
    const out: FlowStateEntry[] = [];
    for (const node of this.#nodeList) {
      out.push({ key: nodeStateKey(node.name), state: { flow: null, node: node.toState() } });
    }
    const t = this.#t;
    for (let slot = 0; slot < t.highWater; slot++) {
      if (t.isLive(slot))
        out.push({ key: t.keyOf(slot), state: { flow: readFlowState(t, slot), node: null } });
    }
    return out;
  }

  restore(entries: Iterable<FlowStateEntry>): void {
    this.#checkEmpty();
    if (Array.isArray(entries)) this.#t.reserve(entries.length);
    // The last value of a key wins: a compacted topic may still hold older values and tombstones.
    for (const { key, state } of entries) {
      if (state !== null && state.node !== null) {
        this.#restoreNode(state.node);
        continue;
      }
      if (isNodeStateKey(key)) continue;
      const n = this.#restoreNodeOf(key);
      const live = state !== null && state.flow !== null;
      const slot = this.#restoreKey(key, n, live);
      if (!live) continue;
      const s = state.flow as FlowState;
      writeFlowState(this.#t, slot, s);
      if (s.seq + 1 > n.nextSeq) n.nextSeq = s.seq + 1;
      if (s.lastSeenUs > n.eventTimeUs) n.eventTimeUs = s.lastSeenUs;
    }
    this.#buildHeaps();
  }

  /**
   * restore() straight from changelog messages (key, value bytes; null = tombstone), e.g. the
   * newest value per key folded from the changelog: the same engine as restore() of the entries
   * codec.decodeEntry() makes, and the same errors (a foreign or unknown-fingerprint value throws
   * CODEC_DECODE naming `where` and the key), without an object per flow: each value is decoded
   * by a reader specialised to schemas/flowstate.v2.avsc (and v1) straight into the flow table.
   * `sizeHint`: the number of entries when `entries` is neither a Map nor an Array (table room is
   * reserved for it once instead of growing); an overestimate only costs memory, so pass at most
   * the real count.
   */
  restoreEncoded(
    entries: Iterable<readonly [key: string, value: Buffer | null]>,
    codec: FlowStateCodec,
    where = 'changelog message',
    sizeHint = 0,
  ): void {
    this.restoreBegin(
      entries instanceof Map ? entries.size : Array.isArray(entries) ? entries.length : sizeHint,
    );
    this.restoreEncodedChunk(entries, codec, where);
    this.restoreEnd();
  }

  /**
   * Starts an incremental restoreEncoded(): restoreEncodedChunk() any number of times (e.g. one per
   * fetched batch of the changelog, while the next is on its way), then restoreEnd(). The result is
   * restoreEncoded() of all chunks' entries concatenated in order (the last value of a key wins
   * across chunks). `sizeHint`: the expected number of entries (table room reserved once; an
   * overestimate only costs memory). The engine must be empty; until restoreEnd() it must not be
   * used otherwise, and after an error it is to be discarded (as after a failed restore()).
   */
  restoreBegin(sizeHint = 0): void {
    this.#checkEmpty();
    if (sizeHint > 0) this.#t.reserve(sizeHint);
    this.#restoring = new Restoring();
  }

  /**
   * During an incremental restore: table room for `flows` flows in all, when that is more than the table
   * holds (an estimate of the final size, e.g. from the share of the records loaded so far that were new
   * flows). The table and its index grow once to it, instead of ×1.5 at a time as records come: each growth
   * copies the whole table and rehashes the index.
   */
  restoreReserve(flows: number): void {
    if (this.#restoring === undefined) throw notRestoring('restoreReserve');
    const t = this.#t;
    if (flows > t.size) t.reserve(flows - t.size);
  }

  /** The next entries of an incremental restore (see restoreBegin()); same errors as restoreEncoded(). */
  restoreEncodedChunk(
    entries: Iterable<readonly [key: string, value: Buffer | null]>,
    codec: FlowStateCodec,
    where = 'changelog message',
  ): void {
    const r = this.#restoring;
    if (r === undefined) throw notRestoring('restoreEncodedChunk');
    const { d, keys, values } = r;
    const add = (value: Buffer | null, key: string): void => {
      keys.push(key);
      values.push(value);
      if (keys.length === BATCH_CHUNK) this.#restoreChunk(keys, values, codec, where, d);
    };
    // forEach: no [key, value] array per entry, as for-of over a Map makes.
    if (entries instanceof Map) (entries as Map<string, Buffer | null>).forEach(add);
    else for (const [key, value] of entries) add(value, key);
    this.#restoreChunk(keys, values, codec, where, d);
  }

  /**
   * The next records of an incremental restore (see restoreBegin()) as positions in fetched bytes, e.g. one
   * call per Kafka fetch response. Record i in [from, to) is pos[6i .. 6i + 6) = key source (index in
   * `bufs`), key start, key length (-1: no key, skipped), value source, value start, value length (-1:
   * tombstone). The same engine and errors as restoreEncodedChunk() of (the key bytes as UTF-8 text, the
   * value bytes) in that order, without a key string or a Buffer per record: narrow keys are parsed from
   * their bytes into key words and values decoded in place (a key is made into text only when it is wide,
   * has no '|', or for an error message). Table room for `to - from` more flows is reserved first.
   */
  restoreRecords(
    bufs: readonly Buffer[],
    pos: Int32Array,
    from: number,
    to: number,
    codec: FlowStateCodec,
    where = 'changelog message',
  ): void {
    const r = this.#restoring;
    if (r === undefined) throw notRestoring('restoreRecords');
    // Room for every record as a new flow; when the table must grow, by ×1.5 at least (a restore beyond its
    // size hint calls this once per fetch: growing by one fetch each time would copy the table every time).
    const t = this.#t;
    const n = to - from;
    if (n > 0 && t.size + n > t.f.length / F_STRIDE) t.reserve(Math.max(n, t.size >> 1));
    for (let i = from; i < to; i += BATCH_CHUNK) {
      this.#restoreRecordChunk(bufs, pos, i, Math.min(to, i + BATCH_CHUNK), codec, where, r);
    }
  }

  /**
   * restoreRecords() of at most BATCH_CHUNK records: key words and hashes first (nodes met already only, as
   * #restoreChunk()), their index buckets touched, then each record applied in order.
   */
  #restoreRecordChunk(
    bufs: readonly Buffer[],
    pos: Int32Array,
    from: number,
    to: number,
    codec: FlowStateCodec,
    where: string,
    r: Restoring,
  ): void {
    this.#restoreKeyPass(bufs, pos, from, to, r);
    const words = this.#batchWords;
    const hashes = this.#batchHashes;
    const { kinds, nodes } = r;
    const t = this.#t;
    const d = r.d;
    const kb = r.key;
    const written = r.written;
    let w = 0;
    for (let i = from, j = 0; i < to; i++, j++) {
      const kind = kinds[j] as number;
      if (kind === SKIP) continue;
      const p = i * REC_INTS;
      const b = bufs[pos[p] as number] as Buffer;
      const keyStart = pos[p + 1] as number;
      const keyEnd = keyStart + (pos[p + 2] as number);
      const valueLength = pos[p + 5] as number;
      if (kind === AS_TEXT) {
        this.#restoreTextRecord(bufs, pos, p, codec, where, d);
        continue;
      }
      if (valueLength < 0) d.kind = 0;
      else {
        const vs = pos[p + 4] as number;
        kb.buf = b;
        kb.start = keyStart;
        kb.end = keyEnd;
        decodeStateAt(codec, bufs[pos[p + 3] as number] as Buffer, vs, vs + valueLength, d, where, kb);
        if (d.node !== null) {
          this.#restoreNode(d.node);
          continue;
        }
      }
      const at = j * KEY_WORDS;
      if (nodes[j] === undefined) this.#restoreKeyNode(b, keyStart, j, r);
      const n = nodes[j] as NodeClock;
      const h = hashes[j] as number;
      const previous = t.findWords(words, at, n.idx, h);
      if (previous >= 0) {
        t.release(previous);
        r.released = true;
      }
      if (d.kind !== 1) continue;
      const slot = t.alloc(words, at, undefined, n.idx, h);
      writeDecodedState(t, slot, d);
      written[w++] = slot;
      const seq = d.n[SN.seq] as number;
      const lastSeen = d.n[SN.lastSeenUs] as number;
      if (seq + 1 > n.nextSeq) n.nextSeq = seq + 1;
      if (lastSeen > n.eventTimeUs) n.eventTimeUs = lastSeen;
    }
    this.#restoreTimers(written, w, r);
  }

  /**
   * The timer entries of the flows #restoreRecordChunk() has just written (their rows still in cache): what
   * #buildHeaps() would append for them at restoreEnd(), which then only orders the heaps unless a later
   * value replaced a flow (see restoreEnd()). Saves a pass over the whole table that re-read every row. A
   * loop of its own after the chunk's: in the apply loop, #deadline() took its inlining budget (see
   * #restoreKeyPass()) and made it slower than the pass it saved.
   */
  #restoreTimers(written: Int32Array, count: number, r: Restoring): void {
    const t = this.#t;
    const nodes = this.#nodeList;
    for (let k = 0; k < count; k++) {
      const slot = written[k] as number;
      const d = this.#deadline(slot);
      t.f[slot * F_STRIDE + Fx.heapDeadline] = d;
      const ub = slot * U_STRIDE;
      (nodes[t.u[ub + Ux.node] as number] as NodeClock).heap.append(d, t.u[ub + Ux.seq] as number, slot);
    }
    r.timers += count;
  }

  /**
   * A record of #restoreRecordChunk() whose key is made into text (wide, no '|'): as restoreEncodedChunk().
   * A method of its own so its Buffer calls are not counted in the apply loop's inlining budget unless TurboFan
   * inlines it whole (see #restoreKeyPass()).
   */
  #restoreTextRecord(
    bufs: readonly Buffer[],
    pos: Int32Array,
    p: number,
    codec: FlowStateCodec,
    where: string,
    d: DecodedState,
  ): void {
    const keyStart = pos[p + 1] as number;
    const key = (bufs[pos[p] as number] as Buffer).toString(
      'utf8',
      keyStart,
      keyStart + (pos[p + 2] as number),
    );
    const valueLength = pos[p + 5] as number;
    const vs = pos[p + 4] as number;
    const value =
      valueLength < 0 ? null : (bufs[pos[p + 3] as number] as Buffer).subarray(vs, vs + valueLength);
    this.#restoreEncodedOne(key, value, codec, where, d, -1);
  }

  /**
   * Record j of #restoreRecordChunk() whose node the first pass had not met: its node (met or created now,
   * in record order) into r.nodes[j], its key hash into #batchHashes[j]. Out of line (see #restoreKeyPass()).
   */
  #restoreKeyNode(b: Buffer, keyStart: number, j: number, r: Restoring): void {
    const n = this.#restoreNodeBytes(b, keyStart, r.bars[j] as number, r.byBytes);
    r.nodes[j] = n;
    this.#batchHashes[j] = keyWordsHash(n.hash, this.#batchWords, j * KEY_WORDS);
  }

  /**
   * #restoreRecordChunk()'s read-only first passes: each record's kind, key words, node (if met already) and
   * hash, then the index buckets of those hashes touched so their cache misses overlap. A method of its own
   * (as the apply loop's rare paths, #restoreTextRecord() and #restoreKeyNode()): TurboFan inlines callees
   * into a function up to a cumulative budget (920 bytecode bytes) in order of call frequency, and here the
   * key hash alone (keyWordsHash() and its five mix() calls) took ~520 of them, so the apply loop's per-flow
   * findWords() was called, not inlined (--trace-turbo-inlining); now it is inlined. Measured gain: small
   * (bench/RESULTS.md, "Restore: inlining budget").
   */
  #restoreKeyPass(bufs: readonly Buffer[], pos: Int32Array, from: number, to: number, r: Restoring): void {
    const words = this.#batchWords;
    const hashes = this.#batchHashes;
    const { kinds, nodes, bars, byBytes } = r;
    for (let i = from, j = 0; i < to; i++, j++) {
      hashes[j] = -1;
      nodes[j] = undefined;
      const p = i * REC_INTS;
      const keyLength = pos[p + 2] as number;
      if (keyLength < 0) {
        kinds[j] = SKIP;
        continue;
      }
      const b = bufs[pos[p] as number] as Buffer;
      const keyStart = pos[p + 1] as number;
      const keyEnd = keyStart + keyLength;
      const bar = barAt(b, keyStart, keyEnd);
      if (bar < 0 || !encodeKeyBytes(b, bar + 1, keyEnd, words, j * KEY_WORDS)) {
        kinds[j] = AS_TEXT;
        continue;
      }
      kinds[j] = NARROW;
      bars[j] = bar;
      const node = byBytes.get(b, keyStart, bar, nameBytesHash(b, keyStart, bar));
      if (node === undefined) continue;
      nodes[j] = node;
      hashes[j] = keyWordsHash(node.hash, words, j * KEY_WORDS);
    }
    const { table, mask } = this.#t.index;
    let sink = 0;
    for (let j = 0; j < to - from; j++) {
      const h = hashes[j] as number;
      if (h >= 0) sink ^= table[h & mask] as number;
    }
    this.#sink ^= sink;
  }

  /** The node whose name is the UTF-8 text b[from, to) (met or created, as #restoreNodeOf()). */
  #restoreNodeBytes(b: Buffer, from: number, to: number, byBytes: NodesByBytes<NodeClock>): NodeClock {
    const h = nameBytesHash(b, from, to);
    let node = byBytes.get(b, from, to, h);
    if (node === undefined) {
      node = this.#node(b.toString('utf8', from, to));
      byBytes.set(b, from, to, h, node);
    }
    return node;
  }

  /** Ends an incremental restore (see restoreBegin()): builds the timer heaps; the engine is ready. */
  restoreEnd(): void {
    const r = this.#restoring;
    if (r === undefined) throw notRestoring('restoreEnd');
    this.#restoring = undefined;
    // restoreRecords() gave each flow its timer entry as it wrote the row (see #restoreTimers()). They are the
    // entries #buildHeaps() would append, in the same order, when every live flow got one and none was
    // released: the table was empty, so slots were then taken in order and each row written once, last.
    if (!r.released && r.timers === this.#t.size) {
      this.#orderHeaps();
      return;
    }
    for (const node of this.#nodeList) node.heap.clear();
    this.#buildHeaps();
  }

  /**
   * Restores a chunk of entries in order, as #restoreEncodedOne() one by one, after two read-only
   * passes that make their cache misses overlap (as observeBatch() does): the key strings and value
   * bytes (scattered objects of the consumer), then the index buckets of flow keys whose node is
   * known already. The key words parsed there are reused.
   */
  #restoreChunk(
    keys: string[],
    values: (Buffer | null)[],
    codec: FlowStateCodec,
    where: string,
    d: DecodedState,
  ): void {
    const n = keys.length;
    const words = this.#batchWords;
    const hashes = this.#batchHashes;
    let sink = 0;
    let last: NodeClock | undefined;
    for (let j = 0; j < n; j++) {
      hashes[j] = -1;
      const key = keys[j] as string;
      const value = values[j] as Buffer | null;
      if (value !== null) sink ^= value[value.length - 1] as number;
      const bar = key.indexOf('|');
      if (bar < 0) continue;
      // Only nodes met already: meeting a node (its index) is the in-order pass's business.
      if (last === undefined || bar !== last.name.length || !key.startsWith(last.name)) {
        last = this.#nodes.get(key.slice(0, bar));
        if (last === undefined) continue;
      }
      const at = j * KEY_WORDS;
      if (encodeKeyString(key, words, at)) hashes[j] = keyWordsHash(last.hash, words, at);
    }
    const { table, mask } = this.#t.index;
    for (let j = 0; j < n; j++) {
      const h = hashes[j] as number;
      if (h >= 0) sink ^= table[h & mask] as number;
    }
    this.#sink ^= sink;
    for (let j = 0; j < n; j++) {
      const pre = (hashes[j] as number) >= 0 ? j * KEY_WORDS : -1;
      this.#restoreEncodedOne(keys[j] as string, values[j] as Buffer | null, codec, where, d, pre);
    }
    keys.length = 0;
    values.length = 0;
  }

  /** One restored entry; `pre` ≥ 0: its key words are #batchWords[pre..) (its node is known). */
  #restoreEncodedOne(
    key: string,
    value: Buffer | null,
    codec: FlowStateCodec,
    where: string,
    d: DecodedState,
    pre: number,
  ): void {
    if (value === null) d.kind = 0;
    else decodeStateInto(codec, value, d, where, key);
    if (value !== null && d.node !== null) {
      this.#restoreNode(d.node);
      return;
    }
    if (isNodeStateKey(key)) return;
    const n = this.#restoreNodeOf(key);
    const live = d.kind === 1;
    const slot =
      pre >= 0 ? this.#restoreWords(this.#batchWords, pre, n, live) : this.#restoreKey(key, n, live);
    if (!live) return;
    writeDecodedState(this.#t, slot, d);
    const seq = d.n[SN.seq] as number;
    const lastSeen = d.n[SN.lastSeenUs] as number;
    if (seq + 1 > n.nextSeq) n.nextSeq = seq + 1;
    if (lastSeen > n.eventTimeUs) n.eventTimeUs = lastSeen;
  }

  #checkEmpty(): void {
    if (this.#restoring !== undefined) {
      throw new CtflowError(
        'CONFIG_INVALID',
        'a restore is in progress (restoreBegin() without restoreEnd())',
        {
          details: { flows: this.#t.size, nodes: this.#nodeList.length },
        },
      );
    }
    if (this.#t.size > 0 || this.#nodeList.length > 0) {
      throw new CtflowError('CONFIG_INVALID', 'restore() needs an empty flow engine', {
        details: { flows: this.#t.size, nodes: this.#nodeList.length },
      });
    }
  }

  #restoreNode(s: NodeState): void {
    const n = this.#node(s.node);
    n.bootId = s.bootId;
    n.eventTimeUs = Math.max(n.eventTimeUs, s.eventTimeUs);
    n.nextSeq = Math.max(n.nextSeq, s.nextSeq);
    n.gone = s.gone;
    n.horizonUs = s.horizonUs;
    n.watermarkUs = s.watermarkUs;
  }

  /** Node of a flow key; consecutive entries are mostly of one node: no name lookup then. */
  #restoreNodeOf(key: string): NodeClock {
    const last = this.#restoreLast;
    if (last !== undefined && key.startsWith(last.name) && key.charCodeAt(last.name.length) === 124)
      return last;
    const node = this.#node(nodeOfFlowKey(key));
    this.#restoreLast = node;
    return node;
  }

  /** #restoreKey() of a narrow key whose words are `w[at..)`. */
  #restoreWords(w: Uint32Array, at: number, n: NodeClock, live: boolean): number {
    const t = this.#t;
    const h = keyWordsHash(n.hash, w, at);
    const previous = t.findWords(w, at, n.idx, h);
    if (previous >= 0) this.#restoreRelease(previous);
    return live ? t.alloc(w, at, undefined, n.idx, h) : -1;
  }

  /** Frees the slot of a flow a later restored value replaces (noted for restoreEnd()). */
  #restoreRelease(slot: number): void {
    this.#t.release(slot);
    if (this.#restoring !== undefined) this.#restoring.released = true;
  }

  /** Drops an earlier value of `key`; when `live`, a fresh slot for it (else -1). */
  #restoreKey(key: string, n: NodeClock, live: boolean): number {
    const t = this.#t;
    const w = this.#kw;
    const narrow = encodeKeyString(key, w, 0);
    const h = narrow ? keyWordsHash(n.hash, w, 0) : flowHashOfKey(n.hash, key);
    const previous = narrow ? t.findWords(w, 0, n.idx, h) : t.findWideKey(key, n.idx, h);
    if (previous >= 0) this.#restoreRelease(previous);
    return live ? t.alloc(w, 0, narrow ? undefined : key, n.idx, h) : -1;
  }

  /** One timer entry per restored flow, then each node's heap ordered once (O(n)). */
  #buildHeaps(): void {
    const t = this.#t;
    for (let slot = 0; slot < t.highWater; slot++) {
      if (!t.isLive(slot)) continue;
      const d = this.#deadline(slot);
      t.f[slot * F_STRIDE + Fx.heapDeadline] = d;
      const ub = slot * U_STRIDE;
      const node = this.#nodeList[t.u[ub + Ux.node] as number] as NodeClock;
      node.heap.append(d, t.u[ub + Ux.seq] as number, slot);
    }
    this.#orderHeaps();
  }

  /** #buildHeaps()' end, once every live flow has its one timer entry: each node's heap ordered (O(n)). */
  #orderHeaps(): void {
    this.#restoreLast = undefined;
    for (const node of this.#nodeList) {
      node.heap.heapify();
      this.#globalMaxUs = Math.max(this.#globalMaxUs, node.eventTimeUs);
    }
    this.#recomputeNodeCheck();
  }

  /** The slot of flow key `key` of `node`, or -1. */
  #findKey(key: string, node: NodeClock): number {
    const w = this.#kw;
    if (encodeKeyString(key, w, 0)) return this.#t.findWords(w, 0, node.idx, keyWordsHash(node.hash, w, 0));
    return this.#t.findWideKey(key, node.idx, flowHashOfKey(node.hash, key));
  }

  // ---- nodes and event time ----

  #node(name: string): NodeClock {
    let node = this.#nodes.get(name);
    if (node === undefined) {
      checkNodeName(name);
      node = new NodeClock(this.#nodeList.length, name, this.#o.observationDomainId(name));
      this.#nodes.set(name, node);
      this.#nodeList.push(node);
    }
    return node;
  }

  #markNode(node: NodeClock): void {
    if (!node.dirty) {
      node.dirty = true;
      this.#dirtyNodes.push(node);
    }
  }

  /**
   * Moves `node`'s event time to `t` (timers fire on watermarks only) unless `t` is late; handles a boot id
   * change (reboot: every flow of the node ends). False when the input is late.
   */
  #admit(node: NodeClock, bootId: string, t: number): boolean {
    if (t < node.eventTimeUs || (t === node.eventTimeUs && node.gone)) return false;
    if (node.bootId !== bootId) {
      if (node.bootId !== '') {
        // Stragglers of the old boot at the very instant we already are: late.
        if (t === node.eventTimeUs) return false;
        this.#advance(node, t);
        // The old boot's stream is complete (its conntrack table is gone): its flows' timers due
        // by now fire as a watermark would fire them, then what is left ends.
        this.#release(node, t);
        this.#stats.reboots++;
        this.#endAll(node, FlowEndReason.endOfFlow);
      }
      node.bootId = bootId;
      this.#markNode(node);
    }
    this.#advance(node, t);
    return true;
  }

  #advance(node: NodeClock, t: number): void {
    if (node.gone) {
      node.gone = false;
      this.#markNode(node);
    }
    if (t > node.eventTimeUs) {
      node.eventTimeUs = t;
      this.#markNode(node);
    }
    const timeout = this.#o.nodeTimeoutUs;
    if (timeout > 0) {
      if (t + timeout < this.#nextNodeCheckUs) this.#nextNodeCheckUs = t + timeout;
      if (t > this.#globalMaxUs) {
        this.#globalMaxUs = t;
        if (t > this.#nextNodeCheckUs) this.#checkNodes();
      }
    } else if (t > this.#globalMaxUs) this.#globalMaxUs = t;
  }

  /** Nodes lagging the newest by more than nodeTimeoutUs are presumed gone: forced end. */
  #checkNodes(): void {
    const max = this.#globalMaxUs;
    const timeout = this.#o.nodeTimeoutUs;
    const gone = this.#nodeList
      .filter((n) => !n.gone && max - n.eventTimeUs > timeout)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const node of gone) {
      this.#endAll(node, FlowEndReason.forcedEnd);
      node.gone = true;
      node.horizonUs = Math.max(node.horizonUs, node.eventTimeUs);
      // Its flows ended at its event time, as if a watermark had come then: a lagging watermark
      // of before that changes nothing once the node speaks again (duplicates stay harmless).
      node.watermarkUs = Math.max(node.watermarkUs, node.eventTimeUs);
      this.#stats.nodesGone++;
      this.#markNode(node);
    }
    this.#recomputeNodeCheck();
  }

  #recomputeNodeCheck(): void {
    let next = Number.POSITIVE_INFINITY;
    const timeout = this.#o.nodeTimeoutUs;
    if (timeout > 0) {
      for (const n of this.#nodeList)
        if (!n.gone && n.eventTimeUs + timeout < next) next = n.eventTimeUs + timeout;
    }
    this.#nextNodeCheckUs = next;
  }

  /** Ends every flow of `node` (reboot, presumed gone, shutdown) in seq order and drops them. */
  #endAll(node: NodeClock, reason: FlowEndReason): void {
    const t = this.#t;
    const slots: number[] = [];
    node.heap.forEach((slot, seq, deadline) => {
      if (this.#valid(slot, seq, deadline, node.idx)) slots.push(slot);
    });
    slots.sort((a, b) => (t.u[a * U_STRIDE + Ux.seq] as number) - (t.u[b * U_STRIDE + Ux.seq] as number));
    let prev = -1;
    for (const slot of slots) {
      // A flow can have two identical valid entries (pushed again at a deadline it had before).
      if (slot === prev) continue;
      prev = slot;
      const flags = t.u[slot * U_STRIDE + Ux.flags] as number;
      if (this.#reportable(slot))
        this.#emit(slot, flags & Flag.closed ? FlowEndReason.endOfFlow : reason, node);
      this.#remove(slot);
    }
    node.heap.clear();
  }

  // ---- timers ----

  /** The slot still holds the flow of `seq` on node `nodeIdx` (not removed, not reused). */
  #alive(slot: number, seq: number, nodeIdx: number): boolean {
    const u = this.#t.u;
    const ub = slot * U_STRIDE;
    return (
      ((u[ub + Ux.flags] as number) & Flag.live) !== 0 &&
      u[ub + Ux.seq] === seq &&
      u[ub + Ux.node] === nodeIdx
    );
  }

  /** A heap entry is the flow's valid one: same occupant and it is the deadline last pushed. */
  #valid(slot: number, seq: number, deadline: number, nodeIdx: number): boolean {
    return this.#alive(slot, seq, nodeIdx) && this.#t.f[slot * F_STRIDE + Fx.heapDeadline] === deadline;
  }

  /** Pushes the flow's one valid timer entry at `deadline` (earlier entries become stale). */
  #push(node: NodeClock, slot: number, deadline: number): void {
    const t = this.#t;
    t.f[slot * F_STRIDE + Fx.heapDeadline] = deadline;
    node.heap.push(deadline, t.u[slot * U_STRIDE + Ux.seq] as number, slot);
  }

  /** When the flow next needs attention (a pure function of its state). */
  #deadline(slot: number): number {
    const f = this.#t.f;
    const b = slot * F_STRIDE;
    const flags = this.#t.u[slot * U_STRIDE + Ux.flags] as number;
    const o = this.#o;
    if (flags & Flag.destroyed) return (f[b + Fx.endMark] as number) + 1;
    if (flags & Flag.closed) {
      return flags & Flag.endReported
        ? (f[b + Fx.lastSeen] as number) + o.forgetAfterUs
        : (f[b + Fx.endMark] as number) + o.endGraceUs;
    }
    if (flags & Flag.quiet) return (f[b + Fx.lastSeen] as number) + o.forgetAfterUs;
    let d = (f[b + Fx.lastChange] as number) + o.idleTimeoutUs;
    if (!o.suppressZeroDeltaActive || this.#pending(slot)) d = Math.min(d, this.#t.nextActive(slot));
    if (o.maxLifeUs > 0) d = Math.min(d, (f[b + Fx.origin] as number) + o.maxLifeUs);
    return d;
  }

  #fire(node: NodeClock, now: number): void {
    const h = node.heap;
    while (h.size > 0 && h.topDeadline() <= now) {
      const d = h.topDeadline();
      const seq = h.topSeq();
      const slot = h.topSlot();
      h.pop();
      if (!this.#valid(slot, seq, d, node.idx)) continue;
      const due = this.#deadline(slot);
      if (due === d) {
        this.#expire(slot, node, now);
        if (!this.#alive(slot, seq, node.idx)) continue; // removed
        this.#markSlot(slot);
      }
      // An early entry (its deadline moved later) goes back at its real deadline, even if that is
      // due too: flows then fire in (deadline, seq) order however the heap was built.
      this.#push(node, slot, due === d ? this.#deadline(slot) : due);
    }
  }

  /** Acts on the flow's earliest due timer. */
  #expire(slot: number, node: NodeClock, now: number): void {
    const t = this.#t;
    const f = t.f;
    const b = slot * F_STRIDE;
    const fi = slot * U_STRIDE + Ux.flags;
    const flags = t.u[fi] as number;
    const o = this.#o;
    if (flags & Flag.destroyed) {
      this.#remove(slot);
    } else if (flags & Flag.closed) {
      if (!(flags & Flag.endReported)) {
        this.#emit(slot, FlowEndReason.endOfFlow, node);
        t.u[fi] = (t.u[fi] as number) | Flag.endReported;
      } else {
        if (this.#pending(slot)) this.#emit(slot, FlowEndReason.endOfFlow, node);
        this.#forget(slot, node);
      }
    } else if (flags & Flag.quiet) {
      this.#forget(slot, node);
    } else {
      const pending = this.#pending(slot);
      const idleDue = (f[b + Fx.lastChange] as number) + o.idleTimeoutUs;
      const activeDue = pending || !o.suppressZeroDeltaActive ? t.nextActive(slot) : Number.POSITIVE_INFINITY;
      const maxDue = o.maxLifeUs > 0 ? (f[b + Fx.origin] as number) + o.maxLifeUs : Number.POSITIVE_INFINITY;
      if (idleDue <= activeDue && idleDue <= maxDue) {
        if (pending) this.#emit(slot, FlowEndReason.idleTimeout, node);
        t.u[fi] = (t.u[fi] as number) | Flag.quiet;
      } else if (activeDue <= maxDue) {
        this.#emit(slot, FlowEndReason.activeTimeout, node);
        t.setNextActive(slot, this.#phase(f[b + Fx.origin] as number, now));
      } else {
        // Max life: cut the series; the next growth starts a new one (recordIndex 0).
        if (pending) this.#emit(slot, FlowEndReason.activeTimeout, node);
        f[b + Fx.origin] = 0;
        t.u[fi] = ((t.u[fi] as number) | Flag.quiet) & ~(Flag.needFirst | Flag.firstSeries);
      }
    }
  }

  /**
   * The flow's own observation at `time` is past its active (or max-life) deadline: the interval
   * up to that deadline is reported before the observation is applied, so an active record never
   * covers more than one active timeout (growth this observation reveals may lie after the
   * deadline). Only the observed flow is touched, and only by the deadlines that bound an interval
   * in time: idle stays for the watermark (growth shown by the flow's next dump means it was not
   * idle as far as anyone can tell).
   */
  #cutInterval(slot: number, node: NodeClock, time: number): void {
    const t = this.#t;
    const f = t.f;
    const b = slot * F_STRIDE;
    const o = this.#o;
    const pending = this.#pending(slot);
    const activeDue = pending || !o.suppressZeroDeltaActive ? t.nextActive(slot) : Number.POSITIVE_INFINITY;
    const origin = f[b + Fx.origin] as number;
    const maxDue = o.maxLifeUs > 0 ? origin + o.maxLifeUs : Number.POSITIVE_INFINITY;
    if (activeDue > time && maxDue > time) return;
    const fi = slot * U_STRIDE + Ux.flags;
    if (activeDue <= maxDue) {
      this.#emit(slot, FlowEndReason.activeTimeout, node);
      t.setNextActive(slot, this.#phase(origin, time));
    } else {
      // Max life: cut the series; this observation's growth starts a new one (recordIndex 0).
      if (pending) this.#emit(slot, FlowEndReason.activeTimeout, node);
      f[b + Fx.origin] = 0;
      t.u[fi] = ((t.u[fi] as number) | Flag.quiet) & ~(Flag.needFirst | Flag.firstSeries);
    }
  }

  /** The first active-timeout instant after `t` in the phase of `origin`. */
  #phase(origin: number, t: number): number {
    const a = this.#o.activeTimeoutUs;
    return origin + a * (Math.floor((t - origin) / a) + 1);
  }

  #schedule(slot: number, node: NodeClock): void {
    const d = this.#deadline(slot);
    const cur = this.#t.f[slot * F_STRIDE + Fx.heapDeadline] as number;
    if (cur === 0 || d < cur) {
      // Even a deadline the horizon has passed already (max life of a connection older than its
      // first observation) waits for the next watermark: only a newer watermark fires timers, so
      // an observation, duplicate or not, never does.
      this.#push(node, slot, d);
    }
  }

  // ---- flows ----

  #pending(slot: number): boolean {
    return (
      ((this.#t.u[slot * U_STRIDE + Ux.flags] as number) & Flag.needFirst) !== 0 ||
      (this.#t.f[slot * F_STRIDE + Fx.intervalStart] as number) > 0
    );
  }

  #reportable(slot: number): boolean {
    const flags = this.#t.u[slot * U_STRIDE + Ux.flags] as number;
    return this.#pending(slot) || (flags & (Flag.closed | Flag.endReported)) === Flag.closed;
  }

  #markSlot(slot: number): void {
    const t = this.#t;
    const fi = slot * U_STRIDE + Ux.flags;
    const word = t.u[fi] as number;
    if ((word & DIRTY) === 0) {
      t.u[fi] = (word | DIRTY) >>> 0;
      this.#dirtySlots.push(slot);
    }
  }

  /** Drops a flow not observed for forgetAfter; raises the node's horizon (see NodeState). */
  #forget(slot: number, node: NodeClock): void {
    const lastSeen = this.#t.f[slot * F_STRIDE + Fx.lastSeen] as number;
    if (lastSeen > node.horizonUs) {
      node.horizonUs = lastSeen;
      this.#markNode(node);
    }
    this.#remove(slot);
  }

  #remove(slot: number): void {
    const t = this.#t;
    this.#removed.push(t.keyOf(slot));
    t.release(slot);
  }

  #create(
    obs: Observation,
    h: number,
    node: NodeClock,
    w: Uint32Array,
    at: number,
    wideKey: string | undefined,
  ): void {
    obs = this.#whole(obs);
    const c = obs.counters;
    if (c !== null) checkCounters(obs, c);
    const t = this.#t;
    const slot = t.alloc(w, at, wideKey, node.idx, h);
    const f = t.f;
    const b = slot * F_STRIDE;
    const ub = slot * U_STRIDE;
    const time = obs.timeUs;
    let ks = kernelStart(obs);
    // Started before a flow of its node was dropped (node presumed gone, flow forgotten): its
    // traffic may have been reported already, so its kernel stamp cannot start what we report now.
    if (ks > 0 && ks <= node.horizonUs) ks = 0;
    const connStart = ks > 0 ? ks : time;
    const destroy = obs.kind === 'DESTROY';
    const state = tcpCode(obs.tcpState);
    let flags = Flag.live | Flag.needFirst | Flag.firstSeries;
    if (c !== null) flags |= Flag.hasCounters;
    if (ks > 0) flags |= Flag.hasKernelStart;
    else if (obs.kind !== 'NEW') flags |= Flag.midLife;
    if (!isPlainInversion(obs.orig, obs.reply)) {
      t.replies.set(slot, obs.reply);
      if (isNat(obs.orig, obs.reply)) flags |= Flag.nat;
    }
    // A flow first met at its DESTROY: nothing better than its start is known about its packets.
    const a = destroy ? connStart : time;
    if (obs.protocol === TCP && !destroy && (state === TIME_WAIT || state === CLOSE)) {
      flags |= Flag.closed;
      f[b + Fx.endMark] = time;
    }
    t.u[ub + Ux.conntrackId] = obs.conntrackId >>> 0;
    t.u[ub + Ux.mark] = obs.mark >>> 0;
    t.u[ub + Ux.recordIndex] = 0;
    t.u[ub + Ux.flags] = (((t.u[ub + Ux.flags] as number) & DIRTY) | flags | (state << 16)) >>> 0;
    f[b + Fx.connStart] = connStart;
    f[b + Fx.origin] = connStart;
    f[b + Fx.intervalStart] = a;
    f[b + Fx.lastChange] = a;
    f[b + Fx.lastSeen] = time;
    t.setNextActive(slot, this.#phase(connStart, time));
    f[b + Fx.heapDeadline] = 0;
    t.u[ub + Ux.seq] = node.nextSeq >>> 0;
    node.nextSeq++;
    if (c !== null) {
      f[b + Fx.cur] = c.origPackets;
      f[b + Fx.cur + 1] = c.origBytes;
      f[b + Fx.cur + 2] = c.replyPackets;
      f[b + Fx.cur + 3] = c.replyBytes;
    }
    if (destroy) this.#destroy(slot, node, time);
    this.#markNode(node);
    this.#markSlot(slot);
    this.#schedule(slot, node);
  }

  #destroy(slot: number, node: NodeClock, time: number): void {
    const t = this.#t;
    if (this.#reportable(slot)) this.#emit(slot, FlowEndReason.endOfFlow, node);
    const fi = slot * U_STRIDE + Ux.flags;
    t.u[fi] = (t.u[fi] as number) | Flag.destroyed;
    t.f[slot * F_STRIDE + Fx.endMark] = time;
  }

  #apply(slot: number, obs: Observation, h: number, node: NodeClock, w: Uint32Array, at: number): void {
    const t = this.#t;
    const f = t.f;
    const b = slot * F_STRIDE;
    const ub = slot * U_STRIDE;
    let flags = t.u[ub + Ux.flags] as number;
    const time = obs.timeUs;
    const lastSeen = f[b + Fx.lastSeen] as number;
    if (flags & Flag.destroyed) {
      if (time <= lastSeen) return; // same instant as its DESTROY: a duplicate
      // Later than its DESTROY: a new connection on the tuple. The remnant (reported at DESTROY)
      // goes now rather than at the next watermark, exactly what its removal timer would do.
      this.#renew(slot, obs, h, node, w, at);
      return;
    }
    const same = time === lastSeen;
    const c = obs.counters;
    if (c !== null) checkCounters(obs, c);
    const hasCounters = (flags & Flag.hasCounters) !== 0 && c !== null;
    if (obs.conntrackId >>> 0 !== t.u[ub + Ux.conntrackId]) {
      if (same) {
        this.#stats.sameInstantConflicts++;
        return;
      }
      this.#stats.connectionReplaced++;
      this.#replace(slot, obs, h, node, w, at);
      return;
    }
    if (!same) {
      const ks = kernelStart(obs);
      if (ks > 0 && flags & Flag.hasKernelStart && ks !== f[b + Fx.connStart]) {
        this.#stats.connectionReplaced++;
        this.#replace(slot, obs, h, node, w, at);
        return;
      }
      // Met first at its NEW event (events carry no kernel stamp): the first dump's stamp is the real
      // start, earlier than the event's print time, and still usable while nothing was reported.
      if (
        ks > 0 &&
        !(flags & Flag.hasKernelStart) &&
        (flags & (Flag.needFirst | Flag.firstSeries)) === (Flag.needFirst | Flag.firstSeries) &&
        !(flags & Flag.midLife) &&
        ks <= (f[b + Fx.connStart] as number) &&
        ks > node.horizonUs
      ) {
        f[b + Fx.connStart] = ks;
        flags |= Flag.hasKernelStart;
      }
      if (
        hasCounters &&
        (c.origPackets < (f[b + Fx.cur] as number) ||
          c.origBytes < (f[b + Fx.cur + 1] as number) ||
          c.replyPackets < (f[b + Fx.cur + 2] as number) ||
          c.replyBytes < (f[b + Fx.cur + 3] as number))
      ) {
        this.#stats.counterResets++;
        this.#replace(slot, obs, h, node, w, at);
        return;
      }
      if (!(flags & (Flag.closed | Flag.quiet))) {
        t.u[ub + Ux.flags] = flags >>> 0;
        this.#cutInterval(slot, node, time);
        flags = t.u[ub + Ux.flags] as number;
      }
    }
    let grew = false;
    if (hasCounters) {
      const cur = b + Fx.cur;
      if (c.origPackets > (f[cur] as number)) {
        f[cur] = c.origPackets;
        grew = true;
      }
      if (c.origBytes > (f[cur + 1] as number)) {
        f[cur + 1] = c.origBytes;
        grew = true;
      }
      if (c.replyPackets > (f[cur + 2] as number)) {
        f[cur + 2] = c.replyPackets;
        grew = true;
      }
      if (c.replyBytes > (f[cur + 3] as number)) {
        f[cur + 3] = c.replyBytes;
        grew = true;
      }
    }
    const state = tcpCode(obs.tcpState);
    const oldState = (flags >>> 16) & 15;
    const destroy = obs.kind === 'DESTROY';
    if (!(flags & Flag.hasCounters) && !same && (obs.kind !== 'POLL' || state !== oldState)) grew = true;
    let closedNow = false;
    if (
      obs.protocol === TCP &&
      !destroy &&
      !(flags & Flag.closed) &&
      (state === TIME_WAIT || state === CLOSE)
    ) {
      flags |= Flag.closed;
      f[b + Fx.endMark] = time;
      closedNow = true;
    }
    let changed = grew || closedNow || time > lastSeen || destroy;
    if (grew || closedNow) {
      const a =
        flags & Flag.closed
          ? (f[b + Fx.endMark] as number)
          : destroy
            ? Math.max(lastSeen, f[b + Fx.lastChange] as number)
            : time;
      if (flags & Flag.quiet) {
        flags &= ~Flag.quiet;
        if ((f[b + Fx.origin] as number) === 0) {
          // New series after max life.
          f[b + Fx.origin] = a;
          flags |= Flag.needFirst;
          t.u[ub + Ux.recordIndex] = 0;
        }
        t.setNextActive(slot, this.#phase(f[b + Fx.origin] as number, time));
      }
      if ((f[b + Fx.intervalStart] as number) === 0) f[b + Fx.intervalStart] = a;
      if (a > (f[b + Fx.lastChange] as number)) f[b + Fx.lastChange] = a;
    }
    // At the same instant the order of two observations is unknown: keep the later TCP state
    // (by progress rank) and the first mark, so that duplicates commute.
    if (obs.tcpState !== null && state !== oldState && (!same || TCP_RANK[state]! > TCP_RANK[oldState]!)) {
      flags = (flags & ~0xf0000) | (state << 16);
      changed = true;
    }
    if (!same && obs.mark >>> 0 !== t.u[ub + Ux.mark]) {
      t.u[ub + Ux.mark] = obs.mark >>> 0;
      changed = true;
    }
    t.u[ub + Ux.flags] = flags >>> 0;
    if (time > lastSeen) f[b + Fx.lastSeen] = time;
    if (destroy) this.#destroy(slot, node, time);
    if (changed) {
      this.#markSlot(slot);
      this.#schedule(slot, node);
    }
  }

  /** The key's connection is another one now: end the old as end of flow, start the new. */
  #replace(slot: number, obs: Observation, h: number, node: NodeClock, w: Uint32Array, at: number): void {
    if (this.#reportable(slot)) this.#emit(slot, FlowEndReason.endOfFlow, node);
    this.#renew(slot, obs, h, node, w, at);
  }

  /** Drops the flow in `slot` and starts the key's next connection from `obs`. */
  #renew(slot: number, obs: Observation, h: number, node: NodeClock, w: Uint32Array, at: number): void {
    const wideKey = this.#t.isWide(slot) ? this.#t.keyOf(slot) : undefined;
    this.#remove(slot);
    this.#create(obs, h, node, w, at, wideKey);
  }

  /** Emits the record of the flow's current interval. */
  #emit(slot: number, reason: FlowEndReason, node: NodeClock): void {
    const t = this.#t;
    const f = t.f;
    const b = slot * F_STRIDE;
    const fi = slot * U_STRIDE + Ux.flags;
    const flags = t.u[fi] as number;
    const first = (flags & (Flag.needFirst | Flag.firstSeries)) === (Flag.needFirst | Flag.firstSeries);
    const closed = (flags & Flag.closed) !== 0;
    const intervalStart = f[b + Fx.intervalStart] as number;
    const lastChange = f[b + Fx.lastChange] as number;
    const endMark = f[b + Fx.endMark] as number;
    let start: number;
    if (first) start = f[b + Fx.connStart] as number;
    else if (intervalStart > 0) start = intervalStart;
    else start = closed ? endMark : lastChange;
    let end = closed ? endMark : lastChange;
    if (end < start) end = start;
    const midLife = first && (flags & Flag.midLife) !== 0;
    this.#records.push(buildRecord(t, slot, reason, start, end, midLife, node));
    this.#stats.records++;
    t.u[slot * U_STRIDE + Ux.recordIndex] = (t.u[slot * U_STRIDE + Ux.recordIndex] as number) + 1;
    t.u[fi] = (flags & ~(Flag.needFirst | Flag.midLife)) >>> 0;
    f[b + Fx.intervalStart] = 0;
    this.#markSlot(slot);
  }
}

/** A new flow engine with `options` over the defaults (DEFAULT_ENGINE_OPTIONS). */
export function createFlowEngine(options: Partial<EngineOptions> = {}): FlowEngine {
  return new FlowEngine(options);
}
