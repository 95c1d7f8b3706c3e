/**
 * Cheap change detection for dump lines. Most entries of a big table do not change between two
 * polls, yet their lines always do: conntrack prints the remaining timeout (and use count, age)
 * that tick on their own. A 53-bit hash of the line's bytes without those fields tells "same as
 * last time" at a fraction of the cost of decoding and parsing it; only lines whose hash changed
 * are parsed.
 */

/** Fields whose change means nothing downstream: skipped by the hash, in the order printed. */
const VOLATILE: ReadonlyArray<readonly [Buffer, Buffer]> = [
  ['<timeout>', '</timeout>'],
  ['<use>', '</use>'],
  ['<deltatime>', '</deltatime>'],
].map(([open, close]) => [Buffer.from(open as string), Buffer.from(close as string)] as const);
// Needles are encoded once: Buffer.indexOf(string) would encode its argument on every call.
const INDEPENDENT = Buffer.from('<meta direction="independent">');
const FLOW = Buffer.from('<flow');
const ID = Buffer.from('<id>');

/**
 * Hash of an XML dump line (bytes) without its volatile fields, or null when the line is not a
 * `<flow>`. Two lines with the same hash are taken as the same entry in the same state (chance of a
 * collision per changed line: about 2^-53).
 */
export function lineFingerprint(line: Buffer): number | null {
  if (line.length < FLOW.length || line.compare(FLOW, 0, FLOW.length, 0, FLOW.length) !== 0) return null;
  const ind = line.lastIndexOf(INDEPENDENT);
  if (ind < 0) return null;
  const skips: number[] = [];
  for (const [open, close] of VOLATILE) {
    const at = line.indexOf(open, ind);
    if (at < 0) continue;
    const end = line.indexOf(close, at);
    if (end < 0) return null;
    // A field out of the usual order is simply hashed.
    if (skips.length > 0 && at < (skips[skips.length - 1] as number)) continue;
    skips.push(at, end + close.length);
  }
  skips.push(line.length, line.length);
  return hashBytes(line, skips);
}

/**
 * 53-bit hash of `line` without the byte ranges [skips[0], skips[1]), [skips[2], skips[3]), ...
 * (ascending; the list ends with [line.length, line.length]).
 */
export function hashBytes(line: Buffer, skips: readonly number[]): number {
  // FNV-1a over two interleaved lanes (even/odd bytes of what is hashed, so a skipped field of
  // another length does not shift the lanes), finalised into 53 bits.
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  let odd = false;
  let i = 0;
  for (let k = 0; k < skips.length; k += 2) {
    const stop = skips[k] as number;
    if (odd && i < stop) {
      h2 = Math.imul(h2 ^ (line[i++] as number), 16777619);
      odd = false;
    }
    for (; i + 1 < stop; i += 2) {
      h1 = Math.imul(h1 ^ (line[i] as number), 16777619);
      h2 = Math.imul(h2 ^ (line[i + 1] as number), 16777619);
    }
    if (i < stop) {
      h1 = Math.imul(h1 ^ (line[i++] as number), 16777619);
      odd = true;
    }
    i = skips[k + 1] as number;
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The conntrack id of an XML dump line (its last `<id>`, in the independent section), or null. */
export function lineConntrackId(line: Buffer): number | null {
  const at = line.lastIndexOf(ID);
  if (at < 0) return null;
  let n = 0;
  let i = at + 4;
  for (; i < line.length && i < at + 15; i++) {
    const c = (line[i] as number) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  if (i === at + 4 || line[i] !== 60 /* < */) return null;
  return n;
}
