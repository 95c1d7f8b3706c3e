import { describe, expect, it } from 'vitest';
import { cliCommandPaths, cliInvocationErrors } from './cli.js';

// The checker the manifest and compose tests use on container arguments, tried on commands that exist.
describe('cliInvocationErrors', () => {
  it('accepts a real command line', async () => {
    expect(
      await cliInvocationErrors(['collect', '--listen', 'udp://0.0.0.0:4739', '--format', 'json']),
    ).toEqual([]);
    expect(await cliInvocationErrors(['config', 'print', '--config', '/etc/ctflow/config.yaml'])).toEqual([]);
  });

  it('rejects an unknown subcommand, a missing subcommand, an unknown or missing option', async () => {
    expect(await cliInvocationErrors(['nope'])).toEqual(['"nope" is not a ctflow subcommand']);
    expect((await cliInvocationErrors(['config']))[0]).toMatch(/^"ctflow config" needs one of: .*print/);
    expect(await cliInvocationErrors(['collect', '--listen', 'udp://0.0.0.0:4739', '--bogus'])).toEqual([
      '"ctflow collect" has no option --bogus',
    ]);
    expect(await cliInvocationErrors(['collect'])).toEqual(['"ctflow collect" needs --listen']);
  });

  it('lists nested subcommands', () => {
    expect(cliCommandPaths()).toEqual(expect.arrayContaining(['collect', 'config', 'config print']));
  });
});
