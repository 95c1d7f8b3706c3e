#!/usr/bin/env bash
# Installs kustomize (Go module sigs.k8s.io/kustomize/kustomize/v5) into .cache/bin. The deploy tests
# (test/unit/deploy) render deploy/base and deploy/overlays/* with it. Idempotent and safe to run
# concurrently (a lock serialises parallel callers; the second one finds the binary in place).
# Needs Go and the Go module proxy. v5.7.1 is the newest release that builds with Go 1.26
# (v5.8.x asks for Go 1.27).
set -euo pipefail

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.7.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${CTFLOW_CACHE_BIN:-$root/.cache/bin}"
stamp="$bin_dir/.kustomize-version"

installed() { [[ -x "$bin_dir/kustomize" && -f "$stamp" && "$(cat "$stamp")" == "$KUSTOMIZE_VERSION" ]]; }

mkdir -p "$bin_dir"
if installed; then
  echo "kustomize $KUSTOMIZE_VERSION already installed in $bin_dir"
  exit 0
fi

exec 9>"$bin_dir/.kustomize.lock"
flock 9
if installed; then
  echo "kustomize $KUSTOMIZE_VERSION already installed in $bin_dir"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-kustomize: 'go' not found; install Go (Debian 'golang-go')" >&2
  exit 1
fi

echo "installing sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION into $bin_dir"
GOBIN="$bin_dir" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
echo "$KUSTOMIZE_VERSION" >"$stamp"
"$bin_dir/kustomize" version
