#!/usr/bin/env bash
# Installs what ctflow needs on a fresh Debian machine. Idempotent: skips what is already there.
#   scripts/setup.sh run    what `ctflow run` needs (conntrack-tools, iptables, node modules)
#   scripts/setup.sh test   everything the test suite needs (+ collectors, Kafka jars, goflow2)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-test}"

say() { printf '[setup] %s\n' "$*" >&2; }

need_root_for_apt() {
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: $*; run as root or: sudo apt-get install -y $*"
    exit 1
  fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root_for_apt "${missing[@]}"
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer for it.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

command -v node >/dev/null || { say "node (>= 20) is missing: install Node.js 20"; exit 1; }

runtime_pkgs=(conntrack iptables iproute2)
test_pkgs=(tshark nfdump pmacct iputils-ping procps openssl util-linux)

case "$what" in
  run)
    apt_install "${runtime_pkgs[@]}"
    ;;
  test)
    apt_install "${runtime_pkgs[@]}" "${test_pkgs[@]}"
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    command -v mvn >/dev/null || apt_install maven
    command -v go >/dev/null || { say "go is missing: install Go (golang-go) to build goflow2"; exit 1; }
    ;;
  *) say "usage: scripts/setup.sh [run|test]"; exit 2 ;;
esac

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

say "npm run build (compiled CLI in dist/)"
npm run --silent build

# ctflow's netlink reader (conntrack.reader auto takes it when built; else the conntrack CLI).
if command -v go >/dev/null; then
  bash scripts/build-ctnetlink.sh
else
  say "go not found: the conntrack CLI reads the table (install Go and run scripts/build-ctnetlink.sh for the faster reader)"
fi

if [ "$what" = test ]; then
  bash scripts/kafka-local.sh jars
  bash scripts/install-goflow2.sh
  bash scripts/install-kustomize.sh
  bash scripts/install-compose-check.sh
fi
say "ready ($what)"
