import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdSet } from '../../../src/conntrack/id-set.js';

describe('IdSet', () => {
  it('answers as a Set of numbers does, for any sequence of adds, deletes and clears of uint32 ids', () => {
    // Few distinct ids (long probe runs, deletions inside them, wrap-around) and the uint32 extremes.
    const idArb = fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constantFrom(2 ** 31, 0xffffffff, 0xfffffffe));
    const opArb = fc.oneof(
      fc.record({ op: fc.constant('add' as const), id: idArb }),
      fc.record({ op: fc.constant('add' as const), id: idArb }),
      fc.record({ op: fc.constant('delete' as const), id: idArb }),
      fc.record({ op: fc.constant('clear' as const), id: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
        const set = new IdSet();
        const model = new Set<number>();
        for (const { op, id } of ops) {
          if (op === 'add') {
            set.add(id);
            model.add(id);
          } else if (op === 'delete') {
            set.delete(id);
            model.delete(id);
          } else {
            set.clear();
            model.clear();
          }
          expect(set.size).toBe(model.size);
        }
        const probes = [...Array(61).keys(), 2 ** 31, 0xffffffff, 0xfffffffe];
        expect(probes.filter((id) => set.has(id))).toEqual(probes.filter((id) => model.has(id)));
      }),
      { numRuns: 300 },
    );
  });

  it('holds a big table of random ids and forgets exactly the deleted ones', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 100, maxLength: 3000 }),
        (ids) => {
          const set = new IdSet();
          for (const id of ids) set.add(id);
          const gone = ids.filter((_, i) => i % 2 === 0);
          for (const id of gone) set.delete(id);
          expect(set.size).toBe(ids.length - gone.length);
          expect(ids.filter((id) => set.has(id))).toEqual(ids.filter((_, i) => i % 2 === 1));
        },
      ),
      { numRuns: 50 },
    );
  });
});
