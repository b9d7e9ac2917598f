#!/usr/bin/env bash
# Runs on a lent GPU machine, from the repository root, with gpu-bundle/ (scripts/gpu-bundle.sh) present:
# the CUDA tests, then the GPU benchmarks and the same work in PyTorch, and prints a short table.
set -uo pipefail
cd "$(dirname "$0")/.."
B=gpu-bundle
[ -d "$B" ] || tar -xJf "$B.tar.xz"
# Our bundled libraries first, then the machine's CUDA toolkit for cuBLAS.
export LD_LIBRARY_PATH="$PWD/$B/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
export TD_GOLDEN_DIR="$PWD/tests/golden"
status=0
echo "== CUDA tests"
timeout 240 "$B/bin/td_cuda_tests" --gtest_brief=1 || status=1
timeout 240 "$B/bin/td_core_tests" --gtest_filter='*cuda*:*Cuda*' --gtest_brief=1 || status=1
echo "== resnet18's training step on the GPU, timed by the profiler's CUDA events"
timeout 120 "$B/bin/profile_step" --model resnet18 --device cuda --steps 10 --rows 15 || status=1
echo "== GPU benchmarks (tensord, then PyTorch on the same card)"
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  python3 bench/compare_torch.py "$B/bin/bench_ops" --device cuda || status=1
else
  "$B/bin/bench_ops" --benchmark_filter='/1/real_time' --benchmark_min_time=0.3 || status=1
fi
exit $status
