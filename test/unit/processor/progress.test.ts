import { expect, test } from 'vitest';
import {
  formatProgress,
  ProgressReporter,
  progressBar,
  progressRate,
} from '../../../src/processor/progress.js';

test('text of a progress line: offsets, percentage, rate, ETA', () => {
  expect(formatProgress({ done: 1000, total: 4000, elapsedMs: 2000 })).toBe(
    '1000/4000 offsets (25.0%), 500/s, ETA 0:06',
  );
  expect(formatProgress({ done: 4000, total: 4000, elapsedMs: 2000 })).toBe(
    '4000/4000 offsets (100.0%), 2000/s, ETA 0:00',
  );
  expect(formatProgress({ done: 0, total: 10, elapsedMs: 0 })).toBe('0/10 offsets (0.0%), 0/s, ETA --:--');
  expect(formatProgress({ done: 1, total: 7201, elapsedMs: 1000 })).toBe(
    '1/7201 offsets (0.0%), 1/s, ETA 2:00:00',
  );
  expect(formatProgress({ done: 0, total: 0, elapsedMs: 5 })).toBe('0/0 offsets (100.0%), 0/s, ETA 0:00');
  expect(progressRate({ done: 300, total: 1000, elapsedMs: 1500 })).toBe(200);
});

test('bar cells', () => {
  expect(progressBar({ done: 5, total: 10, elapsedMs: 1 }, 10)).toBe('[#####.....]');
  expect(progressBar({ done: 0, total: 0, elapsedMs: 1 }, 4)).toBe('[####]');
});

test('a terminal gets one redrawn line; a pipe gets throttled lines', () => {
  let now = 0;
  const tty = {
    text: '',
    isTTY: true,
    write(s: string) {
      this.text += s;
    },
  };
  const r1 = new ProgressReporter(tty, 100, { now: () => now });
  now = 200;
  r1.update(10);
  now = 250;
  r1.update(20); // within 100 ms of the last draw: skipped
  r1.finish(100);
  expect(tty.text.split('\r').length - 1).toBe(2);
  expect(tty.text.endsWith('\n')).toBe(true);
  expect(tty.text).toContain('100/100 offsets');

  const pipe = {
    text: '',
    write(s: string) {
      this.text += s;
    },
  };
  now = 0;
  const r2 = new ProgressReporter(pipe, 100, { now: () => now, lineEveryMs: 1000 });
  for (now = 0; now <= 3000; now += 100) r2.update(now / 30);
  expect(pipe.text.split('\n').filter(Boolean)).toHaveLength(3);
  expect(pipe.text).not.toContain('\r');
});
