#!/usr/bin/env bash
# Builds scripts/compose-check (a small Go program on github.com/compose-spec/compose-go/v2, the loader
# `docker compose` itself uses) into .cache/bin/ctflow-compose-check. test/unit/deploy/compose.test.ts
# validates docker-compose.yml with it. Idempotent (rebuilds only when the sources change) and safe to
# run concurrently. Needs Go and the Go module proxy.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/scripts/compose-check"
bin_dir="${CTFLOW_CACHE_BIN:-$root/.cache/bin}"
stamp="$bin_dir/.compose-check-sources"
sources_hash() { cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -d' ' -f1; }

installed() { [[ -x "$bin_dir/ctflow-compose-check" && -f "$stamp" && "$(cat "$stamp")" == "$(sources_hash)" ]]; }

mkdir -p "$bin_dir"
if installed; then
  echo "ctflow-compose-check already built in $bin_dir"
  exit 0
fi

exec 9>"$bin_dir/.compose-check.lock"
flock 9
if installed; then
  echo "ctflow-compose-check already built in $bin_dir"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-compose-check: 'go' not found; install Go (Debian 'golang-go')" >&2
  exit 1
fi

echo "building scripts/compose-check into $bin_dir/ctflow-compose-check"
(cd "$src" && GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly" go build -o "$bin_dir/ctflow-compose-check" .)
sources_hash >"$stamp"
