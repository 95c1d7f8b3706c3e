/**
 * docs/cli.md says what each command's --help says: every examples, signals and exit-status paragraph of
 * the help text appears in the document word for word (a changed help text without the docs fails here).
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commands } from '../../../src/cli/commands/index.js';

const docs = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');

function program(): Command {
  const p = new Command().name('ctflow');
  for (const register of commands) register(p);
  return p;
}

/** The full --help text of the command at `path` (e.g. ['topics', 'ensure']). */
function helpOf(path: readonly string[]): string {
  let cmd = program();
  for (const name of path) {
    const next = cmd.commands.find((c) => c.name() === name);
    if (next === undefined) throw new Error(`no command ${path.join(' ')}`);
    cmd = next;
  }
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

/** Paragraphs of the text after the options that are about examples, signals or exit status. */
function documentedParagraphs(help: string): string[] {
  return help
    .split(/\n\s*\n/)
    .map((p) => p.replace(/^\n+|\s+$/g, ''))
    .filter((p) => /^(Examples?:|Signals:|Exit status:|Without --partitions)/.test(p));
}

const PATHS = [
  ['run'],
  ['agent'],
  ['processor'],
  ['replay'],
  ['collect'],
  ['topics', 'ensure'],
  ['config', 'print'],
];

describe('docs/cli.md', () => {
  it('covers every command', () => {
    const names = program().commands.map((c) => c.name());
    for (const n of names) expect(docs, n).toContain(`ctflow ${n}`);
  });

  for (const path of PATHS) {
    it(`has the examples, signals and exit status of ctflow ${path.join(' ')} --help`, () => {
      const paragraphs = documentedParagraphs(helpOf(path));
      expect(paragraphs.some((p) => p.includes('Exit status:'))).toBe(true);
      for (const p of paragraphs) expect(docs, `ctflow ${path.join(' ')}: ${p}`).toContain(p);
    });
  }

  it('documents the long-running roles signals and the exit statuses 0, 1 and 2', () => {
    for (const p of ['| 0 |', '| 1 |', '| 2 |', 'SIGTERM', 'run.shutdownTimeout', 'agent.shutdownTimeout'])
      expect(docs).toContain(p);
    expect(docs).toContain('processor.shutdownTimeout');
  });
});
