import { describe, expect, it } from 'vitest';
import { CONFIG_EXIT_STATUS, configErrorExitStatus } from '../../../src/config/exit.js';
import { parseConfig } from '../../../src/config/load.js';
import { CtflowError } from '../../../src/errors.js';

describe('configErrorExitStatus', () => {
  it('prints a CONFIG_INVALID message on stderr and answers exit status 2', () => {
    let written = '';
    const stderr = { write: (t: string) => (written += t) };
    let err: unknown;
    try {
      parseConfig({ conntrack: { pollInterval: 0 } });
    } catch (e) {
      err = e;
    }
    expect(configErrorExitStatus(err, stderr)).toBe(CONFIG_EXIT_STATUS);
    expect(CONFIG_EXIT_STATUS).toBe(2);
    expect(written).toBe(
      'ctflow: invalid configuration: conntrack.pollInterval = 0 (from input): expected a number >= 1\n',
    );
  });

  it('leaves other errors to the caller', () => {
    const stderr = { write: () => true };
    expect(configErrorExitStatus(new CtflowError('KAFKA', 'down'), stderr)).toBeUndefined();
    expect(configErrorExitStatus(new Error('x'), stderr)).toBeUndefined();
  });
});
