#!/usr/bin/env bash
# The whole test suite: the unit project first (fast, no services), then the integration project
# alone, so the timing assertions against the real kernel and collectors do not share the CPU with
# unit tests. Each writes its JSON report to .cache/ (summed by .ci/run). Extra arguments go to both.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
npx vitest run --project unit --outputFile.json=.cache/vitest-unit.json "$@"
unit=$?
npx vitest run --project integration --outputFile.json=.cache/vitest-integration.json "$@"
integration=$?
[ "$unit" -eq 0 ] && [ "$integration" -eq 0 ]
