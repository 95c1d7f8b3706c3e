/**
 * Field value encoders (RFC 7011 §6.1 data type encodings, network byte order). Every encoder refuses
 * a value its type cannot carry with CtflowError('IPFIX_ENCODE') naming the element, the value and
 * what was expected: a zero, negative, NaN or missing time never reaches the wire.
 */
import { CtflowError } from '../errors.js';
import { writeIpv4, writeIpv6, writeMac } from './address.js';
import { DEFAULT_LENGTH, type DataType, type FieldValue, VARIABLE_LENGTH } from './datatypes.js';
import type { InformationElement } from './registry.js';

const TWO32 = 4294967296;
/** Seconds from the NTP epoch (1900-01-01) to the Unix epoch (RFC 5905 §6). */
export const NTP_UNIX_OFFSET_S = 2208988800;
/** Last Unix second representable in NTP era 0 (2036-02-07T06:28:15Z). */
const NTP_ERA0_LAST_UNIX_S = 0xffffffff - NTP_UNIX_OFFSET_S;

/** Throws the IPFIX_ENCODE error for `ie` and `value`, saying what was expected. */
export function refuse(ie: InformationElement, value: unknown, expected: string): never {
  const shown = typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value));
  throw new CtflowError('IPFIX_ENCODE', `cannot encode ${ie.name} = ${shown}: expected ${expected}`, {
    details: { element: ie.name, elementId: ie.id, enterprise: ie.pen, value, expected },
  });
}

/** Writes `v` (0 ≤ v < 2^(8·len), a safe integer) big-endian in `len` octets. */
function writeUintNumber(buf: Uint8Array, off: number, len: number, v: number): void {
  let rest = v;
  for (let k = len - 1; k >= 0; k--) {
    const byte = rest % 256;
    buf[off + k] = byte;
    rest = (rest - byte) / 256;
  }
}

function writeUintBig(buf: Uint8Array, off: number, len: number, v: bigint): void {
  let rest = v;
  for (let k = len - 1; k >= 0; k--) {
    buf[off + k] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

function writeUnsigned(
  buf: Uint8Array,
  off: number,
  ie: InformationElement,
  len: number,
  value: FieldValue,
): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) refuse(ie, value, `a non-negative integer (${ie.type})`);
    if (len < 7 && value >= 2 ** (8 * len)) refuse(ie, value, `an integer < 2^${8 * len} (${len} octets)`);
    writeUintNumber(buf, off, len, value);
    return;
  }
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << BigInt(8 * len)) refuse(ie, value, `an integer 0 ≤ v < 2^${8 * len}`);
    writeUintBig(buf, off, len, value);
    return;
  }
  refuse(ie, value, `an integer (${ie.type})`);
}

function writeSigned(
  buf: Uint8Array,
  off: number,
  ie: InformationElement,
  len: number,
  value: FieldValue,
): void {
  const bits = BigInt(8 * len);
  let v: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) refuse(ie, value, `an integer (${ie.type})`);
    v = BigInt(value);
  } else if (typeof value === 'bigint') {
    v = value;
  } else {
    refuse(ie, value, `an integer (${ie.type})`);
  }
  const half = 1n << (bits - 1n);
  if (v < -half || v >= half) refuse(ie, value, `an integer -2^${8 * len - 1} ≤ v < 2^${8 * len - 1}`);
  writeUintBig(buf, off, len, v < 0n ? v + (1n << bits) : v);
}

function positiveTime(ie: InformationElement, value: FieldValue, unit: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    refuse(ie, value, `an integer number of ${unit} since 1970-01-01 (never missing)`);
  }
  if (value <= 0)
    refuse(ie, value, `a time after 1970-01-01T00:00:00Z in ${unit} (> 0; a zero time is never sent)`);
  if (value > max) refuse(ie, value, `a time ≤ ${max} ${unit} (what ${ie.type} can carry)`);
  return value;
}

/** RFC 7011 §6.1.9/§6.1.10: NTP-format seconds and fraction; callers have checked the range. */
function writeNtp(buf: Uint8Array, off: number, unixSeconds: number, fraction: number): void {
  writeUintNumber(buf, off, 4, unixSeconds + NTP_UNIX_OFFSET_S);
  writeUintNumber(buf, off + 4, 4, fraction);
}

/**
 * Encodes `value` as `ie` with template length `length` at `buf[off]`; returns the octets written
 * (including the 1- or 3-octet length prefix of a variable-length field, RFC 7011 §7).
 * The caller guarantees room for the fixed length (or, for variable length, for `encodedLength`).
 */
