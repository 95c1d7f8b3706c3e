/**
 * The configuration schema flattened into its settings (leaves) and sections, via zod's JSON
 * Schema export. The environment mapping, flags, docs, secret redaction and "did you mean"
 * suggestions all derive from this list, so none of them can drift from the schema.
 */
import { z } from 'zod';
import { ConfigSchema } from './schema.js';

/** The value kinds a setting can have (all leaves are scalars or lists of scalars). */
export type SettingKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'list';

/** One leaf setting of the configuration. */
export interface Setting {
  /** Path segments, e.g. ['kafka', 'sasl', 'password']. */
  path: string[];
  /** Dotted path, e.g. kafka.sasl.password. */
  key: string;
  /** Environment variable, e.g. CTFLOW_KAFKA__SASL__PASSWORD. */
  env: string;
  kind: SettingKind;
  /** For lists: the kind of each item. */
  itemKind?: Exclude<SettingKind, 'list'>;
  description: string;
  /** The default as JSON, when there is one. */
  default?: unknown;
  /** How the docs render a default computed at run time. */
  docDefault?: string;
  secret: boolean;
  /** Allowed values of an enum (or of a list's items). */
  values?: string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  /** True when the setting has no default and must be given (within its section, when present). */
  required: boolean;
}

/** One section (object) of the configuration. */
export interface Section {
  path: string[];
  key: string;
  description: string;
  /** False when the whole section may be absent (e.g. kafka.sasl). */
  alwaysPresent: boolean;
}

interface JsonSchema {
  type?: string;
  description?: string;
  default?: unknown;
  docDefault?: string;
  secret?: boolean;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
}

/** CTFLOW_ + path segments in SCREAMING_SNAKE_CASE, joined by a double underscore. */
export function envNameFor(path: readonly string[]): string {
  return `CTFLOW_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`;
}

function scalarKind(s: JsonSchema): Exclude<SettingKind, 'list'> {
  if (s.enum) return 'enum';
  if (s.type === 'integer' || s.type === 'number' || s.type === 'boolean') return s.type;
  return 'string';
}

let cache: { settings: Setting[]; sections: Section[] } | undefined;

function build(): { settings: Setting[]; sections: Section[] } {
  const root = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const settings: Setting[] = [];
  const sections: Section[] = [];
  const walk = (node: JsonSchema, path: string[], present: boolean): void => {
    const required = new Set(node.required ?? []);
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const p = [...path, name];
      if (child.type === 'object' && child.properties) {
        const alwaysPresent = present && (child.default !== undefined || required.has(name));
        sections.push({ path: p, key: p.join('.'), description: child.description ?? '', alwaysPresent });
        walk(child, p, alwaysPresent);
        continue;
      }
      const isList = child.type === 'array';
      const scalar = isList ? (child.items ?? {}) : child;
      const setting: Setting = {
        path: p,
        key: p.join('.'),
        env: envNameFor(p),
        kind: isList ? 'list' : scalarKind(child),
        description: child.description ?? '',
        secret: child.secret === true,
        required: required.has(name) && child.default === undefined,
      };
      if (isList) setting.itemKind = scalarKind(scalar);
      if (child.default !== undefined) setting.default = child.default;
      if (child.docDefault !== undefined) setting.docDefault = child.docDefault;
      if (scalar.enum) setting.values = scalar.enum;
      if (child.minimum !== undefined) setting.minimum = child.minimum;
      if (child.maximum !== undefined) setting.maximum = child.maximum;
      if (child.exclusiveMinimum !== undefined) setting.exclusiveMinimum = child.exclusiveMinimum;
      if (child.minItems !== undefined) setting.minItems = child.minItems;
      settings.push(setting);
    }
  };
  walk(root, [], true);
  return { settings, sections };
}

/** Every leaf setting, in schema order. */
export function configSettings(): Setting[] {
  cache ??= build();
  return cache.settings;
}

/** Every section, in schema order. */
export function configSections(): Section[] {
  cache ??= build();
  return cache.sections;
}

/** The setting at a dotted key, if any. */
export function settingByKey(key: string): Setting | undefined {
  return configSettings().find((s) => s.key === key);
}

/** The keys allowed directly under a section path ([] = top level), for suggestions. */
export function keysUnder(path: readonly string[]): string[] {
  const prefix = path.join('.');
  const out = new Set<string>();
  for (const item of [...configSections(), ...configSettings()]) {
    if (item.path.length === path.length + 1 && item.path.slice(0, -1).join('.') === prefix) {
      out.add(item.path[item.path.length - 1]!);
    }
  }
  return [...out];
}

/** Dotted keys of every secret setting (for redaction). */
export function secretKeys(): string[] {
  return configSettings()
    .filter((s) => s.secret)
    .map((s) => s.key);
}
