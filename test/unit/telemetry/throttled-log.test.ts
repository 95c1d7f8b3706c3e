import { describe, expect, it } from 'vitest';
import { CtflowError } from '../../../src/errors.js';
import { throttledErrorLog } from '../../../src/telemetry/throttled-log.js';

function dropped(collector: string): CtflowError {
  return new CtflowError('TRANSPORT', `${collector}: 18 records dropped (send failed)`, {
    details: { collector, records: 18, reason: 'send failed' },
  });
}

describe('throttledErrorLog', () => {
  it('logs the first error of a kind, then one per interval with the count left out', () => {
    const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    let t = 0;
    const warn = ((obj: Record<string, unknown>, msg: string) => lines.push({ obj, msg })) as never;
    const log = throttledErrorLog({ warn }, 'IPFIX exporter', 10_000, () => t);
    for (let i = 0; i < 1000; i++) log(dropped('udp://a:4739'));
    t = 5_000;
    log(dropped('udp://b:4739'));
    t = 10_000;
    log(dropped('udp://a:4739'));
    log(dropped('udp://a:4739'));
    expect(lines.map((l) => [l.obj.suppressed, (l.obj.err as CtflowError).details.collector])).toEqual([
      [undefined, 'udp://a:4739'],
      [undefined, 'udp://b:4739'],
      [999, 'udp://a:4739'],
    ]);
    expect(lines.every((l) => l.msg === 'IPFIX exporter')).toBe(true);
  });

  it('tells errors of other codes or reasons apart, and plain errors by message', () => {
    const seen: unknown[] = [];
    const warn = ((obj: { err: unknown }) => seen.push(obj.err)) as never;
    const log = throttledErrorLog({ warn }, 'x', 10_000, () => 0);
    const refused = new CtflowError('TRANSPORT', 'recvmsg ECONNREFUSED', { details: {} });
    log(dropped('udp://a:4739'));
    log(refused);
    log(refused);
    log(new Error('one'));
    log(new Error('two'));
    log(new Error('one'));
    expect(seen).toHaveLength(4);
  });
});
