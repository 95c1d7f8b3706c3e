/**
 * Compiles a FlowLayout into one straight-line JavaScript function (the technique avsc uses for
 * Avro): no per-field dispatch, constant offsets, the same checks as the interpreter in
 * flow-fields.ts, which stays the reference (tests assert both write the same octets and refuse the
 * same records). The generated source is built only from ctflow's own operation codes and integer
 * offsets, never from input data. About 2× the interpreter's speed on the exporter's hot path.
 */
import type { FlowRecord } from '../flow/types.js';
import { type FlowLayout, Op, fieldHelpers } from './flow-fields.js';

/** Writes one record at b[off] (d: DataView over b); returns its length. Throws IPFIX_ENCODE. */
export type FlowWriter = (b: Uint8Array, d: DataView, off: number, r: FlowRecord) => number;

const addr = (fn: string, k: number, o: string, v: string, v6: boolean): string =>
  `if (!${fn}(b, ${o}, ${v})) address(false, E[${k}], ${v}, ${v6});`;
const time = (k: number, which: 'start' | 'end'): string => `time(E[${k}], r.${which}Us)`;

// The checks below are inlined copies of uint(), counter() and time() in flow-fields.ts, with the same
// refusal messages (the equivalence test compares them); the element is looked up only to refuse.

/** An unsigned integer field 0..max stored by `store` (a DataView setter name, or 'u8'). */
function uintField(
  k: number,
  o: string,
  expr: string,
  max: number,
  store: 'setUint16' | 'setUint32' | 'u8',
): string {
  const write = store === 'u8' ? `b[${o}] = v;` : `d.${store}(${o}, v);`;
  return `{ const v = ${expr}; if (typeof v !== 'number' || v > ${max} || v >>> 0 !== v) refuse(E[${k}], v, 'an integer 0..${max}'); ${write} }`;
}

/** Writes the safe non-negative integer `v` as unsigned64 at `o`. */
const u64 = (o: string, v: string): string =>
  `d.setUint32(${o}, (${v} / 4294967296) >>> 0); d.setUint32(${o} + 4, ${v} >>> 0);`;

/** A counter field from `r.<set>.<name>`, as unsigned64. */
function counterField(k: number, o: string, set: 'delta' | 'total', name: string): string {
  return (
    `{ const c = r.${set}; if (c === null) refuse(E[${k}], null, 'counters (the record has none, its template has counter fields)'); ` +
    `const v = c.${name}; if (typeof v !== 'number' || !(v >= 0) || !Number.isSafeInteger(v)) refuse(E[${k}], v, 'a non-negative safe integer'); ` +
    `${u64(o, 'v')} }`
  );
}

/** A checked event time in µs (never zero, missing or before 1970) bound to `us`. */
const checkedTime = (k: number, which: 'start' | 'end'): string =>
  `const us = r.${which}Us; if (typeof us !== 'number' || !(us > 0) || us > 9007199254740991) refuse(E[${k}], us, 'a time after 1970-01-01T00:00:00Z (> 0; a zero or missing time is never sent)');`;

