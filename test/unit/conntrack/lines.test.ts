import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../src/conntrack/lines.js';

describe('LineSplitter', () => {
  it('gives the same numbered lines however the bytes are cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z<> =]*$/), { maxLength: 20 }),
        fc.array(fc.nat(50)),
        (lines, cuts) => {
          const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'latin1');
          const splitter = new LineSplitter();
          const got: Array<[string, number]> = [];
          const onLine = (l: Buffer, n: number): void => {
            got.push([l.toString('latin1'), n]);
          };
          let pos = 0;
          for (const c of cuts) {
            splitter.push(bytes.subarray(pos, pos + c), onLine);
            pos += c;
          }
          splitter.push(bytes.subarray(pos), onLine);
          splitter.end(onLine);
          expect(got).toEqual(lines.map((l, i) => [l, i + 1]));
        },
      ),
    );
  });

  it('flushes a last line without a newline', () => {
    const s = new LineSplitter();
    const got: string[] = [];
    s.push(Buffer.from('a\nb'), (l) => got.push(l.toString()));
    s.end((l) => got.push(l.toString()));
    expect(got).toEqual(['a', 'b']);
  });
});
