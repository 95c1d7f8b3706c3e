import { afterEach, describe, expect, it } from 'vitest';
import { EventStream } from '../../../src/conntrack/events.js';
import type { ConntrackEvent } from '../../../src/conntrack/entry.js';
import { conntrackToolsReader } from '../../../src/conntrack/reader.js';
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
});
