#!/usr/bin/env bash
# Measures the GEMM libraries Debian 12 offers side by side, with PyTorch, on this machine (issue 3: how the CPU
# GEMM was chosen; docs/performance.md keeps the table). Builds bench/gemm_libs.cpp once per library into
# $OUT (default /tmp/gemm_choice) and runs every variant ROUNDS times (default 2), interleaved, since the
# shared machines are noisy: compare the best of the rounds. Needs libopenblas-dev, libopenblas0-openmp,
# libblis-openmp-dev and libdnnl-dev (only the first is a build dependency of tensord).
#
# usage: bench/gemm_choice.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gemm_choice}
ROUNDS=${1:-2}
LIB=/usr/lib/x86_64-linux-gnu
mkdir -p "$OUT"

build() {  # name, defines and link flags
  local name=$1
  shift
  g++ -std=c++20 -O2 -fopenmp -o "$OUT/$name" bench/gemm_libs.cpp "$@"
}
OB_INC=-I/usr/include/x86_64-linux-gnu/openblas-pthread
build openblas_pthread -DGEMM_OPENBLAS $OB_INC "$LIB/openblas-pthread/libopenblas.so.0" \
  -Wl,-rpath,"$LIB/openblas-pthread"
build openblas_openmp -DGEMM_OPENBLAS $OB_INC "$LIB/openblas-openmp/libopenblas.so.0" \
  -Wl,-rpath,"$LIB/openblas-openmp"
build blis_openmp -DGEMM_BLIS -I/usr/include/x86_64-linux-gnu/blis-openmp "$LIB/blis-openmp/libblis.so.4" \
  -Wl,-rpath,"$LIB/blis-openmp"
build onednn -DGEMM_DNNL $OB_INC -ldnnl "$LIB/openblas-openmp/libopenblas.so.0" -Wl,-rpath,"$LIB/openblas-openmp"

torch_run() {  # threads
  OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 /usr/bin/python3 - "$1" <<'EOF'
import sys, time, torch
t = int(sys.argv[1]); torch.set_num_threads(t)
def best(fn, rounds=3):
    fn(); b = 1e30
    for _ in range(rounds):
        n, s = 0, time.perf_counter()
        while True:
            fn(); n += 1; e = time.perf_counter() - s
            if e >= 0.2: break
        b = min(b, e / n)
    return b
for dt, tag in ((torch.float32, "sgemm"), (torch.float64, "dgemm")):
    for n in (256, 1024, 2048):
        a = torch.rand(n, n, dtype=dt); b = torch.rand(n, n, dtype=dt)
        s = best(lambda: a @ b)
        print(f"{'torch-' + torch.__version__:24} {tag + ' ' + str(n):20} t={t} {s:12.6f} s {2*n**3/s*1e-9:8.1f} GFLOP/s", flush=True)
for batch, n in ((256, 64), (1024, 16)):
    a = torch.rand(batch, n, n); b = torch.rand(batch, n, n)
    s = best(lambda: torch.bmm(a, b))
    print(f"{'torch-' + torch.__version__:24} {'bsgemm %dx%d' % (batch, n):20} t={t} {s:12.6f} s {2*batch*n**3/s*1e-9:8.1f} GFLOP/s", flush=True)
EOF
}

echo "# $(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2) model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  echo "# round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$OUT/openblas_pthread" --peak
  "$OUT/openblas_pthread"
  OPENBLAS_CORETYPE=Haswell "$OUT/openblas_pthread"
  OPENBLAS_CORETYPE=SkylakeX "$OUT/openblas_pthread"
  OPENBLAS_CORETYPE=SkylakeX "$OUT/openblas_openmp"
  "$OUT/blis_openmp"
  BLIS_ARCH_TYPE=skx "$OUT/blis_openmp"
  "$OUT/onednn"
  torch_run 1
  torch_run 2
  "$OUT/openblas_pthread" --peak
done
