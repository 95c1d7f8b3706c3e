/**
 * Text forms of decoded records for `ctflow collect`: JSON lines keyed by IANA element names
 * (RFC 5103 reverse elements "reverse"-prefixed), dateTime values as ISO 8601 UTC strings.
 */
import type { DecodedField, DecodedRecord, DecodeEvent } from './decoder.js';

function iso(ms: number): string | undefined {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** ISO 8601 UTC text of a dateTime field (ms precision; µs/ns types keep their extra digits). */
function timeText(f: DecodedField): string | undefined {
  const v = f.value;
  switch (f.type) {
    case 'dateTimeSeconds':
      return typeof v === 'number' ? iso(v * 1000) : undefined;
    case 'dateTimeMilliseconds':
      return typeof v === 'number' ? iso(v) : undefined;
    case 'dateTimeMicroseconds': {
      if (typeof v !== 'number') return undefined;
      const ms = Math.floor(v / 1000);
      const base = iso(ms);
      return base === undefined
        ? undefined
        : `${base.slice(0, -1)}${String(v - ms * 1000).padStart(3, '0')}Z`;
    }
    case 'dateTimeNanoseconds': {
      if (typeof v !== 'bigint') return undefined;
      const ms = v / 1_000_000n - (v < 0n && v % 1_000_000n !== 0n ? 1n : 0n);
      const base = iso(Number(ms));
      return base === undefined
        ? undefined
        : `${base.slice(0, -1)}${String(v - ms * 1_000_000n).padStart(6, '0')}Z`;
    }
    default:
      return undefined;
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** JSON text of one value (bigint as a JSON number, octets as a hex string, times as ISO strings). */
function jsonValue(f: DecodedField): string {
  const t = timeText(f);
  if (t !== undefined) return JSON.stringify(t);
  const v = f.value;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return JSON.stringify(hex(v));
  if (typeof v === 'number' && !Number.isFinite(v)) return JSON.stringify(String(v));
  return JSON.stringify(v);
}

function keys(fields: readonly DecodedField[]): string[] {
  const seen = new Map<string, number>();
  return fields.map((f) => {
    const n = (seen.get(f.name) ?? 0) + 1;
    seen.set(f.name, n);
    return n === 1 ? f.name : `${f.name}#${n}`;
  });
}

/** One JSON line: exporter, observationDomainId, templateId, sequenceNumber, then the fields. */
export function recordToJson(r: DecodedRecord): string {
  const ks = keys(r.fields);
  const parts = [
    `"exporter":${JSON.stringify(r.exporter)}`,
    `"observationDomainId":${r.observationDomainId}`,
    `"templateId":${r.templateId}`,
    `"sequenceNumber":${r.sequenceNumber}`,
  ];
  r.fields.forEach((f, k) => {
    parts.push(`${JSON.stringify(ks[k])}:${jsonValue(f)}`);
  });
  return `{${parts.join(',')}}`;
}

/** One human-readable line: the same content as the JSON form, name=value pairs. */
export function recordToText(r: DecodedRecord): string {
  const ks = keys(r.fields);
  const fields = r.fields.map((f, k) => {
    const t = timeText(f);
    const v = f.value;
    const text = t ?? (v instanceof Uint8Array ? hex(v) : String(v));
    return `${ks[k]}=${text}`;
  });
  return `${r.exporter} domain=${r.observationDomainId} template=${r.templateId} seq=${r.sequenceNumber} ${fields.join(' ')}`;
}

/** The stderr line for an event worth reporting (gaps, unknown templates, malformed input), else undefined. */
export function eventToText(e: DecodeEvent): string | undefined {
  switch (e.kind) {
    case 'sequenceGap': {
      const missing = (e.received - e.expected + 4294967296) % 4294967296;
      return `sequence gap from ${e.exporter} domain ${e.domain}: expected ${e.expected}, received ${e.received} (${missing} records missing or reordered)`;
    }
    case 'unknownTemplate':
      return `data set for unknown template ${e.templateId} from ${e.exporter} domain ${e.domain} (seq ${e.sequenceNumber}) skipped`;
    case 'malformed':
      return `malformed message from ${e.exporter}: ${e.error.message}`;
    default:
      return undefined;
  }
}
