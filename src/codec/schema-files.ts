/**
 * Loads the checked-in Avro schemas (schemas/*.avsc) as compiled avsc types. The files are the
 * contract between agents and processors of different versions, so they are read from disk rather
 * than duplicated in code.
 */
import avro from 'avsc';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CtflowError } from '../errors.js';

/** Schema files of the current version, by the record they describe. */
export const SCHEMA_FILES = {
  observation: 'observation.v1.avsc',
  watermark: 'watermark.v1.avsc',
} as const;

let cachedDir: string | undefined;

/**
 * The schemas/ directory of the package: found by walking up from this module, so it works from
 * src/ (tsx) and from dist/src/ (compiled) alike.
 */
export function schemasDir(): string {
  if (cachedDir !== undefined) return cachedDir;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, SCHEMA_FILES.observation))) {
      cachedDir = candidate;
      return candidate;
    }
    dir = dirname(dir);
  }
  throw new CtflowError(
    'CODEC_DECODE',
    `schemas/${SCHEMA_FILES.observation} not found above ${import.meta.url}`,
    {
      details: { expected: 'the package schemas/ directory' },
    },
  );
}

/** Parses one .avsc file (absolute path) into a compiled avsc type. */
export function loadSchemaFile(path: string): avro.Type {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new CtflowError('CODEC_DECODE', `cannot read Avro schema ${path}: ${(cause as Error).message}`, {
      details: { path },
      cause,
    });
  }
  // wrapUnions=false: ["null", T] reads and writes as `T | null`, matching src/flow/types.ts.
  return avro.Type.forSchema(json as avro.Schema, { wrapUnions: false });
}

/** The current (v1) observation and watermark schemas. */
export function loadCurrentSchemas(): { observation: avro.Type; watermark: avro.Type } {
  const dir = schemasDir();
  return {
    observation: loadSchemaFile(join(dir, SCHEMA_FILES.observation)),
    watermark: loadSchemaFile(join(dir, SCHEMA_FILES.watermark)),
  };
}
