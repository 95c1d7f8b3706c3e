/** The largest IPFIX message a transport may send (RFC 7011 §10.3.3 for UDP, §3.1 for all). */
import { isIP } from 'node:net';
import { CtflowError } from '../errors.js';
import { MAX_MESSAGE_LENGTH } from './message.js';

/** RFC 7011 §10.3.3: the message size when the path MTU is not known. */
export const UNKNOWN_PMTU_MESSAGE_SIZE = 512;

/**
 * UDP: path MTU minus the IP header (20 octets IPv4, 40 IPv6; a host name counts as IPv6, the
 * larger) and the 8-octet UDP header; 512 when the MTU is 'unknown'; never above 65535.
 * TCP: 65535 (the stream has no datagram limit; the header's length field has).
 */
export function maxMessageSize(protocol: 'udp' | 'tcp', host: string, mtu: number | 'unknown'): number {
  if (protocol === 'tcp') return MAX_MESSAGE_LENGTH;
  if (mtu === 'unknown') return UNKNOWN_PMTU_MESSAGE_SIZE;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535 + 48) {
    throw new CtflowError('CONFIG_INVALID', `path MTU ${mtu} out of range`, {
      details: { field: 'mtu', value: mtu, expected: "an integer 576..65583, or 'unknown'" },
    });
  }
  const ip = isIP(host) === 4 ? 20 : 40;
  return Math.min(mtu - ip - 8, MAX_MESSAGE_LENGTH);
}
