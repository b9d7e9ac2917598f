#!/usr/bin/env bash
# A client killed (SIGKILL) in the middle of a blocking hook fails only its own backward: the server waits
# out the hook timeout for it to come back, fails that backward with UNAVAILABLE (tensorctl events shows
# it), keeps the session for its grace period, and serves other clients all along.
set -euo pipefail
TENSORD=$1 HOOK_CLIENT=$2 DEMO=$3 TENSORCTL=$4
work=$(mktemp -d)
cleanup() { [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$TENSORD" --listen 127.0.0.1:0 --metrics-port -1 --port-file "$work/ports" --hook-timeout 2 >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s $work/ports ]] && break; sleep 0.1; done
read -r port _ <"$work/ports"
server=127.0.0.1:$port

# Four events: the dying client's hook, the demo's hook and failing matmul, the dead backward's error.
"$TENSORCTL" --server "$server" events --count 4 >"$work/events" 2>"$work/events.err" &
events_pid=$!
for _ in $(seq 100); do grep -q watching "$work/events.err" 2>/dev/null && break; sleep 0.1; done

status=0
"$HOOK_CLIENT" "$server" >"$work/client" 2>&1 || status=$?
cat "$work/client"
[[ $status -eq 137 ]] || { echo "the hook client should die by SIGKILL (137), got $status"; exit 1; }
grep -q "in the hook: killing myself" "$work/client"
id=$(sed -n 's/^session //p' "$work/client")

# Another client is served while that backward waits for the dead one.
"$DEMO" "$server" >"$work/demo"
grep -q "^w.grad = \[10, 10, 14, 14, 18, 18\]" "$work/demo"

wait "$events_pid"
cat "$work/events"
# The dead client's backward failed last, after the demo had run from start to end.
tail -n 1 "$work/events" |
  grep -q "  ${id:0:8}  error  *seq=[0-9]* UNAVAILABLE: \[backward\] hook 1 got no reply: the client detached"

# The session is still there, detached, for its grace period; it closes cleanly.
"$TENSORCTL" --server "$server" sessions | tee "$work/sessions"
grep -Eq "^$id +anonymous +dies mid-hook +cpu +no " "$work/sessions"
"$TENSORCTL" --server "$server" close "$id" | grep -q "closed $id"
"$TENSORCTL" --server "$server" info | grep -q "sessions: *0"
kill -0 "$pid"  # the server is alive
echo "client killed mid-hook: OK"
