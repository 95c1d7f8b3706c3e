/**
 * IPFIX abstract data types (RFC 7012 §3.1) and their encodings (RFC 7011 §6.1).
 */

/** The abstract data types ctflow encodes and decodes (RFC 7012 §3.1; lists are not supported). */
export type DataType =
  | 'unsigned8'
  | 'unsigned16'
  | 'unsigned32'
  | 'unsigned64'
  | 'signed8'
  | 'signed16'
  | 'signed32'
  | 'signed64'
  | 'float32'
  | 'float64'
  | 'boolean'
  | 'macAddress'
  | 'octetArray'
  | 'string'
  | 'dateTimeSeconds'
  | 'dateTimeMilliseconds'
  | 'dateTimeMicroseconds'
  | 'dateTimeNanoseconds'
  | 'ipv4Address'
  | 'ipv6Address';

/** Template field length that announces a variable-length field (RFC 7011 §7). */
export const VARIABLE_LENGTH = 65535;

/**
 * The full-size encoding length of each type; VARIABLE_LENGTH for octetArray and string.
 * RFC 7011 §6.1: dateTimeSeconds is 4 octets (unsigned32), dateTimeMilliseconds 8 (unsigned64),
 * dateTimeMicroseconds/Nanoseconds 8 (NTP timestamp format).
 */
export const DEFAULT_LENGTH: Readonly<Record<DataType, number>> = {
  unsigned8: 1,
  unsigned16: 2,
  unsigned32: 4,
  unsigned64: 8,
  signed8: 1,
  signed16: 2,
  signed32: 4,
  signed64: 8,
  float32: 4,
  float64: 8,
  boolean: 1,
  macAddress: 6,
  octetArray: VARIABLE_LENGTH,
  string: VARIABLE_LENGTH,
  dateTimeSeconds: 4,
  dateTimeMilliseconds: 8,
  dateTimeMicroseconds: 8,
  dateTimeNanoseconds: 8,
  ipv4Address: 4,
  ipv6Address: 16,
};

/** Integer types whose encoding may be shortened (reduced-size encoding, RFC 7011 §6.2). */
export function isIntegerType(t: DataType): boolean {
  return t.startsWith('unsigned') || t.startsWith('signed');
}

/** The types that may be sent with a variable length (RFC 7011 §7). */
export function isVariableType(t: DataType): boolean {
  return t === 'octetArray' || t === 'string';
}

/** The dateTime* types: their values are times since the Unix epoch and never zero on the wire. */
export function isTimeType(t: DataType): boolean {
  return t.startsWith('dateTime');
}

/**
 * The JavaScript value of each type, as the encoder takes it and the decoder returns it:
 * - unsigned8..32, signed8..32, float32/64: number; unsigned64/signed64: bigint (encoder also takes a safe integer number)
 * - boolean: boolean; macAddress: 'aa:bb:cc:dd:ee:ff'; octetArray: Uint8Array; string: string
 * - ipv4Address: dotted quad; ipv6Address: RFC 5952 text
 * - dateTimeSeconds: integer seconds; dateTimeMilliseconds: integer ms; dateTimeMicroseconds: integer µs
 *   (all since the Unix epoch, as numbers); dateTimeNanoseconds: bigint ns since the Unix epoch.
 */
export type FieldValue = number | bigint | boolean | string | Uint8Array;
