// Block-wide folds and the slicing of long reductions, shared by the reductions and arg reductions
// (elementwise.cu) and batch norm's channel sums (batch_norm.cu).
#pragma once

#include <algorithm>
#include <cstdint>

namespace td::kernels::cuda {

/// Warp shuffle of any trivially copyable value of up to 8 bytes, or 16 (Complex<double>, a value and its
/// index, as two halves).
template <class A>
__device__ __forceinline__ A shfl_down(A v, int delta) {
  static_assert(sizeof(A) <= 8 || sizeof(A) == 16);
  if constexpr (sizeof(A) == 16) {
    unsigned long long u[2];
    memcpy(u, &v, 16);
    u[0] = __shfl_down_sync(0xffffffffu, u[0], delta);
    u[1] = __shfl_down_sync(0xffffffffu, u[1], delta);
    memcpy(&v, u, 16);
  } else if constexpr (sizeof(A) == 8) {
    unsigned long long u;
    memcpy(&u, &v, 8);
    u = __shfl_down_sync(0xffffffffu, u, delta);
    memcpy(&v, &u, 8);
  } else {
    unsigned u = 0;
    memcpy(&u, &v, sizeof(A));
    u = __shfl_down_sync(0xffffffffu, u, delta);
    memcpy(&v, &u, sizeof(A));
  }
  return v;
}

/// Folds one value per thread of the block by combine(mine, other) (identity: what the missing warps hold);
/// the result is valid in thread 0. Every thread calls it, blockDim.x is a multiple of 32, and the block's
/// shared memory is free again when it returns.
template <class A, class Combine>
__device__ A block_fold(A v, A identity, Combine combine) {
  __shared__ A warp_totals[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int d = 16; d > 0; d >>= 1) v = combine(v, shfl_down(v, d));
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? warp_totals[lane] : identity;
    for (int d = 16; d > 0; d >>= 1) v = combine(v, shfl_down(v, d));
  }
  __syncthreads();  // warp_totals is free for the next call
  return v;
}

/// block_fold with a reducer's combine and identity (fn::Reducer).
template <class R, class A>
__device__ A block_reduce(A v) {
  return block_fold(v, R::identity(), [](A a, A b) { return R::combine(a, b); });
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// How a reduction of n elements for each of `units` (rows, channels, or blocks of columns) is cut into
/// slices: as many as bring the launch to ~1024 blocks (a few waves on the largest GPUs), each of at least
/// min_slice elements, at most 65535 (gridDim.y). `used` slices of `slice` elements cover n.
struct Slicing {
  int64_t slice, used;
};
inline Slicing slicing(int64_t units, int64_t n, int64_t min_slice) {
  constexpr int64_t kTargetBlocks = 1024, kMaxSlices = 65535;
  const int64_t parts =
      std::clamp<int64_t>(kTargetBlocks / units, 1, std::clamp<int64_t>(ceil_div(n, min_slice), 1, kMaxSlices));
  const int64_t slice = ceil_div(n, parts);
  return {slice, ceil_div(n, slice)};
}

}  // namespace td::kernels::cuda
