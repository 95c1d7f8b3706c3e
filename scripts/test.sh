#!/usr/bin/env bash
# The whole test suite: the unit project first (fast, no services), then the integration project
# alone, so the timing assertions against the real kernel and collectors do not share the CPU with
# unit tests. Each writes its JSON report to .cache/ (summed by .ci/run). Extra arguments go to both.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
# Tests start the CLI (bin/ctflow.js) as a child process: build it first so they run the compiled
# JavaScript production runs. A type error fails the suite (the build still emits, and bin/ctflow.js
# falls back to the sources whenever a build is older than them).
npm run --silent build
build=$?
npx vitest run --project unit --outputFile.json=.cache/vitest-unit.json "$@"
unit=$?
npx vitest run --project integration --outputFile.json=.cache/vitest-integration.json "$@"
integration=$?
[ "$build" -eq 0 ] && [ "$unit" -eq 0 ] && [ "$integration" -eq 0 ]
