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

template <int K>
__device__ __forceinline__ int64_t offset_of(const Indexer& ix, int64_t i) {
  if (ix.contiguous) return i;
  int64_t off = 0;
  for (int d = ix.nd - 1; d >= 0; --d) {
    int64_t idx = i % ix.sizes[d];
    i /= ix.sizes[d];
    off += idx * ix.strides[K][d];
  }
  return off;
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
