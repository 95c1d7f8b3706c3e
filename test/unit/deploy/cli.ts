/**
 * Checks a ctflow command line from a manifest (container args, compose command) against the real
 * CLI: the commander program with every registered subcommand, parsed the way commander parses
 * (program options anywhere, then the subcommand's), without running any action.
 */
import { Command, CommanderError } from 'commander';
import { commands } from '../../../src/cli/commands/index.js';

function program(): Command {
  const root = new Command('ctflow')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  for (const register of commands) register(root);
  return root;
}

/** Why `ctflow <args>` would not be accepted (empty when it would). */
export async function cliInvocationErrors(args: readonly string[]): Promise<string[]> {
  let cmd = program();
  let argv = [...args];
  const path: string[] = [];
  try {
    for (;;) {
      const { operands, unknown } = cmd.parseOptions(argv);
      const name = operands[0];
      const sub =
        name === undefined
          ? undefined
          : cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
      if (sub) {
        path.push(sub.name());
        cmd = sub;
        argv = [...operands.slice(1), ...unknown];
        continue;
      }
      if (path.length === 0) return [`"${name ?? ''}" is not a ctflow subcommand`];
      if (cmd.commands.length > 0)
        return [`"ctflow ${path.join(' ')}" needs one of: ${cmd.commands.map((c) => c.name()).join(', ')}`];
      if (unknown.length > 0) return [`"ctflow ${path.join(' ')}" has no option ${unknown[0]}`];
      const missing = cmd.options.filter(
        (o) => o.mandatory && cmd.getOptionValue(o.attributeName()) === undefined,
      );
      if (missing.length > 0)
        return [`"ctflow ${path.join(' ')}" needs ${missing.map((o) => o.long).join(', ')}`];
      const expected = cmd.registeredArguments;
      if (operands.length > expected.length && !expected.at(-1)?.variadic) {
        return [`"ctflow ${path.join(' ')}" takes no argument ${operands[expected.length]}`];
      }
      const required = expected.filter((a) => a.required).length;
      if (operands.length < required) return [`"ctflow ${path.join(' ')}" needs ${required} argument(s)`];
      return [];
    }
  } catch (err) {
    if (err instanceof CommanderError) return [`ctflow ${args.join(' ')}: ${err.message}`];
    throw err;
  }
}

/** Every subcommand path the CLI registers (e.g. "agent", "topics ensure"). */
export function cliCommandPaths(): string[] {
  const out: string[] = [];
  const walk = (cmd: Command, prefix: string[]) => {
    for (const sub of cmd.commands) {
      const path = [...prefix, sub.name()];
      out.push(path.join(' '));
      walk(sub, path);
    }
  };
  walk(program(), []);
  return out;
}
