// CUDA kernels for copy/cast, fill, reductions (reduce, arg_reduce) and scans. The elementwise math families live in unary.cu and binary.cu.
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/elementwise_ops.h"

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

// The element offset of row-major position i over nd dims of (sizes, strides).
__device__ __forceinline__ int64_t dims_offset(int64_t i, int nd, const int64_t* sizes, const int64_t* strides) {
  int64_t off = 0;
  for (int d = nd - 1; d >= 0; --d) {
    off += (i % sizes[d]) * strides[d];
    i /= sizes[d];
  }
  return off;
}
__device__ __forceinline__ int64_t kept_offset(const ReduceIndexer& ix, int64_t o) {
  return dims_offset(o, ix.kept_nd, ix.kept_sizes, ix.kept_strides);
}
__device__ __forceinline__ int64_t reduced_offset(const ReduceIndexer& ix, int64_t r) {
  return dims_offset(r, ix.red_nd, ix.red_sizes, ix.red_strides);
}

// One block per output: threads stride over the reduced block, then a shared-memory tree.
template <ReduceOp Op, class T>
__global__ void reduce_kernel(ReduceIndexer ix, T* out, const T* in) {
  using R = fn::Reducer<Op, T>;
  using A = typename R::A;
  __shared__ A partial[kThreads];
  const int64_t base = kept_offset(ix, blockIdx.x);
  A acc = R::identity();
  for (int64_t r = threadIdx.x; r < ix.red_numel; r += blockDim.x) {
    acc = R::combine(acc, static_cast<A>(in[base + reduced_offset(ix, r)]));
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] = R::combine(partial[threadIdx.x], partial[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = convert<T>(partial[0]);
}

template <class T>
__global__ void arg_reduce_kernel(bool is_max, int64_t n_out, ReduceIndexer ix, T* values, int64_t* indices,
                                  const T* in) {
  TD_GRID_STRIDE_LOOP(o, n_out) {
    fn::arg_best(in + kept_offset(ix, o), ix.red_numel, ix.red_strides[0], is_max, values[o], indices[o]);
  }
}

template <ReduceOp Op, class T>
__global__ void scan_kernel(int64_t rows, ReduceIndexer in_ix, ReduceIndexer out_ix, T* out, const T* in) {
  using R = fn::Reducer<Op, T>;
  TD_GRID_STRIDE_LOOP(r, rows) {
    const T* x = in + kept_offset(in_ix, r);
    T* y = out + kept_offset(out_ix, r);
    typename R::A acc = R::identity();
    for (int64_t i = 0; i < in_ix.red_numel; ++i) {
      acc = R::combine(acc, static_cast<typename R::A>(x[i * in_ix.red_strides[0]]));
      y[i * out_ix.red_strides[0]] = convert<T>(acc);
    }
  }
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

void reduce(ReduceOp op, DType dtype, int64_t n_out, const ReduceIndexer& ix, void* out, const void* in) {
  dispatch(dtype, reduce_op_name(op).data(), [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out);
    auto* x = static_cast<const T*>(in);
    const auto blocks = static_cast<unsigned>(n_out);
    switch (op) {
      case ReduceOp::kSum: reduce_kernel<ReduceOp::kSum, T><<<blocks, kThreads>>>(ix, o, x); break;
      case ReduceOp::kProd: reduce_kernel<ReduceOp::kProd, T><<<blocks, kThreads>>>(ix, o, x); break;
      case ReduceOp::kMax: reduce_kernel<ReduceOp::kMax, T><<<blocks, kThreads>>>(ix, o, x); break;
      case ReduceOp::kMin: reduce_kernel<ReduceOp::kMin, T><<<blocks, kThreads>>>(ix, o, x); break;
    }
  });
  check(cudaGetLastError(), "reduce kernel launch");
}

void arg_reduce(bool is_max, DType dtype, int64_t n_out, const ReduceIndexer& ix, void* values, int64_t* indices,
                const void* in) {
  dispatch(dtype, is_max ? "argmax" : "argmin", [&](auto tag) {
    using T = decltype(tag);
    arg_reduce_kernel<T><<<blocks_for(n_out), kThreads>>>(is_max, n_out, ix, static_cast<T*>(values), indices,
                                                          static_cast<const T*>(in));
  });
  check(cudaGetLastError(), "arg_reduce kernel launch");
}

void scan(ReduceOp op, DType dtype, int64_t rows, const ReduceIndexer& in_ix, const ReduceIndexer& out_ix, void* out,
          const void* in) {
  dispatch(dtype, op == ReduceOp::kSum ? "cumsum" : "cumprod", [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out);
    auto* x = static_cast<const T*>(in);
    if (op == ReduceOp::kSum) {
      scan_kernel<ReduceOp::kSum, T><<<blocks_for(rows), kThreads>>>(rows, in_ix, out_ix, o, x);
    } else {
      scan_kernel<ReduceOp::kProd, T><<<blocks_for(rows), kThreads>>>(rows, in_ix, out_ix, o, x);
    }
  });
  check(cudaGetLastError(), "scan kernel launch");
}

}  // namespace td::kernels::cuda
