import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/telemetry/logger.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => chunks.join('') };
}

describe('createLogger', () => {
  it('writes JSON lines with level names, ISO time and base fields', () => {
    const out = sink(false);
    const log = createLogger({ destination: out.stream, base: { role: 'agent', node: 'n1' } });
    log.info({ partitions: 3 }, 'started');
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', role: 'agent', node: 'n1', partitions: 3, msg: 'started' });
    expect(String(line['time'])).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('redacts secrets wherever the configuration is logged', () => {
    const out = sink(false);
    const log = createLogger({ destination: out.stream });
    log.info(
      { config: { kafka: { sasl: { mechanism: 'plain', username: 'u', password: 'hunter2' } } } },
      'config',
    );
    log.warn({ sasl: { password: 'hunter3' } }, 'retry');
    const text = out.text();
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('hunter3');
    expect(text).toContain('"password":"<redacted>"');
    expect(text).toContain('"username":"u"');
  });

  it('honours the level', () => {
    const out = sink(false);
    const log = createLogger({ destination: out.stream, level: 'warn' });
    log.info('hidden');
    log.warn('shown');
    expect(out.text()).not.toContain('hidden');
    expect(out.text()).toContain('shown');
  });

  it('is human-readable on a terminal (auto) and when asked', () => {
    for (const [isTTY, format] of [
      [true, 'auto'],
      [false, 'pretty'],
    ] as const) {
      const out = sink(isTTY);
      createLogger({ destination: out.stream, format }).info(
        { collector: 'udp://127.0.0.1:4739' },
        'exporting',
      );
      const text = out.text();
      expect(text).toContain('INFO');
      expect(text).toContain('exporting');
      expect(() => JSON.parse(text)).toThrow();
    }
  });
});
