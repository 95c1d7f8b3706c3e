/**
 * Feeding consumed messages to a flow engine: decode (Avro single object), then observe or watermark.
 * Pure apart from the engine it is given: no I/O, so the live processor and replay apply input the same
 * way, and what cannot be used is returned (never thrown) for the dead-letter topic or a counter.
 */
import type { AvroCodec } from '../codec/avro-codec.js';
import { SINGLE_OBJECT_HEADER_LENGTH } from '../codec/single-object.js';
import { CtflowError, isCtflowError } from '../errors.js';
import { FlowEngine } from '../flow/engine.js';
import type { FlowEngineApi } from '../flow/types.js';
import type { ConsumedMessage } from '../kafka/message.js';
import { isObservationV1, type ObservationV1Header, observationV1Header } from './observation-v1-header.js';

/** A message that could not be used, and why. */
export interface RefusedMessage {
  message: ConsumedMessage;
  error: CtflowError;
}

/** What applyMessages did. */
export interface ApplyResult {
  observations: number;
  watermarks: number;
  refused: RefusedMessage[];
}

/** Errors that mean "this message is bad" (dead-letter it); anything else is a bug and stops the batch. */
function isInputError(err: unknown): err is CtflowError {
  return isCtflowError(err, 'CODEC_DECODE') || isCtflowError(err, 'OBSERVATION_INVALID');
}

function where(m: ConsumedMessage): string {
  return `${m.topic}[${m.partition}]@${m.offset}`;
}

/**
 * Decodes each message (of `messages[start, end)`) and hands it to `engine`, in order. When `engine` is a
 * FlowEngine and `codec` reads observation.v1 (the default), a v1 observation message goes to observeEncoded(),
 * which reads the bytes in place (no Observation object for an update of a tracked IPv4 flow), or, once the
 * engine holds `batchMinFlows` flows, each run of consecutive v1 observation messages goes to
 * observeEncodedBatch(), which also looks the run's flows up together; a message either declines (it did
 * nothing then) is decoded and observed as any other, and the run goes on after it. Undecodable values (CODEC_DECODE) and
 * values the engine refuses (OBSERVATION_INVALID) are returned in `refused`; the others are applied. Any other
 * error is a fault of ctflow, not of the message: it is thrown, so the partition stops rather than
 * dead-letter everything.
 */
export function applyMessages(
  engine: FlowEngineApi,
  codec: AvroCodec,
  messages: readonly ConsumedMessage[],
  start = 0,
  end = messages.length,
  batchMinFlows = BATCH_MIN_FLOWS,
): ApplyResult {
  const result: ApplyResult = { observations: 0, watermarks: 0, refused: [] };
  const v1 = observationV1Header();
  // Only when the codec would read v1 itself: observeEncoded() is observe(decode()) for exactly that schema.
  const encoded = engine instanceof FlowEngine && codec.fingerprints.observation === v1.hex ? engine : null;
  const batch = encoded !== null && encoded.size >= batchMinFlows;
  for (let i = start; i < end; ) {
    const m = messages[i]!;
    // Read once: an input message's value may be made on each read (src/kafka/input-fetcher.ts).
    const value = m.value;
    if (encoded !== null && value !== null && isObservationV1(value, v1)) {
      if (batch) {
        i = applyRun(encoded, codec, messages, i, end, v1, result);
        continue;
      }
      applyEncodedOne(encoded, codec, m, value, result);
    } else applyOne(engine, codec, m, result);
    i++;
  }
  return result;
}

/**
 * Flows an engine must hold before applyMessages() hands it runs of messages (observeEncodedBatch()) rather
 * than one message at a time (observeEncoded()). The batch's prefetching pays where the flow table no longer
 * fits in the CPU caches (×1.3–1.5 at 1 M flows, bench/RESULTS.md "Flow engine"); with a small table it only
 * adds its passes: measured ×0.7–0.8 at 3,300 flows, even at ~100,000, ×1.1 at 400,000 (this VM, bench/RESULTS.md
 * "Processor", session 4).
 */
export const BATCH_MIN_FLOWS = 131_072;

/** One v1 observation message through observeEncoded() (in place), decoded and observed when it declines. */
function applyEncodedOne(
  engine: FlowEngine,
  codec: AvroCodec,
  m: ConsumedMessage,
  value: Buffer,
  result: ApplyResult,
): void {
  try {
    if (engine.observeEncoded(value, SINGLE_OBJECT_HEADER_LENGTH)) {
      result.observations++;
      return;
    }
  } catch (err) {
    if (!isInputError(err)) throw err;
    result.refused.push({
      message: m,
      error: isCtflowError(err, 'CODEC_DECODE') ? named(codec, m, err) : err,
    });
    return;
  }
  applyOne(engine, codec, m, result);
}

