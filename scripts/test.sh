#!/usr/bin/env bash
# The README's test command: installs dependencies, builds everything, runs every test (CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh "$@"
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 -j "$(nproc)"
