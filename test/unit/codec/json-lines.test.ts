import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  observationToJsonLine,
  parseJsonLine,
  parseJsonLines,
  toJsonLine,
  watermarkToJsonLine,
} from '../../../src/codec/json-lines.js';
import { isCtflowError } from '../../../src/errors.js';
import { observationArb } from './arbitraries.js';
import { goldenObservation, icmpObservation, sampleWatermark } from './sample.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function parseError(text: string, line = 7): Error {
  try {
    parseJsonLine(text, line, 'rec.jsonl');
  } catch (err) {
    if (isCtflowError(err, 'CODEC_DECODE')) return err;
    throw err;
  }
  throw new Error('expected CODEC_DECODE');
}

describe('JSON Lines recording form', () => {
  it('writes one discriminated object per line', () => {
    expect(watermarkToJsonLine(sampleWatermark)).toBe(
      '{"watermark":{"node":"node-a","bootId":"b1","timeUs":1764146400123456}}',
    );
    expect(JSON.parse(observationToJsonLine(icmpObservation))).toEqual({ observation: icmpObservation });
    expect(toJsonLine({ type: 'watermark', value: sampleWatermark })).toBe(
      watermarkToJsonLine(sampleWatermark),
    );
  });

  it('replays a recording of observations and watermarks in order, skipping blank lines', async () => {
    const lines = [
      observationToJsonLine(goldenObservation),
      '',
      watermarkToJsonLine(sampleWatermark),
      observationToJsonLine(icmpObservation),
    ];
    expect(await collect(parseJsonLines(lines))).toEqual([
      { type: 'observation', value: goldenObservation },
      { type: 'watermark', value: sampleWatermark },
      { type: 'observation', value: icmpObservation },
    ]);
  });

  it('round-trips any observation', () => {
    fc.assert(
      fc.property(observationArb, (obs) => {
        expect(parseJsonLine(observationToJsonLine(obs), 1)).toEqual({ type: 'observation', value: obs });
      }),
      { numRuns: 300 },
    );
  });

  it('names the file and line of text that is not JSON', () => {
    expect(parseError('{"observation": ').message).toMatch(/^rec\.jsonl:7: not JSON: /);
  });

  it('names the line of an unknown discriminator', () => {
    expect(parseError('{"flow": {}}', 3).message).toBe(
      'rec.jsonl:3: expected exactly one key "observation" or "watermark", got ["flow"]',
    );
  });

  it('names the field, value and expected type of a schema mismatch', () => {
    const bad = JSON.stringify({ watermark: { ...sampleWatermark, timeUs: 'soon' } });
    expect(parseError(bad).message).toBe(
      'rec.jsonl:7: watermark does not match schema io.ctflow.v1.Watermark: watermark.timeUs = "soon" (expected long)',
    );
    const badEnum = JSON.stringify({ observation: { ...goldenObservation, tcpState: 'OPEN' } });
    expect(parseError(badEnum).message).toContain('observation.tcpState = "OPEN"');
  });

  it('reports a missing required field', () => {
    const { bootId: _omitted, ...rest } = sampleWatermark;
    expect(parseError(JSON.stringify({ watermark: rest })).message).toContain('watermark.bootId = missing');
  });

  it('stops a replay at the first bad line with its number', async () => {
    const lines = [watermarkToJsonLine(sampleWatermark), '', 'garbage'];
    await expect(collect(parseJsonLines(lines, 'r.jsonl'))).rejects.toThrow(/^r\.jsonl:3: not JSON/);
  });
});
