#!/usr/bin/env bash
# Builds ctflow's netlink conntrack reader (tools/ctnetlink, Go standard library only) into
# .cache/ctnetlink, for `conntrack.reader: ctnetlink`. Needs the Go toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || { echo "go is missing: apt-get install -y golang-go (or go.dev/dl)" >&2; exit 1; }
mkdir -p .cache
(cd tools/ctnetlink && go build -o ../../.cache/ctnetlink .)
echo "built .cache/ctnetlink" >&2
