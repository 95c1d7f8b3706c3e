import { afterEach, describe, expect, it } from 'vitest';
import { EventStream, SLOW_EVENT_US } from '../../../src/conntrack/events.js';
import type { ConntrackEvent } from '../../../src/conntrack/entry.js';
import { conntrackToolsReader, ctnetlinkReader } from '../../../src/conntrack/reader.js';
import type { CtflowError } from '../../../src/errors.js';
import { fixtureLines } from './fixtures.js';

const WARNING = [
  'WARNING: We have hit ENOBUFS! We are losing events.',
  'This message means that the current netlink socket buffer size is too small.',
  'Please, check --buffer-size in conntrack(8) manpage.',
].join('\n');

/**
 * A stand-in for `conntrack -E` (node -e; conntrack's arguments follow, ignored): says it is
 * subscribed, prints one real event line, three overrun warnings in one write, then a fourth split
 * across two writes, as conntrack-tools prints them on stderr; then waits to be killed.
 */
function fakeConntrack(eventLine: string): string[] {
  const script = `
    const err = (s) => process.stderr.write(s);
    err('NOTICE: Netlink socket buffer size has been set to 16777216 bytes.\\n');
    process.stdout.write(${JSON.stringify(`${eventLine}\n`)});
    err(${JSON.stringify(`${WARNING}\n${WARNING}\n${WARNING}\n`)});
    err('WARNING: We have hit ENO');
    setTimeout(() => err(${JSON.stringify(`BUFS! We are losing events.\n${WARNING.split('\n').slice(1).join('\n')}\n`)}), 50);
    setInterval(() => {}, 1000);
  `;
  // `--`: conntrack's own options (-E -o ...) are the script's arguments, not node's.
  return [process.execPath, '-e', script, '--'];
}

/**
 * A stand-in for `ctnetlink events` (node -e; the subcommand follows, ignored): says it is
 * listening, prints `first` at once, then holds `lines` until a "sync" line arrives on its stdin and
 * prints them followed by a sync mark (unless `answers` is false: a reader built before sync marks).
 */
function fakeCtnetlinkEvents(lines: string[], first = '', answers = true): string[] {
  const script = `
    process.stderr.write('ctnetlink: listening\\n');
    if (${JSON.stringify(first)} !== '') process.stdout.write(${JSON.stringify(`${first}\n`)});
    let held = ${JSON.stringify(lines)};
    require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
      if (l !== 'sync' || !${answers}) return;
      process.stdout.write(held.map((x) => x + '\\n').join('') + '!SYNC\\t1\\n');
      held = [];
    });
  `;
  return [process.execPath, '-e', script, '--'];
}

const streams: EventStream[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) await s.stop();
});

