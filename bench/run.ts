/**
 * `npm run bench [-- NAME ...]`: runs the benchmarks in bench/ one after another, each in its own
 * process (so one's heap and JIT state do not colour the next), with the arguments recorded in
 * bench/RESULTS.md. Each benchmark compares against a baseline in the same run and prints its figures.
 */
import { spawnSync } from 'node:child_process';

/** Name → node arguments. Sizes are those of bench/RESULTS.md. */
const BENCHES: Record<string, string[]> = {
  'ipfix-encode': ['--import', 'tsx', 'bench/ipfix-encode.ts'],
  codec: ['--import', 'tsx', 'bench/codec.ts'],
  'flow-engine': [
    '--expose-gc',
    '--import',
    'tsx',
    'bench/flow-engine.ts',
    '--flows',
    '1000000',
    '--nodes',
    '100',
  ],
  'conntrack-poll': ['--expose-gc', '--import', 'tsx', 'bench/conntrack-poll.ts', '100000'],
  'agent-publish': ['--import', 'tsx', 'bench/agent-publish.ts'],
  processor: ['--import', 'tsx', 'bench/processor.ts'],
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}\n`,
  );
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  const args = BENCHES[name]!;
  process.stdout.write(`\n=== ${name}: node ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
