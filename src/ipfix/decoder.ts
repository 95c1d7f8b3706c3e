/**
 * IPFIX Collecting Process decoder (RFC 7011 §3, §8, §10): messages in, data records and events out.
 *
 * Templates are kept per (exporter address+port, observation domain, template id); template and
 * options template sets, withdrawals (§8.1), UDP template lifetime (§8.4), variable-length fields,
 * enterprise and RFC 5103 reverse elements, sequence-gap detection per (exporter, domain).
 * Hostile input never throws out of `decode` and never makes it allocate without bound: every
 * allocation is bounded by the message length (≤ 65535) or by `maxTemplates` / `maxSessions`;
 * what is wrong comes back as a `malformed` event and is counted.
 */
import { CtflowError } from '../errors.js';
import type { DataType, FieldValue } from './datatypes.js';
import { VARIABLE_LENGTH } from './datatypes.js';
import { readValue } from './decode-value.js';
import { HEADER_LENGTH, IPFIX_VERSION, OPTIONS_TEMPLATE_SET_ID, TEMPLATE_SET_ID } from './message.js';
import { type InformationElement, REVERSE_PEN, type Registry, defaultRegistry } from './registry.js';

/** Decoder settings. */
export interface DecoderOptions {
  /** Elements known by name and type (others decode as octetArray named ie<id> / e<pen>.<id>). */
  readonly registry?: Registry;
  /** UDP: a template not refreshed for this long is forgotten, seconds. Default 1800 (3 × 600 s). */
  readonly templateLifetimeS?: number;
  /** Templates kept at most (all exporters and domains). Default 10000. */
  readonly maxTemplates?: number;
  /** (exporter, domain) sequence states kept at most; the oldest is forgotten. Default 10000. */
  readonly maxSessions?: number;
}

/** One decoded field. `type` 'unknown' = element not in the registry (value is its octets). */
export interface DecodedField {
  readonly name: string;
  readonly id: number;
  readonly pen: number;
  readonly type: DataType | 'unknown';
  readonly value: FieldValue;
}

/** One data record (options records have `scopeCount` > 0). */
export interface DecodedRecord {
  readonly exporter: string;
  readonly observationDomainId: number;
  readonly templateId: number;
  readonly sequenceNumber: number;
  /** Message export time, seconds since the epoch. */
  readonly exportTime: number;
  readonly scopeCount: number;
  readonly fields: readonly DecodedField[];
}

/** Something the collector should know about besides records. */
export type DecodeEvent =
  | {
      readonly kind: 'template';
      readonly exporter: string;
      readonly domain: number;
      readonly templateId: number;
      readonly fieldCount: number;
      readonly scopeCount: number;
    }
  | {
      readonly kind: 'withdrawal';
      readonly exporter: string;
      readonly domain: number;
      readonly templateId: number;
    }
  | {
      readonly kind: 'unknownTemplate';
      readonly exporter: string;
      readonly domain: number;
      readonly templateId: number;
      readonly sequenceNumber: number;
    }
  | {
      readonly kind: 'sequenceGap';
      readonly exporter: string;
      readonly domain: number;
      readonly expected: number;
      readonly received: number;
    }
  | { readonly kind: 'malformed'; readonly exporter: string; readonly error: CtflowError };

/** Result of decoding one message. */
export interface DecodeResult {
  readonly records: DecodedRecord[];
  readonly events: DecodeEvent[];
}

/** Counters since the decoder was created. */
export interface DecoderStats {
  messages: number;
  records: number;
  templates: number;
  malformed: number;
  unknownTemplateSets: number;
  sequenceGaps: number;
  templatesRejected: number;
}

interface DecField {
  readonly ie: InformationElement | undefined;
  readonly id: number;
  readonly pen: number;
  readonly length: number;
  readonly name: string;
}

interface DecTemplate {
  readonly id: number;
  readonly scopeCount: number;
  readonly fields: readonly DecField[];
  readonly minLength: number;
  receivedMs: number;
}

