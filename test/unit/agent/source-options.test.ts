import { describe, expect, it } from 'vitest';
import { sourceOptions } from '../../../src/agent/source-options.js';
import { parseConfig } from '../../../src/config/load.js';

describe('sourceOptions', () => {
  it('carries the poll interval in ms, events, sysctls and the conntrack-tools reader by default', () => {
    const o = sourceOptions(parseConfig({ node: { name: 'n1' }, conntrack: { pollInterval: 1.5 } }));
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
