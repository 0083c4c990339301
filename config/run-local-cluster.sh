#!/usr/bin/env bash
# Starts the three-node cluster of config/cluster-node{1,2,3}.conf on this machine: PostgreSQL at
# 127.0.0.1:5432 (database test, or SYNC_JDBC_URL), HTTP on 8081-8083, remoting on 25521-25523.
# Logs go to data/node{1,2,3}.log; Ctrl-C (or SIGTERM) stops all three gracefully.
#
#   mvn -B -q -DskipTests package && config/run-local-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jar=http-gateway/target/synced-store-server.jar
[ -f "$jar" ] || { echo "build the server first: mvn -B -q -DskipTests package" >&2; exit 1; }
mkdir -p data
pids=()
stop() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait; }
trap stop INT TERM
for n in 1 2 3; do
  java -Xmx512m -jar "$jar" --config "config/cluster-node$n.conf" > "data/node$n.log" 2>&1 &
  pids+=($!)
  echo "node $n: pid $! http://127.0.0.1:808$n log data/node$n.log"
  if [ "$n" = 1 ]; then sleep 5; fi # the first seed forms the cluster (and creates the schema) first
done
wait
