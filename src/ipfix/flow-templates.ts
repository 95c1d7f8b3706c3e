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
import { compileFlowWriter, type FlowWriter } from './flow-codegen.js';
import { type FlowLayout, Op } from './flow-fields.js';
import { type InformationElement, type Registry, createRegistry, defaultRegistry } from './registry.js';
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
  /** Private Enterprise Number of ctflow's own elements. Default 32473 (RFC 5612 documentation PEN). */
  readonly enterprisePen?: number;
  /** Registry to take elements from (overrides `enterprisePen`). */
  readonly registry?: Registry;
  /** Template id of variant 0. Default 256; ids up to firstTemplateId + 23 are used. */
  readonly firstTemplateId?: number;
}

/** Number of FlowRecord template variants. */
export const FLOW_VARIANTS = 24;

type Transport = 0 | 1 | 2; // ports | icmp | none

interface Compiled {
  readonly template: Template;
  readonly layout: FlowLayout;
  readonly writer: FlowWriter;
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
  /** DataView of the buffer last written to (a message buffer takes many records). */
  #viewOf: Uint8Array | undefined;
  #view: DataView = new DataView(new ArrayBuffer(0));

  constructor(opts: FlowTemplateOptions = {}) {
    this.registry =
      opts.registry ??
      (opts.enterprisePen === undefined ? defaultRegistry : createRegistry(opts.enterprisePen));
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

  /** The compiled writer of variant `index`: (buffer, DataView over it, offset, record) → octets written. */
  writer(index: number): FlowWriter {
    return this.#compile(index).writer;
  }

  /** The compiled field layout of variant `index` (for tests of the record writers). */
  layout(index: number): FlowLayout {
    return this.#compile(index).layout;
  }

  /** Data record length of variant `index` (all FlowRecord fields are fixed-length). */
  recordLength(index: number): number {
    return this.#compile(index).layout.length;
  }

  /**
   * Encodes record `r` of variant `index` at buf[off] (room for recordLength(index) octets is the
   * caller's job) and returns the octets written. Throws IPFIX_ENCODE (and the buffer content past
   * `off` is garbage the caller must not count) when a value cannot be sent: a time ≤ 0, start > end,
   * a counter that does not fit, an address that does not parse.
   */
  write(buf: Uint8Array, off: number, r: FlowRecord, index: number): number {
    const c = this.#compiled[index] ?? this.#compile(index);
    if (buf !== this.#viewOf) {
      this.#viewOf = buf;
      this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    return c.writer(buf, this.#view, off, r);
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
    const ops: Op[] = [];
    const reg = this.registry;
    const add = (name: string, op: Op): void => {
      fields.push(reg.byName(name));
      ops.push(op);
    };
    const fam = v6 ? 'IPv6' : 'IPv4';
    add(`source${fam}Address`, v6 ? Op.SrcAddr6 : Op.SrcAddr4);
    add(`destination${fam}Address`, v6 ? Op.DstAddr6 : Op.DstAddr4);
    if (transport === 0) {
      add('sourceTransportPort', Op.SrcPort);
      add('destinationTransportPort', Op.DstPort);
    } else if (transport === 1) {
      add(`icmpTypeCode${fam}`, Op.IcmpTypeCode);
    }
    add('protocolIdentifier', Op.Protocol);
    if (nat) {
      add(`postNATSource${fam}Address`, v6 ? Op.PostNatSrc6 : Op.PostNatSrc4);
      add(`postNATDestination${fam}Address`, v6 ? Op.PostNatDst6 : Op.PostNatDst4);
      if (transport === 0) {
        add('postNAPTSourceTransportPort', Op.PostNaptSrcPort);
        add('postNAPTDestinationTransportPort', Op.PostNaptDstPort);
      }
    }
    for (const p of this.#timestamps) {
      const [start, end] = TIME_OPS[p];
      add(`flowStart${UNIT[p]}`, start);
      add(`flowEnd${UNIT[p]}`, end);
    }
    if (counters) {
      add('octetDeltaCount', Op.DeltaOctets);
      add('packetDeltaCount', Op.DeltaPackets);
      add('reverseOctetDeltaCount', Op.ReverseDeltaOctets);
      add('reversePacketDeltaCount', Op.ReverseDeltaPackets);
      if (this.#totals) {
        add('octetTotalCount', Op.TotalOctets);
        add('packetTotalCount', Op.TotalPackets);
        add('reverseOctetTotalCount', Op.ReverseTotalOctets);
        add('reversePacketTotalCount', Op.ReverseTotalPackets);
      }
    }
    add('flowEndReason', Op.EndReason);
    add('biflowDirection', Op.BiflowInitiator);
    if (this.#enterprise) {
      const own: [number, Op][] = [
        [1, Op.FirstSeenMidLife],
        [2, Op.RecordIndex],
        [3, Op.ConntrackId],
        [4, Op.Zone],
        [5, Op.Mark],
      ];
      for (const [id, op] of own) {
        const ie = reg.get(reg.ctflowPen, id);
        if (ie === undefined)
          throw new CtflowError('IPFIX_TEMPLATE', `ctflow element ${id} missing from registry`);
        fields.push(ie);
        ops.push(op);
      }
    }
    const template = makeTemplate(this.firstTemplateId + index, fields);
    const offsets = new Uint16Array(fields.length);
    let at = 0;
    template.fields.forEach((f, k) => {
      offsets[k] = at;
      at += f.length;
    });
    const layout: FlowLayout = {
      ops: Uint8Array.from(ops),
      offsets,
      elements: template.fields.map((f) => f.ie),
      length: at,
    };
    const compiled: Compiled = { template, layout, writer: compileFlowWriter(layout) };
    this.#compiled[index] = compiled;
    return compiled;
  }
}

const UNIT: Readonly<Record<TimePrecision, string>> = {
  seconds: 'Seconds',
  milliseconds: 'Milliseconds',
  microseconds: 'Microseconds',
  nanoseconds: 'Nanoseconds',
};

const TIME_OPS: Readonly<Record<TimePrecision, readonly [Op, Op]>> = {
  seconds: [Op.StartSeconds, Op.EndSeconds],
  milliseconds: [Op.StartMilliseconds, Op.EndMilliseconds],
  microseconds: [Op.StartMicroseconds, Op.EndMicroseconds],
  nanoseconds: [Op.StartNanoseconds, Op.EndNanoseconds],
};
