import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DiffSession } from '../../../src/conntrack/diff-session.js';
import { readDump } from '../../../src/conntrack/dump.js';
import { ctnetlinkReader } from '../../../src/conntrack/reader.js';
import { ConntrackTable } from '../../../src/conntrack/table.js';
import { CtflowError } from '../../../src/errors.js';
import type { Observation } from '../../../src/flow/types.js';
import { fixtureLines } from './fixtures.js';

const FAKE = join(dirname(fileURLToPath(import.meta.url)), 'fake-ctnetlink-serve.mjs');
const lines = fixtureLines('ctnetlink-dump.txt');
const idOf = (line: string): number => Number(line.split('\t')[2]);
/** `line` with other counters (field 24: original packets). */
const withTraffic = (line: string): string => {
  const f = line.split('\t');
  f[23] = String(Number(f[23] === '-' ? 0 : f[23]) + 1);
  return f.join('\t');
};
let clockUs = 1_000_000;
const clock = (): number => ++clockUs;

const sessions: DiffSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.close();
});

/** A session on the fake reader, serving `script` (one item per dump; see fake-ctnetlink-serve.mjs). */
function session(script: unknown[], dumpTimeoutMs?: number, ...flags: string[]): DiffSession {
  const file = join(mkdtempSync(join(tmpdir(), 'ctflow-diff-')), 'script.json');
  writeFileSync(file, JSON.stringify(script));
  const s = new DiffSession([process.execPath, FAKE, file, ...flags], clock, dumpTimeoutMs);
  sessions.push(s);
  return s;
}

async function dump(s: DiffSession) {
  const printed: string[] = [];
  const result = await s.dump((line) => printed.push(line.toString('latin1')));
  return { ...result, printed };
}

describe('DiffSession (ctnetlink serve)', () => {
  it('a reader built before scheduled dumps fails the first `dump at` with a clear error, then is asked unscheduled', async () => {
    const [a, b] = lines as [string, string];
    const s = session([[a], [a, b]], undefined, '--no-at');
    expect(s.schedules).toBe(true);
    const err = await s.dump(() => {}, undefined, clockUs + 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CtflowError);
    expect((err as CtflowError).code).toBe('CONNTRACK_SOURCE');
    expect((err as CtflowError).message).toMatch(/does not take scheduled dumps.*rebuild tools\/ctnetlink/);
    expect(s.schedules).toBe(false);
    // The next dump ignores the time (the caller waits for it instead) and works; it is full.
    const printed: string[] = [];
    const next = await s.dump((line) => printed.push(line.toString('latin1')), undefined, clockUs + 10);
    expect(next).toMatchObject({ full: true, entries: 1 });
    expect(printed).toEqual([a]);
  });

  it('prints every entry on the first dump, then only new and changed ones, and lists the ids gone', async () => {
    const [a, b, c, d, e] = lines as [string, string, string, string, string];
    const s = session([
      [a, b, c, d],
      [a, withTraffic(b), d, e],
    ]);
    const first = await dump(s);
    expect(first).toMatchObject({ full: true, entries: 4, printed: [a, b, c, d], gone: [] });
    const second = await dump(s);
    expect(second).toMatchObject({ full: false, entries: 4, printed: [withTraffic(b), e], gone: [idOf(c)] });
    expect([a, b, d, e].map((l) => s.holds(idOf(l)))).toEqual([true, true, true, true]);
    expect(s.holds(idOf(c))).toBe(false);
    expect(second.endUs).toBeGreaterThan(first.endUs);
  });

  it('prints an entry again after forget(id), e.g. after an event rewrote it', async () => {
    const [a, b] = lines as [string, string];
    const s = session([
      [a, b],
      [a, b],
      [a, b],
    ]);
    await dump(s);
    s.forget(idOf(b));
    expect((await dump(s)).printed).toEqual([b]);
    expect((await dump(s)).printed).toEqual([]);
  });

  it('a failed dump rejects with CONNTRACK_SOURCE; the next dump is full', async () => {
    const [a, b] = lines as [string, string];
    const s = session([[a, b], 'X', [a, b]]);
    await dump(s);
    const failed = dump(s);
    await expect(failed).rejects.toBeInstanceOf(CtflowError);
    await expect(failed).rejects.toMatchObject({ code: 'CONNTRACK_SOURCE', message: /EBUSY/ });
    expect(await dump(s)).toMatchObject({ full: true, printed: [a, b] });
  });

  it('a reader that dies fails the dump with its stderr; the next dump starts a new reader, full', async () => {
    const [a, b] = lines as [string, string];
    const s = session([[a, b], 'EXIT', [a, b]]);
    await dump(s);
    const firstPid = s.pid;
    await expect(dump(s)).rejects.toMatchObject({
      code: 'CONNTRACK_SOURCE',
      message: /exited with 3.*operation not permitted/s,
    });
    expect(await dump(s)).toMatchObject({ full: true, printed: [a, b] });
    expect(s.starts).toBe(2);
    expect(s.pid).not.toBe(firstPid);
  });

  it('a reader that does not answer is ended after the dump timeout; the next dump starts a new one', async () => {
    const [a, b] = lines as [string, string];
    const s = session([[a, b], 'HANG', [a, b]], 1000);
    await dump(s);
    await expect(dump(s)).rejects.toMatchObject({
      code: 'CONNTRACK_SOURCE',
      message: /no end of dump within 1000 ms/,
    });
    expect(await dump(s)).toMatchObject({ full: true, printed: [a, b] });
    expect(s.starts).toBe(2);
  });

  it('close() ends the reader', async () => {
    const s = session([[lines[0]]]);
    await dump(s);
    expect(s.pid).toBeTypeOf('number');
    await s.close();
    expect(s.pid).toBeUndefined();
  });
});

