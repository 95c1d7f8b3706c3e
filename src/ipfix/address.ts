/**
 * Address text <-> bytes without allocation on the encode path: the parsers write straight into the
 * message buffer and report failure as `false` so the caller can name the field in its error.
 */

const scratch = new Uint16Array(8);
const v4scratch = new Uint8Array(4);

/**
 * Writes the 4 octets of a dotted-quad IPv4 address at `off`; false when `text` is not one
 * (leading zeros are refused: "010" is octal to some parsers). Unrolled per octet: this runs twice
 * per exported record.
 */
export function writeIpv4(buf: Uint8Array, off: number, text: string): boolean {
  if (typeof text !== 'string') return false;
  const n = text.length;
  if (n < 7 || n > 15) return false;
  let i = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (text.charCodeAt(i) !== 46) return false;
      i++;
    }
    if (i >= n) return false;
    let v = text.charCodeAt(i) - 48;
    if (v < 0 || v > 9) return false;
    i++;
    if (i < n) {
      const d1 = text.charCodeAt(i) - 48;
      if (d1 >= 0 && d1 <= 9) {
        if (v === 0) return false;
        v = v * 10 + d1;
        i++;
        if (i < n) {
          const d2 = text.charCodeAt(i) - 48;
          if (d2 >= 0 && d2 <= 9) {
            v = v * 10 + d2;
            i++;
            if (v > 255) return false;
          }
        }
      }
    }
    buf[off + part] = v;
  }
  return i === n;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Writes the 16 octets of an IPv6 address (RFC 4291 §2.2 text: '::' compression, embedded IPv4 tail)
 * at `off`; false when `text` is not one. Zone ids (%eth0) are refused: they are not on the wire.
 */
export function writeIpv6(buf: Uint8Array, off: number, text: string): boolean {
  if (typeof text !== 'string') return false;
  const n = text.length;
  if (n < 2 || n > 45) return false;
  let groups = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (n === 2) {
      buf.fill(0, off, off + 16);
      return true;
    }
  }
  while (i < n) {
    if (groups === 8) return false;
    // An embedded IPv4 tail: the rest contains a dot.
    let j = i;
    let value = 0;
    let digits = 0;
    let sawDot = false;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 58) break;
      if (c === 46) {
        sawDot = true;
        break;
      }
      const h = hexValue(c);
      if (h < 0 || digits === 4) return false;
      value = value * 16 + h;
      digits++;
      j++;
    }
    if (sawDot) {
      if (groups > 6) return false;
      if (!writeIpv4(v4scratch, 0, text.slice(i))) return false;
      scratch[groups++] = (v4scratch[0]! << 8) | v4scratch[1]!;
      scratch[groups++] = (v4scratch[2]! << 8) | v4scratch[3]!;
      i = n;
      break;
    }
    if (digits === 0) return false;
    scratch[groups++] = value;
    i = j;
    if (i === n) break;
    // text[i] is ':'
    i++;
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
    } else if (i === n) {
      return false; // trailing single colon
    }
  }
  if (gap < 0 && groups !== 8) return false;
  if (gap >= 0 && groups > 7) return false;
  const zeros = 8 - groups;
  let w = 0;
  for (let g = 0; g < groups; g++) {
    if (g === gap) {
      for (let z = 0; z < zeros; z++) {
        buf[off + w] = 0;
        buf[off + w + 1] = 0;
        w += 2;
      }
    }
    const v = scratch[g]!;
    buf[off + w] = v >>> 8;
    buf[off + w + 1] = v & 0xff;
    w += 2;
  }
  if (gap === groups) {
    for (let z = 0; z < zeros; z++) {
      buf[off + w] = 0;
      buf[off + w + 1] = 0;
      w += 2;
    }
  }
  return true;
}

/** Writes the 6 octets of a MAC address written as six ':'- or '-'-separated hex pairs; false otherwise. */
export function writeMac(buf: Uint8Array, off: number, text: string): boolean {
  if (typeof text !== 'string' || text.length !== 17) return false;
  for (let k = 0; k < 6; k++) {
    const hi = hexValue(text.charCodeAt(k * 3));
    const lo = hexValue(text.charCodeAt(k * 3 + 1));
    if (hi < 0 || lo < 0) return false;
    if (k < 5) {
      const sep = text.charCodeAt(k * 3 + 2);
      if (sep !== 58 && sep !== 45) return false;
    }
    buf[off + k] = hi * 16 + lo;
  }
  return true;
}

/** Dotted-quad text of 4 octets at `off`. */
export function formatIpv4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** RFC 5952 text of 16 octets at `off`: lowercase, longest zero run (≥ 2 groups) compressed, IPv4-mapped dotted. */
export function formatIpv6(buf: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let k = 0; k < 8; k++) g.push((buf[off + 2 * k]! << 8) | buf[off + 2 * k + 1]!);
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted-quad tail.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(buf, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let k = 0; k < 8; ) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      bestLen = e - k;
      bestStart = k;
    }
    k = e;
  }
  const hex = (k: number): string => g[k]!.toString(16);
  if (bestLen < 2) return g.map((_, k) => hex(k)).join(':');
  const head = g.slice(0, bestStart).map((_, k) => hex(k));
  const tail = g.slice(bestStart + bestLen).map((_, k) => hex(bestStart + bestLen + k));
  return `${head.join(':')}::${tail.join(':')}`;
}

/** 'aa:bb:cc:dd:ee:ff' text of 6 octets at `off`. */
export function formatMac(buf: Uint8Array, off: number): string {
  const parts: string[] = [];
  for (let k = 0; k < 6; k++) parts.push(buf[off + k]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}
