import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { parsingCanonicalForm, schemaFingerprint } from '../../../src/codec/canonical.js';
import { fingerprintBytesLE, rabinFingerprint64 } from '../../../src/codec/rabin.js';

// Test vectors of the Avro specification (apache/avro share/test/data/schema-tests.txt): input
// schema, its Parsing Canonical Form, and the CRC-64-AVRO fingerprint as a signed Java long.
const VECTORS: Array<[input: string, canonical: string, fingerprint: bigint]> = [
  ['"null"', '"null"', 7195948357588979594n],
  ['"boolean"', '"boolean"', -6970731678124411036n],
  ['"int"', '"int"', 8247732601305521295n],
  ['{"type":"long"}', '"long"', -3434872931120570953n],
  ['"string"', '"string"', -8142146995180207161n],
  ['[ "int" , {"type":"boolean"} ]', '["int","boolean"]', 5392556393470105090n],
  [
    '{"fields":[], "type":"record", "name":"foo"}',
    '{"name":"foo","type":"record","fields":[]}',
    -4824392279771201922n,
  ],
  [
    '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
    '{"name":"x.y.foo","type":"record","fields":[]}',
    5916914534497305771n,
  ],
  [
    '{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}',
    '{"name":"a.b.foo","type":"record","fields":[]}',
    -4616218487480524110n,
  ],
  [
    '{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}',
    '{"name":"foo","type":"record","fields":[]}',
    -4824392279771201922n,
  ],
  [
    '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":true}, {"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo"}',
    '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    -4860222112080293046n,
  ],
  [
    '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
    '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
    -4448647247586288245n,
  ],
  [
    '{"name":"foo","type":"fixed","size":15}',
    '{"name":"foo","type":"fixed","size":15}',
    1756455273707447556n,
  ],
  ['{ "items":{"type":"null"}, "type":"array"}', '{"type":"array","items":"null"}', -589620603366471059n],
  ['{ "values":"string", "type":"map"}', '{"type":"map","values":"string"}', -8732877298790414990n],
  [
    '{"name":"PigValue","type":"record","fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
    '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
    -1759257747318642341n,
  ],
];

describe('CRC-64-AVRO fingerprint', () => {
  it.each(VECTORS)('fingerprints %s as the specification says', (_input, canonical, expected) => {
    expect(rabinFingerprint64(Buffer.from(canonical, 'utf8'))).toBe(BigInt.asUintN(64, expected));
  });

  it('returns the empty fingerprint for no input', () => {
    expect(rabinFingerprint64(new Uint8Array(0))).toBe(0xc15d213aa4d7a795n);
  });

  it('writes the fingerprint little-endian', () => {
    expect(fingerprintBytesLE(0x0102030405060708n).toString('hex')).toBe('0807060504030201');
  });
});

describe('Parsing Canonical Form', () => {
  it.each(VECTORS)('canonicalises %s', (input, canonical, expected) => {
    const type = avro.Type.forSchema(JSON.parse(input) as avro.Schema);
    expect(parsingCanonicalForm(type)).toBe(canonical);
    expect(schemaFingerprint(type)).toBe(BigInt.asUintN(64, expected));
  });

  it('drops logicalType, doc and defaults', () => {
    const type = avro.Type.forSchema(
      {
        type: 'record',
        name: 'R',
        namespace: 'n',
        doc: 'd',
        fields: [
          { name: 't', type: { type: 'long', logicalType: 'timestamp-micros' }, doc: 'x', default: 0 },
        ],
      } as avro.Schema,
      { wrapUnions: false },
    );
    expect(parsingCanonicalForm(type)).toBe(
      '{"name":"n.R","type":"record","fields":[{"name":"t","type":"long"}]}',
    );
  });
});
