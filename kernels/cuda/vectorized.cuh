// 16-byte vector loads and stores for the contiguous paths of the elementwise kernels (binary.cu, unary.cu,
// elementwise.cu's copy): one thread moves a Pack of V elements per step, so a warp issues 512-byte
// transactions; the last n % V elements go to the first threads of the grid.
#pragma once

#include <cstdint>

#include "kernels/cuda/loops.cuh"

namespace td::kernels::cuda {

/// V elements of T loaded or stored as one aligned unit.
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

/// Elements of T in 16 bytes (1 for types of 16 bytes or more).
template <class T>
inline constexpr int kPackOf = sizeof(T) >= 16 ? 1 : static_cast<int>(16 / sizeof(T));

/// Elements per thread step for a kernel reading I and writing O: the smaller pack, so neither side exceeds
/// 16 bytes.
template <class O, class I>
inline constexpr int kPackFor = kPackOf<O> < kPackOf<I> ? kPackOf<O> : kPackOf<I>;

/// Whether p may be read as Pack<T, V> (its address a multiple of the pack's alignment).
template <class T, int V>
inline bool pack_aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % alignof(Pack<T, V>) == 0;
}

/// Grid size for n elements taken V at a time, with at least one block for the tail.
inline int blocks_for_packs(int64_t n, int v) {
  return blocks_for(n / v + v);
}

/// out[i] = f(a[i]) or f(a[i], b[i]) for contiguous operands in packs of V, the tail element by element. Pass
/// b == nullptr for one input.
template <int V, class O, class I, class F>
__device__ __forceinline__ void map_packs(int64_t n, O* out, const I* a, const I* b, F f) {
  const int64_t packs = n / V;
  TD_GRID_STRIDE_LOOP(p, packs) {
    Pack<I, V> x = reinterpret_cast<const Pack<I, V>*>(a)[p], y;
    if (b) y = reinterpret_cast<const Pack<I, V>*>(b)[p];
    Pack<O, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = f(x.v[k], b ? y.v[k] : x.v[k]);
    reinterpret_cast<Pack<O, V>*>(out)[p] = r;
  }
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x, i = packs * V + t;
  if (i < n) out[i] = f(a[i], b ? b[i] : a[i]);
}

}  // namespace td::kernels::cuda
