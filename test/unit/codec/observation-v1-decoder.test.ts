import type avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { ObservationV1Decoder, ObservationV1Reader } from '../../../src/codec/observation-v1-decoder.js';
import { loadCurrentSchemas } from '../../../src/codec/schema-files.js';
import { SINGLE_OBJECT_HEADER_LENGTH } from '../../../src/codec/single-object.js';
import { observationArb } from './arbitraries.js';
import { goldenObservation } from './sample.js';

const codec = new AvroCodec();
const v1: avro.Type = loadCurrentSchemas().observation;
/** What avsc makes of a v1 body, as a plain object (avsc builds record class instances). */
const avscPlain = (body: Buffer): unknown => JSON.parse(JSON.stringify(v1.fromBuffer(body)));

describe('ObservationV1Decoder (the specialised hot path of AvroCodec.decode)', () => {
  it('decodes every observation exactly as avsc does, node and boot id strings reused across messages', () => {
    const decoder = new ObservationV1Decoder();
    fc.assert(
      fc.property(fc.array(observationArb, { minLength: 1, maxLength: 5 }), (observations) => {
        for (const obs of observations) {
          const bytes = Buffer.from(codec.encodeObservation(obs));
          const fast = decoder.decode(bytes, SINGLE_OBJECT_HEADER_LENGTH);
          expect(fast).toEqual(obs);
          expect(JSON.parse(JSON.stringify(fast))).toEqual(
            avscPlain(bytes.subarray(SINGLE_OBJECT_HEADER_LENGTH)),
          );
        }
      }),
      { numRuns: 500 },
    );
  });

  it('accepts nothing avsc would refuse: for corrupted bytes it agrees with AvroCodec or declines', () => {
    const decoder = new ObservationV1Decoder();
    const original = codec.encodeObservation(goldenObservation);
    fc.assert(
      fc.property(
        fc.integer({ min: SINGLE_OBJECT_HEADER_LENGTH, max: original.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        (at, byte) => {
          const bytes = Buffer.from(original);
          bytes[at] = byte;
          const fast = decoder.decode(bytes, SINGLE_OBJECT_HEADER_LENGTH);
          if (fast === undefined) return; // AvroCodec then decodes with avsc, which names the error
          const body = bytes.subarray(SINGLE_OBJECT_HEADER_LENGTH);
          const res = v1.decode(body, 0);
          expect(res.offset).toBe(body.length);
          expect(v1.isValid(res.value)).toBe(true);
          expect(JSON.parse(JSON.stringify(fast))).toEqual(JSON.parse(JSON.stringify(res.value)));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('declines truncated bodies, trailing bytes, out-of-range enums and unions', () => {
    const decoder = new ObservationV1Decoder();
    const bytes = Buffer.from(codec.encodeObservation(goldenObservation));
    expect(decoder.decode(bytes, SINGLE_OBJECT_HEADER_LENGTH)).toEqual(goldenObservation);
    expect(decoder.decode(bytes.subarray(0, bytes.length - 1), SINGLE_OBJECT_HEADER_LENGTH)).toBeUndefined();
    expect(
      decoder.decode(Buffer.concat([bytes, Buffer.from([0])]), SINGLE_OBJECT_HEADER_LENGTH),
    ).toBeUndefined();
    const badKind = Buffer.from(bytes);
    badKind[20] = 0x12; // kind index 9 (see avro-codec.test.ts)
    expect(decoder.decode(badKind, SINGLE_OBJECT_HEADER_LENGTH)).toBeUndefined();
  });

  it('is what AvroCodec uses for v1 observations: the same values, the same errors', () => {
    const bytes = Buffer.from(codec.encodeObservation(goldenObservation));
    expect(codec.decode(bytes)).toEqual({ type: 'observation', value: goldenObservation });
    const truncated = bytes.subarray(0, bytes.length - 3);
    expect(() => codec.decode(truncated)).toThrow(/truncated/);
  });
});

describe("ObservationV1Reader (the flow engine's observeEncoded() input)", () => {
  /** What the reader read, in the decoder's shape (orig addresses from their byte ranges). */
  function readerView(reader: ObservationV1Reader, bytes: Buffer): unknown {
    const o = reader.obs;
    const r = reader.orig;
    return {
      ...o,
      orig: {
        ...o.orig,
        src: bytes.toString('utf8', r.srcFrom, r.srcTo),
        dst: bytes.toString('utf8', r.dstFrom, r.dstTo),
      },
      reply: null,
      counters: o.counters === null ? null : { ...o.counters },
    };
  }

  it('reads every observation as the decoder does (reply tuple checked, not kept)', () => {
    const reader = new ObservationV1Reader();
    const decoder = new ObservationV1Decoder();
    fc.assert(
      fc.property(fc.array(observationArb, { minLength: 1, maxLength: 5 }), (observations) => {
        for (const obs of observations) {
          const bytes = Buffer.from(codec.encodeObservation(obs));
          expect(reader.read(bytes, SINGLE_OBJECT_HEADER_LENGTH)).toBe(true);
          const full = decoder.decode(bytes, SINGLE_OBJECT_HEADER_LENGTH);
          expect(readerView(reader, bytes)).toEqual({ ...full, reply: null });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('accepts exactly the corrupted bodies the decoder accepts', () => {
    const reader = new ObservationV1Reader();
    const decoder = new ObservationV1Decoder();
    const original = codec.encodeObservation(goldenObservation);
    fc.assert(
      fc.property(
        fc.integer({ min: SINGLE_OBJECT_HEADER_LENGTH, max: original.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 3 }),
        (at, byte, cut) => {
          const bytes = Buffer.from(original).subarray(0, original.length - cut);
          if (at < bytes.length) bytes[at] = byte;
          const full = decoder.decode(bytes, SINGLE_OBJECT_HEADER_LENGTH);
          expect(reader.read(bytes, SINGLE_OBJECT_HEADER_LENGTH)).toBe(full !== undefined);
          if (full !== undefined) expect(readerView(reader, bytes)).toEqual({ ...full, reply: null });
        },
      ),
      { numRuns: 1000 },
    );
  });
});
