import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageBuilder } from '../../../src/ipfix/message.js';

describe('MessageBuilder', { timeout: 30_000 }, () => {
  it('keeps every handed-over message intact while other builders go on (shared slabs)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), fc.integer({ min: 0, max: 40 }), fc.boolean()), {
          minLength: 1,
          maxLength: 400,
        }),
        fc.constantFrom(64, 1472, 65535),
        (steps, capacity) => {
          const builders = [0, 1, 2, 3].map(() => new MessageBuilder(capacity));
          const expected: number[][] = builders.map(() => []);
          const done: { msg: Buffer; body: number[]; domain: number }[] = [];
          let fill = 0;
          for (const [which, records, finish] of steps) {
            const b = builders[which]!;
            for (let r = 0; r < records && b.room(300) >= 4; r++) {
              b.useSet(300);
              const v = fill++ & 0xff;
              b.buf.fill(v, b.off, b.off + 4);
              b.off += 4;
              expected[which]!.push(v, v, v, v);
            }
            if (finish && !b.empty) {
              const msg = b.finish(1_795_680_010, which, which);
              done.push({ msg, body: expected[which]!, domain: which });
              expected[which] = [];
            }
          }
          for (const { msg, body, domain } of done) {
            expect(msg.readUInt16BE(0)).toBe(10);
            expect(msg.readUInt16BE(2)).toBe(msg.length);
            expect(msg.length).toBeLessThanOrEqual(capacity);
            expect(msg.readUInt32BE(12)).toBe(domain);
            expect(msg.readUInt16BE(16)).toBe(300);
            expect(msg.readUInt16BE(18)).toBe(msg.length - 16);
            expect([...msg.subarray(20)]).toEqual(body);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
