#!/usr/bin/env bash
# Builds binaries for a lent GPU machine (whose image differs from this one: no gRPC, no registry access)
# and bundles them with every shared library they load, for a device call to carry (64 MiB at most). Then run
# there, from the repository root with the bundle carried along:  scripts/gpu-check.sh
#   scripts/gpu-bundle.sh          the gRPC-free CUDA tests and benchmarks: gpu-bundle.tar.xz (BUILD_DIR,
#                                  default build-gpu; BUILD_DIR=build-cuda reuses a CUDA build without service)
#   scripts/gpu-bundle.sh service  tensord, remote_demo and tensorctl built with CUDA and their gRPC libraries:
#                                  gpu-service-bundle.tar.xz (BUILD_DIR, default build-gpu-service), for the
#                                  metrics check of gpu-check.sh (CUDA sessions, the CUDA and NVML gauges)
# Extra arguments after the mode go to cmake. BUNDLE_ONLY=1 bundles what BUILD_DIR holds without building (for
# example a clean clone's .ci/run build, which has CUDA and the service both on).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=tests
if [[ ${1:-} == service ]]; then
  mode=service
  shift
fi
if [[ $mode == service ]]; then
  BUILD_DIR=${BUILD_DIR:-build-gpu-service}
  out=gpu-service-bundle
  binaries=(server/tensord examples/remote_demo client/tensorctl)
  service=ON
else
  BUILD_DIR=${BUILD_DIR:-build-gpu}
  out=gpu-bundle
  binaries=(tests/td_core_tests tests/td_cuda_tests bench/bench_ops bench/profile_step)
  service=OFF
fi
if [[ ${BUNDLE_ONLY:-0} != 1 ]]; then
  BUILD_DIR=$BUILD_DIR scripts/build.sh -DTD_SERVICE=$service -DTD_CUDA=ON "$@"
fi
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
# Without debug info: the bundle must fit what a device call carries.
for b in "${binaries[@]}"; do strip --strip-debug -o "$out/bin/$(basename "$b")" "$BUILD_DIR/$b"; done
# Every library the binaries load, except the C runtime and the CUDA libraries: the GPU machine has its
# own driver and CUDA toolkit (and cuBLAS and cuFFT alone are larger than what a device call can carry).
for b in "$out"/bin/*; do
  ldd "$b" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*|libcublas*|libcudart*|libcufft*|libcusolver*|libcusparse*|libnvJitLink*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
# Compressed: the CUDA fatbins in each binary pack well.
tar -cf - "$out" | xz -T2 -6 > "$out.tar.xz"
du -sh "$out" "$out.tar.xz"
