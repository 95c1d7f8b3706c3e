/**
 * Avro single-object encoding (Avro 1.11 spec, "Single-object encoding"):
 *   "A marker, indicating that the message is Avro and uses this single-record format (version 1).
 *    The marker is the two bytes 0xC3 0x01. The 8-byte little-endian CRC-64-AVRO fingerprint of the
 *    object's schema. The Avro object encoded using Avro's binary encoding."
 * Kafka values are therefore self-describing without a schema-registry service.
 */

/** The two marker bytes of the single-object encoding, version 1. */
export const SINGLE_OBJECT_MARKER = Buffer.from([0xc3, 0x01]);

/** Marker (2) + fingerprint (8). */
export const SINGLE_OBJECT_HEADER_LENGTH = 10;

/** The 10-byte header for a schema whose little-endian fingerprint bytes are `fingerprintLE`. */
export function singleObjectHeader(fingerprintLE: Buffer): Buffer {
  return Buffer.concat([SINGLE_OBJECT_MARKER, fingerprintLE]);
}

/** True when `buf` starts with the single-object marker. */
export function hasSingleObjectMarker(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0xc3 && buf[1] === 0x01;
}
