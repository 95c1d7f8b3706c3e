/**
 * The mapping from the flow engine's FlowRecord to IPFIX templates and data records.
 *
 * One template per variant of record, so no field is ever filled with a made-up value:
 *   family (IPv4 | IPv6) × transport (ports | ICMP type/code | neither) × counters (with | without:
 *   a node without nf_conntrack_acct gets no counter fields, never zeros) × NAT (post-NAT fields only
 *   where the reply tuple differs from the inverted original tuple).
 * 24 variants; template id = firstTemplateId + variant index, so ids are the same in every transport
 * session and observation domain (and unique in each). Field order of a variant:
 *   source/destination address, [ports | icmpTypeCode], protocolIdentifier, [post-NAT addresses and,
 *   with ports, post-NAPT ports], flowStart/End per configured precision, [octet/packet delta counts,
 *   reverse octet/packet delta counts (RFC 5103), [totals]], flowEndReason, biflowDirection,
 *   [ctflow enterprise elements].
 * Conntrack's original direction is the flow's initiator: biflowDirection = 1 (RFC 5103 §6.3), the
 * forward counters are conntrack's orig counters and the reverse ones its reply counters.
 * Post-NAT view (conntrack reply tuple inverted): postNATSource = reply.dst, postNATDestination =
 * reply.src, postNAPTSourcePort = reply.dstPort, postNAPTDestinationPort = reply.srcPort.
 */
import { CtflowError } from '../errors.js';
import type { FlowRecord } from '../flow/types.js';
import { writeIpv4, writeIpv6 } from './address.js';
import { refuse, writeValue } from './encode-value.js';
import { type InformationElement, type Registry, defaultRegistry, reverseOf } from './registry.js';
import { MIN_TEMPLATE_ID, type Template, makeTemplate } from './template.js';

/** Which flowStart/flowEnd pair(s) a template carries (IE 150/151, 152/153, 154/155, 156/157). */
export type TimePrecision = 'seconds' | 'milliseconds' | 'microseconds' | 'nanoseconds';

/** How FlowRecords become templates. */
export interface FlowTemplateOptions {
  /** Time pairs, in template order. Default ['milliseconds'] (flowStartMilliseconds/flowEndMilliseconds). */
  readonly timestamps?: readonly TimePrecision[];
  /** Also send octetTotalCount/packetTotalCount (IE 85/86) and their reverse elements. Default false. */
  readonly totals?: boolean;
  /** Also send ctflow's enterprise elements (firstSeenMidLife, recordIndex, conntrack id/zone/mark). Default true. */
  readonly enterprise?: boolean;
  /** Registry (carries ctflow's PEN). Default: the documentation PEN 32473. */
  readonly registry?: Registry;
  /** Template id of variant 0. Default 256; ids up to firstTemplateId + 23 are used. */
  readonly firstTemplateId?: number;
}

/** Number of FlowRecord template variants. */
export const FLOW_VARIANTS = 24;

type Transport = 0 | 1 | 2; // ports | icmp | none

/** Writes one field of a record at buf[o]; throws IPFIX_ENCODE when the record's value cannot be sent. */
type Step = (buf: Uint8Array, o: number, r: FlowRecord) => void;

interface Compiled {
  readonly template: Template;
  readonly steps: readonly Step[];
  readonly offsets: readonly number[];
  readonly length: number;
}

function u8(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v;
}
function u16(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v >>> 8;
  buf[o + 1] = v & 0xff;
}
function u32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v >>> 24;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}
/** v is a safe non-negative integer (checked by the caller). */
function u64(buf: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  u32(buf, o, hi);
  u32(buf, o + 4, v - hi * 4294967296);
}

function isPortProtocol(p: number): boolean {
  return p === 6 || p === 17 || p === 132 || p === 33 || p === 136;
}

