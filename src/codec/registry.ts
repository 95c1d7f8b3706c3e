/**
 * Known writer schemas, by CRC-64-AVRO fingerprint. A reader resolves data written with any
 * registered schema into its own (newer) schema using Avro schema resolution, so a processor of
 * version N+1 reads what an agent of version N wrote.
 */
import type avro from 'avsc';
import { CtflowError } from '../errors.js';
import { schemaFingerprint } from './canonical.js';
import { fingerprintHex } from './rabin.js';

/** The two kinds of message on the observations topic. */
export type MessageKind = 'observation' | 'watermark';

/** One registered writer schema. */
export interface WriterSchema {
  kind: MessageKind;
  /** Full record name, e.g. io.ctflow.v1.Observation. */
  name: string;
  fingerprint: bigint;
  /** Fingerprint bytes as on the wire (little-endian), lower-case hex. */
  hex: string;
  type: avro.Type;
}

/** Which message kind a record schema carries, from its short record name. */
export function kindOfSchema(type: avro.Type): MessageKind {
  const name = type.name ?? '';
  const short = name.slice(name.lastIndexOf('.') + 1);
  if (short === 'Observation') return 'observation';
  if (short === 'Watermark') return 'watermark';
  throw new CtflowError(
    'CODEC_DECODE',
    `Avro schema ${name || type.typeName} is neither an Observation nor a Watermark record`,
    {
      details: { schema: name, expected: 'a record named *.Observation or *.Watermark' },
    },
  );
}

/** Registry of writer schemas, keyed by wire fingerprint hex. */
export class SchemaRegistry {
  readonly #byHex = new Map<string, WriterSchema>();

  /** Registers a writer schema (idempotent) and returns its entry. */
  add(type: avro.Type): WriterSchema {
    const fingerprint = schemaFingerprint(type);
    const hex = fingerprintHex(fingerprint);
    const existing = this.#byHex.get(hex);
    if (existing !== undefined) return existing;
    const entry: WriterSchema = { kind: kindOfSchema(type), name: type.name ?? '', fingerprint, hex, type };
    this.#byHex.set(hex, entry);
    return entry;
  }

  /** The writer schema with this wire fingerprint (hex of the 8 little-endian bytes), if known. */
  get(hex: string): WriterSchema | undefined {
    return this.#byHex.get(hex);
  }

  /** Every registered schema, for error messages ("expected one of ..."). */
  list(): WriterSchema[] {
    return [...this.#byHex.values()];
  }
}
