/** The IPFIX Observation Domain ID of a node (RFC 7011 §3.1: non-zero, unique per exporter domain). */
import type { Config } from './schema.js';

/**
 * A stable ODID derived from a node name: FNV-1a 32-bit of its UTF-8 bytes, with 0 (reserved
 * by RFC 7011 for "no specific domain") mapped to 1. Same name, same ID, across restarts.
 */
export function observationDomainIdForNode(node: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(node, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/** This node's ODID: node.observationDomainId if configured, else derived from node.name. */
export function observationDomainId(config: Config): number {
  return config.node.observationDomainId ?? observationDomainIdForNode(config.node.name);
}