/** The template variant index (0..23) of a record. */
export function variantOf(r: FlowRecord): number {
  const fam = r.family === 'IPV6' ? 1 : 0;
  const transport: Transport = isPortProtocol(r.protocol)
    ? 0
    : (fam === 0 && r.protocol === 1) || (fam === 1 && r.protocol === 58)
      ? 1
      : 2;
  return ((fam * 3 + transport) * 2 + (r.delta === null ? 0 : 1)) * 2 + (r.nat ? 1 : 0);
}

function checkU(ie: InformationElement, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    refuse(ie, v, `an integer 0..${max}`);
  }
  return v;
}

/**
 * The FlowRecord templates of one exporter configuration, compiled to per-variant field writers that
 * encode straight into a message buffer (no allocation per field).
 */
export class FlowTemplates {
  readonly registry: Registry;
  readonly firstTemplateId: number;
  readonly #timestamps: readonly TimePrecision[];
  readonly #totals: boolean;
  readonly #enterprise: boolean;
  readonly #compiled: (Compiled | undefined)[] = new Array(FLOW_VARIANTS).fill(undefined);

  constructor(opts: FlowTemplateOptions = {}) {
    this.registry = opts.registry ?? defaultRegistry;
    this.firstTemplateId = opts.firstTemplateId ?? MIN_TEMPLATE_ID;
    this.#timestamps = opts.timestamps ?? ['milliseconds'];
    this.#totals = opts.totals ?? false;
    this.#enterprise = opts.enterprise ?? true;
    if (this.#timestamps.length === 0 || new Set(this.#timestamps).size !== this.#timestamps.length) {
      throw new CtflowError(
        'CONFIG_INVALID',
        'timestamps must name each precision at most once, at least one',
        {
          details: { field: 'timestamps', value: this.#timestamps, expected: 'e.g. ["milliseconds"]' },
        },
      );
    }
    if (this.firstTemplateId < MIN_TEMPLATE_ID || this.firstTemplateId + FLOW_VARIANTS - 1 > 65535) {
      throw new CtflowError('CONFIG_INVALID', `firstTemplateId ${this.firstTemplateId} out of range`, {
        details: { field: 'firstTemplateId', value: this.firstTemplateId, expected: `256..${65535 - 23}` },
      });
    }
  }

  /** Template of variant `index` (compiled on first use). */
  template(index: number): Template {
    return this.#compile(index).template;
  }

  /** The template a record is sent with. */
  templateFor(r: FlowRecord): Template {
    return this.#compile(variantOf(r)).template;
  }

  /** Every variant's template (ids firstTemplateId..firstTemplateId+23). */
  all(): Template[] {
    const out: Template[] = [];
    for (let k = 0; k < FLOW_VARIANTS; k++) out.push(this.template(k));
    return out;
  }

  /** Data record length of variant `index` (all FlowRecord fields are fixed-length). */
  recordLength(index: number): number {
    return this.#compile(index).length;
  }

  /**
   * Encodes record `r` of variant `index` at buf[off] (room for recordLength(index) octets is the
   * caller's job) and returns the octets written. Throws IPFIX_ENCODE (and the buffer content past
   * `off` is garbage the caller must not count) when a value cannot be sent: a time ≤ 0, start > end,
   * a counter that does not fit, an address that does not parse.
   */
  write(buf: Uint8Array, off: number, r: FlowRecord, index: number): number {
    const c = this.#compiled[index] ?? this.#compile(index);
    if (!(r.startUs <= r.endUs)) {
      throw new CtflowError(
        'IPFIX_ENCODE',
        `flow record ${r.key}: start ${r.startUs} µs after end ${r.endUs} µs`,
        {
          details: { element: 'flowStart', value: r.startUs, expected: `≤ flowEnd (${r.endUs} µs)` },
        },
      );
    }
    const steps = c.steps;
    const offsets = c.offsets;
    for (let k = 0; k < steps.length; k++) steps[k]!(buf, off + offsets[k]!, r);
    return c.length;
  }

  #compile(index: number): Compiled {
    const have = this.#compiled[index];
    if (have !== undefined) return have;
    if (!Number.isInteger(index) || index < 0 || index >= FLOW_VARIANTS) {
      throw new CtflowError('IPFIX_TEMPLATE', `flow template variant ${index} out of range`, {
        details: { value: index, expected: `0..${FLOW_VARIANTS - 1}` },
      });
    }
    const nat = index % 2 === 1;
    const counters = Math.floor(index / 2) % 2 === 1;
    const transport = (Math.floor(index / 4) % 3) as Transport;
    const v6 = Math.floor(index / 12) === 1;
    const fields: InformationElement[] = [];
    const steps: Step[] = [];
    const reg = this.registry;
    const add = (name: string, step: Step, reverse = false): void => {
      const base = reg.byName(name);
      fields.push(reverse ? reverseOf(base) : base);
      steps.push(step);
    };
    const addrStep = (name: string, pick: (r: FlowRecord) => string): void => {
      const ie = reg.byName(name);
      const w = v6 ? writeIpv6 : writeIpv4;
      add(name, (b, o, r) => {
        const a = pick(r);
        if (!w(b, o, a)) refuse(ie, a, v6 ? 'an IPv6 address' : 'an IPv4 address a.b.c.d');
      });
    };
    const u16Step = (name: string, pick: (r: FlowRecord) => number): void => {
      const ie = reg.byName(name);
      add(name, (b, o, r) => u16(b, o, checkU(ie, pick(r), 0xffff)));
    };
    const fam = v6 ? 'IPv6' : 'IPv4';
    addrStep(`source${fam}Address`, (r) => r.orig.src);
    addrStep(`destination${fam}Address`, (r) => r.orig.dst);
    if (transport === 0) {
      u16Step('sourceTransportPort', (r) => r.orig.srcPort);
      u16Step('destinationTransportPort', (r) => r.orig.dstPort);
    } else if (transport === 1) {
      const ie = reg.byName(`icmpTypeCode${fam}`);
      add(ie.name, (b, o, r) => {
        const t = checkU(ie, r.orig.icmpType, 255);
        const code = checkU(ie, r.orig.icmpCode, 255);
        u16(b, o, (t << 8) | code);
      });
    }
    {
      const ie = reg.byName('protocolIdentifier');
      add(ie.name, (b, o, r) => u8(b, o, checkU(ie, r.protocol, 255)));
    }
    if (nat) {
      addrStep(`postNATSource${fam}Address`, (r) => r.reply.dst);
      addrStep(`postNATDestination${fam}Address`, (r) => r.reply.src);
      if (transport === 0) {
        u16Step('postNAPTSourceTransportPort', (r) => r.reply.dstPort);
        u16Step('postNAPTDestinationTransportPort', (r) => r.reply.srcPort);
      }
    }
    for (const p of this.#timestamps) this.#timeSteps(p, add);
    if (counters) {
      const counter = (
        name: string,
        reverse: boolean,
        total: boolean,
        pick: (c: NonNullable<FlowRecord['delta']>) => number,
      ) => {
        const base = reg.byName(name);
        const ie = reverse ? reverseOf(base) : base;
        add(
          name,
          (b, o, r) => {
            const c = total ? r.total : r.delta;
            if (c === null) refuse(ie, null, 'counters (the record has none but its template does)');
            const v = pick(c);
            if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
              refuse(ie, v, 'a non-negative safe integer');
            u64(b, o, v);
          },
          reverse,
        );
      };
      counter('octetDeltaCount', false, false, (c) => c.origBytes);
      counter('packetDeltaCount', false, false, (c) => c.origPackets);
      counter('octetDeltaCount', true, false, (c) => c.replyBytes);
      counter('packetDeltaCount', true, false, (c) => c.replyPackets);
      if (this.#totals) {
        counter('octetTotalCount', false, true, (c) => c.origBytes);
        counter('packetTotalCount', false, true, (c) => c.origPackets);
        counter('octetTotalCount', true, true, (c) => c.replyBytes);
        counter('packetTotalCount', true, true, (c) => c.replyPackets);
      }
    }
    {
      const ie = reg.byName('flowEndReason');
      add(ie.name, (b, o, r) => u8(b, o, checkU(ie, r.endReason, 255)));
      add('biflowDirection', (b, o) => u8(b, o, 1));
    }
    if (this.#enterprise) {
      const pen = reg.ctflowPen;
      const e = (id: number): InformationElement => {
        const ie = reg.get(pen, id);
        if (ie === undefined)
          throw new CtflowError('IPFIX_TEMPLATE', `ctflow element ${id} missing from registry`);
        return ie;
      };
      const mid = e(1);
      const idx = e(2);
      const ctid = e(3);
      const zone = e(4);
      const mark = e(5);
      add(mid.name, (b, o, r) => {
        if (typeof r.firstSeenMidLife !== 'boolean') refuse(mid, r.firstSeenMidLife, 'true or false');
        u8(b, o, r.firstSeenMidLife ? 1 : 2);
      });
      add(idx.name, (b, o, r) => u32(b, o, checkU(idx, r.recordIndex, 0xffffffff)));
      add(ctid.name, (b, o, r) => u32(b, o, checkU(ctid, r.conntrackId, 0xffffffff)));
      add(zone.name, (b, o, r) => u16(b, o, checkU(zone, r.zone, 0xffff)));
      add(mark.name, (b, o, r) => u32(b, o, checkU(mark, r.mark, 0xffffffff)));
    }
    const template = makeTemplate(this.firstTemplateId + index, fields);
    const offsets: number[] = [];
    let at = 0;
    for (const f of template.fields) {
      offsets.push(at);
      at += f.length;
    }
    const compiled: Compiled = { template, steps, offsets, length: at };
    this.#compiled[index] = compiled;
    return compiled;
  }

  #timeSteps(p: TimePrecision, add: (name: string, step: Step) => void): void {
    const reg = this.registry;
    const unit = {
      seconds: 'Seconds',
      milliseconds: 'Milliseconds',
      microseconds: 'Microseconds',
      nanoseconds: 'Nanoseconds',
    }[p];
    for (const which of ['Start', 'End'] as const) {
      const ie = reg.byName(`flow${which}${unit}`);
      const pick = which === 'Start' ? (r: FlowRecord) => r.startUs : (r: FlowRecord) => r.endUs;
      const validUs = (r: FlowRecord): number => {
        const us = pick(r);
        // A zero or missing time must never reach the wire (the seed bug: a Go zero time as 2106).
        if (typeof us !== 'number' || !Number.isFinite(us) || us <= 0) {
          refuse(ie, us, 'a time after 1970-01-01T00:00:00Z (> 0; a zero or missing time is never sent)');
        }
        return us;
      };
      if (p === 'seconds') {
        // RFC 7011 §6.1.7 dateTimeSeconds: unsigned32, 4 octets.
        add(ie.name, (b, o, r) => {
          const s = Math.floor(validUs(r) / 1e6);
          if (s <= 0 || s > 0xffffffff) refuse(ie, s, 'seconds 1..2^32-1 since 1970 (dateTimeSeconds)');
          u32(b, o, s);
        });
      } else if (p === 'milliseconds') {
        // RFC 7011 §6.1.8 dateTimeMilliseconds: unsigned64 ms since 1970.
        add(ie.name, (b, o, r) => {
          const ms = Math.floor(validUs(r) / 1000);
          if (ms <= 0 || ms > Number.MAX_SAFE_INTEGER) refuse(ie, ms, 'milliseconds > 0 since 1970');
          u64(b, o, ms);
        });
      } else {
        // RFC 7011 §6.1.9/10: NTP timestamps; the generic encoder checks the NTP era.
        const nano = p === 'nanoseconds';
        add(ie.name, (b, o, r) => {
          const us = Math.floor(validUs(r));
          writeNtpTime(b, o, ie, nano, us);
        });
      }
    }
  }
}

function writeNtpTime(b: Uint8Array, o: number, ie: InformationElement, nano: boolean, us: number): void {
  writeValue(b, o, ie, 8, nano ? BigInt(us) * 1000n : us);
}
