/**
 * The single-object header (marker c301 + little-endian CRC-64-AVRO fingerprint) of schemas/observation.v1.avsc,
 * the schema FlowEngine.observeEncoded() reads in place. Avro 1.11 spec, "Single-object encoding":
 *   "The 8-byte little-endian CRC-64-AVRO fingerprint of the object's schema."
 * Computed once from the checked-in schema file, so the processor never guesses it.
 */
import { schemaFingerprint } from '../codec/canonical.js';
import { fingerprintBytesLE, fingerprintHex } from '../codec/rabin.js';
import { loadSchemaFile, schemasDir } from '../codec/schema-files.js';
import { SINGLE_OBJECT_HEADER_LENGTH } from '../codec/single-object.js';

/** The fingerprint as two little-endian words, for a check of two reads per message. */
export interface ObservationV1Header {
  /** Hex of the fingerprint bytes, as AvroCodec.fingerprints reports it. */
  hex: string;
  /** Bytes 2-5 and 6-9 of the header, read as little-endian uint32. */
  low: number;
  high: number;
}

let cached: ObservationV1Header | undefined;

/** observation.v1's header words (loaded once per process). */
export function observationV1Header(): ObservationV1Header {
  if (cached === undefined) {
    const fp = schemaFingerprint(loadSchemaFile(`${schemasDir()}/observation.v1.avsc`));
    const bytes = fingerprintBytesLE(fp);
    cached = { hex: fingerprintHex(fp), low: bytes.readUInt32LE(0), high: bytes.readUInt32LE(4) };
  }
  return cached;
}

/**
 * True when `value` is a single-object message written with observation.v1 and has a body (more bytes than
 * the header). Says nothing about the body: observeEncoded() checks that.
 */
export function isObservationV1(value: Buffer, h: ObservationV1Header): boolean {
  return (
    value.length > SINGLE_OBJECT_HEADER_LENGTH &&
    value[0] === 0xc3 &&
    value[1] === 0x01 &&
    value.readUInt32LE(2) === h.low &&
    value.readUInt32LE(6) === h.high
  );
}
