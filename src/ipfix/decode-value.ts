/**
 * Field value decoders, the inverse of encode-value.ts (RFC 7011 §6.1). Reduced-size integers
 * (RFC 7011 §6.2) and float32-for-float64 are accepted as a receiver must. Values are typed as
 * documented on `FieldValue`; hostile input yields CtflowError('IPFIX_DECODE'), never a crash.
 */
import { CtflowError } from '../errors.js';
import { formatIpv4, formatIpv6, formatMac } from './address.js';
import type { FieldValue } from './datatypes.js';
import { NTP_UNIX_OFFSET_S } from './encode-value.js';
import type { InformationElement } from './registry.js';

const TWO32 = 4294967296;
const decoder = new TextDecoder('utf-8', { fatal: true });

function bad(ie: InformationElement, len: number, expected: string): never {
  throw new CtflowError('IPFIX_DECODE', `field ${ie.name} of ${len} octets: expected ${expected}`, {
    details: { element: ie.name, value: len, expected },
  });
}

function readUintNumber(buf: Uint8Array, off: number, len: number): number {
  let v = 0;
  for (let k = 0; k < len; k++) v = v * 256 + buf[off + k]!;
  return v;
}

function readUintBig(buf: Uint8Array, off: number, len: number): bigint {
  let v = 0n;
  for (let k = 0; k < len; k++) v = (v << 8n) | BigInt(buf[off + k]!);
  return v;
}

function fixed(ie: InformationElement, len: number, want: number): void {
  if (len !== want) bad(ie, len, `${want} octets (${ie.type})`);
}

/** Decodes the `len` octets at `buf[off]` (a variable-length field's prefix already removed) as `ie`. */
export function readValue(buf: Uint8Array, off: number, ie: InformationElement, len: number): FieldValue {
  switch (ie.type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32': {
      const full = ie.type === 'unsigned8' ? 1 : ie.type === 'unsigned16' ? 2 : 4;
      if (len < 1 || len > full) bad(ie, len, `1..${full} octets`);
      return readUintNumber(buf, off, len);
    }
    case 'unsigned64':
      if (len < 1 || len > 8) bad(ie, len, '1..8 octets');
      return readUintBig(buf, off, len);
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64': {
      const full = Number(ie.type.slice(6)) / 8;
      if (len < 1 || len > full) bad(ie, len, `1..${full} octets`);
      const u = readUintBig(buf, off, len);
      const bits = BigInt(8 * len);
      const v = u >= 1n << (bits - 1n) ? u - (1n << bits) : u;
      return ie.type === 'signed64' ? v : Number(v);
    }
    case 'float32':
    case 'float64': {
      const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
      if (len === 4) return dv.getFloat32(0);
      if (len === 8 && ie.type === 'float64') return dv.getFloat64(0);
      return bad(ie, len, ie.type === 'float32' ? '4 octets' : '4 or 8 octets');
    }
    case 'boolean': {
      fixed(ie, len, 1);
      const b = buf[off];
      if (b === 1) return true;
      if (b === 2) return false;
      return bad(ie, len, `1 (true) or 2 (false), got ${b}`);
    }
    case 'macAddress':
      fixed(ie, len, 6);
      return formatMac(buf, off);
    case 'ipv4Address':
      fixed(ie, len, 4);
      return formatIpv4(buf, off);
    case 'ipv6Address':
      fixed(ie, len, 16);
      return formatIpv6(buf, off);
    case 'octetArray':
      return new Uint8Array(buf.subarray(off, off + len));
    case 'string':
      try {
        return decoder.decode(buf.subarray(off, off + len));
      } catch (cause) {
        throw new CtflowError('IPFIX_DECODE', `field ${ie.name}: invalid UTF-8`, {
          details: { element: ie.name, expected: 'valid UTF-8' },
          cause,
        });
      }
    case 'dateTimeSeconds':
      fixed(ie, len, 4);
      return readUintNumber(buf, off, 4);
    case 'dateTimeMilliseconds': {
      fixed(ie, len, 8);
      const ms = readUintBig(buf, off, 8);
      return ms <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ms) : ms;
    }
    case 'dateTimeMicroseconds': {
      fixed(ie, len, 8);
      const s = readUintNumber(buf, off, 4) - NTP_UNIX_OFFSET_S;
      const frac = readUintNumber(buf, off + 4, 4);
      return s * 1e6 + Math.round((frac * 1e6) / TWO32);
    }
    case 'dateTimeNanoseconds': {
      fixed(ie, len, 8);
      const s = BigInt(readUintNumber(buf, off, 4) - NTP_UNIX_OFFSET_S);
      const frac = BigInt(readUintNumber(buf, off + 4, 4));
      return s * 1_000_000_000n + ((frac * 1_000_000_000n + (1n << 31n)) >> 32n);
    }
  }
}
