import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryOf, KeyIndex } from '../../../src/flow/key-index.js';

describe('KeyIndex (open addressing, backward-shift deletion)', () => {
  it('behaves like a set of slots under inserts and removes, with colliding hashes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(3000), fc.nat(7)), { maxLength: 3000 }), (ops) => {
        // Few distinct hash values (nat(7)) force long probe runs and wrap-around.
        const hashOf = new Map<number, number>();
        const idx = new KeyIndex((slot) => hashOf.get(slot) as number);
        const model = new Set<number>();
        for (const [add, slot, h] of ops) {
          if (add && !model.has(slot)) {
            const hash = (h * 0x9e3779b1 + (h === 7 ? 2047 : 0)) >>> 0;
            hashOf.set(slot, hash);
            idx.insert(hash, slot);
            model.add(slot);
          } else if (!add && model.has(slot)) {
            idx.remove(hashOf.get(slot) as number, slot);
            model.delete(slot);
          }
        }
        expect(idx.size).toBe(model.size);
        // Every member is reachable from its home bucket; nothing else is in the table.
        const seen = new Set<number>();
        for (const slot of model) {
          const h = hashOf.get(slot) as number;
          let found = false;
          for (let i = h & idx.mask; idx.table[i] !== 0; i = (i + 1) & idx.mask) {
            if (idx.table[i] === entryOf(h, slot)) found = true;
          }
          expect(found).toBe(true);
        }
        for (const v of idx.table) if (v !== 0) seen.add((v & 0xffffff) - 1);
        expect(seen).toEqual(model);
      }),
      { numRuns: 60 },
    );
  });
});
