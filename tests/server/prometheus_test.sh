#!/usr/bin/env bash
# A real Prometheus scrapes a real tensord every second, with deploy/prometheus/rules.yml loaded, while the
# remote demo runs against tensord; then Prometheus' HTTP API must show the demo's counters, a recording
# rule's result, every rule healthy, every dashboard query answered, and every metric name the rules and
# dashboard use (CUDA and NVML aside).
# Usage: prometheus_test.sh TENSORD DEMO   (PROMETHEUS names the prometheus binary; default from PATH)
set -euo pipefail
TENSORD=$1 DEMO=$2
PROMETHEUS=${PROMETHEUS:-prometheus}
root=$(cd "$(dirname "$0")/../.." && pwd)
rules=$root/deploy/prometheus/rules.yml
work=$(mktemp -d)
cleanup() {
  for p in ${prom_pid:-} ${td_pid:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "prometheus_test: FAIL: $*" >&2
  [[ -f $work/prometheus.log ]] && { echo "--- prometheus log (tail)" >&2; tail -20 "$work/prometheus.log" >&2; }
  exit 1
}

"$TENSORD" --listen 127.0.0.1:0 --metrics-port 0 --port-file "$work/ports" >"$work/tensord.log" 2>&1 &
td_pid=$!
for _ in $(seq 100); do [[ -s $work/ports ]] && break; sleep 0.1; done
[[ -s $work/ports ]] || fail "tensord wrote no port file: $(cat "$work/tensord.log")"
read -r port mport <"$work/ports"

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $rules
scrape_configs:
  - job_name: tensord
    static_configs:
      - targets: ["127.0.0.1:$mport"]
EOF

# A free port can be taken between choosing it and Prometheus binding it: then try another.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for attempt in 1 2 3; do
  pport=$(free_port)
  "$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$pport" >"$work/prometheus.log" 2>&1 &
  prom_pid=$!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null 2>&1 && break
    kill -0 "$prom_pid" 2>/dev/null || break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null 2>&1 && break
  kill "$prom_pid" 2>/dev/null || true
  wait "$prom_pid" 2>/dev/null || true
  prom_pid=
  grep -q "address already in use" "$work/prometheus.log" || fail "prometheus did not become ready"
done
[[ -n $prom_pid ]] || fail "prometheus found no free port in 3 tries"
api=http://127.0.0.1:$pport/api/v1
echo "tensord on $port (metrics $mport), prometheus on $pport"

# The value of an instant query that returns one sample; "none" when it returns none.
value() {
  curl -sfG "$api/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
if len(r) > 1: sys.exit(f"{len(r)} series, not one: {r}")
print(r[0]["value"][1] if r else "none")' || fail "query $1"
}
# Polls `expr` until it has a sample (about 30 s at most).
await_sample() {
  for _ in $(seq 60); do [[ $(value "$1") != none ]] && return 0; sleep 0.5; done
  fail "no sample of $1 within 30 s"
}
expect() {
  local got
  got=$(value "$1")
  python3 -c 'import sys; sys.exit(sys.argv[1] == "none" or float(sys.argv[1]) != float(sys.argv[2]))' "$got" "$2" ||
    fail "$1 is $got, expected $2"
  echo "ok: $1 == $2"
}

await_sample 'up{job="tensord"}'
"$DEMO" "127.0.0.1:$port" >"$work/demo" 2>&1 || fail "remote demo failed: $(cat "$work/demo")"
demo_end=$(date +%s.%N)
# A scrape that started after the demo ended sees its session closed.
await_sample "timestamp(up{job=\"tensord\"}) > $demo_end"

expect 'up{job="tensord"}' 1
expect 'sum(tensord_ops_total{job="tensord", op="matmul"})' 2
expect 'sum(tensord_op_errors_total{job="tensord", op="matmul"})' 1
expect 'sum(tensord_hook_round_trip_seconds_count{job="tensord", status="ok"})' 1
expect 'sum(tensord_sessions{job="tensord", state="attached"})' 0
expect 'sum(tensord_tensor_bytes{job="tensord", device="cpu"})' 0
# The demo's counters are born with their final values, so their rates are 0; the point is that the rule
# ran and kept job, instance and op.
await_sample 'instance_op:tensord_ops:rate5m{job="tensord", instance="127.0.0.1:'"$mport"'", op="matmul"}'
echo "ok: recording rule instance_op:tensord_ops:rate5m evaluated"

# Every rule of rules.yml loaded, evaluated, and healthy.
for try in $(seq 20); do
  curl -sf "$api/rules" >"$work/rules.json" || fail "rules API"
  python3 "$root/tests/server/monitoring_check.py" health "$rules" <"$work/rules.json" >"$work/health" 2>&1 && break
  [[ $try == 20 ]] && fail "rules not healthy after 10 s:"$'\n'"$(cat "$work/health")"
  sleep 0.5
done
echo "ok: $(cat "$work/health")"

# Every dashboard query runs without error (promtool only parses them: this also checks vector matching).
python3 "$root/tests/server/monitoring_check.py" exprs "$root/deploy/grafana/tensord-dashboard.json" >"$work/exprs"
while read -r expr; do
  curl -sG "$api/query" --data-urlencode "query=$expr" >"$work/answer"
  grep -q '"status":"success"' "$work/answer" || fail "dashboard query $expr: $(cat "$work/answer")"
done <"$work/exprs"
echo "ok: $(wc -l <"$work/exprs") dashboard queries ran"

# Every metric the rules and the dashboard read, that a CPU server exports, has been scraped.
curl -sf "$api/label/__name__/values" | python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin)["data"]))' \
  >"$work/scraped" || fail "label values"
python3 "$root/tests/server/monitoring_check.py" names "$rules" "$root/deploy/grafana/tensord-dashboard.json" \
  >"$work/used"
missing=$(grep -vxF -f "$work/scraped" "$work/used" || true)
[[ -z $missing ]] || fail "metrics the rules or dashboard use that Prometheus never scraped:"$'\n'"$missing"
echo "ok: all $(wc -l <"$work/used") metric names the rules and dashboard use were scraped"
echo "prometheus integration OK"
