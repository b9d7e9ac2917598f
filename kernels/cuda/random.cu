// Backend::random_fill on CUDA: one thread per counter group (four elements), the arithmetic of
// kernels/random_fill.h, which the CPU backend runs too. No cuRAND: the same Philox stream as the CPU's.
// A whole group of an aligned output is stored as one four-element pack (one 16-byte store for float32).
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/vectorized.cuh"
#include "kernels/random_fill.h"

namespace td::kernels::cuda {

namespace {
static_assert(random::kGroupLanes == 4, "a counter group is one Pack<T, 4>");

template <RandomKind K, class T, bool kPacked>
__global__ void random_fill_kernel(RandomFill f, uint64_t groups, uint64_t n, T* out, const double* probs) {
  const random::PhiloxStream stream(f.seed, f.offset);
  TD_GRID_STRIDE_LOOP(g, static_cast<int64_t>(groups)) {
    const uint64_t first = static_cast<uint64_t>(g) * random::kGroupLanes;
    if (kPacked && first + random::kGroupLanes <= n) {
      Pack<T, 4> pack;
      random_group_values<K, T>(f, stream, static_cast<uint64_t>(g), n, probs,
                                [&](uint64_t i, T v) { pack.v[i - first] = v; });
      reinterpret_cast<Pack<T, 4>*>(out)[g] = pack;
    } else {
      random_fill_group<K, T>(f, stream, static_cast<uint64_t>(g), out, n, probs);
    }
  }
}
}  // namespace

void random_fill(const RandomFill& f, DType dtype, int64_t n, void* out, const double* probs) {
  dispatch_random(f.kind, dtype, "CUDA", [&](auto kind, auto tag) {
    using T = decltype(tag);
    constexpr RandomKind K = decltype(kind)::value;
    const uint64_t groups = random::groups_for(static_cast<uint64_t>(n));
    auto* o = static_cast<T*>(out);
    const int blocks = blocks_for(static_cast<int64_t>(groups));
    if (pack_aligned<T, 4>(out)) {
      random_fill_kernel<K, T, true><<<blocks, kThreads, 0, stream()>>>(f, groups, static_cast<uint64_t>(n), o, probs);
    } else {
      random_fill_kernel<K, T, false><<<blocks, kThreads, 0, stream()>>>(f, groups, static_cast<uint64_t>(n), o, probs);
    }
    check(cudaGetLastError(), "random_fill kernel launch");
  });
}

}  // namespace td::kernels::cuda
