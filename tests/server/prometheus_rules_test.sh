#!/usr/bin/env bash
# Checks deploy/ without a server: the Prometheus config and rules with promtool, the rules' unit tests, and the
# Grafana dashboard (structure, PromQL syntax, metric names) with monitoring_check.py.
set -euo pipefail
PROMTOOL=${1:-promtool}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PROMTOOL" check config "$root/deploy/prometheus/prometheus.yml"
"$PROMTOOL" check rules "$root/deploy/prometheus/rules.yml"
"$PROMTOOL" test rules "$root/deploy/prometheus/tests/rules_test.yml"
python3 "$root/tests/server/monitoring_check.py" lint "$root/deploy/prometheus/rules.yml" \
  "$root/deploy/grafana/tensord-dashboard.json" "$root/docs/monitoring.md" "$work/dashboard_exprs.yml"
# promtool parses the dashboard's expressions as if they were recording rules.
"$PROMTOOL" check rules "$work/dashboard_exprs.yml"
echo "prometheus rules and dashboard OK"
