/**
 * Encoder/decoder of observations and watermarks in Avro single-object encoding (pure: no I/O
 * after construction). Encoding writes into a reused slab, so the agent's 100k observations per
 * poll cost one allocation per slab rather than one per message.
 */
import type avro from 'avsc';
import { CtflowError } from '../errors.js';
import type { Observation, Watermark } from '../flow/types.js';
import { schemaFingerprint } from './canonical.js';
import { ObservationV1Decoder } from './observation-v1-decoder.js';
import { fingerprintBytesLE, fingerprintHex } from './rabin.js';
import { type MessageKind, SchemaRegistry, type WriterSchema } from './registry.js';
import { loadCurrentSchemas, loadSchemaFile, SCHEMA_FILES, schemasDir } from './schema-files.js';
import { hasSingleObjectMarker, SINGLE_OBJECT_HEADER_LENGTH, singleObjectHeader } from './single-object.js';

/**
 * Why a message could not be decoded: `details.reason` of CODEC_DECODE errors from
 * {@link AvroCodec.decode}, usable as a metric label (ctflow_dead_letter_total{reason}).
 */
export type DecodeFailure =
  | 'not_avro'
  | 'unknown_schema'
  | 'incompatible_schema'
  | 'corrupt'
  | 'truncated'
  | 'trailing_bytes';

/** A decoded message of the observations topic. */
export type Decoded = { type: 'observation'; value: Observation } | { type: 'watermark'; value: Watermark };

/** Options of {@link AvroCodec}. */
export interface AvroCodecOptions {
  /** Reader (and writer) schema for observations; default schemas/observation.v1.avsc. */
  observationSchema?: avro.Type;
  /** Reader (and writer) schema for watermarks; default schemas/watermark.v1.avsc. */
  watermarkSchema?: avro.Type;
  /** Other writer schemas whose data this codec must read (older or newer versions). */
  writerSchemas?: readonly avro.Type[];
  /** Bytes per encoding slab (default 256 KiB); larger messages get a slab of their own. */
  slabSize?: number;
  /**
   * Check each value against the schema before encoding (default true). avsc writes a wrong-typed
   * value silently (e.g. a float into a long), so this keeps garbage off the topic.
   */
  validate?: boolean;
}

interface ReaderSide {
  type: avro.Type;
  writer: WriterSchema;
  header: Buffer;
}

/** Describes a value that fails its schema: the path, the value and the expected type. */
function describeInvalid(type: avro.Type, value: unknown): string {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], any: unknown, t: avro.Type) => {
      if (problems.length < 3) {
        problems.push(
          `${path.join('.') || '(root)'} = ${JSON.stringify(any) ?? String(any)} (expected ${t.branchName ?? t.typeName})`,
        );
      }
    },
  });
  return problems.join('; ');
}

let v1Hex: string | undefined;
/** Wire fingerprint of schemas/observation.v1.avsc (the schema ObservationV1Decoder is written for). */
function observationV1Hex(): string {
  v1Hex ??= fingerprintHex(schemaFingerprint(loadSchemaFile(`${schemasDir()}/${SCHEMA_FILES.observation}`)));
  return v1Hex;
}

/** Avro single-object codec for the observations topic. */
export class AvroCodec {
  readonly registry = new SchemaRegistry();
  readonly #observation: ReaderSide;
  readonly #watermark: ReaderSide;
  readonly #resolvers = new Map<string, object>();
  readonly #slabSize: number;
  readonly #validate: boolean;
  /** The specialised decoder, when this codec reads observations with schema v1 (the default). */
  readonly #fastObservation: ObservationV1Decoder | null;
  #slab: Buffer;
  #pos = 0;

  constructor(options: AvroCodecOptions = {}) {
    const current =
      options.observationSchema && options.watermarkSchema
        ? { observation: options.observationSchema, watermark: options.watermarkSchema }
        : loadCurrentSchemas();
    this.#observation = this.#side(options.observationSchema ?? current.observation, 'observation');
    this.#watermark = this.#side(options.watermarkSchema ?? current.watermark, 'watermark');
    for (const t of options.writerSchemas ?? []) this.registry.add(t);
    this.#slabSize = options.slabSize ?? 256 * 1024;
    this.#validate = options.validate ?? true;
    this.#slab = Buffer.allocUnsafe(this.#slabSize);
    this.#fastObservation =
      this.#observation.writer.hex === observationV1Hex() ? new ObservationV1Decoder() : null;
  }

