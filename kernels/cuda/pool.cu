// Pooling on CUDA: one thread per output element for the forward passes (the window math of
// kernels/pool_ops.h, shared with the CPU backend); average pooling's gradient gathers, one thread per input
// element, over the outputs whose windows hold it (no atomics, the same summation order as the CPU);
// max pooling's gradient adds each output's gradient at its index with an atomic add into zeros.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/pool_ops.h"

namespace td::kernels::cuda {

namespace {

template <class T>
__global__ void max_pool_kernel(PoolGeometry g, int64_t n_in, int64_t n_out, T* out, int64_t* indices,
                                const T* in) {
  const int64_t OW = g.dims[2].out, OH = g.dims[1].out;
  TD_GRID_STRIDE_LOOP(i, g.planes * n_out) {
    const int64_t p = i / n_out, o = i % n_out;
    int64_t at;
    out[i] = static_cast<T>(pool::max_pool_at(g, in + p * n_in, o / (OW * OH), (o / OW) % OH, o % OW, &at));
    if (indices) indices[i] = at;
  }
}

template <class T>
__global__ void avg_pool_kernel(PoolGeometry g, int64_t n_in, int64_t n_out, T* out, const T* in) {
  const int64_t OW = g.dims[2].out, OH = g.dims[1].out;
  TD_GRID_STRIDE_LOOP(i, g.planes * n_out) {
    const int64_t p = i / n_out, o = i % n_out;
    out[i] = static_cast<T>(pool::avg_pool_at(g, in + p * n_in, o / (OW * OH), (o / OW) % OH, o % OW));
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(PoolGeometry g, int64_t n_in, int64_t n_out, T* grad_in,
                                         const T* grad_out) {
  const int64_t W = g.dims[2].in, H = g.dims[1].in;
  TD_GRID_STRIDE_LOOP(i, g.planes * n_in) {
    const int64_t p = i / n_in, k = i % n_in;
    grad_in[i] =
        static_cast<T>(pool::avg_pool_grad_at(g, grad_out + p * n_out, k / (W * H), (k / W) % H, k % W));
  }
}

// *dst += v as one atomic step: the hardware's add for float and double (and, from sm_80, for the 16-bit
// floats); before sm_80 a compare-and-swap loop on the aligned 32-bit word holding the 16-bit value.
__device__ __forceinline__ void atomic_add(float* dst, float v) {
  atomicAdd(dst, v);
}
__device__ __forceinline__ void atomic_add(double* dst, double v) {
  atomicAdd(dst, v);
}
template <class T>
__device__ __forceinline__ void atomic_add_16(T* dst, float v) {
  auto* word = reinterpret_cast<unsigned int*>(reinterpret_cast<uintptr_t>(dst) & ~uintptr_t{3});
  const unsigned shift = (reinterpret_cast<uintptr_t>(dst) & 2) ? 16u : 0u;
  unsigned old = *word, assumed;
  do {
    assumed = old;
    const T cur = T::from_bits(static_cast<uint16_t>(assumed >> shift));
    const T next(static_cast<float>(cur) + v);
    old = atomicCAS(word, assumed,
                    (assumed & ~(0xffffu << shift)) | (static_cast<unsigned>(next.bits) << shift));
  } while (old != assumed);
}
__device__ __forceinline__ void atomic_add(Half* dst, Half v) {
#if __CUDA_ARCH__ >= 700
  atomicAdd(reinterpret_cast<__half*>(dst), __ushort_as_half(v.bits));
#else
  atomic_add_16(dst, static_cast<float>(v));
#endif
}
__device__ __forceinline__ void atomic_add(BFloat16* dst, BFloat16 v) {
#if __CUDA_ARCH__ >= 800
  atomicAdd(reinterpret_cast<__nv_bfloat16*>(dst), __ushort_as_bfloat16(v.bits));
#else
  atomic_add_16(dst, static_cast<float>(v));
#endif
}

template <class T>
__global__ void max_pool_backward_kernel(int64_t n, int64_t n_in, int64_t n_out, T* grad_in,
                                         const T* grad_out, const int64_t* indices) {
  TD_GRID_STRIDE_LOOP(i, n) {
    const int64_t at = indices[i];
    // The gradient ops are public: an index outside the plane is skipped, never written through.
    if (at >= 0 && at < n_in) atomic_add(grad_in + (i / n_out) * n_in + at, grad_out[i]);
  }
}

int64_t in_count(const PoolGeometry& g) {
  return g.dims[0].in * g.dims[1].in * g.dims[2].in;
}
int64_t out_count(const PoolGeometry& g) {
  return g.dims[0].out * g.dims[1].out * g.dims[2].out;
}

}  // namespace

void max_pool(DType dtype, const PoolGeometry& g, void* out, int64_t* indices, const void* in) {
  const int64_t n_in = in_count(g), n_out = out_count(g), n = g.planes * n_out;
  if (n == 0) return;
  dispatch_floating<false>(dtype, "max_pool", "CUDA", [&](auto tag) {
    using T = decltype(tag);
    max_pool_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(g, n_in, n_out, static_cast<T*>(out), indices,
                                                    static_cast<const T*>(in));
  });
  check(cudaGetLastError(), "max_pool kernel launch");
}

void max_pool_backward(DType dtype, int64_t planes, int64_t n_in, int64_t n_out, void* grad_in,
                       const void* grad_out, const int64_t* indices) {
  if (planes * n_in == 0) return;
  dispatch_floating<false>(dtype, "max_pool_backward", "CUDA", [&](auto tag) {
    using T = decltype(tag);
    check(cudaMemsetAsync(grad_in, 0, static_cast<size_t>(planes * n_in) * sizeof(T), stream()), "cudaMemsetAsync");
    const int64_t n = planes * n_out;
    if (n == 0) return;
    max_pool_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(n, n_in, n_out, static_cast<T*>(grad_in),
                                                             static_cast<const T*>(grad_out), indices);
  });
  check(cudaGetLastError(), "max_pool_backward kernel launch");
}

void avg_pool(DType dtype, const PoolGeometry& g, void* out, const void* in) {
  const int64_t n_in = in_count(g), n_out = out_count(g), n = g.planes * n_out;
  if (n == 0) return;
  dispatch_floating<true>(dtype, "avg_pool", "CUDA", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_kernel<T>
        <<<blocks_for(n), kThreads, 0, stream()>>>(g, n_in, n_out, static_cast<T*>(out), static_cast<const T*>(in));
  });
  check(cudaGetLastError(), "avg_pool kernel launch");
}

void avg_pool_backward(DType dtype, const PoolGeometry& g, void* grad_in, const void* grad_out) {
  const int64_t n_in = in_count(g), n_out = out_count(g), n = g.planes * n_in;
  if (n == 0) return;
  dispatch_floating<false>(dtype, "avg_pool_backward", "CUDA", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(g, n_in, n_out, static_cast<T*>(grad_in),
                                                             static_cast<const T*>(grad_out));
  });
  check(cudaGetLastError(), "avg_pool_backward kernel launch");
}

}  // namespace td::kernels::cuda
