/**
 * JSON Lines form of the observations topic, for `ctflow run --record PATH` and
 * `--source file:PATH`. One line per message, with the message kind as the single key:
 *   {"observation": {...Observation...}}
 *   {"watermark": {...Watermark...}}
 * Values are the plain JSON of the Avro records (nullable fields as null or the value, enums as
 * their symbol, times as integer µs), checked against the same Avro schemas as the binary form.
 */
import type avro from 'avsc';
import { CtflowError } from '../errors.js';
import type { Observation, Watermark } from '../flow/types.js';
import type { Decoded } from './avro-codec.js';
import { loadCurrentSchemas } from './schema-files.js';

let schemas: { observation: avro.Type; watermark: avro.Type } | undefined;
function current(): { observation: avro.Type; watermark: avro.Type } {
  schemas ??= loadCurrentSchemas();
  return schemas;
}

/** One JSON line (without the newline) for an observation or watermark. */
export function toJsonLine(message: Decoded): string {
  return message.type === 'observation'
    ? JSON.stringify({ observation: message.value })
    : JSON.stringify({ watermark: message.value });
}

/** JSON line of an observation. */
export function observationToJsonLine(obs: Observation): string {
  return JSON.stringify({ observation: obs });
}

/** JSON line of a watermark. */
export function watermarkToJsonLine(wm: Watermark): string {
  return JSON.stringify({ watermark: wm });
}

/** The first few mismatches of `value` against `type`, with their paths; '' when valid. */
function describe(type: avro.Type, value: unknown, kind: string): string {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], any: unknown, t: avro.Type) => {
      if (problems.length < 3) {
        problems.push(
          `${kind}.${path.join('.')} = ${JSON.stringify(any) ?? 'missing'} (expected ${t.branchName ?? t.typeName})`,
        );
      }
    },
  });
  return problems.join('; ');
}

function fail(source: string, line: number, message: string, details: Record<string, unknown> = {}): never {
  throw new CtflowError('CODEC_DECODE', `${source}:${line}: ${message}`, {
    details: { source, line, ...details },
  });
}

/**
 * Parses one line of a recording. `line` is the 1-based line number and `source` the file name,
 * both named in errors. Fields missing from the line take their schema default (so recordings made
 * by an older version replay); anything else that does not match the schema is an error.
 */
export function parseJsonLine(text: string, line: number, source = 'recording'): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    fail(source, line, `not JSON: ${(cause as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail(source, line, 'expected an object {"observation": {...}} or {"watermark": {...}}');
  }
  const keys = Object.keys(parsed);
  const kind = keys[0];
  if (keys.length !== 1 || (kind !== 'observation' && kind !== 'watermark')) {
    fail(source, line, `expected exactly one key "observation" or "watermark", got ${JSON.stringify(keys)}`, {
      keys,
    });
  }
  const type = current()[kind];
  const body = (parsed as Record<string, unknown>)[kind];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    fail(source, line, `"${kind}" must be an object, got ${JSON.stringify(body)}`);
  }
  let value: unknown;
  try {
    // clone fills schema defaults for absent fields and rejects values of the wrong type. Fields
    // this version does not know are ignored, as Avro schema resolution ignores them.
    value = type.clone(body, { wrapUnions: false });
  } catch (cause) {
    fail(
      source,
      line,
      `${kind} does not match schema ${type.name}: ${describe(type, body, kind) || (cause as Error).message}`,
      {
        kind,
      },
    );
  }
  const problems = describe(type, value, kind);
  if (problems !== '')
    fail(source, line, `${kind} does not match schema ${type.name}: ${problems}`, { kind });
  return kind === 'observation'
    ? { type: 'observation', value: value as Observation }
    : { type: 'watermark', value: value as Watermark };
}

/**
 * Parses a recording line by line (blank lines skipped). Stops at the first bad line with a
 * CODEC_DECODE error naming `source` and the line number.
 */
export async function* parseJsonLines(
  lines: AsyncIterable<string> | Iterable<string>,
  source = 'recording',
): AsyncGenerator<Decoded> {
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    yield parseJsonLine(text, n, source);
  }
}
