/**
 * IPFIX Message framing (RFC 7011 §3.1 header, §3.3 sets): a builder that fills one preallocated
 * buffer with sets and records, then writes the header.
 */
import { CtflowError } from '../errors.js';
import type { Template } from './template.js';
import { templateRecordLength, writeTemplateRecord } from './template.js';

/** RFC 7011 §3.1: Version Number of IPFIX. */
export const IPFIX_VERSION = 10;
/** Message header octets: version, length, export time, sequence number, observation domain id. */
export const HEADER_LENGTH = 16;
/** Set header octets: set id, length. */
export const SET_HEADER_LENGTH = 4;
/** RFC 7011 §3.3.2 Set IDs. */
export const TEMPLATE_SET_ID = 2;
export const OPTIONS_TEMPLATE_SET_ID = 3;
/** The largest IPFIX message: the header's length field is 16 bits. */
export const MAX_MESSAGE_LENGTH = 65535;

/**
 * RFC 7011 §3.1 Message Header:
 *   Version Number (16) = 10 | Length (16) | Export Time (32, seconds) | Sequence Number (32) |
 *   Observation Domain ID (32)
 */
export function writeHeader(
  dv: DataView,
  at: number,
  length: number,
  exportTimeS: number,
  sequence: number,
  domain: number,
): void {
  if (!Number.isInteger(exportTimeS) || exportTimeS <= 0 || exportTimeS > 0xffffffff) {
    throw new CtflowError('IPFIX_ENCODE', `cannot encode export time ${exportTimeS}`, {
      details: { element: 'exportTime', value: exportTimeS, expected: 'seconds since 1970, 1..2^32-1' },
    });
  }
  dv.setUint16(at, IPFIX_VERSION);
  dv.setUint16(at + 2, length);
  dv.setUint32(at + 4, exportTimeS);
  dv.setUint32(at + 8, sequence >>> 0);
  dv.setUint32(at + 12, domain >>> 0);
}

/** Size of the shared slabs message buffers are carved from. */
const SLAB_SIZE = 1 << 20;

/**
 * Message buffers are carved out of shared 1 MiB slabs: handing a message over costs one view
 * (a pooled Buffer.allocUnsafe per message cost several times more), and a slab is freed by the
 * garbage collector once no message still being sent refers to it.
 */
class Slab {
  readonly buf = Buffer.allocUnsafe(SLAB_SIZE);
  readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  next = 0;
}
let slab = new Slab();

/**
 * Builds one message of at most `capacity` octets (the maximum message size) in a region of a shared
 * slab: `buf`/`view` are the whole slab and offsets (`off`) are absolute; the message starts at
 * `start`. Records are added into the open set; `finish` closes it, writes the header and returns
 * the message as its own Buffer view; the builder then starts the next message.
 */
