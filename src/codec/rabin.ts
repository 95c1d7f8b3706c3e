/**
 * CRC-64-AVRO, the 64-bit Rabin fingerprint the Avro specification defines for schema fingerprints
 * (Avro 1.11 spec, "Schema Fingerprints"): "fp = EMPTY; for each byte b: fp = (fp >>> 8) ^
 * FP_TABLE[(fp ^ b) & 0xff]", with EMPTY = 0xc15d213aa4d7a795 and the table built from the same
 * polynomial. avsc only offers MD5/SHA fingerprints, so this is implemented here (computed once per
 * schema, so BigInt arithmetic is fast enough).
 */

/** The fingerprint of the empty input; also the reversed generator polynomial. */
const EMPTY = 0xc15d213aa4d7a795n;
const MASK64 = 0xffffffffffffffffn;

const TABLE: readonly bigint[] = (() => {
  const table: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) {
      // Shift right by one; XOR in the polynomial when the bit shifted out was set.
      fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK64);
    }
    table.push(fp);
  }
  return table;
})();

/** CRC-64-AVRO of `bytes`, as an unsigned 64-bit bigint. */
export function rabinFingerprint64(bytes: Uint8Array): bigint {
  let fp = EMPTY;
  for (const b of bytes) {
    fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(b)) & 0xffn)]!;
  }
  return fp;
}

/**
 * The 8 bytes the single-object encoding header carries: the fingerprint little-endian
 * ("the 8-byte little-endian CRC-64-AVRO fingerprint of the object's schema").
 */
export function fingerprintBytesLE(fp: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fp);
  return out;
}

/** Lower-case hex of the little-endian fingerprint bytes, as they appear on the wire. */
export function fingerprintHex(fp: bigint): string {
  return fingerprintBytesLE(fp).toString('hex');
}
