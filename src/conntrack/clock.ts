/**
 * The agent's wall clock in integer µs since the Unix epoch. Date.now() has ms resolution;
 * the monotonic clock adds the µs, and the pair is re-anchored whenever the two drift apart by more
 * than 1 ms (NTP steps/slews), so times stay comparable with the kernel's realtime stamps.
 */
export type ClockUs = () => number;

let anchorWallMs = Date.now();
let anchorMono = process.hrtime.bigint();

/** Default clock: wall-clock µs with monotonic sub-ms resolution. */
export const wallClockUs: ClockUs = () => {
  const wallMs = Date.now();
  const mono = process.hrtime.bigint();
  const estimate = anchorWallMs * 1000 + Number((mono - anchorMono) / 1000n);
  if (Math.abs(estimate - wallMs * 1000) > 1000) {
    anchorWallMs = wallMs;
    anchorMono = mono;
    return wallMs * 1000;
  }
  return estimate;
};
