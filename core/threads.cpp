// The CPU's intra-op thread count is OpenMP's: the kernels, oneDNN's convolutions and the GEMMs (which split
// their work over OpenMP's threads and run OpenBLAS on one thread each, kernels/cpu/blas.cpp) all use it.
// OpenMP keeps its count per thread; the process-wide value lives here.
#include "core/threads.h"

#include <omp.h>

#include <atomic>

#include "core/error.h"

namespace td {

namespace {
std::atomic<int> g_num_threads{0};  // 0: never set, OpenMP's default (OMP_NUM_THREADS or one per core)
}  // namespace

void set_num_threads(int n) {
  TD_CHECK_ARG(n >= 1, "[set_num_threads] Number of threads must be positive, got ", n);
  g_num_threads = n;
  omp_set_num_threads(n);
}

int get_num_threads() {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

void sync_num_threads() {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  if (n > 0 && omp_get_max_threads() != n) omp_set_num_threads(n);
}

}  // namespace td
