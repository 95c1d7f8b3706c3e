/**
 * The one error base of ctflow: a closed list of codes, structured fields, and `cause`.
 * Messages name what was wrong, where, the value seen and what was expected.
 */

/** Every error code ctflow raises. Add a code here before using it. */
export const ErrorCodes = {
  /** Configuration file, environment or flag failed validation. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** A value cannot be encoded in the requested IPFIX data type (e.g. a zero time). */
  IPFIX_ENCODE: 'IPFIX_ENCODE',
  /** An IPFIX message or set could not be decoded. */
  IPFIX_DECODE: 'IPFIX_DECODE',
  /** A template is missing, invalid or conflicts with another. */
  IPFIX_TEMPLATE: 'IPFIX_TEMPLATE',
  /** A transport (UDP/TCP/TLS) to a collector failed. */
  TRANSPORT: 'TRANSPORT',
  /** Avro data could not be decoded, or its schema fingerprint is unknown. */
  CODEC_DECODE: 'CODEC_DECODE',
  /** A value does not match its Avro schema. */
  CODEC_ENCODE: 'CODEC_ENCODE',
  /** conntrack output could not be parsed. */
  CONNTRACK_PARSE: 'CONNTRACK_PARSE',
  /** conntrack could not be run or read (missing binary, permission, kernel support). */
  CONNTRACK_SOURCE: 'CONNTRACK_SOURCE',
  /** An observation is impossible (e.g. counters going backwards, time before 1970). */
  OBSERVATION_INVALID: 'OBSERVATION_INVALID',
  /** Kafka topics, producer or consumer failed. */
  KAFKA: 'KAFKA',
  /** A prerequisite of the machine is missing (binary, privilege, kernel feature). */
  PREREQUISITE: 'PREREQUISITE',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Structured details: which field/where, the value seen, what was expected. */
export interface ErrorDetails {
  [field: string]: unknown;
}

/** Base class for every error ctflow throws on purpose. */
export class CtflowError extends Error {
  override readonly name = 'CtflowError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  /** True when retrying the same operation later may succeed (e.g. broker unreachable). */
  readonly retriable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetails; cause?: unknown; retriable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.retriable = options.retriable ?? false;
  }
}

/** True when `err` is a CtflowError, optionally of the given code. */
export function isCtflowError(err: unknown, code?: ErrorCode): err is CtflowError {
  return err instanceof CtflowError && (code === undefined || err.code === code);
}
