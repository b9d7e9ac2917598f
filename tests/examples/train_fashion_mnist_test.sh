#!/usr/bin/env bash
# The reference CNN example, short: 150 SGD steps on Fashion-MNIST must reach 75% test accuracy (PyTorch's
# recipe gets ~80% there), print its summary, and raise no gradient alarm.
set -euo pipefail
out=$("$1" --epochs 1 --limit 150 --threads 2 --workers 1 2>/dev/null)
echo "$out" | tail -2
line=$(echo "$out" | grep '^epoch 1:')
acc=$(echo "$line" | sed -E 's/.*test accuracy ([0-9.]+)%.*/\1/')
alarms=$(echo "$line" | sed -E 's/.*gradient alarms ([0-9]+).*/\1/')
awk -v a="$acc" 'BEGIN { exit !(a >= 75.0) }' || { echo "test accuracy $acc% < 75%"; exit 1; }
[[ "$alarms" == 0 ]] || { echo "$alarms gradient alarms"; exit 1; }
echo "ok: test accuracy $acc% after 150 steps"
