#!/usr/bin/env bash
# Regenerates test/fixtures/kafka/murmur2-java.json with Apache Kafka's own Java client (from the jars that
# `bash scripts/kafka-local.sh jars` caches), so the TypeScript partitioner is checked against the original.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="${KAFKA_VERSION:-4.4.0}"
LIB="${KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ctflow/kafka}/$VERSION/lib"
bash "$ROOT/scripts/kafka-local.sh" jars
java -cp "$LIB/*" "$ROOT/scripts/kafka/Murmur2Fixture.java" >"$ROOT/test/fixtures/kafka/murmur2-java.json"
echo "wrote test/fixtures/kafka/murmur2-java.json (Kafka $VERSION)"
