// Fused softmax and log_softmax: max, exp-sum and the normalised output in one launch. Rows along the
// innermost dim go to one warp each (short rows) or one block each (long rows), reducing with warp shuffles;
// a dim that is not innermost gives one thread per (outer, inner) column, whose neighbours read neighbouring
// addresses.
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/loops.cuh"

namespace td::kernels::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 4;      // warps per block on the warp-per-row path
constexpr int kLongRowThreads = 512;  // threads per block on the block-per-row path
constexpr int64_t kWarpRowLimit = 1024;

__device__ __forceinline__ float exp_of(float x) {
  return expf(x);
}
__device__ __forceinline__ double exp_of(double x) {
  return exp(x);
}
__device__ __forceinline__ float log_of(float x) {
  return logf(x);
}
__device__ __forceinline__ double log_of(double x) {
  return log(x);
}

// A NaN never wins a max here; it still reaches every output of its row through the exp-sum.
template <class M>
__device__ __forceinline__ M max_of(M a, M b) {
  return b > a ? b : a;
}

template <bool kMax, class M>
__device__ __forceinline__ M warp_reduce(M v) {
  for (int o = kWarp / 2; o > 0; o /= 2) {
    M w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? max_of(v, w) : v + w;
  }
  return v;
}

// The max or sum of v over the block, returned to every thread; `shared` holds one value per warp.
template <bool kMax, class M>
__device__ __forceinline__ M block_reduce(M v, M* shared) {
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  v = warp_reduce<kMax>(v);
  __syncthreads();  // shared may still be read from the previous reduction
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? shared[lane] : (kMax ? M(-INFINITY) : M(0));
    v = warp_reduce<kMax>(v);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

// One row per warp (kBlock false) or per block (kBlock true): three passes over the row, the second and third
// reading from cache. The max is subtracted before exp, and softmax multiplies by 1/sum, as PyTorch does.
template <class T, bool kBlock>
__global__ void softmax_rows_kernel(bool is_log, int64_t rows, int64_t n, T* out, const T* in) {
  using M = opmath_t<T>;
  __shared__ M shared[kWarp];
  const int lane = kBlock ? threadIdx.x : threadIdx.x % kWarp;
  const int width = kBlock ? blockDim.x : kWarp;
  const int64_t row =
      kBlock ? blockIdx.x : blockIdx.x * static_cast<int64_t>(kRowsPerBlock) + threadIdx.x / kWarp;
  if (!kBlock && row >= rows) return;  // whole warps leave together: no shuffle misses a lane
  const T* x = in + row * n;
  T* y = out + row * n;
  M m = -INFINITY;
  for (int64_t i = lane; i < n; i += width) m = max_of(m, static_cast<M>(x[i]));
  m = kBlock ? block_reduce<true>(m, shared) : warp_reduce<true>(m);
  M s = 0;
  for (int64_t i = lane; i < n; i += width) s += exp_of(static_cast<M>(x[i]) - m);
  s = kBlock ? block_reduce<false>(s, shared) : warp_reduce<false>(s);
  if (is_log) {
    const M l = log_of(s);
    for (int64_t i = lane; i < n; i += width) y[i] = convert<T>((static_cast<M>(x[i]) - m) - l);
  } else {
    const M r = M(1) / s;
    for (int64_t i = lane; i < n; i += width) y[i] = convert<T>(exp_of(static_cast<M>(x[i]) - m) * r);
  }
}

// One thread per column (o, j) of [outer, n, inner] with inner > 1: consecutive threads read consecutive j.
template <class T>
__global__ void softmax_cols_kernel(bool is_log, int64_t outer, int64_t n, int64_t inner, T* out,
                                    const T* in) {
  using M = opmath_t<T>;
  TD_GRID_STRIDE_LOOP(t, outer * inner) {
    const int64_t o = t / inner, j = t % inner;
    const T* x = in + o * n * inner + j;
    T* y = out + o * n * inner + j;
    M m = -INFINITY;
    for (int64_t i = 0; i < n; ++i) m = max_of(m, static_cast<M>(x[i * inner]));
    M s = 0;
    for (int64_t i = 0; i < n; ++i) s += exp_of(static_cast<M>(x[i * inner]) - m);
    if (is_log) {
      const M l = log_of(s);
      for (int64_t i = 0; i < n; ++i) y[i * inner] = convert<T>((static_cast<M>(x[i * inner]) - m) - l);
    } else {
      const M r = M(1) / s;
      for (int64_t i = 0; i < n; ++i) y[i * inner] = convert<T>(exp_of(static_cast<M>(x[i * inner]) - m) * r);
    }
  }
}

template <class T>
void launch_softmax(bool is_log, int64_t outer, int64_t n, int64_t inner, void* out, const void* in) {
  auto* po = static_cast<T*>(out);
  auto* pi = static_cast<const T*>(in);
  if (inner > 1) {
    softmax_cols_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(is_log, outer, n, inner, po, pi);
  } else if (n <= kWarpRowLimit) {
    const int64_t blocks = (outer + kRowsPerBlock - 1) / kRowsPerBlock;
    softmax_rows_kernel<T, false>
        <<<static_cast<unsigned>(blocks), kRowsPerBlock * kWarp, 0, stream()>>>(is_log, outer, n, po, pi);
  } else {
    softmax_rows_kernel<T, true>
        <<<static_cast<unsigned>(outer), kLongRowThreads, 0, stream()>>>(is_log, outer, n, po, pi);
  }
  check(cudaGetLastError(), "softmax kernel launch");
}

}  // namespace

void softmax(bool is_log, DType dtype, int64_t outer, int64_t n, int64_t inner, void* out, const void* in) {
  dispatch_floating(dtype, is_log ? "log_softmax" : "softmax", "CUDA",
                    [&](auto tag) { launch_softmax<decltype(tag)>(is_log, outer, n, inner, out, in); });
}

}  // namespace td::kernels::cuda