describe('readDump through a DiffSession', () => {
  it('reports new entries, nothing for unchanged ones, changes, and a synthetic DESTROY for the gone', async () => {
    const [a, b, c] = lines.filter((l) => l.split('\t')[5] !== '1') as [string, string, string];
    const s = session([
      [a, b, c],
      [a, b, c],
      [a, withTraffic(b)],
    ]);
    const table = new ConntrackTable({ node: 'n1', bootId: 'b1', acct: true });
    const seen: Observation[] = [];
    const poll = async () => {
      const result = await readDump({
        reader: ctnetlinkReader(['unused']),
        conntrack: ['conntrack'],
        clock,
        table,
        emit: (o) => seen.push(o),
        onError: (err) => {
          throw err;
        },
        session: s,
      });
      for (const o of table.endDump(result.endUs)) seen.push(o);
      return result;
    };
    expect(await poll()).toMatchObject({
      entries: 3,
      reported: 3,
      diff: { printed: 3, gone: 0, full: true },
    });
    expect(seen.map((o) => o.kind)).toEqual(['POLL', 'POLL', 'POLL']);
    seen.length = 0;
    expect(await poll()).toMatchObject({
      entries: 3,
      reported: 0,
      diff: { printed: 0, gone: 0, full: false },
    });
    expect(seen).toEqual([]);
    expect(table.size).toBe(3);
    expect(await poll()).toMatchObject({
      entries: 2,
      reported: 1,
      diff: { printed: 1, gone: 1, full: false },
    });
    expect(seen.map((o) => [o.kind, o.conntrackId])).toEqual([
      ['POLL', idOf(b)],
      ['DESTROY', idOf(c)],
    ]);
    expect(table.size).toBe(2);
  });

  it('times POLL observations by the reader stamp of each line, never later than the line arrived', async () => {
    const [a, b] = lines.filter((l) => l.split('\t')[5] !== '1') as [string, string];
    const stamped = (line: string, timeUs: number): string => {
      const f = line.split('\t');
      f[1] = String(timeUs);
      return f.join('\t');
    };
    const early = clockUs - 250_000;
    // b: a stamp past the arrival (clocks a little apart): the arrival time stands.
    const s = session([[stamped(a, early), stamped(b, 9e15)]]);
    const table = new ConntrackTable({ node: 'n1', bootId: 'b1', acct: true });
    const seen: Observation[] = [];
    const result = await readDump({
      reader: ctnetlinkReader(['unused']),
      conntrack: ['conntrack'],
      clock,
      table,
      emit: (o) => seen.push(o),
      onError: (err) => {
        throw err;
      },
      session: s,
    });
    expect(seen.map((o) => [o.conntrackId, o.timeUs])).toEqual([
      [idOf(a), early],
      [idOf(b), expect.any(Number)],
    ]);
    expect(seen[1]!.timeUs).toBeGreaterThan(early);
    expect(seen[1]!.timeUs).toBeLessThanOrEqual(result.endUs);
  });

  it('holds the lines of a dump until `after` settles (the event sync), then handles them in order', async () => {
    const [a, b] = lines.filter((l) => l.split('\t')[5] !== '1') as [string, string];
    const s = session([[a, b], { failAfter: [withTraffic(a)] }]);
    const table = new ConntrackTable({ node: 'n1', bootId: 'b1', acct: true });
    const seen: Observation[] = [];
    let release: () => void = () => {};
    const after = new Promise<void>((r) => {
      release = r;
    });
    const options = {
      reader: ctnetlinkReader(['unused']),
      conntrack: ['conntrack'],
      clock,
      table,
      emit: (o: Observation) => seen.push(o),
      onError: (err: CtflowError) => {
        throw err;
      },
      session: s,
    };
    let done = false;
    const dumped = readDump({ ...options, after }).then((r) => {
      done = true;
      return r;
    });
    // The reader answered long ago; nothing is handled before the sync.
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
    expect(done).toBe(false);
    release();
    expect(await dumped).toMatchObject({ entries: 2, reported: 2 });
    expect(seen.map((o) => o.conntrackId)).toEqual([idOf(a), idOf(b)]);
    // A dump that fails while its lines are held: nothing of it is handled, even once released.
    seen.length = 0;
    let releaseFailed: () => void = () => {};
    const failedAfter = new Promise<void>((r) => {
      releaseFailed = r;
    });
    await expect(readDump({ ...options, after: failedAfter })).rejects.toThrow(CtflowError);
    releaseFailed();
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([]);
  });
});
