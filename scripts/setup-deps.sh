#!/usr/bin/env bash
# Installs, idempotently, every Debian 12 package that the build, the tests, the demo and the benchmarks need.
# Called first by scripts/test.sh and scripts/demo.sh. Skips apt entirely when everything is already present.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git curl
  # service: gRPC, protobuf, metrics, JSON
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  prometheus-cpp-dev libcivetweb-dev nlohmann-json3-dev
  # service: token hashes (libcrypto); the TLS test makes its certificates with the openssl tool
  libssl-dev openssl
  # math libraries
  libopenblas-dev liblapacke-dev libfftw3-dev libsleef-dev libdnnl-dev
  # concurrency
  libboost-dev
  # vision: gzip'd IDX files, and Fashion-MNIST itself (/usr/share/datasets/fashion-mnist)
  zlib1g-dev dataset-fashion-mnist
  # vision: PNG and JPEG images (vision/io)
  libpng-dev libjpeg-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # real Prometheus / promtool for the metrics integration test; Python (and YAML) to check deploy/'s rules
  # and dashboard and read Prometheus' API answers
  prometheus python3 python3-yaml
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup-deps: all packages present"
fi
