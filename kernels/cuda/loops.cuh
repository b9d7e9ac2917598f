// Shared pieces of the CUDA kernels: launch shape, strided offsets, conversions, dtype dispatch.
#pragma once

#include <cuda_runtime.h>

#include <type_traits>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/stream.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise_ops.h"

namespace td::kernels::cuda {

inline constexpr int kThreads = 256;

inline int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 * 8 ? b : 65535 * 8);
}

/// The element offsets of row-major position i in the Indexer's first N operands. One walk over the dims
/// serves them all, with one division per dim, in 32-bit arithmetic when the element count fits (an int64
/// division is a long emulated sequence on the GPU; a 32-bit one is a few instructions).
template <int N>
struct Offsets {
  int64_t at[N];
};
template <int N>
__device__ __forceinline__ Offsets<N> offsets_of(const Indexer& ix, int64_t i) {
  Offsets<N> o;
  if (ix.contiguous) {
#pragma unroll
    for (int k = 0; k < N; ++k) o.at[k] = i;
    return o;
  }
#pragma unroll
  for (int k = 0; k < N; ++k) o.at[k] = 0;
  if (ix.small) {
    auto r = static_cast<uint32_t>(i);
    for (int d = ix.nd - 1; d >= 0; --d) {
      const auto size = static_cast<uint32_t>(ix.sizes[d]);
      const uint32_t q = r / size, idx = r - q * size;
      r = q;
#pragma unroll
      for (int k = 0; k < N; ++k) o.at[k] += static_cast<int64_t>(idx) * ix.strides[k][d];
    }
  } else {
    for (int d = ix.nd - 1; d >= 0; --d) {
      const int64_t q = i / ix.sizes[d], idx = i - q * ix.sizes[d];
      i = q;
#pragma unroll
      for (int k = 0; k < N; ++k) o.at[k] += idx * ix.strides[k][d];
    }
  }
  return o;
}

using fn::convert;

template <class F>
void dispatch(DType dtype, const char* op, F&& f) {
  kernels::dispatch(dtype, op, "CUDA", std::forward<F>(f));
}
/// dispatch_with_complex() for the CUDA backend.
template <class F>
void dispatch_with_complex(DType dtype, const char* op, F&& f) {
  kernels::dispatch_with_complex(dtype, op, "CUDA", std::forward<F>(f));
}

/// Grid-stride loop over n elements: out = f(operands...) through the Indexer's strides.
#define TD_GRID_STRIDE_LOOP(i, n)                                                         \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace td::kernels::cuda
