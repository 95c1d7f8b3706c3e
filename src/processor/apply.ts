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
import { isObservationV1, observationV1Header } from './observation-v1-header.js';

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
 * FlowEngine and `codec` reads observation.v1 (the default), a v1 observation goes to observeEncoded() first,
 * which reads the bytes in place (no Observation object for an update of a tracked IPv4 flow); when it
 * declines (it did nothing then), the message is decoded and observed as any other. Undecodable values (CODEC_DECODE) and values the
 * engine refuses (OBSERVATION_INVALID) are returned in `refused`; the others are applied. Any other error is
 * a fault of ctflow, not of the message: it is thrown, so the partition stops rather than dead-letter
 * everything.
 */
export function applyMessages(
  engine: FlowEngineApi,
  codec: AvroCodec,
  messages: readonly ConsumedMessage[],
  start = 0,
  end = messages.length,
): ApplyResult {
  const result: ApplyResult = { observations: 0, watermarks: 0, refused: [] };
  const v1 = observationV1Header();
  // Only when the codec would read v1 itself: observeEncoded() is observe(decode()) for exactly that schema.
  const encoded = engine instanceof FlowEngine && codec.fingerprints.observation === v1.hex ? engine : null;
  for (let i = start; i < end; i++) {
    const m = messages[i]!;
    if (m.value === null || m.value.length === 0) {
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
      continue;
    }
    try {
      if (
        encoded !== null &&
        isObservationV1(m.value, v1) &&
        encoded.observeEncoded(m.value, SINGLE_OBJECT_HEADER_LENGTH)
      ) {
        result.observations++;
        continue;
      }
      // No "where" string per message: a message that fails is decoded again below to name itself.
      const decoded = codec.decode(m.value);
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
  return result;
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
