#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, one node acting as broker and controller) from the jars published on
# Maven Central, for tests and development on machines without Docker. Java 17+ runs it; Maven resolves it.
#
#   bash scripts/kafka-local.sh jars     resolve the broker classpath into the cache (once; later runs reuse it)
#   bash scripts/kafka-local.sh start    start a broker, wait until it answers Metadata, print HOST:PORT on stdout
#   bash scripts/kafka-local.sh stop     SIGTERM, wait for a clean shutdown (SIGKILL after a timeout), delete data
#   bash scripts/kafka-local.sh stop --keep-data
#                                        the same, but keep the data dir and the state file: the next `start`
#                                        with that state dir restarts the same broker (same ports, same data,
#                                        same cluster), e.g. a broker restart in a test
#   bash scripts/kafka-local.sh status   print the state; exit 0 when running, 3 when not
#
# Options (each also as an environment variable):
#   --state-dir DIR          KAFKA_STATE_DIR        where the state file lives (default .cache/kafka/run); one
#                                                   broker per state dir, so separate dirs run separate brokers
#   --port P                 KAFKA_PORT             client (PLAINTEXT) port; default a free port
#   --controller-port P      KAFKA_CONTROLLER_PORT  KRaft controller port; default a free port
#   --extra-ports N          KAFKA_EXTRA_PORTS      reserve N more free ports, usable as {{PORT_1}}..{{PORT_N}}
#   --prop KEY=VALUE         KAFKA_EXTRA_PROPERTIES (newline-separated KEY=VALUE lines)
#   --properties-file FILE   KAFKA_EXTRA_PROPERTIES_FILE
#                            extra server properties, appended last so they override the defaults below
#                            (e.g. SASL_SSL listeners). Placeholders {{PORT}}, {{CONTROLLER_PORT}},
#                            {{PORT_n}} and {{DATA_DIR}} are substituted. Readiness is probed on the PLAINTEXT
#                            listener at {{PORT}}, so keep that listener when adding secured ones.
#   --add-scram SPEC         KAFKA_ADD_SCRAM        (newline-separated) SCRAM credentials written at format time,
#                                                   e.g. 'SCRAM-SHA-256=[name=alice,password=alice-secret]' (the
#                                                   StorageTool's --add-scram; kafkajs cannot create them)
#   --timeout S              KAFKA_START_TIMEOUT    seconds to wait for readiness (default 60)
#   --watch-pid PID                                 stop the broker when process PID exits (test runners)
#   KAFKA_VERSION (default 4.4.0), KAFKA_CACHE_DIR (default ~/.cache/ctflow/kafka, kept across clones),
#   KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS,
#   KAFKA_STOP_TIMEOUT (default 30 s), JAVA_HOME, KAFKA_CDS (default 1; 0 turns off the class-data archive below).
#
# Start-up time: the first broker started for a Kafka version and JDK records the classes it loaded in a
# class-data-sharing archive (written when it stops, in $KAFKA_CACHE_DIR/<version>/cds); later starts map it,
# which roughly halves the CPU time the JVM needs to get ready.
set -euo pipefail
shopt -s inherit_errexit  # a failing check inside $(...) stops the script too

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/kafka-local.sh"
POM_DIR="$ROOT/scripts/kafka"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
CACHE_DIR="${KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ctflow/kafka}"
LIB_DIR="$CACHE_DIR/$KAFKA_VERSION/lib"
STATE_DIR="${KAFKA_STATE_DIR:-$ROOT/.cache/kafka/run}"
PORT="${KAFKA_PORT:-}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-}"
EXTRA_PORTS="${KAFKA_EXTRA_PORTS:-0}"
EXTRA_PROPS="${KAFKA_EXTRA_PROPERTIES:-}"
EXTRA_PROPS_FILE="${KAFKA_EXTRA_PROPERTIES_FILE:-}"
ADD_SCRAM="${KAFKA_ADD_SCRAM:-}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
WATCH_PID=""
MARKER=".ctflow-kafka-local"

