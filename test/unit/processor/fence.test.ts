/** Changelog fencing: owner claims, stale records of older owners, ties, legacy records, repairs. */
import { describe, expect, it } from 'vitest';
import { isCtflowError } from '../../../src/errors.js';
import type { ConsumedMessage } from '../../../src/kafka/message.js';
import {
  claimHeader,
  encodeClaim,
  OWNER_HEADER,
  OWNER_KEY,
  type OwnerClaim,
  OwnerFence,
  parseClaimHeader,
} from '../../../src/processor/fence.js';
import { encodeMarker, MARKER_KEY } from '../../../src/processor/marker.js';
import { ChangelogFold } from '../../../src/processor/restore.js';
import { RecordBatchReader } from '../../../src/kafka/wire/record-batch.js';
import { encodeBatch, type TestRecord } from '../kafka/wire/batches.js';

const h = (c: OwnerClaim) => Buffer.from(claimHeader(c));
const Z: OwnerClaim = { epoch: 10, owner: 'zombie' };
const S: OwnerClaim = { epoch: 25, owner: 'survivor' };

describe('OwnerFence', () => {
  it('takes records of the current owner and of owners before any claim; leaves out older owners after a newer claim', () => {
    const f = new OwnerFence();
    expect(f.accepts(h(Z), 'x')).toBe(true); // no claim seen (compacted away): taken
    expect(f.claim(h(Z), 'x')).toBe(true);
    expect(f.accepts(h(Z), 'x')).toBe(true);
    expect(f.claim(h(S), 'x')).toBe(true);
    expect(f.current).toEqual(S);
    expect(f.accepts(h(S), 'x')).toBe(true);
    // The zombie's late write after the survivor's claim.
    expect(f.accepts(h(Z), 'x')).toBe(false);
    expect(f.staleRecords).toBe(1);
  });

  it('a claim counts only above the current epoch; a tie goes to the claim that landed first', () => {
    const f = new OwnerFence();
    const a: OwnerClaim = { epoch: 40, owner: 'a' };
    const b: OwnerClaim = { epoch: 40, owner: 'b' };
    expect(f.claim(h(a), 'x')).toBe(true);
    expect(f.claim(h(b), 'x')).toBe(false);
    expect(f.claim(h(Z), 'x')).toBe(false);
    expect(f.current).toEqual(a);
    expect(f.staleClaims).toBe(2);
    expect(f.accepts(h(b), 'x')).toBe(false);
    expect(f.accepts(h(a), 'x')).toBe(true);
  });

  it('records without the header (written before fencing) always count; a newer epoch whose claim is gone counts', () => {
    const f = new OwnerFence();
    f.claim(h(S), 'x');
    expect(f.accepts(null, 'x')).toBe(true);
    expect(f.accepts(h({ epoch: 99, owner: 'later' }), 'x')).toBe(true);
  });

  it('a malformed header is a CODEC_DECODE error naming the record', () => {
    const f = new OwnerFence();
    f.claim(h(S), 'x');
    for (const bad of ['', 'abc', ':x', '12:', '-1:x']) {
      let err: unknown;
      try {
        f.accepts(Buffer.from(bad), 'state[3]@17');
      } catch (e) {
        err = e;
      }
      expect(isCtflowError(err, 'CODEC_DECODE')).toBe(true);
      expect((err as Error).message).toContain('state[3]@17');
    }
    expect(parseClaimHeader(Buffer.from('12:a:b'), 'x')).toEqual({ epoch: 12, owner: 'a:b' });
  });
});

/** A changelog record as kafkajs (the fallback reader) hands it over. */
function rec(
  offset: number,
  key: string,
  value: Buffer | string | null,
  owner?: OwnerClaim,
): ConsumedMessage {
  return {
    topic: 's',
    partition: 0,
    offset,
    timestampMs: 0,
    key: Buffer.from(key),
    value: typeof value === 'string' ? Buffer.from(value) : value,
    headers: owner === undefined ? {} : { [OWNER_HEADER]: h(owner) },
  };
}

const claimRec = (offset: number, c: OwnerClaim) => rec(offset, OWNER_KEY, encodeClaim(c), c);
const text = (pairs: Iterable<readonly [string, Buffer | null]>) =>
  [...pairs].map(([k, v]) => [k, v?.toString() ?? null]);

