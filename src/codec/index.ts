/**
 * Avro codec of the observations topic: single-object encoding with CRC-64-AVRO fingerprints,
 * writer-schema registry and schema resolution, and the JSON Lines recording form.
 */
export { AvroCodec, type AvroCodecOptions, type Decoded, type DecodeFailure } from './avro-codec.js';
export { parsingCanonicalForm, schemaFingerprint } from './canonical.js';
export {
  observationToJsonLine,
  parseJsonLine,
  parseJsonLines,
  toJsonLine,
  watermarkToJsonLine,
} from './json-lines.js';
export { fingerprintBytesLE, fingerprintHex, rabinFingerprint64 } from './rabin.js';
export { kindOfSchema, type MessageKind, SchemaRegistry, type WriterSchema } from './registry.js';
export { loadCurrentSchemas, loadSchemaFile, SCHEMA_FILES, schemasDir } from './schema-files.js';
export { SINGLE_OBJECT_HEADER_LENGTH, SINGLE_OBJECT_MARKER } from './single-object.js';
