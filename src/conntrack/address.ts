/**
 * Canonical text of IP addresses, so the same address always gives the same flow key whatever
 * printed it. IPv4: dotted quad without leading zeros. IPv6: RFC 5952.
 */

// Addresses repeat across entries (a node talks to few peers compared with its connections), so
// conversions are cached. Bounded: cleared when full rather than growing with the table.
const CACHE_LIMIT = 65_536;
const cache = new Map<string, string>();

/** Copies a string into its own storage, so a substring does not keep its whole source line alive. */
function detach(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || !/^\d+$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** Parses IPv6 text (any valid form, incl. embedded IPv4) into 8 groups; null if invalid. */
function parseIpv6(text: string): number[] | null {
  if (text.length < 2 || text.length > 45) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parseSide = (side: string, allowV4Tail: boolean): number[] | null => {
    if (side === '') return [];
    const groups: number[] = [];
    const parts = side.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (allowV4Tail && i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === null) return null;
        groups.push(
          ((v4[0] as number) << 8) | (v4[1] as number),
          ((v4[2] as number) << 8) | (v4[3] as number),
        );
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      groups.push(Number.parseInt(p, 16));
    }
    return groups;
  };
  if (halves.length === 1) {
    const all = parseSide(text, true);
    return all !== null && all.length === 8 ? all : null;
  }
  const head = parseSide(halves[0] as string, false);
  const tail = parseSide(halves[1] as string, true);
  if (head === null || tail === null || head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** RFC 5952 §4 (and §5 for IPv4-mapped addresses) text of 8 groups. */
function formatIpv6(g: number[]): string {
  // §5: IPv4-mapped addresses (::ffff:0:0/96) are written with the IPv4 part in dotted decimal.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const a = g[6] as number;
    const b = g[7] as number;
    return `::ffff:${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  // §4.2.1-4.2.3: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // §4.1 no leading zeros; §4.3 lowercase.
  const hex = (from: number, to: number): string =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/**
 * Canonical text of an IPv4 or IPv6 address, or null when `text` is not an address of `family`.
 * IPv6 follows RFC 5952 (lowercase, no leading zeros, longest zero run as "::", IPv4-mapped in
 * mixed notation).
 */
export function canonicalAddress(text: string, family: 'IPV4' | 'IPV6'): string | null {
  const key = family === 'IPV4' ? text : `6${text}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let out: string | null;
  if (family === 'IPV4') {
    const v4 = parseIpv4(text);
    out = v4 === null ? null : v4.join('.');
  } else {
    const v6 = parseIpv6(text);
    out = v6 === null ? null : formatIpv6(v6);
  }
  if (out === null) return null;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  out = detach(out);
  cache.set(detach(key), out);
  return out;
}