describe('ChangelogFold with owner claims', () => {
  // The zombie Z owned the partition, the survivor S claimed it at offset 5 (epoch 5) and wrote its
  // states; Z, thawed, wrote its stale states and marker after that.
  const zClaim: OwnerClaim = { epoch: 0, owner: 'z' };
  const sClaim: OwnerClaim = { epoch: 5, owner: 's' };
  const log = [
    claimRec(0, zClaim),
    rec(1, 'a', 'a@z1', zClaim),
    rec(2, 'b', 'b@z1', zClaim),
    rec(3, MARKER_KEY, encodeMarker({ phase: 'exported', coveredTo: 100, to: 100 }), zClaim),
    rec(4, 'c', 'c@z1', zClaim), // before S's claim: S read it, so it counts
    claimRec(5, sClaim),
    rec(6, 'a', 'a@s', sClaim),
    rec(7, 'b', null, sClaim),
    rec(8, MARKER_KEY, encodeMarker({ phase: 'exported', coveredTo: 150, to: 150 }), sClaim),
    // The zombie's late writes: stale.
    rec(9, 'a', 'a@z2', zClaim),
    rec(10, 'b', 'b@z2', zClaim),
    rec(11, 'd', 'd@z2', zClaim),
    rec(12, MARKER_KEY, encodeMarker({ phase: 'exported', coveredTo: 130, to: 130 }), zClaim),
    rec(13, 'c', 'c@s', sClaim), // S wrote c again later: c needs no repair
  ];

  it('leaves out the writes of an older owner that land after a newer claim', () => {
    const fold = new ChangelogFold('s[0]');
    fold.add({ topic: 's', partition: 0, highWatermark: log.length, messages: log });
    expect(text(fold.sequence)).toEqual([
      ['a', 'a@z1'],
      ['b', 'b@z1'],
      ['c', 'c@z1'],
      ['a', 'a@s'],
      ['b', null],
      ['c', 'c@s'],
    ]);
    expect(fold.marker).toEqual({ phase: 'exported', coveredTo: 150, to: 150 });
    expect(fold.claim).toEqual(sClaim);
    expect(fold.staleRecords).toBe(4);
    expect(fold.records).toBe(log.length);
  });

  it('names the keys whose newest record is stale, with their newest counted value (tombstone when none)', () => {
    const fold = new ChangelogFold('s[0]');
    fold.add({ topic: 's', partition: 0, highWatermark: log.length, messages: log });
    expect(text(fold.repairs()).sort((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([
      ['a', 'a@s'],
      ['b', null],
      ['d', null],
    ]);
    expect(fold.markerStale).toBe(true);
  });

  it('after the repair (and compaction that dropped the older claims) a restore folds to the same state', () => {
    const first = new ChangelogFold('s[0]');
    first.add({ topic: 's', partition: 0, highWatermark: log.length, messages: log });
    const rClaim: OwnerClaim = { epoch: 14, owner: 'r' };
    let o = log.length;
    const repaired = [
      ...log,
      claimRec(o++, rClaim),
      ...first.repairs().map(([k, v]) => rec(o++, k, v, rClaim)),
      rec(o++, MARKER_KEY, encodeMarker(first.marker!), rClaim),
    ];
    // Compaction keeps the newest record of each key.
    const newest = new Map<string, ConsumedMessage>();
    for (const m of repaired) newest.set(m.key!.toString(), m);
    const compacted = [...newest.values()].sort((x, y) => x.offset - y.offset);
    const again = new ChangelogFold('s[0]');
    again.add({ topic: 's', partition: 0, highWatermark: o, messages: compacted });
    const latest = (f: ChangelogFold) =>
      [...f.latest]
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, v!.toString()])
        .sort();
    expect(latest(again)).toEqual(latest(first));
    expect(again.marker).toEqual(first.marker);
    expect(again.repairs()).toEqual([]);
    // Without the repair, compaction would let the zombie's stale values win.
    const unrepaired = new Map<string, ConsumedMessage>();
    for (const m of [...log, claimRec(log.length, rClaim)]) unrepaired.set(m.key!.toString(), m);
    const bad = new ChangelogFold('s[0]');
    bad.add({
      topic: 's',
      partition: 0,
      highWatermark: log.length + 1,
      messages: [...unrepaired.values()].sort((x, y) => x.offset - y.offset),
    });
    expect(latest(bad)).not.toEqual(latest(first));
  });

  it('the wire reader (RecordView with headers) and the kafkajs fallback (messages) fold alike', () => {
    const viaMessages = new ChangelogFold('s[0]');
    viaMessages.add({ topic: 's', partition: 0, highWatermark: log.length, messages: log });
    const viaViews = new ChangelogFold('s[0]');
    for (const m of log) {
      viaViews.addRecord({
        offset: m.offset,
        key: () => m.key,
        keyString: () => m.key?.toString('utf8') ?? null,
        value: () => m.value,
        header: (name) => m.headers[name] ?? null,
      });
    }
    expect(text(viaViews.sequence)).toEqual(text(viaMessages.sequence));
    expect(viaViews.marker).toEqual(viaMessages.marker);
    expect(viaViews.claim).toEqual(viaMessages.claim);
    expect(text(viaViews.repairs())).toEqual(text(viaMessages.repairs()));
    expect(viaViews.staleRecords).toBe(viaMessages.staleRecords);
  });

  it("records read in place by ctflow's Fetch reader (WireRecordView: positions, header compared in place) fold like kafkajs messages", () => {
    // The same log as RecordBatch v2 bytes, in three batches (the middle one gzip), extra headers around the
    // owner header on some records, none on others (older writers), as the broker hands them to the reader.
    const withExtras = [
      ...log,
      rec(14, 'e', 'e@none'),
      rec(15, 'f', 'f@s', sClaim),
      rec(16, 'a', 'a@s2', sClaim),
    ];
    const toTest = (m: ConsumedMessage, i: number, extra: boolean): TestRecord => {
      const owner = m.headers[OWNER_HEADER];
      const headers: Array<[string, string | null]> = [];
      if (extra) headers.push(['trace', 'x'.repeat(i)]);
      if (owner !== undefined) headers.push([OWNER_HEADER, owner.toString()]);
      if (extra) headers.push(['ctflow-owners', 'not-this-one']);
      return { key: m.key!.toString(), value: m.value?.toString() ?? null, headers };
    };
    const cuts = [0, 6, 11, withExtras.length];
    const bytes = Buffer.concat(
      cuts.slice(1).map((end, b) =>
        encodeBatch({
          baseOffset: cuts[b]!,
          compression: b === 1 ? 'gzip' : 'none',
          records: withExtras.slice(cuts[b], end).map((m, i) => toTest(m, i, i % 2 === 0)),
        }),
      ),
    );
    const viaWire = new ChangelogFold('s[0]');
    const reader = new RecordBatchReader(0, withExtras.length, 's[0]');
    reader.read(bytes, 0, bytes.length, (r) => viaWire.addRecord(r));
    const viaMessages = new ChangelogFold('s[0]');
    viaMessages.add({ topic: 's', partition: 0, highWatermark: withExtras.length, messages: withExtras });
    expect(text(viaWire.sequence)).toEqual(text(viaMessages.sequence));
    expect(text(viaWire.sequence)).toContainEqual(['e', 'e@none']);
    expect(text(viaWire.latest)).toEqual(text(viaMessages.latest));
    expect(viaWire.marker).toEqual(viaMessages.marker);
    expect(viaWire.claim).toEqual(sClaim);
    expect(text(viaWire.repairs()).sort()).toEqual(text(viaMessages.repairs()).sort());
    expect(viaWire.repairs().length).toBeGreaterThan(0);
    expect(viaWire.markerStale).toBe(viaMessages.markerStale);
    expect(viaWire.staleRecords).toBe(viaMessages.staleRecords);
    expect(viaWire.records).toBe(withExtras.length);
  });

  it('the owner header compared in place: repeated owner headers (the last counts), values that differ only in length', () => {
    // A current owner with a long value (its header length needs a 2-byte VARINT) among shorter ones.
    const long: OwnerClaim = { epoch: 7, owner: 'p'.repeat(70) };
    const cases: Array<[key: string, owners: OwnerClaim[]]> = [
      ['a', [long]],
      ['b', [long, zClaim]], // the last owner header is the older owner's: stale
      ['c', [zClaim, long]], // the last one is the current owner's
      ['d', [{ epoch: 7, owner: 'p'.repeat(69) }]], // same epoch, a prefix of the owner: not the current one
      ['e', [{ epoch: 7, owner: 'p'.repeat(71) }]],
      ['f', []],
      ['a', [zClaim]],
    ];
    const records: TestRecord[] = [
      {
        key: OWNER_KEY,
        value: encodeClaim(zClaim).toString(),
        headers: [[OWNER_HEADER, claimHeader(zClaim)]],
      },
      { key: OWNER_KEY, value: encodeClaim(long).toString(), headers: [[OWNER_HEADER, claimHeader(long)]] },
      ...cases.map(
        ([key, owners]): TestRecord => ({
          key,
          value: `${key}@${owners.map((o) => o.owner.length).join('/')}`,
          headers: owners.map((o): [string, string] => [OWNER_HEADER, claimHeader(o)]),
        }),
      ),
    ];
    const messages = records.map((r, i) => {
      const last = r.headers?.at(-1);
      return rec(
        i,
        r.key as string,
        r.value,
        last === undefined ? undefined : parseClaimHeader(Buffer.from(last[1] as string), 'x'),
      );
    });
    const bytes = encodeBatch({ baseOffset: 0, compression: 'none', records });
    const viaWire = new ChangelogFold('s[0]');
    new RecordBatchReader(0, records.length, 's[0]').read(bytes, 0, bytes.length, (r) =>
      viaWire.addRecord(r),
    );
    const viaMessages = new ChangelogFold('s[0]');
    viaMessages.add({ topic: 's', partition: 0, highWatermark: records.length, messages });
    expect(viaWire.claim).toEqual(long);
    expect(text(viaWire.sequence)).toEqual(text(viaMessages.sequence));
    expect(text(viaWire.sequence).map(([k]) => k)).toEqual(['a', 'c', 'f']);
    expect(viaWire.staleRecords).toBe(viaMessages.staleRecords);
    expect(text(viaWire.repairs()).sort()).toEqual(text(viaMessages.repairs()).sort());
  });

  it('a changelog written before fencing (no headers, no claims) folds as before', () => {
    const fold = new ChangelogFold('s[0]');
    fold.add({
      topic: 's',
      partition: 0,
      highWatermark: 3,
      messages: [rec(0, 'a', '1'), rec(1, 'a', '2'), rec(2, 'b', '3')],
    });
    expect(text(fold.latest)).toEqual([
      ['a', '2'],
      ['b', '3'],
    ]);
    expect(fold.claim).toBeUndefined();
    expect(fold.repairs()).toEqual([]);
  });
});
