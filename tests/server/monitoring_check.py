#!/usr/bin/env python3
"""Checks deploy/'s Prometheus rules and Grafana dashboard against the metrics tensord exports.

  monitoring_check.py lint RULES DASHBOARD DOC PROMQL_OUT
      The dashboard's structure; that every metric name in rule and dashboard expressions is one tensord
      exports (the table below), one Prometheus makes (up) or a recording rule of RULES; that every alert has
      a severity, a summary and a description; that DOC names every exported metric. Writes the dashboard's
      expressions, Grafana variables filled in, as a rules file to PROMQL_OUT for `promtool check rules`.
  monitoring_check.py names RULES DASHBOARD
      Prints the exported metric names the rules and dashboard use, one a line, leaving out recording rules
      and the CUDA- and NVML-only metrics: the names a CPU server scraped by Prometheus must show.
  monitoring_check.py exprs DASHBOARD
      Prints the dashboard's panel expressions, Grafana variables filled in, one a line.
  monitoring_check.py health RULES < answer of Prometheus' /api/v1/rules
      Fails unless every rule of RULES is loaded and its health is "ok" (evaluated, without error).
"""
import json
import re
import sys

import yaml

# Every metric tensord exports: name -> (type, only with CUDA or NVML). Keep in step with docs/monitoring.md.
EXPORTED = {
    "tensord_ops_total": ("counter", False),
    "tensord_op_errors_total": ("counter", False),
    "tensord_op_duration_seconds": ("histogram", False),
    "tensord_commands_total": ("counter", False),
    "tensord_hook_round_trip_seconds": ("histogram", False),
    "tensord_hook_events_total": ("counter", False),
    "tensord_backward_duration_seconds": ("histogram", False),
    "tensord_rpcs_total": ("counter", False),
    "tensord_rpc_duration_seconds": ("histogram", False),
    "tensord_sessions": ("gauge", False),
    "tensord_session_handles": ("gauge", False),
    "tensord_session_bytes": ("gauge", False),
    "tensord_session_queued_commands": ("gauge", False),
    "tensord_session_memory_limit_bytes": ("gauge", False),
    "tensord_tensor_bytes": ("gauge", False),
    "tensord_top_op_seconds": ("gauge", False),
    "tensord_build_info": ("gauge", False),
    "process_cpu_seconds_total": ("counter", False),
    "process_resident_memory_bytes": ("gauge", False),
    "process_virtual_memory_bytes": ("gauge", False),
    "process_open_fds": ("gauge", False),
    "process_max_fds": ("gauge", False),
    "process_start_time_seconds": ("gauge", False),
    "process_threads": ("gauge", False),
    "tensord_cuda_memory_allocated_bytes": ("gauge", True),
    "tensord_cuda_memory_reserved_bytes": ("gauge", True),
    "tensord_cuda_memory_peak_allocated_bytes": ("gauge", True),
    "tensord_cuda_allocator_requests_total": ("counter", True),
    "tensord_cuda_allocator_cache_hits_total": ("counter", True),
    "tensord_cuda_allocator_ooms_total": ("counter", True),
    "tensord_gpu_utilization_ratio": ("gauge", True),
    "tensord_gpu_memory_used_bytes": ("gauge", True),
    "tensord_gpu_memory_total_bytes": ("gauge", True),
}
# Series Prometheus itself adds for every target.
SCRAPE_SERIES = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "atan2", "inf", "nan"}


def series_names():
    """Name of each series tensord exports -> its metric (a histogram's _bucket, _sum, _count included)."""
    out = {}
    for name, (kind, _) in EXPORTED.items():
        suffixes = ["_bucket", "_sum", "_count"] if kind == "histogram" else [""]
        for s in suffixes:
            out[name + s] = name
    return out


