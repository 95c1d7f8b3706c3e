import fc from 'fast-check';
import type { Observation, TcpState, Tuple } from '../../../src/flow/types.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Event times: 1 µs .. year 2100. */
export const timeUsArb = fc.integer({ min: 1, max: 4_102_444_800_000_000 });
const tuple: fc.Arbitrary<Tuple> = fc.record({
  src: fc.oneof(fc.ipV4(), fc.ipV6()),
  dst: fc.oneof(fc.ipV4(), fc.ipV6()),
  srcPort: fc.integer({ min: 0, max: 65535 }),
  dstPort: fc.integer({ min: 0, max: 65535 }),
  icmpType: fc.option(fc.integer({ min: 0, max: 255 })),
  icmpCode: fc.option(fc.integer({ min: 0, max: 255 })),
  icmpId: fc.option(fc.integer({ min: 0, max: 65535 })),
});
// avsc accepts longs up to 2^53 - 2 (it keeps a margin below Number.MAX_SAFE_INTEGER).
const counter = fc.integer({ min: 0, max: 2 ** 53 - 2 });
const tcpStates: TcpState[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];
/** Any Observation the types allow. */
export const observationArb: fc.Arbitrary<Observation> = fc.record({
  node: fc.string({ unit: 'grapheme', maxLength: 40 }),
  bootId: fc.uuid(),
  kind: fc.constantFrom('NEW', 'UPDATE', 'DESTROY', 'POLL'),
  timeUs: timeUsArb,
  conntrackId: u32,
  zone: fc.integer({ min: 0, max: 65535 }),
  family: fc.constantFrom('IPV4', 'IPV6'),
  protocol: fc.integer({ min: 0, max: 255 }),
  orig: tuple,
  reply: tuple,
  tcpState: fc.option(fc.constantFrom(...tcpStates)),
  status: u32,
  mark: u32,
  counters: fc.option(
    fc.record({ origPackets: counter, origBytes: counter, replyPackets: counter, replyBytes: counter }),
  ),
  kernelStartUs: fc.option(timeUsArb),
  kernelStopUs: fc.option(timeUsArb),
});
