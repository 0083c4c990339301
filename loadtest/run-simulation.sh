#!/usr/bin/env bash
# Starts the server on the embedded default (a fresh data directory, port 8080 unless PORT is set),
# runs one Gatling simulation against it, stops the server, and leaves the HTML report under
# loadtest/target/gatling/. Usage:
#   loadtest/run-simulation.sh PushConfirmSimulation [-Drate=1000 -DdurationSeconds=60 ...]
# SERVER_CPUS / LOAD_CPUS (e.g. 0 and 1) pin the server and the load generator to different
# cores with taskset, so that their figures are readable on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMULATION="${1:?usage: loadtest/run-simulation.sh SimulationName [-Dprop=value ...]}"
shift
PORT="${PORT:-8080}"
DATA_DIR="$(mktemp -d -t synced-store-load-XXXXXX)"
pin() { local cpus="$1"; shift; if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi; }

if curl -s -o /dev/null "http://127.0.0.1:$PORT/health"; then
  echo "something already listens on port $PORT; stop it or set PORT" >&2
  exit 2
fi
[ -f http-gateway/target/synced-store-server.jar ] || mvn -B -q -DskipTests install
# Every simulated user is anonymous and comes from 127.0.0.1, so they all share one address's
# quotas (docs/SECURITY.md): lift them, the simulations measure the engine. QUOTA_OPTS= keeps them.
QUOTA_OPTS="${QUOTA_OPTS-$(for k in messages-per-second mutations-per-second actions-per-minute connections instances; do
  printf -- '-Dsynced-store.quotas.anonymous.%s=1000000 ' "$k"; done)}"
SERVER_JAVA_OPTS="${SERVER_JAVA_OPTS:-} $QUOTA_OPTS"
# exec: the background job is the server itself, so the trap below stops the server.
( if [ -n "${SERVER_CPUS:-}" ]; then exec taskset -c "$SERVER_CPUS" java ${SERVER_JAVA_OPTS:-} -jar http-gateway/target/synced-store-server.jar \
    --port "$PORT" --data-dir "$DATA_DIR"; else exec java ${SERVER_JAVA_OPTS:-} -jar http-gateway/target/synced-store-server.jar --port "$PORT" \
    --data-dir "$DATA_DIR"; fi ) > "$DATA_DIR/server.log" 2>&1 &
SERVER_PID=$!
SERVER_LOG="loadtest/target/server-$SIMULATION-$(date +%Y%m%d-%H%M%S).log"
# The server's log is kept next to the Gatling report; its data directory is not.
trap 'kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null || true; mkdir -p loadtest/target;
  cp "$DATA_DIR/server.log" "$SERVER_LOG" 2>/dev/null && echo "server log: $SERVER_LOG"; rm -rf "$DATA_DIR"' EXIT
trap 'exit 143' TERM INT
for _ in $(seq 1 120); do
  kill -0 $SERVER_PID 2>/dev/null || { echo "the server exited:"; cat "$DATA_DIR/server.log"; exit 1; }
  curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/health" > /dev/null || { echo "server did not start:"; cat "$DATA_DIR/server.log"; exit 1; }

status=0
pin "${LOAD_CPUS:-}" mvn -B -q -pl loadtest gatling:test "-Dgatling.simulationClass=io.syncedstore.loadtest.$SIMULATION" \
  "-DbaseUrl=ws://127.0.0.1:$PORT" "-DhttpBaseUrl=http://127.0.0.1:$PORT" "-DserverPid=$SERVER_PID" "$@" || status=$?
echo "server metrics after the run:"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^synced_store_(mutations_applied_total|mutations_failed_total|sessions|instances|push_confirm_seconds_(count|sum|max)|journal_write_seconds_(count|sum|max)|pokes_coalesced_total)' || true
echo "report: $(ls -dt loadtest/target/gatling/*/ 2>/dev/null | head -1)"
exit $status