  #side(type: avro.Type, kind: MessageKind): ReaderSide {
    const writer = this.registry.add(type);
    if (writer.kind !== kind) {
      throw new CtflowError('CODEC_DECODE', `schema ${writer.name} given as the ${kind} schema`, {
        details: { schema: writer.name, expected: kind },
      });
    }
    return { type, writer, header: singleObjectHeader(fingerprintBytesLE(writer.fingerprint)) };
  }

  /** Wire fingerprints (hex of the little-endian bytes) of the schemas this codec writes. */
  get fingerprints(): { observation: string; watermark: string } {
    return { observation: this.#observation.writer.hex, watermark: this.#watermark.writer.hex };
  }

  /** Encodes one observation (single-object encoding). The returned buffer may share a slab. */
  encodeObservation(obs: Observation): Buffer {
    return this.#encode(this.#observation, obs);
  }

  /** Encodes one watermark (single-object encoding). The returned buffer may share a slab. */
  encodeWatermark(wm: Watermark): Buffer {
    return this.#encode(this.#watermark, wm);
  }

  #encode(side: ReaderSide, value: unknown): Buffer {
    if (this.#validate && !side.type.isValid(value)) {
      throw new CtflowError(
        'CODEC_ENCODE',
        `${side.writer.name} does not match its Avro schema: ${describeInvalid(side.type, value)}`,
        { details: { schema: side.writer.name } },
      );
    }
    for (;;) {
      const start = this.#pos;
      if (this.#slab.length - start > SINGLE_OBJECT_HEADER_LENGTH) {
        side.header.copy(this.#slab, start);
        let end: number;
        try {
          end = side.type.encode(value, this.#slab, start + SINGLE_OBJECT_HEADER_LENGTH);
        } catch (cause) {
          throw new CtflowError(
            'CODEC_ENCODE',
            `cannot encode ${side.writer.name}: ${(cause as Error).message}`,
            {
              details: { schema: side.writer.name },
              cause,
            },
          );
        }
        if (end > 0) {
          this.#pos = end;
          return this.#slab.subarray(start, end);
        }
        // Negative: that many bytes were missing. Start a new slab big enough for this message.
        const needed = this.#slab.length - start - end + SINGLE_OBJECT_HEADER_LENGTH;
        this.#newSlab(needed);
      } else {
        this.#newSlab(0);
      }
    }
  }

  #newSlab(minimum: number): void {
    // Buffers handed out keep referencing the old slab; it is freed once they are.
    this.#slab = Buffer.allocUnsafe(Math.max(this.#slabSize, minimum));
    this.#pos = 0;
  }

  /**
   * Decodes one single-object message. `where` names the message in errors (e.g. "topic T
   * partition 3 offset 42"). Throws CtflowError CODEC_DECODE for a missing marker, an unknown
   * fingerprint, a truncated or corrupt body, or trailing bytes.
   */
  decode(buf: Buffer, where = 'message'): Decoded {
    // Hot path: an observation written with the v1 schema this codec reads. Anything the
    // specialised decoder does not accept is decoded again below, which names the error.
    const fast = this.#fastObservation;
    if (
      fast !== null &&
      buf.length > SINGLE_OBJECT_HEADER_LENGTH &&
      buf.compare(
        this.#observation.header,
        0,
        SINGLE_OBJECT_HEADER_LENGTH,
        0,
        SINGLE_OBJECT_HEADER_LENGTH,
      ) === 0
    ) {
      const value = fast.decode(buf, SINGLE_OBJECT_HEADER_LENGTH);
      if (value !== undefined) return { type: 'observation', value };
    }
    if (!hasSingleObjectMarker(buf) || buf.length < SINGLE_OBJECT_HEADER_LENGTH) {
      throw new CtflowError(
        'CODEC_DECODE',
        `${where}: not Avro single-object encoded at byte offset 0: got ${buf.subarray(0, 2).toString('hex') || 'no bytes'} (${buf.length} bytes), expected marker c301 followed by an 8-byte schema fingerprint`,
        { details: { reason: 'not_avro', where, offset: 0, expected: 'c301 + fingerprint' } },
      );
    }
    const hex = buf.toString('hex', 2, SINGLE_OBJECT_HEADER_LENGTH);
    const writer = this.registry.get(hex);
    if (writer === undefined) {
      const known = this.registry
        .list()
        .map((w) => `${w.name} ${w.hex}`)
        .join(', ');
      throw new CtflowError(
        'CODEC_DECODE',
        `${where}: unknown Avro schema fingerprint ${hex} at byte offset 2, expected one of: ${known}`,
        { details: { reason: 'unknown_schema', where, offset: 2, fingerprint: hex, expected: known } },
      );
    }
    const side = writer.kind === 'observation' ? this.#observation : this.#watermark;
    const resolver = writer === side.writer ? undefined : this.#resolver(side, writer, where);
    let value: unknown;
    let end: number;
    try {
      const res = side.type.decode(buf, SINGLE_OBJECT_HEADER_LENGTH, resolver as avro.Resolver | undefined);
      value = res.value;
      end = res.offset;
    } catch (cause) {
      throw new CtflowError(
        'CODEC_DECODE',
        `${where}: corrupt ${writer.name} body (fingerprint ${hex}) after byte offset ${SINGLE_OBJECT_HEADER_LENGTH}: ${(cause as Error).message}`,
        {
          details: {
            reason: 'corrupt',
            where,
            fingerprint: hex,
            schema: writer.name,
            offset: SINGLE_OBJECT_HEADER_LENGTH,
          },
          cause,
        },
      );
    }
    if (end < 0) {
      throw new CtflowError(
        'CODEC_DECODE',
        `${where}: truncated ${writer.name} body (fingerprint ${hex}): ${buf.length} bytes are not a complete record`,
        {
          details: { reason: 'truncated', where, fingerprint: hex, schema: writer.name, offset: buf.length },
        },
      );
    }
    if (end !== buf.length) {
      throw new CtflowError(
        'CODEC_DECODE',
        `${where}: ${buf.length - end} trailing bytes after the ${writer.name} record at byte offset ${end} (fingerprint ${hex})`,
        { details: { reason: 'trailing_bytes', where, fingerprint: hex, schema: writer.name, offset: end } },
      );
    }
    // Random bytes can decode "successfully" into out-of-range values; the checked type rejects them.
    if (!side.type.isValid(value)) {
      throw new CtflowError(
        'CODEC_DECODE',
        `${where}: corrupt ${writer.name} body (fingerprint ${hex}): ${describeInvalid(side.type, value)}`,
        {
          details: {
            reason: 'corrupt',
            where,
            fingerprint: hex,
            schema: writer.name,
            offset: SINGLE_OBJECT_HEADER_LENGTH,
          },
        },
      );
    }
    return writer.kind === 'observation'
      ? { type: 'observation', value: value as Observation }
      : { type: 'watermark', value: value as Watermark };
  }

  #resolver(side: ReaderSide, writer: WriterSchema, where: string): object {
    const key = `${side.writer.hex}<${writer.hex}`;
    let resolver = this.#resolvers.get(key);
    if (resolver === undefined) {
      try {
        resolver = side.type.createResolver(writer.type);
      } catch (cause) {
        throw new CtflowError(
          'CODEC_DECODE',
          `${where}: data written with ${writer.name} (fingerprint ${writer.hex}) cannot be read as ${side.writer.name} (fingerprint ${side.writer.hex}): ${(cause as Error).message}`,
          {
            details: {
              reason: 'incompatible_schema',
              where,
              fingerprint: writer.hex,
              expected: side.writer.hex,
            },
            cause,
          },
        );
      }
      this.#resolvers.set(key, resolver);
    }
    return resolver;
  }
}