/** The statement that writes field `k` (operation `op`) at expression `o`. */
function statement(op: number, k: number, o: string): string {
  switch (op) {
    case Op.SrcAddr4:
      return addr('writeIpv4', k, o, 'r.orig.src', false);
    case Op.DstAddr4:
      return addr('writeIpv4', k, o, 'r.orig.dst', false);
    case Op.SrcAddr6:
      return addr('writeIpv6', k, o, 'r.orig.src', true);
    case Op.DstAddr6:
      return addr('writeIpv6', k, o, 'r.orig.dst', true);
    case Op.SrcPort:
      return uintField(k, o, 'r.orig.srcPort', 65535, 'setUint16');
    case Op.DstPort:
      return uintField(k, o, 'r.orig.dstPort', 65535, 'setUint16');
    case Op.IcmpTypeCode:
      return `d.setUint16(${o}, (uint(E[${k}], r.orig.icmpType, 255) << 8) | uint(E[${k}], r.orig.icmpCode, 255));`;
    case Op.Protocol:
      return uintField(k, o, 'r.protocol', 255, 'u8');
    case Op.PostNatSrc4:
      return addr('writeIpv4', k, o, 'r.reply.dst', false);
    case Op.PostNatDst4:
      return addr('writeIpv4', k, o, 'r.reply.src', false);
    case Op.PostNatSrc6:
      return addr('writeIpv6', k, o, 'r.reply.dst', true);
    case Op.PostNatDst6:
      return addr('writeIpv6', k, o, 'r.reply.src', true);
    case Op.PostNaptSrcPort:
      return uintField(k, o, 'r.reply.dstPort', 65535, 'setUint16');
    case Op.PostNaptDstPort:
      return uintField(k, o, 'r.reply.srcPort', 65535, 'setUint16');
    case Op.StartSeconds:
    case Op.EndSeconds: {
      // RFC 7011 §6.1.7 dateTimeSeconds: unsigned32 seconds, 4 octets.
      const t = time(k, op === Op.StartSeconds ? 'start' : 'end');
      return `{ const s = Math.floor(${t} / 1e6); if (s <= 0 || s > 4294967295) refuse(E[${k}], s, 'seconds 1..2^32-1 since 1970 (dateTimeSeconds)'); d.setUint32(${o}, s); }`;
    }
    case Op.StartMilliseconds:
    case Op.EndMilliseconds: {
      // RFC 7011 §6.1.8 dateTimeMilliseconds: unsigned64 milliseconds.
      const t = checkedTime(k, op === Op.StartMilliseconds ? 'start' : 'end');
      return `{ ${t} const ms = Math.floor(us / 1000); if (ms <= 0) refuse(E[${k}], ms, 'milliseconds > 0 since 1970'); ${u64(o, 'ms')} }`;
    }
    case Op.StartMicroseconds:
    case Op.EndMicroseconds:
      return `writeValue(b, ${o}, E[${k}], 8, Math.floor(${time(k, op === Op.StartMicroseconds ? 'start' : 'end')}));`;
    case Op.StartNanoseconds:
    case Op.EndNanoseconds:
      return `writeValue(b, ${o}, E[${k}], 8, BigInt(Math.floor(${time(k, op === Op.StartNanoseconds ? 'start' : 'end')})) * 1000n);`;
    case Op.DeltaOctets:
      return counterField(k, o, 'delta', 'origBytes');
    case Op.DeltaPackets:
      return counterField(k, o, 'delta', 'origPackets');
    case Op.ReverseDeltaOctets:
      return counterField(k, o, 'delta', 'replyBytes');
    case Op.ReverseDeltaPackets:
      return counterField(k, o, 'delta', 'replyPackets');
    case Op.TotalOctets:
      return counterField(k, o, 'total', 'origBytes');
    case Op.TotalPackets:
      return counterField(k, o, 'total', 'origPackets');
    case Op.ReverseTotalOctets:
      return counterField(k, o, 'total', 'replyBytes');
    case Op.ReverseTotalPackets:
      return counterField(k, o, 'total', 'replyPackets');
    case Op.EndReason:
      return uintField(k, o, 'r.endReason', 255, 'u8');
    case Op.BiflowInitiator:
      return `b[${o}] = 1;`;
    case Op.FirstSeenMidLife:
      // RFC 7011 §6.1.5 boolean: true = 1, false = 2.
      return `if (typeof r.firstSeenMidLife !== 'boolean') refuse(E[${k}], r.firstSeenMidLife, 'true or false'); b[${o}] = r.firstSeenMidLife ? 1 : 2;`;
    case Op.RecordIndex:
      return uintField(k, o, 'r.recordIndex', 4294967295, 'setUint32');
    case Op.ConntrackId:
      return uintField(k, o, 'r.conntrackId', 4294967295, 'setUint32');
    case Op.Zone:
      return uintField(k, o, 'r.zone', 65535, 'setUint16');
    case Op.Mark:
      return uintField(k, o, 'r.mark', 4294967295, 'setUint32');
    default:
      throw new Error(`unknown flow field operation ${op}`);
  }
}

/** Compiles `l` into a FlowWriter. */
export function compileFlowWriter(l: FlowLayout): FlowWriter {
  const body: string[] = ['checkOrder(r);'];
  for (let k = 0; k < l.ops.length; k++) body.push(statement(l.ops[k]!, k, `off + ${l.offsets[k]!}`));
  body.push(`return ${l.length};`);
  const names = Object.keys(fieldHelpers);
  const source = `"use strict";\nconst { ${names.join(', ')} } = H;\nreturn function writeFlowRecord(b, d, off, r) {\n  ${body.join('\n  ')}\n};`;
  const make = new Function('H', 'E', source) as (
    h: typeof fieldHelpers,
    e: FlowLayout['elements'],
  ) => FlowWriter;
  return make(fieldHelpers, l.elements);
}
