#!/usr/bin/env bash
# Runs one Gatling simulation twice on this machine, with the same load generator and the same
# properties: first against the floor (io.syncedstore.bench.FloorServer: bare Pekko HTTP shaped like
# the sync protocol, no engine; it also measures the raw H2 batched insert rate before it serves),
# then against the real server on the embedded default (a fresh data directory). Before each
# measured run of a duration-based simulation, an unmeasured warm-up run of WARMUP_SECONDS lets the
# server's JIT compile its hot paths. Prints both runs' assertion results and the server's /metrics,
# stops the servers, and leaves the HTML reports under loadtest/target/gatling/. Usage:
#   loadtest/run-simulation.sh PushConfirmSimulation [-Drate=1000 -DdurationSeconds=60 ...]
# Environment:
#   PORT (8080)            where the servers listen, one after the other
#   FLOOR=0                skip the floor run (the raw H2 rate is then not measured either)
#   WARMUP_SECONDS (30)    the warm-up run's duration; 0 skips it
#   SERVER_CPUS, LOAD_CPUS pin the servers and the load generator with taskset (e.g. 0 and 1)
#   SERVER_JAVA_OPTS       JVM options of the real server (a JFR recording, a heap size, -D settings)
#   QUOTA_OPTS             the server's quota settings (default: lifted, see below)
set -euo pipefail
cd "$(dirname "$0")/.."
SIMULATION="${1:?usage: loadtest/run-simulation.sh SimulationName [-Dprop=value ...]}"
shift
PORT="${PORT:-8080}"
FLOOR="${FLOOR:-1}"
WARMUP_SECONDS="${WARMUP_SECONDS:-30}"
STAMP="$(date +%Y%m%d-%H%M%S)"
DATA_DIR="$(mktemp -d -t synced-store-load-XXXXXX)"
mkdir -p loadtest/target
SUMMARY="loadtest/target/run-$SIMULATION-$STAMP.txt"
pin() { local cpus="$1"; shift; if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi; }

if curl -s -o /dev/null "http://127.0.0.1:$PORT/health"; then
  echo "something already listens on port $PORT; stop it or set PORT" >&2
  exit 2
fi
[ -f http-gateway/target/synced-store-server.jar ] && [ -f loadtest/target/synced-store-bench.jar ] || mvn -B -q -DskipTests install

# Simulations whose load runs for durationSeconds get a warm-up run; the others warm up inside
# (FanOut's warm-up writes) or would be disturbed by one (a whole ReconnectStorm, a soak).
case "$SIMULATION" in
  PushConfirmSimulation|ReplicachePushPullSimulation|MixedSimulation) WARMS=1 ;;
  *) WARMS=0 ;;
esac
# The floor server speaks enough of the protocol for every simulation but the soak (which samples
# the server's JVM).
case "$SIMULATION" in
  PushConfirmSoakSimulation) FLOORABLE=0 ;;
  *) FLOORABLE=1 ;;
esac

# CPU seconds x 100 (clock ticks) used so far by process $1, and by the whole machine (not idle, not iowait).
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; fi
}
trap 'stop_server; cp "$DATA_DIR/server.log" "loadtest/target/server-$SIMULATION-$STAMP.log" 2>/dev/null &&
  echo "server log: loadtest/target/server-$SIMULATION-$STAMP.log"; rm -rf "$DATA_DIR"' EXIT
trap 'exit 143' TERM INT

# start_server LOG command...: starts it in the background (pinned to SERVER_CPUS) and waits for /health.
start_server() {
  local log="$1"; shift
  ( if [ -n "${SERVER_CPUS:-}" ]; then exec taskset -c "$SERVER_CPUS" "$@"; else exec "$@"; fi ) > "$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited:"; cat "$log"; exit 1; }
    curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && return 0
    sleep 0.5
  done
  echo "the server did not start:"; cat "$log"; exit 1
}