log() { printf 'kafka-local: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    command -v java
  else
    die "java not found. Kafka $KAFKA_VERSION needs Java 17 or later: apt-get install -y openjdk-17-jre-headless (Debian/Ubuntu), or set JAVA_HOME to a JDK 17+."
  fi
}

check_java() {
  local java major
  java="$(java_bin)"
  # `java -version` prints e.g. 'openjdk version "17.0.15" 2025-04-15' (or "1.8.0_392" for Java 8).
  major="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)\(\.[0-9]*\)*.*".*/\1/p' | head -1)"
  [[ "$major" == 1 ]] && major="$("$java" -version 2>&1 | sed -n 's/.*version "1\.\([0-9]*\).*/\1/p' | head -1)"
  [[ -n "$major" ]] || die "cannot tell the version of $java ($("$java" -version 2>&1 | head -1))"
  local needed=17
  [[ "$KAFKA_VERSION" == 3.* ]] && needed=11
  ((major >= needed)) ||
    die "$java is Java $major; Kafka $KAFKA_VERSION needs Java $needed or later: apt-get install -y openjdk-17-jre-headless, or set JAVA_HOME."
  printf '%s\n' "$java"
}

check_node() {
  command -v node >/dev/null 2>&1 || die "node not found (needed for the readiness probe): install Node.js 20+."
  [[ -d "$ROOT/node_modules/kafkajs" ]] || die "node_modules/kafkajs is missing: run 'npm ci' in $ROOT first."
}

cmd_jars() {
  if [[ -f "$LIB_DIR/.complete" ]]; then
    log "jars for Kafka $KAFKA_VERSION already cached in $LIB_DIR"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found (needed once to fetch the Kafka jars from Maven Central): apt-get install -y maven"
  check_java >/dev/null
  local tmp start
  mkdir -p "$CACHE_DIR/$KAFKA_VERSION"
  tmp="$(mktemp -d "$CACHE_DIR/$KAFKA_VERSION/lib.tmp.XXXXXX")"
  start=$SECONDS
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies with Maven ..."
  if ! mvn -q -B -Dstyle.color=never -f "$POM_DIR/pom.xml" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
    rm -rf "$tmp"
    die "Maven could not resolve Kafka $KAFKA_VERSION (see its output above)"
  fi
  touch "$tmp/.complete"
  rm -rf "$LIB_DIR" "$CACHE_DIR/$KAFKA_VERSION/cds"
  mv "$tmp" "$LIB_DIR"
  log "cached $(find "$LIB_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1)) in $LIB_DIR in $((SECONDS - start)) s"
}

state_file() { printf '%s\n' "$STATE_DIR/kafka-local.env"; }

# Reads the state file into STATE_* variables; returns 1 when there is none.
read_state() {
  local file key value
  file="$(state_file)"
  [[ -f "$file" ]] || return 1
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^[A-Z_]+$ ]] && printf -v "STATE_$key" '%s' "$value"
  done <"$file"
  return 0
}

# True when PID is a live broker process of ours (guards against pid reuse).
is_our_broker() {
  local pid="$1" data_dir="$2"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $data_dir/server.properties"
}

render_props() {
  local text="$1" i
  text="${text//\{\{PORT\}\}/$PORT}"
  text="${text//\{\{CONTROLLER_PORT\}\}/$CONTROLLER_PORT}"
  text="${text//\{\{DATA_DIR\}\}/$DATA_DIR}"
  for ((i = 1; i <= EXTRA_PORTS; i++)); do
    text="${text//\{\{PORT_$i\}\}/${EXTRA_PORT_LIST[$((i - 1))]}}"
  done
  printf '%s\n' "$text"
}

