// The CPU's intra-op thread count (torch.set_num_threads / get_num_threads): OpenMP's, which the CPU kernels,
// oneDNN and the GEMMs (OpenBLAS on one thread per block of the product) use.
#pragma once

namespace td {

/// Sets the number of threads the CPU kernels, GEMMs and convolutions use (at least 1), for the whole process
/// as torch.set_num_threads does: the calling thread at once, and threads that run kernels for it (the
/// server's executors, data loader workers) when they next call sync_num_threads().
void set_num_threads(int n);
/// The number of threads the CPU kernels use.
int get_num_threads();
/// Applies the process-wide count to the calling thread (OpenMP's setting is per thread: a thread started
/// elsewhere would keep OpenMP's default). Cheap when nothing changed.
void sync_num_threads();

}  // namespace td
