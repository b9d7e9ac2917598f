#!/usr/bin/env bash
# The README's demo command: installs dependencies, builds, starts tensord on its local default
# (127.0.0.1:7447, metrics on 127.0.0.1:9464), runs the remote demo against it, then stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh "$@"
BUILD_DIR=${BUILD_DIR:-build}
LISTEN=${TENSORD_LISTEN:-127.0.0.1:7447}
METRICS_PORT=${TENSORD_METRICS_PORT:-9464}

ports=$(mktemp)
"$BUILD_DIR/server/tensord" --listen "$LISTEN" --metrics-port "$METRICS_PORT" --port-file "$ports" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$ports"' EXIT
for _ in $(seq 100); do [[ -s $ports ]] && break; kill -0 $pid 2>/dev/null || exit 1; sleep 0.1; done
read -r port mport <"$ports"
server="${LISTEN%:*}:$port"

echo "== remote hooks demo against $server"
"$BUILD_DIR/examples/remote_demo" "$server"
echo "== the reference CNN trained on Fashion-MNIST from a client (${REMOTE_TRAIN_STEPS:-300} steps) against $server"
"$BUILD_DIR/examples/remote_train" "$server" --steps "${REMOTE_TRAIN_STEPS:-300}"
echo "== tensorctl info"
"$BUILD_DIR/client/tensorctl" --server "$server" info
echo "== metrics: http://127.0.0.1:$mport/metrics (a few lines)"
curl -s "http://127.0.0.1:$mport/metrics" | grep -E '^tensord_(ops_total|op_errors_total|hook_round_trip_seconds_count|sessions)' || true
