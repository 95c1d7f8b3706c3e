/**
 * Splits a TCP byte stream into IPFIX messages by their header length (RFC 7011 §10.4: messages
 * follow each other on the stream). Holds at most one incomplete message (≤ 65535 octets) plus the
 * chunk being read; a header that is not IPFIX means the stream cannot be resynchronised.
 */
import { CtflowError } from '../errors.js';
import { HEADER_LENGTH, IPFIX_VERSION } from './message.js';

/** Stream-to-messages splitter for one connection. */
export class MessageFramer {
  #pending: Buffer = Buffer.alloc(0);

  /** Octets held waiting for the rest of a message. */
  get pendingLength(): number {
    return this.#pending.length;
  }

  /** Adds a chunk; returns the complete messages. Throws IPFIX_DECODE when the stream is not IPFIX. */
  push(chunk: Uint8Array): Buffer[] {
    let buf = this.#pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#pending, chunk]);
    const out: Buffer[] = [];
    while (buf.length >= 4) {
      const version = buf.readUInt16BE(0);
      const length = buf.readUInt16BE(2);
      if (version !== IPFIX_VERSION || length < HEADER_LENGTH) {
        this.#pending = Buffer.alloc(0);
        throw new CtflowError('IPFIX_DECODE', `stream is not IPFIX: version ${version}, length ${length}`, {
          details: { field: 'header', value: { version, length }, expected: 'version 10, length ≥ 16' },
        });
      }
      if (buf.length < length) break;
      out.push(buf.subarray(0, length));
      buf = buf.subarray(length);
    }
    this.#pending = Buffer.from(buf);
    return out;
  }
}