write_server_properties() {
  local cluster_id="$1"
  {
    cat <<EOF
# Written by scripts/kafka-local.sh: one KRaft node acting as broker and controller, for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs=$DATA_DIR/logs
# One node: every internal topic must have replication factor 1, or the group coordinator is "not available".
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests join groups constantly: no 3 s wait for more members.
group.initial.rebalance.delay.ms=0
num.partitions=1
EOF
    if [[ -n "$EXTRA_PROPS_FILE" || -n "$EXTRA_PROPS" ]]; then
      printf '# Extra properties (override the above)\n'
      [[ -n "$EXTRA_PROPS_FILE" ]] && render_props "$(cat "$EXTRA_PROPS_FILE")"
      [[ -n "$EXTRA_PROPS" ]] && render_props "$EXTRA_PROPS"
    fi
  } >"$DATA_DIR/server.properties"
  printf '%s\n' "$cluster_id" >"$DATA_DIR/cluster-id"
}

cmd_start() {
  local args=("$@") auto_ports=1
  [[ -z "$PORT" && -z "$CONTROLLER_PORT" ]] || auto_ports=0
  while (($#)); do
    case "$1" in
      --state-dir) STATE_DIR="$2"; shift 2 ;;
      --port) PORT="$2"; auto_ports=0; shift 2 ;;
      --controller-port) CONTROLLER_PORT="$2"; auto_ports=0; shift 2 ;;
      --extra-ports) EXTRA_PORTS="$2"; shift 2 ;;
      --prop) EXTRA_PROPS="${EXTRA_PROPS:+$EXTRA_PROPS$'\n'}$2"; shift 2 ;;
      --properties-file) EXTRA_PROPS_FILE="$2"; shift 2 ;;
      --add-scram) ADD_SCRAM="${ADD_SCRAM:+$ADD_SCRAM$'\n'}$2"; shift 2 ;;
      --timeout) START_TIMEOUT="$2"; shift 2 ;;
      --watch-pid) WATCH_PID="$2"; shift 2 ;;
      *) die "unknown option for start: $1" ;;
    esac
  done
  [[ -z "$EXTRA_PROPS_FILE" || -f "$EXTRA_PROPS_FILE" ]] || die "properties file not found: $EXTRA_PROPS_FILE"

  if read_state && is_our_broker "${STATE_PID:-}" "${STATE_DATA_DIR:-}"; then
    log "already running (pid $STATE_PID, state $(state_file)); stop it first to change its settings"
    printf '%s\n' "$STATE_BOOTSTRAP"
    return 0
  fi
  if read_state && [[ "${STATE_STOPPED:-}" == 1 ]]; then
    restart_kept
    return 0
  fi

  local java
  java="$(check_java)"
  check_node
  if [[ ! -f "$LIB_DIR/.complete" ]]; then
    log "no cached jars for Kafka $KAFKA_VERSION; fetching them first"
    cmd_jars
  fi

  local started=$SECONDS needed=2 ports
  [[ -z "$PORT" ]] || needed=$((needed - 1))
  [[ -z "$CONTROLLER_PORT" ]] || needed=$((needed - 1))
  needed=$((needed + EXTRA_PORTS))
  EXTRA_PORT_LIST=()
  if ((needed > 0)); then
    mapfile -t ports < <(node "$POM_DIR/helper.mjs" free-ports "$needed")
    ((${#ports[@]} == needed)) || die "could not find $needed free ports on 127.0.0.1"
    if [[ -z "$PORT" ]]; then PORT="${ports[0]}"; ports=("${ports[@]:1}"); fi
    if [[ -z "$CONTROLLER_PORT" ]]; then CONTROLLER_PORT="${ports[0]}"; ports=("${ports[@]:1}"); fi
    EXTRA_PORT_LIST=("${ports[@]}")
  fi

  mkdir -p "$STATE_DIR"
  DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ctflow-kafka.XXXXXX")"
  touch "$DATA_DIR/$MARKER"
  # A Kafka Uuid: 16 random bytes, base64url without padding (what `kafka-storage.sh random-uuid` prints).
  local cluster_id
  # Like Kafka's Uuid.randomUuid: never starting with '-', which StorageTool would take for an option.
  cluster_id=-
  while [ "${cluster_id#-}" != "$cluster_id" ]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  write_server_properties "$cluster_id"

  # Class-data sharing (see the top): use the archive, or have this broker write it when it stops.
  local cds_use=() cds_dump=() cds_tmp=""
  if [[ "${KAFKA_CDS:-1}" == 1 ]]; then
    local cds_dir="$CACHE_DIR/$KAFKA_VERSION/cds" jdk_id archive
    # The archive is valid only for this JDK and these exact jar files: both are in its name.
    jdk_id="$({ "$java" -version 2>&1 | head -1; printf '%s\n' "$LIB_DIR"; } | cksum | cut -d' ' -f1)"
    archive="$cds_dir/broker-$jdk_id.jsa"
    if [[ -f "$archive" ]]; then
      cds_use=("-XX:SharedArchiveFile=$archive" "-Xlog:cds=off" "-Xlog:cds+dynamic=off")
    else
      mkdir -p "$cds_dir"
      # Left behind by brokers that were killed before they could finish their archive.
      find "$cds_dir" -name '*.jsa.tmp.*' -mmin +60 -delete 2>/dev/null || true
      cds_tmp="$archive.tmp.$$"
      cds_dump=("-XX:ArchiveClassesAtExit=$cds_tmp")
    fi
  fi

  local log4j="-Dlog4j2.configurationFile=$POM_DIR/log4j2.properties" scram_args=() spec
  while IFS= read -r spec; do
    [[ -z "$spec" ]] || scram_args+=(--add-scram "$spec")
  done <<<"$ADD_SCRAM"
  if ! "$java" "${cds_use[@]}" -cp "$LIB_DIR/*" "$log4j" "-Dctflow.kafka.log=$DATA_DIR/format.log" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$DATA_DIR/server.properties" "${scram_args[@]}" \
    >"$DATA_DIR/format.out" 2>&1; then
    cat "$DATA_DIR/format.out" >&2
    rm -rf "$DATA_DIR"
    die "formatting the KRaft storage failed (output above)"
  fi

  local heap="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
  local jvm="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
  # setsid: the broker outlives this script and is not hit by the terminal's Ctrl-C; `stop` ends it.
  # shellcheck disable=SC2086
  setsid "$java" $heap $jvm "${cds_use[@]}" "${cds_dump[@]}" "$log4j" "-Dctflow.kafka.log=$DATA_DIR/broker.log" -cp "$LIB_DIR/*" \
    kafka.Kafka "$DATA_DIR/server.properties" >"$DATA_DIR/broker.out" 2>&1 </dev/null &
  local pid=$!
  local bootstrap="127.0.0.1:$PORT"
  {
    printf 'PID=%s\nBOOTSTRAP=%s\nPORT=%s\nCONTROLLER_PORT=%s\n' "$pid" "$bootstrap" "$PORT" "$CONTROLLER_PORT"
    local i
    for ((i = 1; i <= EXTRA_PORTS; i++)); do printf 'PORT_%d=%s\n' "$i" "${EXTRA_PORT_LIST[$((i - 1))]}"; done
    printf 'DATA_DIR=%s\nLOG=%s\nVERSION=%s\nCLUSTER_ID=%s\nCDS_TMP=%s\n' "$DATA_DIR" "$DATA_DIR/broker.log" \
      "$KAFKA_VERSION" "$cluster_id" "$cds_tmp"
  } >"$(state_file)"

  local rc=0
  node "$POM_DIR/helper.mjs" probe "$bootstrap" "$((START_TIMEOUT * 1000))" "$pid" || rc=$?
  if ((rc != 0)); then
    if ((rc == 3)); then log "the broker exited while starting"; else log "no answer from $bootstrap within ${START_TIMEOUT} s"; fi
    log "last lines of $DATA_DIR/broker.log and broker.out:"
    tail -n 30 "$DATA_DIR/broker.log" >&2 2>/dev/null || true
    tail -n 30 "$DATA_DIR/broker.out" >&2 2>/dev/null || true
    local lost_port=0
    grep -qs 'Address already in use' "$DATA_DIR/broker.log" "$DATA_DIR/broker.out" && lost_port=1
    cmd_stop --state-dir "$STATE_DIR" || true
    # Free ports are found by binding and releasing them; on a busy machine another process can take one
    # before the broker binds it. Try once more with new ports.
    if ((lost_port && auto_ports)) && [[ -z "${KAFKA_LOCAL_RETRIED:-}" ]]; then
      log "a port was taken before the broker could bind it; retrying with new ports"
      KAFKA_LOCAL_RETRIED=1 exec bash "$SELF" start "${args[@]}"
    fi
    die "Kafka $KAFKA_VERSION did not start"
  fi

  if [[ -n "$WATCH_PID" ]]; then
    # Ends the broker if the process that asked for it dies without calling stop (e.g. a killed test run).
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
      kill -0 "$2" 2>/dev/null && exec bash "$3" stop --state-dir "$4"' _ \
      "$WATCH_PID" "$pid" "$SELF" "$STATE_DIR" >/dev/null 2>&1 </dev/null &
    printf 'WATCHDOG_PID=%s\n' "$!" >>"$(state_file)"
  fi
  log "Kafka $KAFKA_VERSION (pid $pid) ready at $bootstrap in $((SECONDS - started)) s; data $DATA_DIR"
  printf '%s\n' "$bootstrap"
}

cmd_stop() {
  local keep=0
  while (($#)); do
    case "$1" in
      --state-dir) STATE_DIR="$2"; shift 2 ;;
      --keep-data) keep=1; shift ;;
      *) die "unknown option for stop: $1" ;;
    esac
  done
  if ! read_state; then
    log "not running (no state file $(state_file))"
    return 0
  fi
  local pid="${STATE_PID:-}" data_dir="${STATE_DATA_DIR:-}" waited=0 cds_tmp="${STATE_CDS_TMP:-}"
  local timeout=$STOP_TIMEOUT
  # Writing the class-data archive at exit takes a while on a busy machine: never cut it short.
  [[ -n "$cds_tmp" ]] && ((timeout < 180)) && timeout=180
  # The watchdog runs this very command when its owner dies: it must not kill itself.
  if [[ -n "${STATE_WATCHDOG_PID:-}" && "${STATE_WATCHDOG_PID}" != "$$" ]]; then
    kill "$STATE_WATCHDOG_PID" 2>/dev/null || true
  fi
  if is_our_broker "$pid" "$data_dir"; then
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null && ((waited < timeout * 10)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker (pid $pid) still running after ${timeout} s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      [[ -z "$cds_tmp" ]] || rm -f "$cds_tmp"
      cds_tmp=""
    else
      log "broker (pid $pid) stopped in $((waited / 10)).$((waited % 10)) s"
    fi
  else
    log "broker (pid ${pid:-?}) was not running"
  fi
  # A complete archive (the JVM exited by itself) becomes the one later starts use.
  if [[ -n "$cds_tmp" && -s "$cds_tmp" ]]; then
    mv -f "$cds_tmp" "${cds_tmp%.tmp.*}"
    log "class-data archive written: ${cds_tmp%.tmp.*}"
  elif [[ -n "$cds_tmp" ]]; then
    rm -f "$cds_tmp"
  fi
  if ((keep)) && [[ -n "$data_dir" && -f "$data_dir/server.properties" ]]; then
    # Kept for a restart: `start` sees STOPPED=1 and runs the same broker again on the same data.
    grep -v -e '^PID=' -e '^WATCHDOG_PID=' -e '^CDS_TMP=' -e '^STOPPED=' "$(state_file)" >"$(state_file).tmp"
    printf 'STOPPED=1\n' >>"$(state_file).tmp"
    mv -f "$(state_file).tmp" "$(state_file)"
    log "data kept in $data_dir; \`start --state-dir $STATE_DIR\` restarts this broker"
    return 0
  fi
  # Delete only a data dir this script made.
  if [[ -n "$data_dir" && -f "$data_dir/$MARKER" ]]; then rm -rf "$data_dir"; fi
  rm -f "$(state_file)"
}

# Restarts a broker stopped with `stop --keep-data`: same server.properties (ports, data), no formatting.
restart_kept() {
  local java started=$SECONDS
  java="$(check_java)"
  DATA_DIR="$STATE_DATA_DIR"
  [[ -f "$DATA_DIR/server.properties" ]] || die "kept data dir $DATA_DIR is gone; \`stop\` cleans up"
  local cds_use=() jdk_id archive
  if [[ "${KAFKA_CDS:-1}" == 1 ]]; then
    jdk_id="$({ "$java" -version 2>&1 | head -1; printf '%s\n' "$LIB_DIR"; } | cksum | cut -d' ' -f1)"
    archive="$CACHE_DIR/$KAFKA_VERSION/cds/broker-$jdk_id.jsa"
    [[ ! -f "$archive" ]] || cds_use=("-XX:SharedArchiveFile=$archive" "-Xlog:cds=off" "-Xlog:cds+dynamic=off")
  fi
  local heap="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
  local jvm="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
  # shellcheck disable=SC2086
  setsid "$java" $heap $jvm "${cds_use[@]}" "-Dlog4j2.configurationFile=$POM_DIR/log4j2.properties" \
    "-Dctflow.kafka.log=$DATA_DIR/broker.log" -cp "$LIB_DIR/*" \
    kafka.Kafka "$DATA_DIR/server.properties" >>"$DATA_DIR/broker.out" 2>&1 </dev/null &
  local pid=$!
  { grep -v -e '^STOPPED=' -e '^PID=' "$(state_file)"; printf 'PID=%s\n' "$pid"; } >"$(state_file).tmp"
  mv -f "$(state_file).tmp" "$(state_file)"
  if ! node "$POM_DIR/helper.mjs" probe "$STATE_BOOTSTRAP" "$((START_TIMEOUT * 1000))" "$pid"; then
    tail -n 30 "$DATA_DIR/broker.log" >&2 2>/dev/null || true
    die "the kept broker did not restart at $STATE_BOOTSTRAP"
  fi
  if [[ -n "$WATCH_PID" ]]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
      kill -0 "$2" 2>/dev/null && exec bash "$3" stop --state-dir "$4"' _ \
      "$WATCH_PID" "$pid" "$SELF" "$STATE_DIR" >/dev/null 2>&1 </dev/null &
    printf 'WATCHDOG_PID=%s\n' "$!" >>"$(state_file)"
  fi
  log "Kafka $KAFKA_VERSION (pid $pid) restarted at $STATE_BOOTSTRAP in $((SECONDS - started)) s; data $DATA_DIR"
  printf '%s\n' "$STATE_BOOTSTRAP"
}

cmd_status() {
  while (($#)); do
    case "$1" in
      --state-dir) STATE_DIR="$2"; shift 2 ;;
      *) die "unknown option for status: $1" ;;
    esac
  done
  if read_state && is_our_broker "${STATE_PID:-}" "${STATE_DATA_DIR:-}"; then
    printf 'running: Kafka %s, pid %s, bootstrap %s, data %s, log %s\n' "$STATE_VERSION" "$STATE_PID" \
      "$STATE_BOOTSTRAP" "$STATE_DATA_DIR" "$STATE_LOG"
    return 0
  fi
  if [[ -f "$(state_file)" ]]; then
    printf 'not running (stale state file %s; `stop` cleans it up)\n' "$(state_file)"
  else
    printf 'not running\n'
  fi
  return 3
}

case "${1:-}" in
  jars) shift; cmd_jars "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  -h | --help | help | "") usage ;;
  *) log "unknown command: $1"; usage ;;
esac
