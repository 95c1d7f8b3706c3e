/**
 * Dead-letter messages: an input message the processor cannot use, set aside with the reason so the
 * partition goes on. The original key and value are kept byte for byte; headers say where it came from
 * and why it was refused.
 */
import { isCtflowError } from '../errors.js';
import type { ConsumedMessage } from '../kafka/message.js';
import type { OutgoingMessage } from '../kafka/producer.js';

/** Header names of a dead-letter message. */
export const DEAD_LETTER_HEADERS = {
  topic: 'ctflow-source-topic',
  partition: 'ctflow-source-partition',
  offset: 'ctflow-source-offset',
  timestamp: 'ctflow-source-timestamp',
  code: 'ctflow-error-code',
  reason: 'ctflow-error-reason',
  message: 'ctflow-error-message',
} as const;

/** Longest error message kept in a header (the rest is cut). */
const MAX_MESSAGE = 1000;

/** The error code of a refusal: a CtflowError's code, else "UNKNOWN". */
export function errorCodeOf(err: unknown): string {
  return isCtflowError(err) ? err.code : 'UNKNOWN';
}

/**
 * A short label of why a message was refused, for metrics and the reason header: the codec's
 * `details.reason` (not_avro, unknown_schema, corrupt, truncated, ...), else the error code in lower case
 * (observation_invalid).
 */
export function deadLetterReason(err: unknown): string {
  if (isCtflowError(err)) {
    const reason = err.details['reason'];
    return typeof reason === 'string' && reason.length > 0 ? reason : err.code.toLowerCase();
  }
  return 'unknown';
}

/** The dead-letter message for `source`, refused because of `err`. */
export function deadLetterMessage(source: ConsumedMessage, err: unknown): OutgoingMessage {
  const text = err instanceof Error ? err.message : String(err);
  const out: OutgoingMessage = {
    key: source.key,
    value: source.value,
    headers: {
      [DEAD_LETTER_HEADERS.topic]: source.topic,
      [DEAD_LETTER_HEADERS.partition]: String(source.partition),
      [DEAD_LETTER_HEADERS.offset]: String(source.offset),
      [DEAD_LETTER_HEADERS.timestamp]: String(source.timestampMs),
      [DEAD_LETTER_HEADERS.code]: errorCodeOf(err),
      [DEAD_LETTER_HEADERS.reason]: deadLetterReason(err),
      [DEAD_LETTER_HEADERS.message]: text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text,
    },
  };
  // Keep the original record time so the dead-letter topic's retention and time lookups match the input.
  if (Number.isFinite(source.timestampMs) && source.timestampMs >= 0) out.timestampMs = source.timestampMs;
  return out;
}
