/**
 * Turns schema violations into CtflowError('CONFIG_INVALID') whose message names, for each
 * problem, the setting's path, the value seen and where it came from, and what was expected.
 * Secret values are never shown.
 */
import type { z } from 'zod';
import { CtflowError } from '../errors.js';
import { type Layer, originOf, valueAt } from './layers.js';
import { configSections, configSettings, keysUnder, settingByKey } from './settings.js';
import { REDACTED } from './redact.js';
import { nearest } from './suggest.js';

/** One configuration problem. */
export interface ConfigProblem {
  /** Dotted path with [i] for list items, e.g. kafka.brokers[0]. */
  path: string;
  /** The value as shown (secrets redacted), or "missing". */
  value: string;
  expected: string;
  /** Where the value came from ("file x.yaml", "environment CTFLOW_...", "flag --x", "default"). */
  origin: string;
}

/** Renders a path: dots between keys, [i] for list indexes. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** The dotted setting key of a path (list indexes dropped). */
function keyOf(path: readonly PropertyKey[]): string {
  return path.filter((p) => typeof p !== 'number').join('.');
}

/** Shows a value in a message, or "<redacted>" for secrets. */
export function showValue(value: unknown, key: string): string {
  if (value === undefined) return 'missing';
  if (settingByKey(key)?.secret) return REDACTED;
  // A section shown whole (e.g. kafka.sasl) must not reveal the secrets inside it.
  const shown = typeof value === 'object' && value !== null ? redactUnder(value, key) : value;
  const json = JSON.stringify(shown);
  return json === undefined ? String(value) : json.length > 200 ? `${json.slice(0, 200)}...` : json;
}

function redactUnder(value: object, key: string): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  const prefix = key === '' ? '' : `${key}.`;
  for (const secret of configSettings().filter((s) => s.secret && s.key.startsWith(prefix))) {
    const rel = secret.key.slice(prefix.length).split('.');
    const parent = valueAt(copy, rel.slice(0, -1));
    const last = rel[rel.length - 1]!;
    if (
      typeof parent === 'object' &&
      parent !== null &&
      (parent as Record<string, unknown>)[last] !== undefined
    ) {
      (parent as Record<string, unknown>)[last] = REDACTED;
    }
  }
  return copy;
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a section (a mapping of keys)',
};

/** What an issue expected, in words. */
function expectedText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return TYPE_NAMES[issue.expected] ?? issue.expected;
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') return `at least ${min} item${min === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return min === 1 ? 'a non-empty string' : `at least ${min} characters`;
      return `a number ${issue.inclusive ? '>=' : '>'} ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return `at most ${max} items`;
      if (issue.origin === 'string') return `at most ${max} characters`;
      return `a number ${issue.inclusive ? '<=' : '<'} ${max}`;
    }
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return issue.message;
  }
}

/** "Did you mean" for an unknown key at `parent`: a sibling, else a key anywhere with that name. */
export function suggestKey(parent: readonly string[], key: string): string | undefined {
  const sibling = nearest(key, keysUnder(parent));
  if (sibling !== undefined) return [...parent, sibling].join('.');
  const all = [...configSettings(), ...configSections()];
  const match = nearest(
    key,
    all.map((s) => s.path[s.path.length - 1]!),
  );
  return match === undefined ? undefined : all.find((s) => s.path[s.path.length - 1] === match)?.key;
}

/** Problems of a failed parse of `merged`. */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], merged: Layer): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const parent = issue.path.map(String);
      for (const k of issue.keys) {
        const path = [...issue.path, k];
        const suggestion = suggestKey(parent, k);
        out.push({
          path: formatPath(path),
          value: showValue(valueAt(merged.values, path), keyOf(path)),
          expected: suggestion ? `no such key; did you mean "${suggestion}"?` : 'no such key',
          origin: originOf(merged, path),
        });
      }
      continue;
    }
    const value = valueAt(merged.values, issue.path);
    out.push({
      path: formatPath(issue.path) || '(root)',
      value: showValue(value, keyOf(issue.path)),
      expected: expectedText(issue),
      origin: originOf(merged, issue.path),
    });
  }
  return out;
}

/** One line per problem: `path = value (from origin): expected ...`. */
export function formatProblem(p: ConfigProblem): string {
  const from = p.origin === 'default' ? '' : ` (from ${p.origin})`;
  if (p.expected.startsWith('no such ') || p.expected === 'KEY=VALUE')
    return `${p.path}${from}: ${p.expected}`;
  return `${p.path} = ${p.value}${from}: expected ${p.expected}`;
}

/** The CONFIG_INVALID error for a list of problems. */
export function configError(problems: readonly ConfigProblem[], cause?: unknown): CtflowError {
  const lines = problems.map(formatProblem);
  const message =
    lines.length === 1
      ? `invalid configuration: ${lines[0]}`
      : `invalid configuration:\n  ${lines.join('\n  ')}`;
  return new CtflowError('CONFIG_INVALID', message, { details: { problems: [...problems] }, cause });
}
