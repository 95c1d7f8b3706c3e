// A stand-in for `ctnetlink serve` (tools/ctnetlink/serve.go) in unit tests: same protocol, but the
// table of each dump comes from a script. Usage: node fake-ctnetlink-serve.mjs SCRIPT.json
// SCRIPT.json: an array, one item per dump: an array of P lines (the table), "X" (the dump fails),
// "EXIT" (the reader dies with a message on stderr), "HANG" (no answer) or {"failAfter": [P lines]}
// (those lines, then the dump fails). Commands received go to stderr as "cmd: ...". `dump [full] at T`
// waits until wall-clock time T (µs) as the real reader does; with a second argument `--no-at` it
// answers "unknown command" instead, as a reader built before scheduled dumps.
// The number of dumps served so far is kept in SCRIPT.json.count, so a restarted reader goes on.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const script = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const noAt = process.argv[3] === '--no-at';
const state = new Map();
const counter = `${process.argv[2]}.count`;
let dumps = existsSync(counter) ? Number(readFileSync(counter, 'utf8')) : 0;
const out = [];
for await (const command of createInterface({ input: process.stdin })) {
  process.stderr.write(`cmd: ${command}\n`);
  const [verb, ...args] = command.split(' ');
  if (verb === 'forget') {
    for (const id of args) state.delete(Number(id));
    continue;
  }
  if (verb !== 'dump') {
    process.stdout.write(`X\tunknown command ${JSON.stringify(command)}\n`);
    continue;
  }
  const at = args.indexOf('at');
  if (at >= 0) {
    if (noAt) {
      process.stdout.write(`X\tunknown command ${JSON.stringify(command)}\n`);
      continue;
    }
    const waitMs = Number(args[at + 1]) / 1000 - Date.now();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
  }
  if (args[0] === 'full') state.clear();
  const table = script[dumps++] ?? [];
  writeFileSync(counter, String(dumps));
  if (table === 'EXIT') {
    process.stderr.write('ctnetlink: recv: operation not permitted\n');
    process.exit(3);
  }
  if (table === 'HANG') continue;
  if (table === 'X') {
    state.clear();
    process.stdout.write('X\tkernel error: EBUSY\n');
    continue;
  }
  if (Array.isArray(table.failAfter)) {
    // Some lines, then the dump fails.
    state.clear();
    process.stdout.write(`${[...table.failAfter, 'X\tkernel error: EBUSY'].join('\n')}\n`);
    continue;
  }
  const seen = new Set();
  let printed = 0;
  for (const line of table) {
    const id = Number(line.split('\t')[2]);
    seen.add(id);
    if (state.get(id) === line) continue;
    state.set(id, line);
    out.push(line);
    printed++;
  }
  const gone = [...state.keys()].filter((id) => !seen.has(id));
  for (const id of gone) state.delete(id);
  if (gone.length > 0) out.push(`G\t${gone.join('\t')}`);
  out.push(`E\t${table.length}\t${printed}\t${gone.length}`);
  process.stdout.write(`${out.join('\n')}\n`);
  out.length = 0;
}