def metric_names(expr):
    """The metric names in a PromQL expression: identifiers outside strings, label matchers, ranges and
    grouping clauses that are not functions or keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w:.$])[a-zA-Z_:][\w:]*", e):
        if m.group(0).lower() in KEYWORDS or re.match(r"\s*\(", e[m.end():]):
            continue
        names.add(m.group(0))
    return names


def load_rules(path):
    with open(path) as f:
        groups = yaml.safe_load(f)["groups"]
    return [r for g in groups for r in g["rules"]]


def all_panels(dashboard):
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])  # a collapsed row holds its panels


def dashboard_exprs(dashboard):
    """(where, expression) for every panel target and query variable."""
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            yield f'panel {p.get("id")} "{p.get("title")}" {t.get("refId")}', t.get("expr", "")
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q)
            yield f'variable {v["name"]}', m.group(1) if m else q


def fill_variables(expr):
    """An expression as Grafana sends it: its variables replaced by plausible values."""
    e = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m").replace("$instance", ".*")
    if "$" in e:
        raise ValueError(f"unknown Grafana variable in {expr}")
    return e


def lint(rules_path, dashboard_path, doc_path, promql_out):
    errors = []
    rules = load_rules(rules_path)
    recorded = {r["record"] for r in rules if "record" in r}
    known = set(series_names()) | SCRAPE_SERIES | recorded

    for r in rules:
        where = f'rule {r.get("record") or r.get("alert")}'
        for name in sorted(metric_names(r["expr"]) - known):
            errors.append(f"{where}: unknown metric {name}")
        if "alert" in r:
            if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                errors.append(f"{where}: no severity label (critical, warning or info)")
            for a in ("summary", "description"):
                if not r.get("annotations", {}).get(a):
                    errors.append(f"{where}: no {a} annotation")

    with open(dashboard_path) as f:
        dashboard = json.load(f)
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource":
        errors.append("dashboard: no datasource variable")
    ids = set()
    for p in all_panels(dashboard):
        where = f'panel {p.get("id")} "{p.get("title")}"'
        if p.get("id") in ids:
            errors.append(f"{where}: duplicate id")
        ids.add(p.get("id"))
        if not p.get("title") or not p.get("gridPos"):
            errors.append(f"{where}: no title or gridPos")
        if p["type"] == "row":
            continue
        if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            errors.append(f"{where}: datasource is not the ${{datasource}} variable")
        if not p.get("targets"):
            errors.append(f"{where}: no targets")
        for t in p.get("targets", []):
            if not t.get("expr", "").strip():
                errors.append(f'{where} {t.get("refId")}: no expression')
    promql = []
    for where, expr in dashboard_exprs(dashboard):
        for name in sorted(metric_names(expr) - known):
            errors.append(f"{where}: unknown metric {name}")
        try:
            promql.append({"record": f"dashboard_expr_{len(promql)}", "expr": fill_variables(expr)})
        except ValueError as e:
            errors.append(f"{where}: {e}")
    with open(promql_out, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": promql}]}, f)

    with open(doc_path) as f:
        doc = f.read()
    for name in EXPORTED:
        if f"`{name}`" not in doc:
            errors.append(f"{doc_path}: {name} is not in the metrics table")

    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


def names(rules_path, dashboard_path):
    rules = load_rules(rules_path)
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    used = set()
    for r in rules:
        used |= metric_names(r["expr"])
    for _, expr in dashboard_exprs(dashboard):
        used |= metric_names(expr)
    series = series_names()
    for name in sorted(used):
        if name in SCRAPE_SERIES or (name in series and not EXPORTED[series[name]][1]):
            print(name)
    return 0


def exprs(dashboard_path):
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    for where, expr in dashboard_exprs(dashboard):
        if where.startswith("panel"):
            print(" ".join(fill_variables(expr).split()))
    return 0


def health(rules_path):
    want = [r.get("alert") or r.get("record") for r in load_rules(rules_path)]
    got = {r["name"]: r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]}
    bad = [f"{n}: not loaded" for n in want if n not in got]
    bad += [f'{n}: health {got[n]["health"]} {got[n].get("lastError", "")}' for n in want
            if n in got and got[n]["health"] != "ok"]
    for b in bad:
        print(b, file=sys.stderr)
    if not bad:
        print(f"{len(want)} rules loaded and healthy")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "lint":
        sys.exit(lint(*sys.argv[2:]))
    if len(sys.argv) == 3 and sys.argv[1] == "exprs":
        sys.exit(exprs(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "health":
        sys.exit(health(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "names":
        sys.exit(names(*sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
