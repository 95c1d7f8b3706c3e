/**
 * ctflow command line: argv, signals and exit codes only. Each subcommand lives in
 * src/cli/commands/<name>.ts and exports `register(program)`.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commands } from './commands/index.js';

const pkgPath = fileURLToPath(new URL('../../package.json', import.meta.url));
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string; description: string };

const program = new Command()
  .name('ctflow')
  .description(pkg.description)
  .version(pkg.version, '-V, --version')
  .showHelpAfterError()
  .exitOverride((err) => {
    // commander exits 0 for --help/--version; usage errors are exit status 2.
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

for (const register of commands) register(program);

await program.parseAsync(process.argv);
