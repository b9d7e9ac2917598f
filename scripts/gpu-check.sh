#!/usr/bin/env bash
# Runs on a lent GPU machine, from the repository root, with the bundles of scripts/gpu-bundle.sh carried
# along (either or both). With gpu-bundle.tar.xz: the CUDA tests, resnet18's profiled step, then the GPU
# benchmarks and the same work in PyTorch, in a short table. With gpu-service-bundle.tar.xz: tensord on the
# GPU, a client's session there (remote_demo), and the metrics endpoint's CUDA and NVML series.
# `scripts/gpu-check.sh tests` or `... bench` runs only the tests or only the benchmarks (each fits one call of
# the device tool's per-call limit where the whole may not); with no argument, both.
set -uo pipefail
stage=${1:-all}
cd "$(dirname "$0")/.."
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

# cuDNN is loaded at run time (kernels/cuda/cudnn_conv.cpp) and too large to carry: the CUDA toolkit's, else
# the one PyTorch's wheel brings. Without one, convolutions take the im2col path.
cudnn=""
for f in /usr/local/cuda/lib64/libcudnn.so.9 /usr/lib/x86_64-linux-gnu/libcudnn.so.9; do
  [ -f "$f" ] && { cudnn=$f; break; }
done
if [ -z "$cudnn" ]; then
  cudnn=$(python3 -c 'import glob, os, nvidia.cudnn as c
print(next(iter(sorted(glob.glob(os.path.join(list(c.__path__)[0], "lib", "libcudnn.so.9*")))), ""))' 2>/dev/null)
fi
if [ -n "$cudnn" ]; then
  export TD_CUDNN_LIBRARY="$cudnn"
  echo "cuDNN: $cudnn"
else
  echo "cuDNN: none found; CUDA convolutions take the im2col path"
fi

# The metrics check: tensord picks cuda:0 as its default device where a GPU is present.
S=gpu-service-bundle
if [ -d "$S" ] || [ -f "$S.tar.xz" ]; then
  [ -d "$S" ] || tar -xJf "$S.tar.xz"
  echo "== tensord on the GPU: remote_demo's session, then /metrics"
  export LD_LIBRARY_PATH="$PWD/$S/lib:/usr/local/cuda/lib64"
  ports=$(mktemp)
  log=$(mktemp)
  "$S/bin/tensord" --listen 127.0.0.1:0 --metrics-port 0 --port-file "$ports" > "$log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do [[ -s $ports ]] && break; sleep 0.1; done
  read -r port mport < "$ports" || true
  timeout 60 "$S/bin/remote_demo" "127.0.0.1:${port:-0}" || status=1
  metrics=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
                     "http://127.0.0.1:${mport:-0}/metrics") || status=1
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  tail -3 "$log"
  echo "$metrics" | grep -E '^tensord_(build_info|cuda_|gpu_|ops_total\{[^}]*device="cuda)' | head -30
  for series in 'tensord_build_info\{.*cuda="on"' 'tensord_ops_total\{.*device="cuda"' \
                'tensord_cuda_allocator_requests_total\{' 'tensord_cuda_memory_reserved_bytes\{' \
                'tensord_gpu_memory_total_bytes\{'; do
    echo "$metrics" | grep -Eq "^$series" || { echo "missing from /metrics: $series"; status=1; }
  done
fi

B=gpu-bundle
[ -d "$B" ] || [ -f "$B.tar.xz" ] || exit $status
[ -d "$B" ] || tar -xJf "$B.tar.xz"
# Our bundled libraries first, then the machine's CUDA toolkit for cuBLAS.
export LD_LIBRARY_PATH="$PWD/$B/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TD_GOLDEN_DIR="$PWD/tests/golden"
if [ "$stage" != bench ]; then
  echo "== CUDA tests"
  timeout 240 "$B/bin/td_cuda_tests" --gtest_brief=1 || status=1
  timeout 240 "$B/bin/td_core_tests" --gtest_filter='*cuda*:*Cuda*' --gtest_brief=1 || status=1
fi
[ "$stage" = tests ] && exit $status
echo "== resnet18's training step on the GPU, timed by the profiler's CUDA events"
timeout 120 "$B/bin/profile_step" --model resnet18 --device cuda --steps 10 --rows 15 || status=1
echo "== a TransformerEncoderLayer's training step on the GPU, the same way"
timeout 120 "$B/bin/profile_step" --model transformer --device cuda --steps 10 --rows 12 || status=1
echo "== GPU benchmarks (tensord, then PyTorch on the same card)"
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  python3 bench/compare_torch.py "$B/bin/bench_ops" --device cuda || status=1
  if [ -n "$cudnn" ]; then
    echo "== the convolution benchmarks through cuDNN's graph API (TD_CUDNN_GRAPH_API=1), against PyTorch"
    TD_CUDNN_GRAPH_API=1 python3 bench/compare_torch.py "$B/bin/bench_ops" --device cuda \
      --filter 'Conv2d|Conv2dBackward|CnnStep|Resnet18Step' || status=1
    TD_CUDNN_GRAPH_API=1 timeout 120 "$B/bin/profile_step" --model resnet18 --device cuda --steps 10 --rows 8 \
      || status=1
    echo "== the convolution benchmarks again without cuDNN (im2col + cuBLAS), for the difference it makes"
    TD_CUDNN_LIBRARY=/nonexistent/libcudnn.so.9 "$B/bin/bench_ops" --benchmark_min_time=0.2 \
      --benchmark_filter='(Conv|CnnStep|Resnet18Step).*/1/real_time' || status=1
  fi
else
  "$B/bin/bench_ops" --benchmark_filter='/1/real_time' --benchmark_min_time=0.3 || status=1
fi
exit $status
