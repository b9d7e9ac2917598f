// The CPU's intra-op thread count (torch.set_num_threads / get_num_threads): OpenMP's, which the CPU kernels
// and oneDNN use, and OpenBLAS's.
#pragma once

namespace td {

/// Sets the number of threads the CPU kernels, GEMMs and convolutions use (at least 1): OpenMP's setting for
/// the calling thread and the threads it starts (OMP_NUM_THREADS sets it for the whole process).
void set_num_threads(int n);
/// The number of threads the CPU kernels use.
int get_num_threads();

}  // namespace td
