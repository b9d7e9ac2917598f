#!/usr/bin/env bash
# The real tensord restarted under a training client (issue 7): SIGTERM mid-run with --checkpoint-sessions
# saves the session, a new tensord with --restore on the same port brings it back, and the client, which
# never stopped issuing commands, ends exactly where an uninterrupted run from the same checkpoint ends.
set -euo pipefail
TENSORD=$1 CLIENT=$2
work=$(mktemp -d)
cleanup() {
  [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null
  [[ -n ${client_pid:-} ]] && kill "$client_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# Whatever fails, the server's log and the client's output say why.
trap 'echo "failed at line $LINENO"; cat "$work/log" "$work/client" 2>/dev/null' ERR

start() {
  rm -f "$work/ports"
  "$TENSORD" --listen "$1" --metrics-port -1 --port-file "$work/ports" --data-dir "$work/data" \
    --checkpoint-sessions --restore --shutdown-grace 10 >>"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [[ -s $work/ports ]] && break; sleep 0.1; done
  [[ -s $work/ports ]] || { cat "$work/log"; echo "tensord did not start"; exit 1; }
}

start 127.0.0.1:0
read -r port _ <"$work/ports"
"$CLIENT" "127.0.0.1:$port" "$work/restarted" >"$work/client" 2>&1 &
client_pid=$!
for _ in $(seq 300); do grep -q "^ready" "$work/client" && break; sleep 0.1; done
grep -q "^ready" "$work/client" || { cat "$work/client"; echo "the client did not start"; exit 1; }
id=$(sed -n 's/^ready //p' "$work/client")

sleep 0.3  # mid-run
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[[ $status -eq 0 ]] || { cat "$work/log"; echo "tensord exited with $status"; exit 1; }
grep -q "session $id (user anonymous, 'restarted under me') saved" "$work/log"
[[ -f $work/data/.sessions/$id/snapshot.pb ]]

start "127.0.0.1:$port"
grep -q "session $id (user anonymous, 'restarted under me') restored" "$work/log"
touch "$work/restarted"
status=0
wait "$client_pid" || status=$?
client_pid=
cat "$work/log" "$work/client"
[[ $status -eq 0 ]] || { echo "the client failed ($status)"; exit 1; }
grep -q "^match$" "$work/client"
[[ ! -e $work/data/.sessions/$id ]]  # consumed by the restore
echo "restart under a training client: OK"
