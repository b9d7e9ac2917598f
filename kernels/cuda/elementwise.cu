// CUDA kernels for copy/cast, fill and sum. The elementwise math families live in unary.cu and binary.cu.
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/loops.cuh"

namespace td::kernels::cuda {

namespace {

template <class To, class From>
__global__ void copy_kernel(int64_t n, Indexer ix, To* out, const From* in) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[offset_of<0>(ix, i)] = convert<To>(in[offset_of<1>(ix, i)]);
  }
}

template <class T>
__global__ void fill_kernel(int64_t n, Indexer ix, T* out, T value) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[offset_of<0>(ix, i)] = value;
  }
}

template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// One block per output: threads stride over the reduced block, then a shared-memory tree.
template <class T>
__global__ void sum_kernel(SumIndexer ix, T* out, const T* in) {
  __shared__ Acc<T> partial[kThreads];
  int64_t o = blockIdx.x, base = 0;
  for (int d = ix.kept_nd - 1; d >= 0; --d) {
    base += (o % ix.kept_sizes[d]) * ix.kept_strides[d];
    o /= ix.kept_sizes[d];
  }
  Acc<T> acc = 0;
  for (int64_t r = threadIdx.x; r < ix.red_numel; r += blockDim.x) {
    int64_t off = base, rem = r;
    for (int d = ix.red_nd - 1; d >= 0; --d) {
      off += (rem % ix.red_sizes[d]) * ix.red_strides[d];
      rem /= ix.red_sizes[d];
    }
    acc += static_cast<Acc<T>>(in[off]);
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = convert<T>(partial[0]);
}

}  // namespace

void check(int err, const char* what) {
  if (err != cudaSuccess) {
    throw Error(ErrorCode::kInternal,
                str("[cuda] ", what, " failed: ", cudaGetErrorString(static_cast<cudaError_t>(err))));
  }
}

void copy(DType dst_dtype, DType src_dtype, int64_t n, const Indexer& ix, void* dst, const void* src) {
  dispatch(dst_dtype, "copy", [&](auto to_tag) {
    using To = decltype(to_tag);
    dispatch(src_dtype, "copy", [&](auto from_tag) {
      using From = decltype(from_tag);
      copy_kernel<<<blocks_for(n), kThreads>>>(n, ix, static_cast<To*>(dst), static_cast<const From*>(src));
    });
  });
  check(cudaGetLastError(), "copy kernel launch");
}

void fill(DType dtype, int64_t n, const Indexer& ix, void* dst, const Scalar& value) {
  dispatch(dtype, "fill", [&](auto tag) {
    using T = decltype(tag);
    fill_kernel<<<blocks_for(n), kThreads>>>(n, ix, static_cast<T*>(dst), value.to<T>());
  });
  check(cudaGetLastError(), "fill kernel launch");
}

void sum(DType dtype, int64_t n_out, const SumIndexer& ix, void* out, const void* in) {
  dispatch(dtype, "sum", [&](auto tag) {
    using T = decltype(tag);
    sum_kernel<<<static_cast<unsigned>(n_out), kThreads>>>(ix, static_cast<T*>(out), static_cast<const T*>(in));
  });
  check(cudaGetLastError(), "sum kernel launch");
}

}  // namespace td::kernels::cuda
