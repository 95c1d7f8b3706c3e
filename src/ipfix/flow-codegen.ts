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
      return `d.setUint16(${o}, uint(E[${k}], r.orig.srcPort, 65535));`;
    case Op.DstPort:
      return `d.setUint16(${o}, uint(E[${k}], r.orig.dstPort, 65535));`;
    case Op.IcmpTypeCode:
      return `d.setUint16(${o}, (uint(E[${k}], r.orig.icmpType, 255) << 8) | uint(E[${k}], r.orig.icmpCode, 255));`;
    case Op.Protocol:
      return `b[${o}] = uint(E[${k}], r.protocol, 255);`;
    case Op.PostNatSrc4:
      return addr('writeIpv4', k, o, 'r.reply.dst', false);
    case Op.PostNatDst4:
      return addr('writeIpv4', k, o, 'r.reply.src', false);
    case Op.PostNatSrc6:
      return addr('writeIpv6', k, o, 'r.reply.dst', true);
    case Op.PostNatDst6:
      return addr('writeIpv6', k, o, 'r.reply.src', true);
    case Op.PostNaptSrcPort:
      return `d.setUint16(${o}, uint(E[${k}], r.reply.dstPort, 65535));`;
    case Op.PostNaptDstPort:
      return `d.setUint16(${o}, uint(E[${k}], r.reply.srcPort, 65535));`;
    case Op.StartSeconds:
    case Op.EndSeconds: {
      // RFC 7011 §6.1.7 dateTimeSeconds: unsigned32 seconds, 4 octets.
      const t = time(k, op === Op.StartSeconds ? 'start' : 'end');
      return `{ const s = Math.floor(${t} / 1e6); if (s <= 0 || s > 4294967295) refuse(E[${k}], s, 'seconds 1..2^32-1 since 1970 (dateTimeSeconds)'); d.setUint32(${o}, s); }`;
    }
    case Op.StartMilliseconds:
    case Op.EndMilliseconds: {
      // RFC 7011 §6.1.8 dateTimeMilliseconds: unsigned64 milliseconds.
      const t = time(k, op === Op.StartMilliseconds ? 'start' : 'end');
      return `{ const ms = Math.floor(${t} / 1000); if (ms <= 0) refuse(E[${k}], ms, 'milliseconds > 0 since 1970'); u64(d, ${o}, ms); }`;
    }
    case Op.StartMicroseconds:
    case Op.EndMicroseconds:
      return `writeValue(b, ${o}, E[${k}], 8, Math.floor(${time(k, op === Op.StartMicroseconds ? 'start' : 'end')}));`;
    case Op.StartNanoseconds:
    case Op.EndNanoseconds:
      return `writeValue(b, ${o}, E[${k}], 8, BigInt(Math.floor(${time(k, op === Op.StartNanoseconds ? 'start' : 'end')})) * 1000n);`;
    case Op.DeltaOctets:
      return `u64(d, ${o}, counter(E[${k}], r.delta, r.delta?.origBytes));`;
    case Op.DeltaPackets:
      return `u64(d, ${o}, counter(E[${k}], r.delta, r.delta?.origPackets));`;
    case Op.ReverseDeltaOctets:
      return `u64(d, ${o}, counter(E[${k}], r.delta, r.delta?.replyBytes));`;
    case Op.ReverseDeltaPackets:
      return `u64(d, ${o}, counter(E[${k}], r.delta, r.delta?.replyPackets));`;
    case Op.TotalOctets:
      return `u64(d, ${o}, counter(E[${k}], r.total, r.total?.origBytes));`;
    case Op.TotalPackets:
      return `u64(d, ${o}, counter(E[${k}], r.total, r.total?.origPackets));`;
    case Op.ReverseTotalOctets:
      return `u64(d, ${o}, counter(E[${k}], r.total, r.total?.replyBytes));`;
    case Op.ReverseTotalPackets:
      return `u64(d, ${o}, counter(E[${k}], r.total, r.total?.replyPackets));`;
    case Op.EndReason:
      return `b[${o}] = uint(E[${k}], r.endReason, 255);`;
    case Op.BiflowInitiator:
      return `b[${o}] = 1;`;
    case Op.FirstSeenMidLife:
      // RFC 7011 §6.1.5 boolean: true = 1, false = 2.
      return `if (typeof r.firstSeenMidLife !== 'boolean') refuse(E[${k}], r.firstSeenMidLife, 'true or false'); b[${o}] = r.firstSeenMidLife ? 1 : 2;`;
    case Op.RecordIndex:
      return `d.setUint32(${o}, uint(E[${k}], r.recordIndex, 4294967295));`;
    case Op.ConntrackId:
      return `d.setUint32(${o}, uint(E[${k}], r.conntrackId, 4294967295));`;
    case Op.Zone:
      return `d.setUint16(${o}, uint(E[${k}], r.zone, 65535));`;
    case Op.Mark:
      return `d.setUint32(${o}, uint(E[${k}], r.mark, 4294967295));`;
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
