/**
 * ConntrackSource.stop() is bounded: a reader that stops answering in the middle of a poll must not
 * hold a stop (Ctrl-C of `ctflow run`, SIGTERM of the agent) until the 60 s dump timeout. The reader
 * here is the fake `ctnetlink serve` of the unit tests, which serves one table and then hangs.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ConntrackSource } from '../../../src/conntrack/source.js';
import type { CtflowError } from '../../../src/errors.js';
import { createNetnsPair, inNetns } from '../../rig/netns.js';
import { fixtureLines } from '../../unit/conntrack/fixtures.js';

const FAKE = join(dirname(fileURLToPath(import.meta.url)), '../../unit/conntrack/fake-ctnetlink-serve.mjs');

/** A ctnetlink binary that answers --version and serves `script` (see fake-ctnetlink-serve.mjs). */
function fakeCtnetlink(script: unknown[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'ctflow-stop-'));
  writeFileSync(join(dir, 'script.json'), JSON.stringify(script));
  const bin = join(dir, 'ctnetlink');
  writeFileSync(
    bin,
    [
      '#!/bin/sh',
      'case "$1" in',
      '  --version) echo "ctnetlink fake"; exit 0 ;;',
      `  serve) exec "${process.execPath}" "${FAKE}" "${join(dir, 'script.json')}" ;;`,
      'esac',
      'echo "fake ctnetlink: unexpected $*" >&2; exit 2',
      '',
    ].join('\n'),
  );
  chmodSync(bin, 0o755);
  return bin;
}

it('stop() ends a reader that hangs in a poll after a grace, instead of waiting for the dump timeout', async () => {
  await using pair = await createNetnsPair({ acct: 1, timestamp: 1 });
  const table = fixtureLines('ctnetlink-dump.txt').slice(0, 3);
  const errors: CtflowError[] = [];
  let watermarks = 0;
  const source = new ConntrackSource(
    {
      node: 'n',
      pollIntervalMs: 1000,
      events: false,
      reader: 'ctnetlink',
      ctnetlinkBin: fakeCtnetlink([table, 'HANG']),
      commandPrefix: inNetns(pair.node, []),
    },
    {
      onObservation: () => {},
      onWatermark: () => watermarks++,
      onError: (e) => errors.push(e),
    },
  );
  await source.start();
  expect(watermarks).toBe(1);
  // The second poll starts after 1 s and gets no answer.
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = performance.now();
  await source.stop();
  const stopMs = performance.now() - t0;
  // Grace 5 s, then the reader's stdin is closed (the fake exits at EOF; killed after 2 s otherwise).
  expect(stopMs).toBeGreaterThan(3000);
  expect(stopMs).toBeLessThan(9000);
  expect(source.readerPid).toBeUndefined();
  // The abandoned dump is reported like any failed dump, and it released no watermark.
  expect(errors.map((e) => e.code)).toEqual(['CONNTRACK_SOURCE']);
  expect(watermarks).toBe(1);
}, 30_000);
