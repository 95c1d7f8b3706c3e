/**
 * Templates and options templates (RFC 7011 §3.4): their model, their wire form, and a generic data
 * record encoder for any template.
 */
import { CtflowError } from '../errors.js';
import { DEFAULT_LENGTH, type FieldValue, VARIABLE_LENGTH } from './datatypes.js';
import { checkFieldLength, encodedLength, writeValue } from './encode-value.js';
import type { InformationElement } from './registry.js';

/** Lowest Template ID; 0-255 are Set IDs (RFC 7011 §3.4.1). */
export const MIN_TEMPLATE_ID = 256;

/** One Field Specifier (RFC 7011 §3.2): the element and its length in this template. */
export interface TemplateField {
  readonly ie: InformationElement;
  /** Octets on the wire, or VARIABLE_LENGTH (65535). */
  readonly length: number;
}

/** A Template (scopeCount 0) or an Options Template (scopeCount ≥ 1 scope fields first). */
export interface Template {
  readonly id: number;
  readonly fields: readonly TemplateField[];
  readonly scopeCount: number;
  /** Data record length when every field is fixed-length, else -1. */
  readonly fixedLength: number;
  /** Smallest possible data record (a variable-length field counts its 1-octet prefix). */
  readonly minRecordLength: number;
}

/** A field given as an element (full length, or variable for octetArray/string) or with an explicit length. */
export type FieldSpec = InformationElement | { readonly ie: InformationElement; readonly length: number };

/** Builds and checks a template: id 256..65535, 1..65535 fields, legal lengths, scope count ≤ fields. */
export function makeTemplate(id: number, specs: readonly FieldSpec[], scopeCount = 0): Template {
  if (!Number.isInteger(id) || id < MIN_TEMPLATE_ID || id > 65535) {
    throw new CtflowError('IPFIX_TEMPLATE', `template id ${id} out of range`, {
      details: { field: 'templateId', value: id, expected: '256..65535' },
    });
  }
  if (specs.length === 0 || specs.length > 65535 || scopeCount < 0 || scopeCount > specs.length) {
    throw new CtflowError(
      'IPFIX_TEMPLATE',
      `template ${id} has ${specs.length} fields, ${scopeCount} scope`,
      {
        details: { field: 'fields', value: specs.length, expected: '1..65535 fields, scope count ≤ fields' },
      },
    );
  }
  const fields: TemplateField[] = specs.map((s) =>
    'length' in s ? { ie: s.ie, length: s.length } : { ie: s, length: DEFAULT_LENGTH[s.type] },
  );
  let fixed = 0;
  let min = 0;
  let variable = false;
  for (const f of fields) {
    if (f.ie.id < 0 || f.ie.id > 32767) {
      throw new CtflowError('IPFIX_TEMPLATE', `element id ${f.ie.id} of ${f.ie.name} out of range`, {
        details: { element: f.ie.name, value: f.ie.id, expected: '0..32767' },
      });
    }
    checkFieldLength(f.ie, f.length);
    if (f.length === VARIABLE_LENGTH) {
      variable = true;
      min += 1;
    } else {
      fixed += f.length;
      min += f.length;
    }
  }
  return { id, fields, scopeCount, fixedLength: variable ? -1 : fixed, minRecordLength: min };
}

/** Octets of the template record (inside a Template or Options Template Set). */
export function templateRecordLength(t: Template): number {
  let n = t.scopeCount > 0 ? 6 : 4;
  for (const f of t.fields) n += f.ie.pen === 0 ? 4 : 8;
  return n;
}

/**
 * RFC 7011 §3.4.1 Template Record: Template ID, Field Count, Field Specifiers.
 * RFC 7011 §3.4.2.3 Options Template Record: Template ID, Field Count, Scope Field Count, fields.
 * RFC 7011 §3.2 Field Specifier: E bit + element id (2), length (2), enterprise number (4) if E.
 */
export function writeTemplateRecord(buf: Uint8Array, off: number, t: Template): number {
  let o = off;
  const u16 = (v: number): void => {
    buf[o] = v >>> 8;
    buf[o + 1] = v & 0xff;
    o += 2;
  };
  u16(t.id);
  u16(t.fields.length);
  if (t.scopeCount > 0) u16(t.scopeCount);
  for (const f of t.fields) {
    u16(f.ie.pen === 0 ? f.ie.id : 0x8000 | f.ie.id);
    u16(f.length);
    if (f.ie.pen !== 0) {
      const p = f.ie.pen;
      buf[o] = p >>> 24;
      buf[o + 1] = (p >>> 16) & 0xff;
      buf[o + 2] = (p >>> 8) & 0xff;
      buf[o + 3] = p & 0xff;
      o += 4;
    }
  }
  return o - off;
}

function checkArity(t: Template, values: readonly FieldValue[]): void {
  if (values.length !== t.fields.length) {
    throw new CtflowError(
      'IPFIX_ENCODE',
      `template ${t.id} has ${t.fields.length} fields, got ${values.length} values`,
      {
        details: { templateId: t.id, value: values.length, expected: t.fields.length },
      },
    );
  }
}

/** Octets the data record of `values` takes under `t` (refuses values that cannot be encoded in size). */
export function dataRecordLength(t: Template, values: readonly FieldValue[]): number {
  checkArity(t, values);
  if (t.fixedLength >= 0) return t.fixedLength;
  let n = 0;
  for (let k = 0; k < t.fields.length; k++)
    n += encodedLength(t.fields[k]!.ie, t.fields[k]!.length, values[k]!);
  return n;
}

/**
 * RFC 7011 §3.4.3 Data Record: the field values in template order, no separators. Writes at
 * `buf[off]` (room for `dataRecordLength` octets guaranteed by the caller); returns octets written.
 * Throws IPFIX_ENCODE on the first value its element cannot carry (the caller discards the record).
 */
export function writeDataRecord(
  buf: Uint8Array,
  off: number,
  t: Template,
  values: readonly FieldValue[],
): number {
  checkArity(t, values);
  let o = off;
  for (let k = 0; k < t.fields.length; k++) {
    const f = t.fields[k]!;
    o += writeValue(buf, o, f.ie, f.length, values[k]!);
  }
  return o - off;
}
