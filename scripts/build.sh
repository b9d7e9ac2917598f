#!/usr/bin/env bash
# Configures and builds tensord into $BUILD_DIR (default build/) with Ninja and ccache.
# Extra arguments go to cmake (e.g. -DTD_CUDA=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
# nvcc lives outside the default PATH on CUDA toolkit installs.
if [[ -d /usr/local/cuda/bin && ":$PATH:" != *":/usr/local/cuda/bin:"* ]]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$BUILD_DIR/configure.log" 2>&1 ||
  { cat "$BUILD_DIR/configure.log"; exit 1; }
grep -E "^-- tensord:" "$BUILD_DIR/configure.log" || true
ninja -C "$BUILD_DIR"
