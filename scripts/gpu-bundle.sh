#!/usr/bin/env bash
# Builds the gRPC-free CUDA test and benchmark binaries and bundles them, with every shared library they
# load, into gpu-bundle/ (and gpu-bundle.tar.xz) for a lent GPU machine (whose image differs from this one). Then run there:
#   scripts/gpu-check.sh          (from the repository root, with gpu-bundle.tar.xz carried along)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-gpu} scripts/build.sh -DTD_SERVICE=OFF -DTD_CUDA=ON "$@"
rm -rf gpu-bundle
mkdir -p gpu-bundle/bin gpu-bundle/lib
# Without debug info: the bundle must fit what a device call carries (64 MiB).
for b in tests/td_core_tests tests/td_cuda_tests bench/bench_ops bench/profile_step; do strip --strip-debug -o "gpu-bundle/bin/$(basename "$b")" "${BUILD_DIR:-build-gpu}/$b"; done
# Every library the binaries load, except the C runtime and the CUDA libraries: the GPU machine has its
# own driver and CUDA toolkit (and cuBLAS and cuFFT alone are larger than what a device call can carry).
for b in gpu-bundle/bin/*; do
  ldd "$b" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*|libcublas*|libcudart*|libcufft*|libcusolver*|libcusparse*|libnvJitLink*) ;;
    *) cp -L "$lib" gpu-bundle/lib/ ;;
  esac
done
# Compressed, since a device call carries at most 64 MiB: the CUDA fatbins in each binary pack well.
tar -cf - gpu-bundle | xz -T2 -6 > gpu-bundle.tar.xz
du -sh gpu-bundle gpu-bundle.tar.xz