describe('EventStream', () => {
  it('counts every overrun warning conntrack prints, however stderr is chunked, and goes on', async () => {
    const line = fixtureLines('events.txt')[0] as string;
    const events: ConntrackEvent[] = [];
    const errors: CtflowError[] = [];
    const stream = new EventStream({
      reader: conntrackToolsReader(fakeConntrack(line), 8 * 1024 * 1024),
      clock: () => 1,
      onEvent: (ev) => events.push(ev),
      onError: (err) => errors.push(err),
    });
    streams.push(stream);
    await stream.start();
    const deadline = Date.now() + 3000;
    while (stream.stats.overruns < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(stream.stats).toMatchObject({ events: 1, overruns: 4, parseErrors: 0, restarts: 0 });
    expect(events.map((e) => e.kind)).toEqual(['NEW']);
    expect(errors).toHaveLength(4);
    for (const err of errors) {
      expect(err.code).toBe('CONNTRACK_SOURCE');
      expect(err.message).toContain('events were lost (netlink socket overrun)');
    }
  });

  it('sync() resolves only after every event the reader printed before its mark was handled', async () => {
    const lines = fixtureLines('ctnetlink-events.txt').slice(0, 3);
    const events: ConntrackEvent[] = [];
    const stream = new EventStream({
      reader: ctnetlinkReader(fakeCtnetlinkEvents(lines)),
      clock: () => 0,
      onEvent: (ev) => events.push(ev),
      onError: () => {},
    });
    streams.push(stream);
    await stream.start();
    // The fake holds its events until asked, as a reader whose output waits in the pipe.
    expect(events).toHaveLength(0);
    const marked = await stream.sync(2000);
    expect(marked).toBe(true);
    expect(events.map((e) => e.kind)).toEqual(['NEW', 'UPDATE', 'UPDATE']);
    expect(stream.stats).toMatchObject({ events: 3, syncs: 1, syncTimeouts: 0 });
  });

  it('counts events the reader dropped as lost, asks for a resync, and measures the read lag', async () => {
    const lines = fixtureLines('ctnetlink-events.txt').slice(0, 2);
    const stampUs = Number(lines[1]!.split('\t')[1]);
    const errors: CtflowError[] = [];
    const lags: number[] = [];
    let overruns = 0;
    const stream = new EventStream({
      reader: ctnetlinkReader(fakeCtnetlinkEvents(lines, '!DROPPED\t5')),
      // Handled 150 ms after the newest stamp: slow.
      clock: () => stampUs + SLOW_EVENT_US + 50_000,
      onEvent: () => {},
      onError: (err) => errors.push(err),
      onOverrun: () => overruns++,
      onReadLag: (lagUs) => lags.push(lagUs),
    });
    streams.push(stream);
    await stream.start();
    expect(await stream.sync(2000)).toBe(true);
    expect(stream.stats).toMatchObject({ dropped: 5, overruns: 1, events: 2 });
    expect(overruns).toBe(1);
    expect(errors.map((e) => e.message).join()).toContain('5 events were dropped by the reader');
    const firstStampUs = Number(lines[0]!.split('\t')[1]);
    expect(lags).toEqual([stampUs + 150_000 - firstStampUs, 150_000]);
    expect(stream.stats.readLagMaxUs).toBe(stampUs + 150_000 - firstStampUs);
    expect(stream.stats.slowEvents).toBe(2);
  });

  it('sync() gives up after its timeout, and stops asking a reader that never answered', async () => {
    const errors: CtflowError[] = [];
    const stream = new EventStream({
      // An old reader: reads its stdin (the lifeline) but never answers.
      reader: ctnetlinkReader(fakeCtnetlinkEvents([], '', false)),
      clock: () => 0,
      onEvent: () => {},
      onError: (err) => errors.push(err),
    });
    streams.push(stream);
    await stream.start();
    expect(await stream.sync(100)).toBe(false);
    expect(stream.stats.syncTimeouts).toBe(1);
    expect(errors.map((e) => e.message).join()).toContain('does not answer sync requests');
    const t0 = Date.now();
    expect(await stream.sync(5000)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(stream.stats.syncTimeouts).toBe(1);
  });

  it('sync() does not wait for conntrack-tools, which cannot answer', async () => {
    const stream = new EventStream({
      reader: conntrackToolsReader(fakeConntrack(fixtureLines('events.txt')[0]!), 1024),
      clock: () => 0,
      onEvent: () => {},
      onError: () => {},
    });
    streams.push(stream);
    await stream.start();
    expect(await stream.sync(5000)).toBe(false);
    expect(stream.stats.syncTimeouts).toBe(0);
  });

  it('stop() returns at once when the reader was already killed by a signal and its pipes are still open', async () => {
    // Ctrl-C signals the whole process group: the reader dies before ctflow stops it. Here its pipes
    // stay open a while (a child of its own holds them), so 'exit' has come and 'close' has not.
    const script = 'echo "ctnetlink: listening" >&2; sleep 3 & kill -KILL $$';
    const stream = new EventStream({
      reader: ctnetlinkReader(['sh', '-c', script, '--']),
      clock: () => 0,
      onEvent: () => {},
      onError: () => {},
      restartDelayMs: 60_000,
    });
    streams.push(stream);
    await stream.start();
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await stream.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await stream.sync(2000)).toBe(false);
  });
});