# gatling LABEL [-Dprop=value ...]: runs the simulation against whatever listens on PORT; its
# console goes to loadtest/target/gatling-LABEL-STAMP.log; returns Gatling's status.
gatling() {
  local label="$1"; shift
  local out="loadtest/target/gatling-$SIMULATION-$label-$STAMP.log"
  local status=0
  local cpu0 busy0 t0
  cpu0=$(proc_cpu "$SERVER_PID"); busy0=$(machine_busy); t0=$(date +%s.%N)
  pin "${LOAD_CPUS:-}" mvn -B -q -pl loadtest gatling:test "-Dgatling.simulationClass=io.syncedstore.loadtest.$SIMULATION" \
    "-DbaseUrl=ws://127.0.0.1:$PORT" "-DhttpBaseUrl=http://127.0.0.1:$PORT" "-DserverPid=$SERVER_PID" "$@" > "$out" 2>&1 || status=$?
  local cpu1 busy1 t1
  cpu1=$(proc_cpu "$SERVER_PID"); busy1=$(machine_busy); t1=$(date +%s.%N)
  {
    echo "== $label: $(grep -o 'pleted in [0-9]* seconds' "$out" | head -1 | sed 's/pleted/completed/') status $status, report $(grep -o 'loadtest/target/gatling/[^/]*' "$out" | tail -1)"
    sed -n '/---- Global Information/,/^====/p' "$out" | grep -E 'request count|50th|99th|throughput|KO  '
    grep -E 'true \(actual|false \(actual' "$out" || true
    # CPU over the whole Gatling command (its JVM's start and report included): the server's
    # process, and every process on the machine; the difference is mostly the load generator.
    awk -v s0="$cpu0" -v s1="$cpu1" -v b0="$busy0" -v b1="$busy1" -v t0="$t0" -v t1="$t1" 'BEGIN {
      printf "cpu: server %.2f cores, whole machine %.2f cores, over %.0f s\n", (s1 - s0) / 100 / (t1 - t0), (b1 - b0) / 100 / (t1 - t0), t1 - t0 }'
    grep -E 'push -> EVERY listener|TIME UNTIL ALL CAUGHT UP|own reconnect start|  verdict' "$out" || true
  } | tee -a "$SUMMARY"
  return $status
}

# The warm-up run: the same simulation and properties, but WARMUP_SECONDS long; its result is ignored.
warm_up() {
  if [ "$WARMS" = 1 ] && [ "$WARMUP_SECONDS" -gt 0 ]; then
    local args=()
    for a in "$@"; do case "$a" in -DdurationSeconds=*) ;; *) args+=("$a") ;; esac; done
    gatling "$1-warm-up" "${args[@]:1}" "-DdurationSeconds=$WARMUP_SECONDS" > /dev/null || true
    echo "(warm-up: ${WARMUP_SECONDS} s, not measured)" | tee -a "$SUMMARY"
  fi
}

echo "# $SIMULATION $* ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))" | tee "$SUMMARY"
floor_status=0
if [ "$FLOOR" = 1 ] && [ "$FLOORABLE" = 1 ]; then
  start_server "$DATA_DIR/floor.log" java -cp loadtest/target/synced-store-bench.jar io.syncedstore.bench.FloorServer \
    --port "$PORT" --dir "$DATA_DIR/floor-h2"
  grep '^floor:' "$DATA_DIR/floor.log" | tee -a "$SUMMARY"
  warm_up floor "$@"
  gatling floor "$@" || floor_status=$?
  stop_server
fi

# Every simulated user is anonymous and comes from 127.0.0.1, so they all share one address's
# quotas (docs/SECURITY.md): lift them, the simulations measure the engine. QUOTA_OPTS= keeps them.
QUOTA_OPTS="${QUOTA_OPTS-$(for k in messages-per-second mutations-per-second actions-per-minute connections instances; do
  printf -- '-Dsynced-store.quotas.anonymous.%s=1000000 ' "$k"; done)}"
# shellcheck disable=SC2086
start_server "$DATA_DIR/server.log" java ${SERVER_JAVA_OPTS:-} $QUOTA_OPTS -jar http-gateway/target/synced-store-server.jar \
  --port "$PORT" --data-dir "$DATA_DIR/data"
warm_up server "$@"
status=0
gatling server "$@" || status=$?
echo "server metrics after the run:"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^synced_store_(mutations_applied_total|mutations_failed_total|sessions|instances|push_confirm_seconds_(count|sum|max)|journal_write_seconds_(count|sum|max)|pokes_coalesced_total)' || true
echo "summary: $SUMMARY (floor run status $floor_status, server run status $status)"
exit $status
