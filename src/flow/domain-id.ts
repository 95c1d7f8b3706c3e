/**
 * Observation Domain ID per node (RFC 7011 §3.1: "A 32-bit identifier of the Observation Domain
 * that is locally unique to the Exporting Process"). One domain per node, stable across restarts.
 */

/**
 * Default Observation Domain ID of a node: FNV-1a (32-bit) of its UTF-8 name, never 0 (0 is
 * reserved for "no specific domain" in some collectors). Stable across processes and versions.
 */
export function defaultObservationDomainId(node: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(node, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}
