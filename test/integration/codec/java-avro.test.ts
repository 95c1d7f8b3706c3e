/**
 * ctflow's Avro messages checked by the reference implementation, Apache Avro for Java 1.12.2
 * (test/integration/codec/java/AvroCheck.java, jars fetched once with Maven into .cache/avro-java):
 * the same Parsing Canonical Form and CRC-64-AVRO fingerprints, Java decodes every message to the
 * same values and re-encodes it to the same bytes, and Java resolves v1 data with the v2 test schema
 * the way ctflow does.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { AvroCodec } from '../../../src/codec/avro-codec.js';
import { parsingCanonicalForm } from '../../../src/codec/canonical.js';
import { loadSchemaFile } from '../../../src/codec/schema-files.js';
import type { Observation, Watermark } from '../../../src/flow/types.js';
import { goldenObservation, icmpObservation, sampleWatermark } from '../../unit/codec/sample.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const javaDir = join(root, 'test/integration/codec/java');
const libDir = join(root, '.cache/avro-java/lib');
const schema = (name: string) => join(root, 'schemas', name);
const v2Schema = join(root, 'test/fixtures/schemas/observation.v2.avsc');

/** Fetches Apache Avro for Java and its dependencies once (Maven Central), into .cache/avro-java/lib. */
function ensureJars(): void {
  if (existsSync(join(libDir, '.complete'))) return;
  const tmp = `${libDir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync(
    'mvn',
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      join(javaDir, 'pom.xml'),
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${tmp}`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'], timeout: 170_000 },
  );
  writeFileSync(join(tmp, '.complete'), '');
  rmSync(libDir, { recursive: true, force: true });
  renameSync(tmp, libDir);
}

/** Runs AvroCheck.java (single-file source launch) and returns its stdout lines. */
function avroJava(args: string[]): string[] {
  const classpath = readdirSync(libDir)
    .filter((f) => f.endsWith('.jar'))
    .map((f) => join(libDir, f))
    .join(':');
  const out = execFileSync('java', ['-cp', classpath, join(javaDir, 'AvroCheck.java'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return out.trimEnd().split('\n');
}

/** Observations covering every field shape: IPv4/IPv6, ICMP ids, nulls, uint32 extremes, UTF-8. */
const observations: Observation[] = [
  goldenObservation,
  icmpObservation,
  {
    ...goldenObservation,
    node: 'nœud-ü-節点',
    kind: 'POLL',
    conntrackId: 0,
    status: 0xffffffff,
    mark: 0xffffffff,
    tcpState: 'SYN_SENT2',
    counters: { origPackets: 2 ** 40, origBytes: 2 ** 53 - 2, replyPackets: 0, replyBytes: 1 },
    kernelStartUs: null,
    kernelStopUs: 1764146500000001,
  },
];

describe('Apache Avro for Java reads and writes the same bytes', () => {
  const codec = new AvroCodec();

  beforeAll(() => {
    ensureJars();
  }, 180_000);

  it('computes the same canonical forms and fingerprints', () => {
    const lines = avroJava(['fingerprint', schema('observation.v1.avsc'), schema('watermark.v1.avsc')]);
    const [obsForm, obsFp, wmForm, wmFp] = lines;
    const wire = (signed: string) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(signed));
      return b.toString('hex');
    };
    expect(obsForm).toBe(parsingCanonicalForm(loadSchemaFile(schema('observation.v1.avsc'))));
    expect(wmForm).toBe(parsingCanonicalForm(loadSchemaFile(schema('watermark.v1.avsc'))));
    expect(wire(obsFp!)).toBe(codec.fingerprints.observation);
    expect(wire(wmFp!)).toBe(codec.fingerprints.watermark);
  }, 120_000);

  it('decodes every observation to the same values and re-encodes it to the same bytes', () => {
    const encoded = observations.map((o) => codec.encodeObservation(o).toString('hex'));
    const lines = avroJava(['roundtrip', schema('observation.v1.avsc'), ...encoded]);
    expect(lines).toHaveLength(2 * observations.length);
    observations.forEach((obs, i) => {
      expect(JSON.parse(lines[2 * i]!)).toEqual(obs);
      expect(lines[2 * i + 1]).toBe(encoded[i]);
    });
  }, 120_000);

  it('round-trips a watermark', () => {
    const hex = codec.encodeWatermark(sampleWatermark).toString('hex');
    const [json, javaHex] = avroJava(['roundtrip', schema('watermark.v1.avsc'), hex]);
    expect(JSON.parse(json!) as Watermark).toEqual(sampleWatermark);
    expect(javaHex).toBe(hex);
  }, 120_000);

  it('resolves v1 data with the v2 reader schema like ctflow does', () => {
    const hex = codec.encodeObservation(goldenObservation).toString('hex');
    const [json] = avroJava(['resolve', v2Schema, schema('observation.v1.avsc'), hex]);
    expect(JSON.parse(json!)).toEqual({ ...goldenObservation, agentVersion: 'unknown', netns: null });
  }, 120_000);
});
