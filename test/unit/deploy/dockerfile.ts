/**
 * A small Dockerfile reader for static checks (no Docker engine on the test machines): instructions
 * with line continuations joined, comments and parser directives dropped, build stages and ARG defaults.
 */

/** One instruction: keyword (upper case), its raw argument text and the stage it belongs to. */
export interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

/** A build stage: its FROM image (ARG defaults substituted) and optional name. */
export interface Stage {
  image: string;
  name?: string;
}

/** The parsed file. */
export interface Dockerfile {
  instructions: Instruction[];
  stages: Stage[];
  /** Defaults of the ARGs declared before the first FROM (usable in FROM lines). */
  globalArgs: Record<string, string>;
}

/** Substitutes ${NAME} and $NAME from `vars`; unknown names are left as they are. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => vars[a ?? b ?? ''] ?? whole);
}

/** Parses Dockerfile text. */
export function parseDockerfile(text: string): Dockerfile {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*#/.test(line)) continue;
    if (current !== '' && /^\s*#/.test(line)) continue; // comment lines inside a continuation
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  if (current.trim() !== '') logical.push(current.trim());

  const instructions: Instruction[] = [];
  const stages: Stage[] = [];
  const globalArgs: Record<string, string> = {};
  for (const line of logical) {
    const match = /^(\w+)\s+(.*)$/s.exec(line);
    if (!match) throw new Error(`not an instruction: ${line}`);
    const keyword = (match[1] ?? '').toUpperCase();
    const args = (match[2] ?? '').replace(/\s+/g, ' ').trim();
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, value] = args.split('=', 2);
      if (name && value !== undefined) globalArgs[name] = value;
    }
    if (keyword === 'FROM') {
      const parts = substitute(args, globalArgs)
        .split(' ')
        .filter((p) => !p.startsWith('--'));
      const stage: Stage = { image: parts[0] ?? '' };
      if (parts[1]?.toUpperCase() === 'AS' && parts[2]) stage.name = parts[2];
      stages.push(stage);
    }
    instructions.push({ keyword, args, stage: stages.length - 1 });
  }
  return { instructions, stages, globalArgs };
}

/** The JSON (exec) form of an instruction's arguments, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  return JSON.parse(args) as string[];
}

/**
 * Whether a path (relative to the build context) survives .dockerignore, for the pattern subset used
 * here: `**`, plain paths and directory prefixes, `!` exceptions; the last matching pattern wins.
 */
export function includedByDockerignore(path: string, patterns: string[]): boolean {
  let included = true;
  for (const raw of patterns) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = (negate ? line.slice(1) : line).replace(/\/$/, '');
    const matches = pattern === '**' || path === pattern || path.startsWith(`${pattern}/`);
    if (matches) included = negate;
  }
  return included;
}

/** The ENTRYPOINT (exec form) of the image's final stage, from the repository's Dockerfile text. */
export function imageEntrypoint(text: string): string[] {
  const file = parseDockerfile(text);
  const last = file.stages.length - 1;
  const entry = file.instructions.filter((i) => i.keyword === 'ENTRYPOINT' && i.stage === last).at(-1);
  const form = entry === undefined ? undefined : execForm(entry.args);
  if (form === undefined) throw new Error('the final stage has no exec-form ENTRYPOINT');
  return form;
}

/**
 * Whether a container command (Kubernetes `command`, compose `entrypoint`) still runs the image's
 * entrypoint: none at all, or that entrypoint with node options (`--...`) added right after `node`.
 */
export function runsImageEntrypoint(
  command: readonly string[] | undefined,
  entrypoint: readonly string[],
): boolean {
  if (command === undefined) return true;
  const node = entrypoint.indexOf('node');
  if (node < 0) return false;
  const head = entrypoint.slice(0, node + 1);
  const tail = entrypoint.slice(node + 1);
  const flags = command.slice(head.length, command.length - tail.length);
  return (
    command.length >= entrypoint.length &&
    head.every((a, i) => command[i] === a) &&
    tail.every((a, i) => command[command.length - tail.length + i] === a) &&
    flags.every((f) => f.startsWith('--'))
  );
}
