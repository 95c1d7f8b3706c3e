#!/usr/bin/env bash
# The main job in one command: `ctflow collect` prints (as text) the IPFIX records that `ctflow run`
# exports from this machine's conntrack table. Extra arguments go to `ctflow run`, e.g.
#   bash scripts/demo.sh --poll-interval 1 --active-timeout 10 --idle-timeout 5
# Ctrl-C stops both: ctflow run ends its open flows (flowEndReason 4) and flushes, then the collector stops.
# CTFLOW_DEMO_PORT (default 4739) is the collector's UDP port on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${CTFLOW_DEMO_PORT:-4739}"
ctflow=(node bin/ctflow.js)

say() { printf '[demo] %s\n' "$*" >&2; }

# setsid: its own process group, so Ctrl-C (SIGINT to the terminal's group) reaches only ctflow run, and the
# collector still receives the records run flushes while stopping.
setsid "${ctflow[@]}" collect --listen "udp://127.0.0.1:${port}" --format text &
collector=$!
stop_collector() {
  kill -TERM "$collector" 2>/dev/null || true
  wait "$collector" 2>/dev/null || true
}
trap stop_collector EXIT

# Start exporting only once the collector listens: over UDP the templates go out at start (and then
# every template refresh), and a collector that missed them could not decode anything for minutes.
for _ in $(seq 1 100); do
  if ss -Hlun "sport = :${port}" | grep -q .; then break; fi
  kill -0 "$collector" 2>/dev/null || { say "ctflow collect did not start (port ${port} taken?)"; exit 1; }
  sleep 0.1
done
say "collector on udp://127.0.0.1:${port}; exporting this machine's conntrack table (Ctrl-C stops)"

# Foreground: Ctrl-C reaches ctflow run, which stops cleanly; the EXIT trap then stops the collector.
status=0
"${ctflow[@]}" run --collector "udp://127.0.0.1:${port}" "$@" || status=$?
exit "$status"
