import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerHeap } from '../../../src/flow/timer-heap.js';

describe('TimerHeap', () => {
  it('pops in (deadline, seq) order, whether built by push or by append + heapify', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(50), fc.nat(1000)), { maxLength: 300 }), (items) => {
        const entries = items.map(([d, s], i) => ({ d, s: s * 1000 + i, slot: i }));
        const expected = [...entries].sort((a, b) => a.d - b.d || a.s - b.s).map((e) => e.slot);
        const pushed = new TimerHeap();
        const appended = new TimerHeap();
        for (const e of entries) {
          pushed.push(e.d, e.s, e.slot);
          appended.append(e.d, e.s, e.slot);
        }
        appended.heapify();
        for (const h of [pushed, appended]) {
          const out: number[] = [];
          while (h.size > 0) {
            out.push(h.topSlot());
            h.pop();
          }
          expect(out).toEqual(expected);
          expect(h.topDeadline()).toBe(Number.POSITIVE_INFINITY);
        }
      }),
    );
  });
});
