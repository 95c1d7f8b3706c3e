import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseReader, sourceOptions } from '../../../src/agent/source-options.js';
import { parseConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'ctflow-source-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A directory holding an executable `.cache/ctnetlink` (or not). */
function workdir(name: string, withBinary: boolean): string {
  const d = join(dir, name);
  mkdirSync(join(d, '.cache'), { recursive: true });
  if (withBinary) {
    writeFileSync(join(d, '.cache', 'ctnetlink'), '#!/bin/sh\n');
    chmodSync(join(d, '.cache', 'ctnetlink'), 0o755);
  }
  return d;
}

describe('sourceOptions', () => {
  it('carries the poll interval in ms, events and sysctls', () => {
    const o = sourceOptions(
      parseConfig({ node: { name: 'n1' }, conntrack: { pollInterval: 1.5, reader: 'conntrack-tools' } }),
    );
    expect(o).toEqual({
      node: 'n1',
      pollIntervalMs: 1500,
      events: true,
      enableSysctls: false,
      reader: 'conntrack-tools',
    });
  });

  it('selects the ctnetlink reader with its binary, and a command prefix', () => {
    const config = parseConfig({
      conntrack: { reader: 'ctnetlink', ctnetlinkPath: '/opt/ctflow/ctnetlink' },
    });
    expect(sourceOptions(config, ['ip', 'netns', 'exec', 'x'])).toMatchObject({
      reader: 'ctnetlink',
      ctnetlinkBin: '/opt/ctflow/ctnetlink',
      commandPrefix: ['ip', 'netns', 'exec', 'x'],
    });
  });

  it('refuses an unknown reader naming the key', () => {
    expect(() => parseConfig({ conntrack: { reader: 'netlink' } })).toThrow(/conntrack\.reader/);
  });
});

describe('chooseReader', () => {
  it('auto is the default and takes ctnetlink when its binary is built', () => {
    const cwd = workdir('built', true);
    const c = parseConfig({}).conntrack;
    expect(c.reader).toBe('auto');
    expect(chooseReader(c, cwd)).toEqual({
      reader: 'ctnetlink',
      ctnetlinkBin: join(cwd, '.cache', 'ctnetlink'),
      why: `auto: ${join(cwd, '.cache', 'ctnetlink')} is built`,
    });
  });

  it('auto falls back to conntrack-tools, saying how to build the faster reader', () => {
    const cwd = workdir('bare', false);
    const c = parseConfig({ conntrack: { ctnetlinkPath: 'nowhere/ctnetlink' } }).conntrack;
    const choice = chooseReader(c, cwd);
    expect(choice.reader).toBe('conntrack-tools');
    expect(choice.ctnetlinkBin).toBeUndefined();
    expect(choice.why).toContain('scripts/build-ctnetlink.sh');
  });

  it('an explicit reader is taken as configured, built or not', () => {
    const cwd = workdir('explicit', false);
    expect(chooseReader(parseConfig({ conntrack: { reader: 'conntrack-tools' } }).conntrack, cwd)).toEqual({
      reader: 'conntrack-tools',
      why: 'configured',
    });
    expect(chooseReader(parseConfig({ conntrack: { reader: 'ctnetlink' } }).conntrack, cwd)).toMatchObject({
      reader: 'ctnetlink',
      why: 'configured',
    });
  });
});