export function writeValue(
  buf: Uint8Array,
  off: number,
  ie: InformationElement,
  length: number,
  value: FieldValue,
): number {
  const t: DataType = ie.type;
  switch (t) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
      writeUnsigned(buf, off, ie, length, value);
      return length;
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64':
      writeSigned(buf, off, ie, length, value);
      return length;
    case 'float32':
    case 'float64': {
      if (typeof value !== 'number' || Number.isNaN(value)) refuse(ie, value, `a number, not NaN (${t})`);
      const dv = new DataView(buf.buffer, buf.byteOffset + off, length);
      if (t === 'float32') {
        if (Number.isFinite(value) && !Number.isFinite(Math.fround(value))) {
          refuse(ie, value, 'a value within float32 range');
        }
        dv.setFloat32(0, value);
      } else {
        dv.setFloat64(0, value);
      }
      return length;
    }
    case 'boolean':
      // RFC 7011 §6.1.5: true = 1, false = 2.
      if (typeof value !== 'boolean') refuse(ie, value, 'true or false');
      buf[off] = value ? 1 : 2;
      return 1;
    case 'macAddress':
      if (typeof value !== 'string' || !writeMac(buf, off, value))
        refuse(ie, value, 'a MAC address aa:bb:cc:dd:ee:ff');
      return 6;
    case 'ipv4Address':
      if (typeof value !== 'string' || !writeIpv4(buf, off, value))
        refuse(ie, value, 'an IPv4 address a.b.c.d');
      return 4;
    case 'ipv6Address':
      if (typeof value !== 'string' || !writeIpv6(buf, off, value))
        refuse(ie, value, 'an IPv6 address (RFC 4291 text)');
      return 16;
    case 'dateTimeSeconds': {
      // RFC 7011 §6.1.7: unsigned32 seconds since the Unix epoch: 4 octets, never 8.
      const s = positiveTime(ie, value, 'seconds', 0xffffffff);
      writeUintNumber(buf, off, 4, s);
      return 4;
    }
    case 'dateTimeMilliseconds': {
      // RFC 7011 §6.1.8: unsigned64 milliseconds since the Unix epoch.
      const ms = positiveTime(ie, value, 'milliseconds', Number.MAX_SAFE_INTEGER);
      writeUintNumber(buf, off, 8, ms);
      return 8;
    }
    case 'dateTimeMicroseconds': {
      // RFC 7011 §6.1.9: NTP timestamp; the low 11 bits of the fraction are zero (µs resolution).
      const us = positiveTime(ie, value, 'microseconds', (NTP_ERA0_LAST_UNIX_S + 1) * 1e6 - 1);
      const s = Math.floor(us / 1e6);
      const frac = Math.round(((us - s * 1e6) * TWO32) / 1e6 / 2048) * 2048;
      writeNtp(buf, off, s, frac);
      return 8;
    }
    case 'dateTimeNanoseconds': {
      // RFC 7011 §6.1.10: NTP timestamp with a full 32-bit fraction.
      if (typeof value !== 'bigint') refuse(ie, value, 'a bigint number of nanoseconds since 1970-01-01');
      if (value <= 0n)
        refuse(ie, value, 'a time after 1970-01-01T00:00:00Z (> 0; a zero time is never sent)');
      const s = value / 1_000_000_000n;
      if (s > BigInt(NTP_ERA0_LAST_UNIX_S))
        refuse(ie, value, 'a time before 2036-02-07T06:28:16Z (NTP era 0)');
      const ns = value - s * 1_000_000_000n;
      const frac = ((ns << 32n) + 500_000_000n) / 1_000_000_000n;
      writeNtp(buf, off, Number(s), Number(frac));
      return 8;
    }
    case 'octetArray':
    case 'string':
      return writeBytesField(buf, off, ie, length, value);
  }
}

const encoder = new TextEncoder();
/** A lone surrogate has no UTF-8 encoding (String.prototype.isWellFormed is not in the ES2023 lib). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function bytesOf(ie: InformationElement, value: FieldValue): Uint8Array {
  if (ie.type === 'string') {
    if (typeof value !== 'string' || LONE_SURROGATE.test(value))
      refuse(ie, value, 'a string of valid Unicode (UTF-8)');
    return encoder.encode(value);
  }
  if (!(value instanceof Uint8Array)) refuse(ie, value, 'a Uint8Array');
  return value;
}

function writeBytesField(
  buf: Uint8Array,
  off: number,
  ie: InformationElement,
  length: number,
  value: FieldValue,
): number {
  const bytes = bytesOf(ie, value);
  if (length !== VARIABLE_LENGTH) {
    if (bytes.length !== length) refuse(ie, value, `exactly ${length} octets`);
    buf.set(bytes, off);
    return length;
  }
  // RFC 7011 §7: < 255 octets: one length octet; else 255 then a 2-octet length.
  if (bytes.length < 255) {
    buf[off] = bytes.length;
    buf.set(bytes, off + 1);
    return 1 + bytes.length;
  }
  buf[off] = 255;
  buf[off + 1] = bytes.length >>> 8;
  buf[off + 2] = bytes.length & 0xff;
  buf.set(bytes, off + 3);
  return 3 + bytes.length;
}

/**
 * Octets `value` takes as `ie` with template length `length` (a variable-length field's prefix
 * included); refuses values that cannot fit any IPFIX message.
 */
export function encodedLength(ie: InformationElement, length: number, value: FieldValue): number {
  if (length !== VARIABLE_LENGTH) return length;
  const n =
    ie.type === 'string' && typeof value === 'string'
      ? Buffer.byteLength(value, 'utf8')
      : bytesOf(ie, value).length;
  // 65535 − message header (16) − set header (4) − the 3-octet length prefix.
  if (n > 65512) refuse(ie, `<${n} octets>`, 'at most 65512 octets (an IPFIX message is ≤ 65535)');
  return n < 255 ? 1 + n : 3 + n;
}

/** Length check for a template field: reduced size only for counters, nothing else shortened. */
export function checkFieldLength(ie: InformationElement, length: number): void {
  const full = DEFAULT_LENGTH[ie.type];
  if (length === full) return;
  if (length === VARIABLE_LENGTH && (ie.type === 'octetArray' || ie.type === 'string')) return;
  if ((ie.type === 'octetArray' || ie.type === 'string') && length > 0 && length < VARIABLE_LENGTH) return;
  const counter = ie.semantics === 'deltaCounter' || ie.semantics === 'totalCounter';
  if (counter && ie.type.startsWith('unsigned') && length >= 1 && length < full) return;
  throw new CtflowError('IPFIX_TEMPLATE', `field ${ie.name} cannot have length ${length}`, {
    details: {
      element: ie.name,
      value: length,
      expected: counter ? `1..${full} (reduced-size counter)` : `${full} (${ie.type})`,
    },
  });
}