/** Values of the current run (reused; emptied after each run so that no fetched bytes are kept alive). */
const runValues: Buffer[] = [];

/**
 * Applies the run of consecutive v1 observation messages that starts at `from` (< end) with
 * observeEncodedBatch(); returns the index after the run. A declined message is applied by applyOne() (decoded:
 * the precise CODEC_DECODE reason), a message the engine refuses is returned in `refused`, and the run goes on
 * after either.
 */
function applyRun(
  engine: FlowEngine,
  codec: AvroCodec,
  messages: readonly ConsumedMessage[],
  from: number,
  end: number,
  v1: ObservationV1Header,
  result: ApplyResult,
): number {
  const values = runValues;
  let to = from;
  for (; to < end; to++) {
    const value = messages[to]!.value;
    if (value === null || !isObservationV1(value, v1)) break;
    values.push(value);
  }
  try {
    const n = values.length;
    for (let at = 0; at < n; ) {
      let stop: number;
      try {
        stop = engine.observeEncodedBatch(values, SINGLE_OBJECT_HEADER_LENGTH, at, n);
      } catch (err) {
        if (!isInputError(err)) throw err;
        // The messages before the refused one were applied, and nothing after it: find which one it was.
        const bad = refusedAt(values, at, n, err);
        result.observations += bad - at;
        const m = messages[from + bad]!;
        result.refused.push({
          message: m,
          error: isCtflowError(err, 'CODEC_DECODE') ? named(codec, m, err) : err,
        });
        at = bad + 1;
        continue;
      }
      result.observations += stop - at;
      if (stop === n) break;
      applyOne(engine, codec, messages[from + stop]!, result);
      at = stop + 1;
    }
  } finally {
    values.length = 0;
  }
  return to;
}

/**
 * The index in values[at, n) of the message whose observeEncodedBatch() threw `err` (the batch does not say).
 * The engine's input errors are checks of the message's own fields (time, counters, node name, ...), so that
 * message throws the same error alone in an empty engine; an earlier message that throws alone was applied
 * without error (the engine ignored it as late, before its checks), so the error (message and details) must
 * also be the same one.
 * Rare (bad input only): a fresh engine per message is affordable. Not found (cannot happen while the checks
 * only read the message) is a fault of ctflow: thrown as such (not an input error).
 */
function refusedAt(values: readonly Buffer[], at: number, n: number, err: CtflowError): number {
  for (let j = at; j < n; j++) {
    try {
      new FlowEngine().observeEncoded(values[j]!, SINGLE_OBJECT_HEADER_LENGTH);
    } catch (alone) {
      if (isCtflowError(alone, err.code) && sameError(alone, err)) return j;
    }
  }
  throw new Error(`observeEncodedBatch threw for no message of its range: ${err.message}`, { cause: err });
}

/** Same message and details (the details name the node, connection, field and value). */
function sameError(a: CtflowError, b: CtflowError): boolean {
  return a.message === b.message && JSON.stringify(a.details) === JSON.stringify(b.details);
}

/** Decodes one message and hands it to the engine (observeEncoded() first when it is a v1 observation). */
function applyOne(engine: FlowEngineApi, codec: AvroCodec, m: ConsumedMessage, result: ApplyResult): void {
  const value = m.value;
  if (value === null || value.length === 0) {
    result.refused.push({
      message: m,
      error: new CtflowError('CODEC_DECODE', `${where(m)}: empty value (expected an Avro single object)`, {
        details: {
          topic: m.topic,
          partition: m.partition,
          offset: m.offset,
          expected: 'c301 + fingerprint + body',
        },
      }),
    });
    return;
  }
  try {
    // No "where" string per message: a message that fails is decoded again below to name itself.
    const decoded = codec.decode(value);
    if (decoded.type === 'observation') {
      engine.observe(decoded.value);
      result.observations++;
    } else {
      engine.watermark(decoded.value);
      result.watermarks++;
    }
  } catch (err) {
    if (!isInputError(err)) throw err;
    result.refused.push({
      message: m,
      error: isCtflowError(err, 'CODEC_DECODE') ? named(codec, m, err) : err,
    });
  }
}

/** The decode error of `m` with the message named in it (decoding is deterministic: it fails the same way). */
function named(codec: AvroCodec, m: ConsumedMessage, err: CtflowError): CtflowError {
  try {
    codec.decode(m.value!, where(m));
  } catch (again) {
    if (isCtflowError(again, 'CODEC_DECODE')) return again;
  }
  return err;
}
