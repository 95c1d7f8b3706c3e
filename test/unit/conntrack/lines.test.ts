import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../src/conntrack/lines.js';

describe('LineSplitter', () => {
  it('gives the same numbered lines however the text is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z<> =]*$/), { maxLength: 20 }),
        fc.array(fc.nat(50)),
        (lines, cuts) => {
          const text = lines.map((l) => `${l}\n`).join('');
          const splitter = new LineSplitter();
          const got: Array<[string, number]> = [];
          let pos = 0;
          for (const c of cuts) {
            splitter.push(text.slice(pos, pos + c), (l, n) => got.push([l, n]));
            pos += c;
          }
          splitter.push(text.slice(pos), (l, n) => got.push([l, n]));
          splitter.end((l, n) => got.push([l, n]));
          expect(got).toEqual(lines.map((l, i) => [l, i + 1]));
        },
      ),
    );
  });

  it('flushes a last line without a newline', () => {
    const s = new LineSplitter();
    const got: string[] = [];
    s.push('a\nb', (l) => got.push(l));
    s.end((l) => got.push(l));
    expect(got).toEqual(['a', 'b']);
  });
});
