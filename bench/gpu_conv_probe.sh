#!/usr/bin/env bash
# Where a CUDA convolution's time goes, tensord against PyTorch on the same card: run on a lent GPU machine from
# the repository root with gpu-bundle.tar.xz (scripts/gpu-bundle.sh) carried along.
#   1. the convolution and training-step benchmarks against PyTorch, with cuDNN's heuristics, then with its
#      timed choice (cudnn.benchmark) on both sides, the same two through cuDNN's graph API
#      (TD_CUDNN_GRAPH_API=1), then tensord without cuDNN (im2col + cuBLAS);
#   2. where Nsight Systems is installed, the kernels each side launches for one layer (BM_Conv2d/32: 32 -> 128
#      channels on 14x14, batch 64) and the host time of the CUDA and cuDNN calls.
set -uo pipefail
cd "$(dirname "$0")/.."
B=gpu-bundle
[ -d "$B" ] || tar -xJf "$B.tar.xz"
export LD_LIBRARY_PATH="$PWD/$B/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONUNBUFFERED=1
cudnn=$(ls /usr/local/cuda/lib64/libcudnn.so.9 /usr/lib/x86_64-linux-gnu/libcudnn.so.9 2>/dev/null | head -1)
[ -n "$cudnn" ] && export TD_CUDNN_LIBRARY="$cudnn"
echo "cuDNN: ${cudnn:-none}; torch $(python3 -c 'import torch; print(torch.__version__, torch.backends.cudnn.version())')"
filter='Conv2d|Conv2dBackward|CnnStep|Resnet18Step'
echo "== heuristics on both sides"
python3 bench/compare_torch.py "$B/bin/bench_ops" --device cuda --filter "$filter"
echo "== cudnn.benchmark on both sides"
python3 bench/compare_torch.py "$B/bin/bench_ops" --device cuda --filter "$filter" --cudnn-benchmark
echo "== tensord through cuDNN's graph API (TD_CUDNN_GRAPH_API=1), heuristics, then cudnn.benchmark"
TD_CUDNN_GRAPH_API=1 python3 bench/compare_torch.py "$B/bin/bench_ops" --device cuda --filter "$filter"
TD_CUDNN_GRAPH_API=1 python3 bench/compare_torch.py "$B/bin/bench_ops" --device cuda --filter "$filter" \
  --cudnn-benchmark
echo "== tensord without cuDNN"
TD_CUDNN_LIBRARY=/nonexistent/libcudnn.so.9 "$B/bin/bench_ops" --benchmark_min_time=0.3 \
  --benchmark_filter="($filter)/.*/1/real_time" 2>&1 | grep BM_
nsys=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
if [ -z "$nsys" ]; then
  echo "no nsys on this machine"
  exit 0
fi
cat > /tmp/torch_conv.py <<'EOF'
import torch
x = torch.rand(64, 32, 14, 14, device="cuda")
w = torch.rand(128, 32, 3, 3, device="cuda")
b = torch.rand(128, device="cuda")
for _ in range(2000):
    y = torch.nn.functional.conv2d(x, w, b, 1, 1)
    torch.cuda.synchronize()
EOF
for side in tensord torch; do
  echo "== $side: kernels and API calls of the forward of BM_Conv2d/32"
  if [ $side = tensord ]; then
    cmd=("$B/bin/bench_ops" --benchmark_filter='BM_Conv2d/32/1/real_time' --benchmark_min_time=0.3)
  else
    cmd=(python3 /tmp/torch_conv.py)
  fi
  "$nsys" profile -q -t cuda,cudnn -o "/tmp/probe_$side" --force-overwrite true "${cmd[@]}" > /dev/null 2>&1
  "$nsys" stats -q -r cuda_gpu_kern_sum -f csv "/tmp/probe_$side.nsys-rep" 2>/dev/null |
    python3 -c 'import csv, sys
rows = list(csv.DictReader(l for l in sys.stdin if l.strip() and not l.startswith("Processing")))
for r in rows[:8]:
    print(f"{r.get(\"Instances\",\"?\"):>8} x {float(r.get(\"Avg (ns)\",0))/1e3:8.1f} us  {r.get(\"Name\",\"?\")[:110]}")'
  "$nsys" stats -q -r cuda_api_sum -f csv "/tmp/probe_$side.nsys-rep" 2>/dev/null |
    python3 -c 'import csv, sys
rows = list(csv.DictReader(l for l in sys.stdin if l.strip() and not l.startswith("Processing")))
for r in rows[:8]:
    print(f"{r.get(\"Num Calls\",\"?\"):>8} x {float(r.get(\"Avg (ns)\",0))/1e3:8.1f} us  {r.get(\"Name\",\"?\")}")'
done
