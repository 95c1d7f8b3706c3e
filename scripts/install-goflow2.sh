#!/usr/bin/env bash
# Installs the goflow2 collector (Go module github.com/netsampler/goflow2/v2) into .cache/bin, used by the
# collector rig's interop tests (test/rig/collectors/goflow2.ts). Idempotent: does nothing when the pinned
# version is already there. Needs Go (>= 1.22) and the Go module proxy.
set -euo pipefail

GOFLOW2_VERSION="${GOFLOW2_VERSION:-v2.2.6}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${CTFLOW_CACHE_BIN:-$root/.cache/bin}"
stamp="$bin_dir/.goflow2-version"

if [[ -x "$bin_dir/goflow2" && -f "$stamp" && "$(cat "$stamp")" == "$GOFLOW2_VERSION" ]]; then
  echo "goflow2 $GOFLOW2_VERSION already installed in $bin_dir"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-goflow2: 'go' not found; install Go (https://go.dev/doc/install or Debian 'golang-go')" >&2
  exit 1
fi

mkdir -p "$bin_dir"
echo "installing github.com/netsampler/goflow2/v2/cmd/goflow2@$GOFLOW2_VERSION into $bin_dir"
GOBIN="$bin_dir" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "github.com/netsampler/goflow2/v2/cmd/goflow2@$GOFLOW2_VERSION"
echo "$GOFLOW2_VERSION" >"$stamp"
"$bin_dir/goflow2" -v 2>/dev/null || true
