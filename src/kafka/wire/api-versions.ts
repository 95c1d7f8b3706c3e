/**
 * ApiVersions (key 18), version 0: which versions of each request the broker serves. Version 0 because every
 * broker answers it (a broker that does not know the version asked still answers in version 0).
 *
 *   ApiVersions Request (Version: 0) =>
 *   ApiVersions Response (Version: 0) => error_code [api_keys]
 *     error_code => INT16
 *     api_keys => api_key min_version max_version   (INT16 each)
 */
import { ByteReader } from './bytes.js';

/** API key of ApiVersions. */
export const API_VERSIONS_KEY = 18;

/** Version range of one API on a broker. */
export interface VersionRange {
  min: number;
  max: number;
}

/** The empty request body of version 0. */
export function encodeApiVersionsRequest(): Buffer {
  return Buffer.alloc(0);
}

/** Parses the v0 response: API key -> versions served, and the error code (0 = none). */
export function parseApiVersionsResponse(body: Buffer): {
  errorCode: number;
  apis: Map<number, VersionRange>;
} {
  const r = new ByteReader(body);
  const errorCode = r.int16('ApiVersions error_code');
  const apis = new Map<number, VersionRange>();
  const n = r.count('ApiVersions api_keys');
  for (let i = 0; i < n; i++) {
    const key = r.int16('api_key');
    const min = r.int16('min_version');
    const max = r.int16('max_version');
    apis.set(key, { min, max });
  }
  return { errorCode, apis };
}

/** The highest of `wanted` (ascending or not) that `range` serves, or undefined. */
export function pickVersion(range: VersionRange | undefined, wanted: readonly number[]): number | undefined {
  if (range === undefined) return undefined;
  let best: number | undefined;
  for (const v of wanted) if (v >= range.min && v <= range.max && (best === undefined || v > best)) best = v;
  return best;
}
