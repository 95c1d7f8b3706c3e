/**
 * Avro Parsing Canonical Form (Avro spec, "Parsing Canonical Form for Schemas"): full names,
 * primitives as bare strings, only name/type/fields/symbols/items/values/size kept, in that order,
 * no whitespace. avsc's `Type#schema()` (without exportAttrs) emits exactly this form; the unit
 * tests pin it against the specification's test vectors (share/test/data/schema-tests.txt).
 */
import type avro from 'avsc';
import { rabinFingerprint64 } from './rabin.js';

/** The Parsing Canonical Form of an avsc type, as a JSON string. */
export function parsingCanonicalForm(type: avro.Type): string {
  return JSON.stringify(type.schema());
}

/** CRC-64-AVRO fingerprint of the type's Parsing Canonical Form (UTF-8). */
export function schemaFingerprint(type: avro.Type): bigint {
  return rabinFingerprint64(Buffer.from(parsingCanonicalForm(type), 'utf8'));
}
