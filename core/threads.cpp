// OpenMP's and OpenBLAS's thread counts move together, so a GEMM runs on as many threads as the loops
// around it.
#include "core/threads.h"

#include <omp.h>

#include "core/error.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace td {

void set_num_threads(int n) {
  TD_CHECK_ARG(n >= 1, "[set_num_threads] Number of threads must be positive, got ", n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace td
