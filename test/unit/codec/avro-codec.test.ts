import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { loadSchemaFile } from '../../../src/codec/schema-files.js';
import { isCtflowError } from '../../../src/errors.js';
import type { Observation } from '../../../src/flow/types.js';
import { observationArb, timeUsArb } from './arbitraries.js';
import { goldenObservation, icmpObservation, sampleWatermark } from './sample.js';

const fixture = (p: string) => new URL(`../../fixtures/${p}`, import.meta.url).pathname;

function codecError(fn: () => unknown): Error & { code: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    if (isCtflowError(err)) return err;
    throw err;
  }
  throw new Error('expected a CtflowError');
}

describe('AvroCodec single-object encoding', () => {
  const codec = new AvroCodec();

  it('encodes the golden observation to the checked-in bytes', () => {
    const golden = readFileSync(fixture('codec/observation.v1.golden.hex'), 'utf8').trim();
    const bytes = codec.encodeObservation(goldenObservation);
    expect(bytes.toString('hex')).toBe(golden);
    // Avro spec, single-object encoding: marker C3 01, then the 8-byte little-endian fingerprint.
    expect(bytes.subarray(0, 2).toString('hex')).toBe('c301');
    expect(bytes.subarray(2, 10).toString('hex')).toBe(codec.fingerprints.observation);
    // Body starts with node "node-a": zig-zag length 6 = 0x0c, then the UTF-8 bytes.
    expect(bytes.subarray(10, 17).toString('hex')).toBe(`0c${Buffer.from('node-a').toString('hex')}`);
  });

  it('round-trips observations and watermarks into a typed union', () => {
    expect(codec.decode(codec.encodeObservation(goldenObservation))).toEqual({
      type: 'observation',
      value: goldenObservation,
    });
    expect(codec.decode(codec.encodeObservation(icmpObservation))).toEqual({
      type: 'observation',
      value: icmpObservation,
    });
    expect(codec.decode(codec.encodeWatermark(sampleWatermark))).toEqual({
      type: 'watermark',
      value: sampleWatermark,
    });
  });

  it('keeps earlier buffers intact while later messages fill and outgrow the slab', () => {
    const small = new AvroCodec({ slabSize: 64 });
    const big = { ...goldenObservation, node: 'x'.repeat(500) };
    const encoded = [goldenObservation, big, icmpObservation, big, goldenObservation].map((o) =>
      small.encodeObservation(o),
    );
    expect(encoded.map((b) => small.decode(b).value)).toEqual([
      goldenObservation,
      big,
      icmpObservation,
      big,
      goldenObservation,
    ]);
  });

  it('refuses to encode a value that does not match the schema, naming the field', () => {
    const bad = { ...goldenObservation, timeUs: 1.5 } as Observation;
    const err = codecError(() => codec.encodeObservation(bad));
    expect(err.code).toBe('CODEC_ENCODE');
    expect(err.message).toContain('timeUs = 1.5');
  });

  it('names an unknown fingerprint, its offset and the fingerprints it expected', () => {
    const bytes = Buffer.from(codec.encodeObservation(goldenObservation));
    bytes.write('0011223344556677', 2, 'hex');
    const err = codecError(() => codec.decode(bytes, 'ctflow.observations/3@42'));
    expect(err.code).toBe('CODEC_DECODE');
    expect(err.details['reason']).toBe('unknown_schema');
    expect(err.message).toBe(
      `ctflow.observations/3@42: unknown Avro schema fingerprint 0011223344556677 at byte offset 2, expected one of: io.ctflow.v1.Observation ${codec.fingerprints.observation}, io.ctflow.v1.Watermark ${codec.fingerprints.watermark}`,
    );
  });

  it('rejects a missing marker, a truncated body and trailing bytes', () => {
    const bytes = codec.encodeObservation(goldenObservation);
    expect(codecError(() => codec.decode(Buffer.from('{"json":1}'))).message).toContain(
      'expected marker c301',
    );
    expect(codecError(() => codec.decode(bytes.subarray(0, bytes.length - 3))).message).toContain(
      'truncated',
    );
    const trailing = Buffer.concat([bytes, Buffer.from([0])]);
    expect(codecError(() => codec.decode(trailing)).message).toContain('1 trailing bytes');
  });

  it('rejects an out-of-range enum index as a corrupt body', () => {
    const bytes = Buffer.from(codec.encodeObservation(goldenObservation));
    // kind is the byte after node (7 bytes) and bootId (3 bytes): index 2 (0x04) -> 9 (0x12).
    expect(bytes[20]).toBe(0x04);
    bytes[20] = 0x12;
    const err = codecError(() => codec.decode(bytes));
    expect(err.code).toBe('CODEC_DECODE');
    expect(err.message).toContain('corrupt io.ctflow.v1.Observation body');
    expect(err.details['reason']).toBe('corrupt');
  });

  it('never returns garbage for corrupted bytes: it decodes a valid value or throws CODEC_DECODE', () => {
    const original = codec.encodeObservation(goldenObservation);
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: original.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        (at, byte) => {
          const bytes = Buffer.from(original);
          bytes[at] = byte;
          try {
            const decoded = codec.decode(bytes);
            expect(decoded.type).toBe('observation');
            expect(typeof decoded.value.timeUs).toBe('number');
          } catch (err) {
            expect(isCtflowError(err, 'CODEC_DECODE')).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('schema evolution', () => {
  const v2 = loadSchemaFile(fixture('schemas/observation.v2.avsc'));

  it('reads v1 data with a later reader schema that adds fields with defaults', () => {
    const writerV1 = new AvroCodec();
    const readerV2 = new AvroCodec({
      observationSchema: v2,
      watermarkSchema: loadSchemaFile(
        new URL('../../../schemas/watermark.v1.avsc', import.meta.url).pathname,
      ),
      writerSchemas: [writerV1.registry.get(writerV1.fingerprints.observation)!.type],
    });
    expect(readerV2.fingerprints.observation).not.toBe(writerV1.fingerprints.observation);
    const decoded = readerV2.decode(writerV1.encodeObservation(goldenObservation));
    expect(decoded).toEqual({
      type: 'observation',
      value: { ...goldenObservation, agentVersion: 'unknown', netns: null },
    });
    // Watermarks of the unchanged v1 schema still decode.
    expect(readerV2.decode(writerV1.encodeWatermark(sampleWatermark)).value).toEqual(sampleWatermark);
  });

  it('gives a clear error when a v1 reader meets v2 data it has no writer schema for', () => {
    const writerV2 = new AvroCodec({
      observationSchema: v2,
      watermarkSchema: loadSchemaFile(
        new URL('../../../schemas/watermark.v1.avsc', import.meta.url).pathname,
      ),
    });
    const bytes = writerV2.encodeObservation({
      ...goldenObservation,
      agentVersion: '2.0',
      netns: null,
    } as Observation);
    const err = codecError(() => new AvroCodec().decode(bytes));
    expect(err.code).toBe('CODEC_DECODE');
    expect(err.details['fingerprint']).toBe(writerV2.fingerprints.observation);
  });
});

describe('property: round trip', () => {
  it('decode(encode(x)) equals x for any observation and watermark', () => {
    const codec = new AvroCodec({ slabSize: 1024 });
    fc.assert(
      fc.property(observationArb, (obs) => {
        expect(codec.decode(codec.encodeObservation(obs))).toEqual({ type: 'observation', value: obs });
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.record({ node: fc.string(), bootId: fc.uuid(), timeUs: timeUsArb }), (wm) => {
        expect(codec.decode(codec.encodeWatermark(wm))).toEqual({ type: 'watermark', value: wm });
      }),
    );
  });
});
