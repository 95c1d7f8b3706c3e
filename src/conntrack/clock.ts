/**
 * The agent's wall clock in integer µs since the Unix epoch, comparable with the kernel's realtime
 * stamps (conntrack -E prints gettimeofday µs; the ktimestamp start stamps are realtime ns).
 *
 * Node has no µs realtime clock: Date.now() is realtime truncated to the ms, process.hrtime is
 * monotonic. The clock is monotonic time plus an offset taken at an edge of Date.now()'s tick, the
 * one instant at which the ms value says the µs too (realtime has just reached a whole ms). Anchoring
 * on an arbitrary Date.now() instead would make every time up to 1 ms early, a random amount per
 * process. The offset is taken again when the two clocks drift apart by more than 1 ms (an NTP step
 * or a long slew); taking it spins over a few ms ticks (5 ms at start, 2 ms on a re-anchor, rarely).
 */
export type ClockUs = () => number;

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * realtime µs − monotonic µs, measured at the edges of `ticks` Date.now() ticks. A measurement
 * interrupted (the process descheduled between the tick and the monotonic read) can only come out
 * too small, so the largest of them is kept.
 */
function measureOffsetUs(ticks: number): number {
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < ticks; i++) {
    const before = Date.now();
    let wallMs = Date.now();
    while (wallMs === before) wallMs = Date.now();
    best = Math.max(best, wallMs * 1000 - monotonicUs());
  }
  return best;
}

let offsetUs = measureOffsetUs(5);

/** Default clock: realtime µs with monotonic sub-ms resolution. */
export const wallClockUs: ClockUs = () => {
  const estimate = monotonicUs() + offsetUs;
  const wallUs = Date.now() * 1000;
  // In step, estimate lies in [wallUs, wallUs + 1000); allow 1 ms of drift either way.
  if (estimate < wallUs - 1000 || estimate >= wallUs + 2000) {
    offsetUs = measureOffsetUs(2);
    return monotonicUs() + offsetUs;
  }
  return estimate;
};
