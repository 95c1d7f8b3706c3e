import { describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../../src/errors.js';
import {
  offsetAfterWholeBatches,
  RecordBatchReader,
  type RecordView,
  UnsupportedRecords,
} from '../../../../src/kafka/wire/record-batch.js';
import { encodeBatch, type TestBatch } from './batches.js';

interface Got {
  offset: number;
  key: string | null;
  value: string | null;
}

function collect(into: Got[]): (r: RecordView) => void {
  return (r) =>
    void into.push({ offset: r.offset, key: r.keyString(), value: r.value()?.toString() ?? null });
}

function readAll(
  buf: Buffer,
  from = 0,
  to = Number.MAX_SAFE_INTEGER,
  aborted: Array<{ producerId: number; firstOffset: number }> = [],
) {
  const reader = new RecordBatchReader(from, to, 't[0]');
  const got: Got[] = [];
  reader.read(buf, 0, buf.length, collect(got), aborted);
  return { reader, got };
}

describe('RecordBatch v2 reader', () => {
  it('reads bytes a Kafka 4.4 broker served (kafkajs producer: a gzip batch, then an uncompressed one)', () => {
    // Fetch v11 records of offsets 0-5: [a=1 with header h=x, b=tombstone, null key=c] twice, the first
    // batch gzip-compressed (attributes 0x0001), idempotent producer ids 0x1e and 0x1f.
    const hex =
      '000000000000000000000062000000000230b838f30001000000020000018bcfe568000000018bcfe568020000000000' +
      '00001e000000000000000000031f8b080000000000000393606060604a64326462ca60aae0636062624a6264e0636061' +
      '61644a660000279f0ade1d00000000000000000000030000004e0000000002c74f02310000000000020000018bcfe568' +
      '000000018bcfe56802000000000000001f00000000000000000003180000000261023102026802780e00020202620100' +
      '0e00040401026300';
    const { reader, got } = readAll(Buffer.from(hex, 'hex'));
    const one = [
      { key: 'a', value: '1' },
      { key: 'b', value: null },
      { key: null, value: 'c' },
    ];
    expect(got).toEqual([...one, ...one].map((r, i) => ({ offset: i, ...r })));
    expect(reader.nextOffset).toBe(6);
    expect(reader.records).toBe(6);
    expect(reader.lastOffset).toBe(5);
  });

  it('reads a batch written by hand from the spec', () => {
    // baseOffset 7, batchLength 58, epoch 0, magic 2, crc 0, attributes 0, lastOffsetDelta 0, timestamps 0,
    // producer -1/-1/-1, 1 record: length 8 (zigzag 0x10), attributes 0, timestampDelta 0, offsetDelta 0,
    // key length 1 (0x02) "k", value length 1 (0x02) "v", 0 headers.
    const hex =
      '0000000000000007' +
      '0000003a' +
      '00000000' +
      '02' +
      '00000000' +
      '0000' +
      '00000000' +
      '0000000000000000' +
      '0000000000000000' +
      'ffffffffffffffff' +
      'ffff' +
      'ffffffff' +
      '00000001' +
      '10' +
      '00' +
      '00' +
      '00' +
      '02' +
      '6b' +
      '02' +
      '76' +
      '00';
    const { reader, got } = readAll(Buffer.from(hex, 'hex'));
    expect(got).toEqual([{ offset: 7, key: 'k', value: 'v' }]);
    expect(reader.nextOffset).toBe(8);
  });

  it('hands key and value as views on the fetched bytes, steps over headers, reads tombstones and null keys', () => {
    const buf = encodeBatch({
      baseOffset: 100,
      records: [
        {
          key: 'k1',
          value: 'v1',
          headers: [
            ['h1', 'x'],
            ['h2', null],
          ],
        },
        { key: 'k2', value: null, headers: [['only', 'y'.repeat(300)]] },
        { key: null, value: 'v3' },
        { key: '', value: '' },
      ],
    });
    const views: Array<{ key: Buffer | null; value: Buffer | null }> = [];
    const reader = new RecordBatchReader(0, 1000, 't[0]');
    reader.read(buf, 0, buf.length, (r) => void views.push({ key: r.key(), value: r.value() }));
    expect(views.map((v) => [v.key?.toString() ?? null, v.value?.toString() ?? null])).toEqual([
      ['k1', 'v1'],
      ['k2', null],
      [null, 'v3'],
      ['', ''],
    ]);
    // No copies: the views share the fetched buffer's memory.
    expect(views[0]!.value!.buffer).toBe(buf.buffer);
  });

  it('reads a header on request (KIP-82 layout): the last of a repeated name, null for a null value or none', () => {
    const buf = encodeBatch({
      baseOffset: 5,
      records: [
        {
          key: 'k1',
          value: 'v1',
          headers: [
            ['ctflow-owner', '12:a'],
            ['h2', null],
            ['ctflow-owner', '40:b'],
          ],
        },
        { key: 'k2', value: null, headers: [['h2', 'y'.repeat(300)]] },
        { key: 'k3', value: 'v3' },
      ],
      compression: 'gzip',
    });
    const got: Array<[string | null, string | null, string | null]> = [];
    new RecordBatchReader(0, 1000, 't[0]').read(buf, 0, buf.length, (r) => {
      got.push([
        r.header('ctflow-owner')?.toString() ?? null,
        r.header('h2')?.toString().slice(0, 3) ?? null,
        r.header('absent')?.toString() ?? null,
      ]);
    });
    expect(got).toEqual([
      ['40:b', null, null],
      [null, 'yyy', null],
      [null, null, null],
    ]);
    // The golden bytes of a real broker: record "a" carries header h=x.
    const hex =
      '000000000000000000000062000000000230b838f30001000000020000018bcfe568000000018bcfe568020000000000' +
      '00001e000000000000000000031f8b080000000000000393606060604a64326462ca60aae0636062624a6264e0636061' +
      '61644a660000279f0ade1d00000000000000000000030000004e0000000002c74f02310000000000020000018bcfe568' +
      '000000018bcfe56802000000000000001f00000000000000000003180000000261023102026802780e00020202620100' +
      '0e00040401026300';
    const real = Buffer.from(hex, 'hex');
    const h: Array<string | null> = [];
    new RecordBatchReader(0, 100, 't[0]').read(real, 0, real.length, (r) => {
      h.push(r.header('h')?.toString() ?? null);
    });
    expect(h).toEqual(['x', null, null, 'x', null, null]);
  });

  it('reads gzip batches', () => {
    const records = Array.from({ length: 200 }, (_, i) => ({
      key: `key-${i}`,
      value: `value-${i}`.repeat(3),
    }));
    const buf = Buffer.concat([
      encodeBatch({ baseOffset: 0, records, compression: 'gzip' }),
      encodeBatch({ baseOffset: 200, records: [{ key: 'z', value: null }] }),
    ]);
    const { got, reader } = readAll(buf);
    expect(got).toHaveLength(201);
    expect(got[150]).toEqual({ offset: 150, key: 'key-150', value: 'value-150'.repeat(3) });
    expect(got[200]).toEqual({ offset: 200, key: 'z', value: null });
    expect(reader.nextOffset).toBe(201);
  });

  it('a batch cut at the end of the response is left for the next fetch, at every cut', () => {
    const batches: TestBatch[] = [
      {
        baseOffset: 0,
        records: [
          { key: 'a', value: '1' },
          { key: 'b', value: '2' },
        ],
      },
      { baseOffset: 2, records: [{ key: 'c', value: null, headers: [['h', 'v']] }] },
      { baseOffset: 3, records: [{ key: 'd', value: 'x'.repeat(200) }], compression: 'gzip' },
      {
        baseOffset: 4,
        records: [
          { key: 'e', value: '5' },
          { key: 'f', value: '6' },
        ],
      },
    ];
    const encoded = batches.map(encodeBatch);
    const all = Buffer.concat(encoded);
    const starts = new Map<number, number>();
    let at = 0;
    for (const [i, b] of batches.entries()) {
      starts.set(b.baseOffset, at);
      at += encoded[i]!.length;
    }
    const expected = readAll(all).got;
    expect(expected.map((g) => g.key)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    for (let cut = 0; cut <= all.length; cut++) {
      const reader = new RecordBatchReader(0, 6, 't[0]');
      const got: Got[] = [];
      reader.read(all, 0, cut, collect(got));
      // The next fetch's offset, known from the batch headers before the records are read.
      expect(offsetAfterWholeBatches(all, 0, cut)).toBe(reader.nextOffset === 0 ? -1 : reader.nextOffset);
      // The next fetch starts at the batch holding nextOffset, as a broker answers.
      const from = starts.get(reader.nextOffset) ?? all.length;
      reader.read(all, from, all.length, collect(got));
      expect(got, `cut at ${cut}`).toEqual(expected);
      expect(reader.done).toBe(true);
    }
  });

  it('keeps only [from, to): a fetch starts at the batch holding `from`, the read stops at `to`', () => {
    const buf = Buffer.concat([
      encodeBatch({
        baseOffset: 10,
        records: Array.from({ length: 5 }, (_, i) => ({ key: `k${10 + i}`, value: 'v' })),
      }),
      encodeBatch({
        baseOffset: 15,
        records: Array.from({ length: 5 }, (_, i) => ({ key: `k${15 + i}`, value: 'v' })),
      }),
    ]);
    const { got, reader } = readAll(buf, 12, 17);
    expect(got.map((g) => g.offset)).toEqual([12, 13, 14, 15, 16]);
    expect(reader.done).toBe(true);
    expect(reader.lastOffset).toBe(16);
  });

  it('compacted batches: offsets follow the deltas, and the next offset follows lastOffsetDelta', () => {
    const buf = encodeBatch({
      baseOffset: 50,
      records: [
        { key: 'a', value: '1', offsetDelta: 0 },
        { key: 'b', value: '2', offsetDelta: 3 },
      ],
      lastOffsetDelta: 9,
    });
    const { got, reader } = readAll(buf);
    expect(got.map((g) => g.offset)).toEqual([50, 53]);
    expect(reader.nextOffset).toBe(60);
  });

  it('read_committed: aborted transactions and control batches are left out, committed ones kept', () => {
    const buf = Buffer.concat([
      encodeBatch({ baseOffset: 0, records: [{ key: 'plain', value: '1' }] }),
      encodeBatch({
        baseOffset: 1,
        records: [{ key: 'aborted', value: '1' }],
        transactional: true,
        producerId: 7,
      }),
      encodeBatch({
        baseOffset: 2,
        records: [{ key: 'committed', value: '1' }],
        transactional: true,
        producerId: 8,
      }),
      encodeBatch({ baseOffset: 3, records: [], control: 'abort', producerId: 7 }),
      encodeBatch({ baseOffset: 4, records: [], control: 'commit', producerId: 8 }),
      // Producer 7 again after its abort: a new transaction, committed.
      encodeBatch({
        baseOffset: 5,
        records: [{ key: 'later', value: '1' }],
        transactional: true,
        producerId: 7,
      }),
      encodeBatch({ baseOffset: 6, records: [], control: 'commit', producerId: 7 }),
    ]);
    const { got, reader } = readAll(buf, 0, 7, [{ producerId: 7, firstOffset: 1 }]);
    expect(got.map((g) => g.key)).toEqual(['plain', 'committed', 'later']);
    expect(reader.skippedBatches).toBe(4);
    expect(reader.nextOffset).toBe(7);
  });

  it('refuses a codec it lacks or an old message format with the batch offset, after handing the records before it', () => {
    const snappy = Buffer.concat([
      encodeBatch({ baseOffset: 0, records: [{ key: 'a', value: '1' }] }),
      encodeBatch({ baseOffset: 1, records: [{ key: 'b', value: '2' }], compression: 'snappy' }),
    ]);
    const got: Got[] = [];
    const reader = new RecordBatchReader(0, 10, 't[0]');
    let err: unknown;
    try {
      reader.read(snappy, 0, snappy.length, collect(got));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedRecords);
    expect((err as UnsupportedRecords).reason).toBe('compression-snappy');
    expect((err as UnsupportedRecords).offset).toBe(1);
    expect(got.map((g) => g.key)).toEqual(['a']);
    expect(reader.nextOffset).toBe(1);

    const old = encodeBatch({ baseOffset: 4, records: [{ key: 'a', value: '1' }], magic: 1 });
    expect(() => readAll(old)).toThrow(/offset 4 not readable here \(magic-1\)/);
  });

  it('corrupt records fail with a KAFKA error naming the batch', () => {
    const buf = encodeBatch({ baseOffset: 3, records: [{ key: 'a', value: 'xyz' }] });
    // Claim a record longer than the batch.
    buf[61] = 0x7e;
    let err: unknown;
    try {
      readAll(buf);
    } catch (e) {
      err = e;
    }
    expect(isCtflowError(err, 'KAFKA')).toBe(true);
    expect((err as Error).message).toMatch(/t\[0\]: corrupt record batch at offset 3: record 0 length 63/);
  });
});