function malformed(message: string, details: Record<string, unknown>): CtflowError {
  return new CtflowError('IPFIX_DECODE', message, { details });
}

function unknownName(pen: number, id: number): string {
  return pen === 0 ? `ie${id}` : pen === REVERSE_PEN ? `reverseIe${id}` : `e${pen}.${id}`;
}

/** A decoder for messages from any number of exporters. Not thread-safe; one per listener. */
export class Decoder {
  readonly #reg: Registry;
  readonly #lifetimeMs: number;
  readonly #maxTemplates: number;
  readonly #maxSessions: number;
  readonly #templates = new Map<string, DecTemplate>();
  readonly #expected = new Map<string, number | undefined>();
  readonly #stats: DecoderStats = {
    messages: 0,
    records: 0,
    templates: 0,
    malformed: 0,
    unknownTemplateSets: 0,
    sequenceGaps: 0,
    templatesRejected: 0,
  };

  constructor(opts: DecoderOptions = {}) {
    this.#reg = opts.registry ?? defaultRegistry;
    this.#lifetimeMs = (opts.templateLifetimeS ?? 1800) * 1000;
    this.#maxTemplates = opts.maxTemplates ?? 10_000;
    this.#maxSessions = opts.maxSessions ?? 10_000;
  }

  /** Counters (a copy). */
  stats(): DecoderStats {
    return { ...this.#stats };
  }

  /** Templates currently held. */
  get templateCount(): number {
    return this.#templates.size;
  }

  /** Forgets an exporter's templates and sequence state (its TCP connection closed). */
  forget(exporter: string): void {
    const prefix = `${exporter}|`;
    for (const k of [...this.#templates.keys()]) if (k.startsWith(prefix)) this.#templates.delete(k);
    for (const k of [...this.#expected.keys()]) if (k.startsWith(prefix)) this.#expected.delete(k);
  }

  /**
   * Decodes one message from `exporter` (e.g. '192.0.2.1:4739'). `udp` turns on template expiry.
   * `nowMs` is the receive time (ms since epoch) used for template lifetime only.
   */
  decode(msg: Uint8Array, exporter: string, transport: 'udp' | 'tcp', nowMs: number): DecodeResult {
    const out: DecodeResult = { records: [], events: [] };
    try {
      this.#decode(msg, exporter, transport, nowMs, out);
    } catch (err) {
      const e =
        err instanceof CtflowError
          ? err
          : new CtflowError('IPFIX_DECODE', `decoder failure: ${String(err)}`, { cause: err });
      this.#stats.malformed++;
      out.events.push({ kind: 'malformed', exporter, error: e });
    }
    return out;
  }

  #decode(
    msg: Uint8Array,
    exporter: string,
    transport: 'udp' | 'tcp',
    nowMs: number,
    out: DecodeResult,
  ): void {
    if (msg.length < HEADER_LENGTH) {
      throw malformed(`message of ${msg.length} octets is shorter than the 16-octet header`, {
        value: msg.length,
      });
    }
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const version = dv.getUint16(0);
    const length = dv.getUint16(2);
    if (version !== IPFIX_VERSION) {
      throw malformed(`version ${version} is not IPFIX (10)`, {
        field: 'version',
        value: version,
        expected: 10,
      });
    }
    if (length < HEADER_LENGTH || length > msg.length) {
      throw malformed(`header length ${length} does not match the ${msg.length} octets received`, {
        field: 'length',
        value: length,
        expected: `16..${msg.length}`,
      });
    }
    const exportTime = dv.getUint32(4);
    const seq = dv.getUint32(8);
    const domain = dv.getUint32(12);
    this.#stats.messages++;
    const sessionKey = `${exporter}|${domain}`;
    const expected = this.#expected.get(sessionKey);
    if (expected !== undefined && expected !== seq) {
      this.#stats.sequenceGaps++;
      out.events.push({ kind: 'sequenceGap', exporter, domain, expected, received: seq });
    }
    let dataRecords = 0;
    let countKnown = true;
    let off = HEADER_LENGTH;
    while (off < length) {
      if (length - off < 4) {
        throw malformed(`${length - off} octets after the last set`, { offset: off });
      }
      const setId = dv.getUint16(off);
      const setLen = dv.getUint16(off + 2);
      if (setLen < 4 || off + setLen > length) {
        throw malformed(`set ${setId} at offset ${off} has length ${setLen}`, {
          field: 'setLength',
          value: setLen,
          expected: `4..${length - off}`,
        });
      }
      const body = off + 4;
      const end = off + setLen;
      if (setId === TEMPLATE_SET_ID || setId === OPTIONS_TEMPLATE_SET_ID) {
        this.#templateSet(dv, body, end, setId === OPTIONS_TEMPLATE_SET_ID, exporter, domain, nowMs, out);
      } else if (setId >= 256) {
        const n = this.#dataSet(
          msg,
          dv,
          body,
          end,
          setId,
          exporter,
          domain,
          seq,
          exportTime,
          transport,
          nowMs,
          out,
        );
        if (n < 0) countKnown = false;
        else dataRecords += n;
      } else {
        // Set IDs 0, 1 and 4..255 are reserved (RFC 7011 §3.3.2): skipped, reported.
        this.#stats.malformed++;
        out.events.push({
          kind: 'malformed',
          exporter,
          error: malformed(`reserved set id ${setId} skipped`, {
            field: 'setId',
            value: setId,
            expected: '2, 3 or ≥ 256',
          }),
        });
      }
      off = end;
    }
    if (!this.#expected.has(sessionKey) && this.#expected.size >= this.#maxSessions) {
      const oldest = this.#expected.keys().next().value;
      if (oldest !== undefined) this.#expected.delete(oldest);
    }
    this.#expected.set(sessionKey, countKnown ? (seq + dataRecords) % 4294967296 : undefined);
  }

  #templateSet(
    dv: DataView,
    start: number,
    end: number,
    options: boolean,
    exporter: string,
    domain: number,
    nowMs: number,
    out: DecodeResult,
  ): void {
    let off = start;
    const headerLen = options ? 6 : 4;
    // RFC 7011 §3.3.1: what is left after the last record and is shorter than one is padding.
    while (end - off >= 4) {
      const id = dv.getUint16(off);
      const count = dv.getUint16(off + 2);
      if (count === 0) {
        // RFC 7011 §8.1 withdrawal; id 2 (or 3 in an options set) withdraws them all.
        this.#withdraw(exporter, domain, id, options);
        out.events.push({ kind: 'withdrawal', exporter, domain, templateId: id });
        off += 4;
        continue;
      }
      if (end - off < headerLen) throw malformed('truncated options template header', { offset: off });
      const scope = options ? dv.getUint16(off + 4) : 0;
      if (id < 256)
        throw malformed(`template id ${id} < 256`, { field: 'templateId', value: id, expected: '≥ 256' });
      if (options && (scope === 0 || scope > count)) {
        throw malformed(`options template ${id}: scope field count ${scope} of ${count} fields`, {
          field: 'scopeFieldCount',
          value: scope,
          expected: `1..${count}`,
        });
      }
      off += headerLen;
      const fields: DecField[] = [];
      let min = 0;
      for (let k = 0; k < count; k++) {
        if (end - off < 4)
          throw malformed(`template ${id} truncated at field ${k} of ${count}`, { templateId: id });
        const raw = dv.getUint16(off);
        const len = dv.getUint16(off + 2);
        off += 4;
        let pen = 0;
        if (raw & 0x8000) {
          if (end - off < 4)
            throw malformed(`template ${id} truncated in enterprise number`, { templateId: id });
          pen = dv.getUint32(off);
          off += 4;
        }
        const fid = raw & 0x7fff;
        if (len === 0) {
          throw malformed(`template ${id} field ${fid} has length 0`, {
            templateId: id,
            field: fid,
            value: 0,
          });
        }
        const ie = this.#reg.get(pen, fid);
        fields.push({ ie, id: fid, pen, length: len, name: ie?.name ?? unknownName(pen, fid) });
        min += len === VARIABLE_LENGTH ? 1 : len;
      }
      this.#store(exporter, domain, { id, scopeCount: scope, fields, minLength: min, receivedMs: nowMs });
      out.events.push({
        kind: 'template',
        exporter,
        domain,
        templateId: id,
        fieldCount: count,
        scopeCount: scope,
      });
    }
  }

  #store(exporter: string, domain: number, t: DecTemplate): void {
    const key = `${exporter}|${domain}|${t.id}`;
    if (!this.#templates.has(key) && this.#templates.size >= this.#maxTemplates) {
      this.#stats.templatesRejected++;
      throw malformed(`template limit ${this.#maxTemplates} reached; template ${t.id} ignored`, {
        field: 'maxTemplates',
        value: this.#maxTemplates,
      });
    }
    this.#templates.set(key, t);
    this.#stats.templates++;
  }

  #withdraw(exporter: string, domain: number, id: number, options: boolean): void {
    const prefix = `${exporter}|${domain}|`;
    if (id === TEMPLATE_SET_ID || id === OPTIONS_TEMPLATE_SET_ID) {
      for (const [k, t] of [...this.#templates]) {
        if (k.startsWith(prefix) && t.scopeCount > 0 === options) this.#templates.delete(k);
      }
      return;
    }
    this.#templates.delete(`${prefix}${id}`);
  }

  /** Returns the number of records decoded, or -1 when the template is unknown (count unknown). */
  #dataSet(
    msg: Uint8Array,
    dv: DataView,
    start: number,
    end: number,
    setId: number,
    exporter: string,
    domain: number,
    seq: number,
    exportTime: number,
    transport: 'udp' | 'tcp',
    nowMs: number,
    out: DecodeResult,
  ): number {
    const key = `${exporter}|${domain}|${setId}`;
    const t = this.#templates.get(key);
    if (t !== undefined && transport === 'udp' && nowMs - t.receivedMs > this.#lifetimeMs) {
      this.#templates.delete(key);
    }
    const live = this.#templates.get(key);
    if (live === undefined) {
      this.#stats.unknownTemplateSets++;
      out.events.push({ kind: 'unknownTemplate', exporter, domain, templateId: setId, sequenceNumber: seq });
      return -1;
    }
    let off = start;
    let n = 0;
    while (end - off >= live.minLength) {
      const fields: DecodedField[] = [];
      for (const f of live.fields) {
        let len = f.length;
        if (len === VARIABLE_LENGTH) {
          if (off >= end) throw malformed(`record of template ${setId} truncated`, { templateId: setId });
          len = msg[off]!;
          off += 1;
          if (len === 255) {
            if (end - off < 2)
              throw malformed(`record of template ${setId} truncated`, { templateId: setId });
            len = dv.getUint16(off);
            off += 2;
          }
        }
        if (end - off < len) {
          throw malformed(`field ${f.name} of template ${setId} runs past its set`, {
            templateId: setId,
            field: f.name,
            value: len,
            expected: `≤ ${end - off} octets`,
          });
        }
        const value: FieldValue =
          f.ie === undefined ? new Uint8Array(msg.subarray(off, off + len)) : readValue(msg, off, f.ie, len);
        fields.push({ name: f.name, id: f.id, pen: f.pen, type: f.ie?.type ?? 'unknown', value });
        off += len;
      }
      out.records.push({
        exporter,
        observationDomainId: domain,
        templateId: setId,
        sequenceNumber: seq,
        exportTime,
        scopeCount: live.scopeCount,
        fields,
      });
      n++;
      this.#stats.records++;
    }
    return n;
  }
}
