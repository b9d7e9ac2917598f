#!/usr/bin/env bash
# Starts the real tensord on free loopback ports, runs the remote demo and tensorctl against it, scrapes
# /metrics, checks the exposition with promtool and asserts the counters the demo must have moved.
set -euo pipefail
TENSORD=$1 DEMO=$2 TENSORCTL=$3
work=$(mktemp -d)
cleanup() { [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$TENSORD" --listen 127.0.0.1:0 --metrics-port 0 --port-file "$work/ports" --session-memory-limit 64M \
  >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s $work/ports ]] && break; sleep 0.1; done
read -r port mport <"$work/ports"

# tensorctl events hears the demo's hook and its failing matmul.
"$TENSORCTL" --server "127.0.0.1:$port" events --count 2 >"$work/events" 2>"$work/events.err" &
events_pid=$!
for _ in $(seq 100); do grep -q watching "$work/events.err" 2>/dev/null && break; sleep 0.1; done
"$DEMO" "127.0.0.1:$port" | tee "$work/demo"
wait "$events_pid"
cat "$work/events"
grep -q "  anonymous  [0-9a-f]\{8\}  hook  *hook=[0-9]* event=[0-9]* blocking$" "$work/events"
grep -q "  anonymous  [0-9a-f]\{8\}  error  *seq=[0-9]* INVALID_ARGUMENT: \[matmul\] shapes" "$work/events"
grep -q "^hook: grad of y has mean 1" "$work/demo"
grep -q "^w.grad = \[10, 10, 14, 14, 18, 18\]" "$work/demo"
grep -q "^error (INVALID_ARGUMENT): \[matmul\] shapes \[2, 3\] and \[2, 3\] cannot be multiplied" "$work/demo"
"$TENSORCTL" --server "127.0.0.1:$port" info | grep -q "ops executed"

curl -sf "http://127.0.0.1:$mport/metrics" >"$work/metrics"
promtool check metrics <"$work/metrics"
expect() {
  grep -qx "$1" "$work/metrics" || { echo "missing metric line: $1"; grep tensord_ "$work/metrics" | head -40; exit 1; }
}
expect 'tensord_ops_total{device="cpu",op="matmul"} 2'
expect 'tensord_op_errors_total{device="cpu",op="matmul"} 1'
expect 'tensord_op_duration_seconds_count{device="cpu",op="sum"} 1'
expect 'tensord_hook_events_total{kind="tensor",mode="blocking"} 1'
expect 'tensord_hook_round_trip_seconds_count{status="ok"} 1'
expect 'tensord_backward_duration_seconds_count{device="cpu"} 1'
expect 'tensord_rpcs_total{code="OK",method="CreateSession"} 1'
expect 'tensord_rpc_duration_seconds_count{method="CreateSession"} 1'
expect 'tensord_sessions{state="attached",user="anonymous"} 0'
# The demo closed its session: every byte it held is free again.
expect 'tensord_tensor_bytes{device="cpu"} 0'
expect 'tensord_session_bytes{user="anonymous",device="cpu"} 0'
expect 'tensord_session_memory_limit_bytes 67108864'
grep -q '^tensord_top_op_seconds{op="matmul"} [0-9.e-]*$' "$work/metrics" || { echo "no matmul in top ops"; exit 1; }
grep -q '^tensord_build_info{version="[^"]*",cuda="o[nf]*",cudnn="[0-9.a-z]*"} 1$' "$work/metrics" || { echo "no build info"; exit 1; }
for m in process_cpu_seconds_total process_resident_memory_bytes process_open_fds process_threads; do
  grep -q "^$m [0-9.e+]*$" "$work/metrics" || { echo "missing process metric $m"; exit 1; }
done
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/other" | grep -qx 404
echo "metrics endpoint OK"
