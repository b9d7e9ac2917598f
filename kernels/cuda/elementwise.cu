// CUDA kernels for the elementwise families (binary, copy/cast, fill) and sum: one grid-stride kernel per
// family, templated on the element type and the functor; strided operands are indexed through an Indexer.
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/launch.h"
#include "kernels/dispatch.h"

namespace td::kernels::cuda {

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) {
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

template <class To, class From>
__device__ __forceinline__ To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From{};
  } else {
    return static_cast<To>(v);
  }
}

template <class T>
struct AddOp {
  T alpha;
  __device__ T operator()(T a, T b) const { return convert<T>(a + alpha * b); }
};
template <class T>
struct SubOp {
  T alpha;
  __device__ T operator()(T a, T b) const { return convert<T>(a - alpha * b); }
};
template <class T>
struct MulOp {
  __device__ T operator()(T a, T b) const { return convert<T>(a * b); }
};
template <class T>
struct DivOp {
  __device__ T operator()(T a, T b) const { return convert<T>(a / b); }
};

template <class T, class F>
__global__ void binary_kernel(int64_t n, Indexer ix, T* out, const T* a, const T* b, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[offset_of<0>(ix, i)] = f(a[offset_of<1>(ix, i)], b[offset_of<2>(ix, i)]);
  }
}

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

template <class F>
void dispatch(DType dtype, const char* op, F&& f) {
  kernels::dispatch(dtype, op, "CUDA", std::forward<F>(f));
}

}  // namespace

void check(int err, const char* what) {
  if (err != cudaSuccess) {
    throw Error(ErrorCode::kInternal,
                str("[cuda] ", what, " failed: ", cudaGetErrorString(static_cast<cudaError_t>(err))));
  }
}

void binary(BinaryOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* a, const void* b,
            const Scalar& alpha) {
  dispatch(dtype, binary_op_name(op).data(), [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out);
    auto* x = static_cast<const T*>(a);
    auto* y = static_cast<const T*>(b);
    const T al = alpha.to<T>();
    switch (op) {
      case BinaryOp::kAdd: binary_kernel<<<blocks_for(n), kThreads>>>(n, ix, o, x, y, AddOp<T>{al}); break;
      case BinaryOp::kSub: binary_kernel<<<blocks_for(n), kThreads>>>(n, ix, o, x, y, SubOp<T>{al}); break;
      case BinaryOp::kMul: binary_kernel<<<blocks_for(n), kThreads>>>(n, ix, o, x, y, MulOp<T>{}); break;
      case BinaryOp::kDiv: binary_kernel<<<blocks_for(n), kThreads>>>(n, ix, o, x, y, DivOp<T>{}); break;
    }
  });
  check(cudaGetLastError(), "binary kernel launch");
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