export class MessageBuilder {
  readonly capacity: number;
  /** The slab the message is built in (absolute offsets). */
  buf!: Buffer;
  /** A DataView over all of `buf`. */
  view!: DataView;
  /** Where this message starts in `buf`. */
  start = 0;
  /** Write offset (absolute): the message ends here so far. */
  off = 0;
  /** Data records in this message (they advance the sequence number). */
  dataRecords = 0;
  #slab!: Slab;
  #setStart = -1;
  #setId = -1;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > MAX_MESSAGE_LENGTH) {
      throw new CtflowError('CONFIG_INVALID', `IPFIX message size ${capacity} out of range`, {
        details: { field: 'maxMessageSize', value: capacity, expected: '64..65535' },
      });
    }
    this.capacity = capacity;
    this.#reserve();
  }

  /** Reserves `capacity` octets in the current slab (a new slab when it is full). */
  #reserve(): void {
    if (slab.next + this.capacity > SLAB_SIZE) slab = new Slab();
    this.#slab = slab;
    this.buf = slab.buf;
    this.view = slab.view;
    this.start = slab.next;
    this.off = this.start + HEADER_LENGTH;
    slab.next += this.capacity;
  }

  /** Octets in the message so far (header included). */
  get length(): number {
    return this.off - this.start;
  }

  /** True when nothing but the header is in the message. */
  get empty(): boolean {
    return this.off === this.start + HEADER_LENGTH;
  }

  /** The set currently open, or -1. */
  get openSetId(): number {
    return this.#setId;
  }

  /** Octets left for a record of set `setId` (counting the set header it would need). */
  room(setId: number): number {
    return this.start + this.capacity - this.off - (this.#setId === setId ? 0 : SET_HEADER_LENGTH);
  }

  /** Makes `setId` the open set (closing another one); the caller has checked `room`. */
  useSet(setId: number): void {
    if (this.#setId === setId) return;
    this.closeSet();
    this.#setStart = this.off;
    this.#setId = setId;
    this.off += SET_HEADER_LENGTH;
  }

  /**
   * Closes the open set. RFC 7011 §3.3.1: a set may be padded to a 4-octet boundary with zero octets,
   * fewer than the smallest record of the set; `padTo4` asks for that when it fits.
   */
  closeSet(padTo4 = false, minRecordLength = 0): void {
    if (this.#setId < 0) return;
    let len = this.off - this.#setStart;
    const pad = (4 - (len % 4)) % 4;
    if (
      padTo4 &&
      pad > 0 &&
      pad < Math.max(minRecordLength, 1) &&
      this.off + pad <= this.start + this.capacity
    ) {
      this.buf.fill(0, this.off, this.off + pad);
      this.off += pad;
      len += pad;
    }
    this.buf.writeUInt16BE(this.#setId, this.#setStart);
    this.buf.writeUInt16BE(len, this.#setStart + 2);
    this.#setId = -1;
    this.#setStart = -1;
  }

  /** Adds a template (or options template) record; false when it does not fit. */
  addTemplate(t: Template): boolean {
    const setId = t.scopeCount > 0 ? OPTIONS_TEMPLATE_SET_ID : TEMPLATE_SET_ID;
    const n = templateRecordLength(t);
    if (this.room(setId) < n) return false;
    this.useSet(setId);
    this.off += writeTemplateRecord(this.buf, this.off, t);
    return true;
  }

  /**
   * RFC 7011 §8.1 Template Withdrawal: a template record with field count 0 (id 2 or 3 withdraws all
   * templates, or all options templates, of the domain). TCP/SCTP only.
   */
  addWithdrawal(templateId: number, options: boolean): boolean {
    const setId = options ? OPTIONS_TEMPLATE_SET_ID : TEMPLATE_SET_ID;
    if (this.room(setId) < 4) return false;
    this.useSet(setId);
    this.buf.writeUInt16BE(templateId, this.off);
    this.buf.writeUInt16BE(0, this.off + 2);
    this.off += 4;
    return true;
  }

  /** Closes the message: writes the header and returns the message; the builder starts the next one. */
  finish(exportTimeS: number, sequence: number, domain: number, padTo4 = false, minRecordLength = 0): Buffer {
    this.closeSet(padTo4, minRecordLength);
    const len = this.off - this.start;
    writeHeader(this.view, this.start, len, exportTimeS, sequence, domain);
    let msg: Buffer;
    if (this.#slab.next === this.start + this.capacity) {
      // Nothing was reserved after this message: hand it over and give the unused tail back (8-aligned).
      msg = this.buf.subarray(this.start, this.off);
      this.#slab.next = (this.off + 7) & ~7;
      this.#reserve();
    } else if (len * 2 <= this.capacity) {
      // A small message among other builders' regions: copy it out and keep this region, so that
      // many builders (one per observation domain) do not each waste most of a reservation per message.
      if (slab.next + len > SLAB_SIZE) slab = new Slab();
      msg = slab.buf.subarray(slab.next, slab.next + len);
      this.buf.copy(msg, 0, this.start, this.off);
      slab.next = (slab.next + len + 7) & ~7;
      this.off = this.start + HEADER_LENGTH;
    } else {
      msg = this.buf.subarray(this.start, this.off);
      this.#reserve();
    }
    this.dataRecords = 0;
    return msg;
  }
}
