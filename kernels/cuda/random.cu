// Backend::random_fill on CUDA: one thread per counter group (four elements), the arithmetic of
// kernels/random_fill.h, which the CPU backend runs too. No cuRAND: the same Philox stream as the CPU's.
#include "kernels/cuda/loops.cuh"
#include "kernels/random_fill.h"

namespace td::kernels::cuda {

namespace {
template <RandomKind K, class T>
__global__ void random_fill_kernel(RandomFill f, uint64_t groups, uint64_t n, T* out, const double* probs) {
  const random::PhiloxStream stream(f.seed, f.offset);
  TD_GRID_STRIDE_LOOP(g, static_cast<int64_t>(groups)) {
    random_fill_group<K, T>(f, stream, static_cast<uint64_t>(g), out, n, probs);
  }
}
}  // namespace

void random_fill(const RandomFill& f, DType dtype, int64_t n, void* out, const double* probs) {
  dispatch_random(f.kind, dtype, "CUDA", [&](auto kind, auto tag) {
    using T = decltype(tag);
    constexpr RandomKind K = decltype(kind)::value;
    const uint64_t groups = random::groups_for(static_cast<uint64_t>(n));
    random_fill_kernel<K, T><<<blocks_for(static_cast<int64_t>(groups)), kThreads, 0, stream()>>>(
        f, groups, static_cast<uint64_t>(n), static_cast<T*>(out), probs);
    check(cudaGetLastError(), "random_fill kernel launch");
  });
}

}  // namespace td::kernels::cuda
