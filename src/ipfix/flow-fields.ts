/**
 * The hot path of the exporter: writes one FlowRecord as a data record, field by field, from a
 * compiled list of operations (one per template field). One function with one switch keeps V8's
 * code monomorphic: no closure or allocation per field. Every value is checked before it is
 * written; a value its element cannot carry throws IPFIX_ENCODE naming the element.
 */
import { CtflowError } from '../errors.js';
import type { Counters, FlowRecord } from '../flow/types.js';
import { writeIpv4, writeIpv6 } from './address.js';
import { refuse, writeValue } from './encode-value.js';
import type { InformationElement } from './registry.js';

/** What each template field is filled from. */
export const Op = {
  SrcAddr4: 0,
  DstAddr4: 1,
  SrcAddr6: 2,
  DstAddr6: 3,
  SrcPort: 4,
  DstPort: 5,
  IcmpTypeCode: 6,
  Protocol: 7,
  /** Post-NAT source = reply.dst; post-NAT destination = reply.src (conntrack's reply tuple inverted). */
  PostNatSrc4: 8,
  PostNatDst4: 9,
  PostNatSrc6: 10,
  PostNatDst6: 11,
  PostNaptSrcPort: 12,
  PostNaptDstPort: 13,
  StartSeconds: 14,
  EndSeconds: 15,
  StartMilliseconds: 16,
  EndMilliseconds: 17,
  StartMicroseconds: 18,
  EndMicroseconds: 19,
  StartNanoseconds: 20,
  EndNanoseconds: 21,
  DeltaOctets: 22,
  DeltaPackets: 23,
  ReverseDeltaOctets: 24,
  ReverseDeltaPackets: 25,
  TotalOctets: 26,
  TotalPackets: 27,
  ReverseTotalOctets: 28,
  ReverseTotalPackets: 29,
  EndReason: 30,
  /** RFC 5103 §6.3: 1 = initiator; conntrack's original direction is the initiator's. */
  BiflowInitiator: 31,
  FirstSeenMidLife: 32,
  RecordIndex: 33,
  ConntrackId: 34,
  Zone: 35,
  Mark: 36,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** A compiled record layout: the operation, octet offset and element of each field. */
export interface FlowLayout {
  readonly ops: Uint8Array;
  readonly offsets: Uint16Array;
  readonly elements: readonly InformationElement[];
  readonly length: number;
}

const TWO32 = 4294967296;

/** v is a safe non-negative integer (checked by the caller). */
function u64(d: DataView, o: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  d.setUint32(o, hi);
  d.setUint32(o + 4, v - hi * TWO32);
}

function uint(ie: InformationElement, v: unknown, max: number): number {
  // `v >>> 0 === v` is the fast test for an integer 0..2^32-1.
  if (typeof v !== 'number' || v > max || v >>> 0 !== v) refuse(ie, v, `an integer 0..${max}`);
  return v;
}

function counter(ie: InformationElement, c: Counters | null, v: number | undefined): number {
  if (c === null) refuse(ie, null, 'counters (the record has none, its template has counter fields)');
  if (typeof v !== 'number' || !(v >= 0) || !Number.isSafeInteger(v))
    refuse(ie, v, 'a non-negative safe integer');
  return v;
}

function time(ie: InformationElement, us: unknown): number {
  // A zero or missing time must never reach the wire (the seed bug: a Go zero time read as 2106).
  if (typeof us !== 'number' || !(us > 0) || us > Number.MAX_SAFE_INTEGER) {
    refuse(ie, us, 'a time after 1970-01-01T00:00:00Z (> 0; a zero or missing time is never sent)');
  }
  return us;
}

function address(ok: boolean, ie: InformationElement, v: string, v6: boolean): void {
  if (!ok) refuse(ie, v, v6 ? 'an IPv6 address' : 'an IPv4 address a.b.c.d');
}

function checkOrder(r: FlowRecord): void {
  if (!(r.startUs <= r.endUs)) {
    throw new CtflowError(
      'IPFIX_ENCODE',
      `flow record ${r.key}: start ${r.startUs} µs after end ${r.endUs} µs`,
      {
        details: { element: 'flowStart', value: r.startUs, expected: `≤ flowEnd (${r.endUs} µs)` },
      },
    );
  }
}

/** The checks and writers the record writer uses, for the compiled writers of flow-codegen.ts. */
export const fieldHelpers = {
  u64,
  uint,
  counter,
  time,
  address,
  checkOrder,
  refuse,
  writeValue,
  writeIpv4,
  writeIpv6,
};

/**
 * Writes record `r` with layout `l` at `b[off]` (`d` is a DataView over exactly `b`); returns the octets written. Throws IPFIX_ENCODE,
 * leaving garbage past `off` that the caller does not count, when a value cannot be sent.
 */
export function writeFlowRecord(
  b: Uint8Array,
  d: DataView,
  off: number,
  r: FlowRecord,
  l: FlowLayout,
): number {
  checkOrder(r);
  const { ops, offsets, elements } = l;
  for (let k = 0; k < ops.length; k++) {
    const o = off + offsets[k]!;
    const ie = elements[k]!;
    const op = ops[k];
    switch (op) {
      case 0 /* SrcAddr4 */:
        address(writeIpv4(b, o, r.orig.src), ie, r.orig.src, false);
        break;
      case 1 /* DstAddr4 */:
        address(writeIpv4(b, o, r.orig.dst), ie, r.orig.dst, false);
        break;
      case 2 /* SrcAddr6 */:
        address(writeIpv6(b, o, r.orig.src), ie, r.orig.src, true);
        break;
      case 3 /* DstAddr6 */:
        address(writeIpv6(b, o, r.orig.dst), ie, r.orig.dst, true);
        break;
      case 4 /* SrcPort */:
        d.setUint16(o, uint(ie, r.orig.srcPort, 0xffff));
        break;
      case 5 /* DstPort */:
        d.setUint16(o, uint(ie, r.orig.dstPort, 0xffff));
        break;
      case 6 /* IcmpTypeCode */:
        d.setUint16(o, (uint(ie, r.orig.icmpType, 255) << 8) | uint(ie, r.orig.icmpCode, 255));
        break;
      case 7 /* Protocol */:
        b[o] = uint(ie, r.protocol, 255);
        break;
      case 8 /* PostNatSrc4 */:
        address(writeIpv4(b, o, r.reply.dst), ie, r.reply.dst, false);
        break;
      case 9 /* PostNatDst4 */:
        address(writeIpv4(b, o, r.reply.src), ie, r.reply.src, false);
        break;
      case 10 /* PostNatSrc6 */:
        address(writeIpv6(b, o, r.reply.dst), ie, r.reply.dst, true);
        break;
      case 11 /* PostNatDst6 */:
        address(writeIpv6(b, o, r.reply.src), ie, r.reply.src, true);
        break;
      case 12 /* PostNaptSrcPort */:
        d.setUint16(o, uint(ie, r.reply.dstPort, 0xffff));
        break;
      case 13 /* PostNaptDstPort */:
        d.setUint16(o, uint(ie, r.reply.srcPort, 0xffff));
        break;
      case 14 /* StartSeconds */:
      case 15 /* EndSeconds */:
        {
          // RFC 7011 §6.1.7 dateTimeSeconds: unsigned32 seconds, 4 octets.
          const s = Math.floor(time(ie, op === 14 /* StartSeconds */ ? r.startUs : r.endUs) / 1e6);
          if (s <= 0 || s > 0xffffffff) refuse(ie, s, 'seconds 1..2^32-1 since 1970 (dateTimeSeconds)');
          d.setUint32(o, s);
          break;
        }
      case 16 /* StartMilliseconds */:
      case 17 /* EndMilliseconds */:
        {
          // RFC 7011 §6.1.8 dateTimeMilliseconds: unsigned64 milliseconds.
          const ms = Math.floor(time(ie, op === 16 /* StartMilliseconds */ ? r.startUs : r.endUs) / 1000);
          if (ms <= 0) refuse(ie, ms, 'milliseconds > 0 since 1970');
          u64(d, o, ms);
          break;
        }
      case 18 /* StartMicroseconds */:
      case 19 /* EndMicroseconds */:
        // RFC 7011 §6.1.9 NTP format; the generic encoder checks the NTP era.
        writeValue(
          b,
          o,
          ie,
          8,
          Math.floor(time(ie, op === 18 /* StartMicroseconds */ ? r.startUs : r.endUs)),
        );
        break;
      case 20 /* StartNanoseconds */:
      case 21 /* EndNanoseconds */:
        {
          const us = Math.floor(time(ie, op === 20 /* StartNanoseconds */ ? r.startUs : r.endUs));
          writeValue(b, o, ie, 8, BigInt(us) * 1000n);
          break;
        }
      case 22 /* DeltaOctets */:
        u64(d, o, counter(ie, r.delta, r.delta?.origBytes));
        break;
      case 23 /* DeltaPackets */:
        u64(d, o, counter(ie, r.delta, r.delta?.origPackets));
        break;
      case 24 /* ReverseDeltaOctets */:
        u64(d, o, counter(ie, r.delta, r.delta?.replyBytes));
        break;
      case 25 /* ReverseDeltaPackets */:
        u64(d, o, counter(ie, r.delta, r.delta?.replyPackets));
        break;
      case 26 /* TotalOctets */:
        u64(d, o, counter(ie, r.total, r.total?.origBytes));
        break;
      case 27 /* TotalPackets */:
        u64(d, o, counter(ie, r.total, r.total?.origPackets));
        break;
      case 28 /* ReverseTotalOctets */:
        u64(d, o, counter(ie, r.total, r.total?.replyBytes));
        break;
      case 29 /* ReverseTotalPackets */:
        u64(d, o, counter(ie, r.total, r.total?.replyPackets));
        break;
      case 30 /* EndReason */:
        b[o] = uint(ie, r.endReason, 255);
        break;
      case 31 /* BiflowInitiator */:
        b[o] = 1;
        break;
      case 32 /* FirstSeenMidLife */:
        // RFC 7011 §6.1.5 boolean: true = 1, false = 2.
        if (typeof r.firstSeenMidLife !== 'boolean') refuse(ie, r.firstSeenMidLife, 'true or false');
        b[o] = r.firstSeenMidLife ? 1 : 2;
        break;
      case 33 /* RecordIndex */:
        d.setUint32(o, uint(ie, r.recordIndex, 0xffffffff));
        break;
      case 34 /* ConntrackId */:
        d.setUint32(o, uint(ie, r.conntrackId, 0xffffffff));
        break;
      case 35 /* Zone */:
        d.setUint16(o, uint(ie, r.zone, 0xffff));
        break;
      case 36 /* Mark */:
        d.setUint32(o, uint(ie, r.mark, 0xffffffff));
        break;
      default:
        throw new CtflowError('IPFIX_TEMPLATE', `unknown flow field operation ${ops[k]}`);
    }
  }
  return l.length;
}
