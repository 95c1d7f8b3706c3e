import type { Tuple } from '../flow/types.js';

/**
 * Conntrack status bits (enum ip_conntrack_status, include/uapi/linux/netfilter/nf_conntrack_common.h).
 */
export const IPS = {
  EXPECTED: 1 << 0,
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  DYING: 1 << 9,
  OFFLOAD: 1 << 14,
  HW_OFFLOAD: 1 << 15,
} as const;

/** What conntrack-tools prints about an entry's status (it never prints the raw bitmask). */
export interface StatusFlags {
  unreplied: boolean;
  assured: boolean;
  offload: boolean;
  hwOffload: boolean;
  dying: boolean;
}

/**
 * Rebuilds the IPS_* bits that can be known from conntrack-tools output: SEEN_REPLY (no
 * [UNREPLIED]), ASSURED, CONFIRMED (every listed or announced entry is in the table), SRC_NAT /
 * DST_NAT (the reply tuple is not the inverted original), OFFLOAD/HW_OFFLOAD, DYING (destroyed).
 * Bits conntrack-tools does not print (EXPECTED, SEQ_ADJUST, *_NAT_DONE, HELPER...) stay 0.
 */
export function statusBits(flags: StatusFlags, orig: Tuple, reply: Tuple): number {
  let s = IPS.CONFIRMED;
  if (!flags.unreplied) s |= IPS.SEEN_REPLY;
  if (flags.assured) s |= IPS.ASSURED;
  if (flags.offload) s |= IPS.OFFLOAD;
  if (flags.hwOffload) s |= IPS.HW_OFFLOAD;
  if (flags.dying) s |= IPS.DYING;
  // Without NAT the reply tuple is the original one inverted; a different reply destination means
  // the source was translated, a different reply source means the destination was.
  if (reply.dst !== orig.src || reply.dstPort !== orig.srcPort) s |= IPS.SRC_NAT;
  if (reply.src !== orig.dst || reply.srcPort !== orig.dstPort) s |= IPS.DST_NAT;
  return s;
}
