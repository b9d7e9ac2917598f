// CUDA kernels for the binary families: arithmetic (BinaryOp), comparisons and logic (CompareOp), and where.
// The math is kernels/elementwise_ops.h, shared with the CPU; this file only launches it. Half and BFloat16
// elements are computed in float (opmath_t) and rounded back once.
#include "core/error.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/vectorized.cuh"
#include "kernels/dispatch.h"
#include "kernels/elementwise_ops.h"

namespace td::kernels::cuda {

namespace {

template <BinaryOp Op, class T>
__global__ void binary_kernel(int64_t n, Indexer ix, T* out, const T* a, const T* b, opmath_t<T> alpha) {
  using M = opmath_t<T>;
  TD_GRID_STRIDE_LOOP(i, n) {
    const auto o = offsets_of<3>(ix, i);
    out[o.at[0]] = T(fn::binary<Op>(M(a[o.at[1]]), M(b[o.at[2]]), alpha));
  }
}

// The contiguous case with every pointer aligned to a 16-byte pack: vector loads and stores.
template <BinaryOp Op, class T, int V>
__global__ void binary_packed_kernel(int64_t n, T* out, const T* a, const T* b, opmath_t<T> alpha) {
  using M = opmath_t<T>;
  map_packs<V>(n, out, a, b, [alpha](T x, T y) { return T(fn::binary<Op>(M(x), M(y), alpha)); });
}

template <CompareOp Op, class T>
__global__ void compare_kernel(int64_t n, Indexer ix, bool* out, const T* a, const T* b) {
  using M = opmath_t<T>;
  TD_GRID_STRIDE_LOOP(i, n) {
    const auto o = offsets_of<3>(ix, i);
    out[o.at[0]] = fn::compare<Op>(M(a[o.at[1]]), M(b[o.at[2]]));
  }
}

template <class T>
__global__ void where_kernel(int64_t n, Indexer ix, T* out, const bool* cond, const T* a, const T* b) {
  TD_GRID_STRIDE_LOOP(i, n) {
    const auto o = offsets_of<4>(ix, i);
    out[o.at[0]] = cond[o.at[1]] ? a[o.at[2]] : b[o.at[3]];
  }
}

// ReLU's and threshold's backward: grad where y > threshold, else 0 (PyTorch's threshold_backward).
template <class T>
__global__ void threshold_backward_kernel(int64_t n, Indexer ix, T* out, const T* grad, const T* y, T threshold) {
  TD_GRID_STRIDE_LOOP(i, n) {
    const auto o = offsets_of<3>(ix, i);
    out[o.at[0]] = y[o.at[2]] > threshold ? grad[o.at[1]] : T(0);
  }
}

template <class T>
__global__ void gather_kernel(int64_t n, Indexer ix, T* out, const T* in, const int64_t* index, int64_t dim_stride) {
  TD_GRID_STRIDE_LOOP(i, n) {
    const auto o = offsets_of<3>(ix, i);
    out[o.at[0]] = in[o.at[1] + index[o.at[2]] * dim_stride];
  }
}

// Whether the build holds a kernel image for sm_90 or later (kernels/CMakeLists.txt): a device of compute
// capability 9 runs such an image, where the 16-byte compare-and-swap exists; with only older images it would
// JIT-compile older PTX, whose complex128 product traps.
#ifndef TD_CUDA_MAX_ARCH
#define TD_CUDA_MAX_ARCH 0
#endif
constexpr bool kBuiltForSm90 = TD_CUDA_MAX_ARCH >= 90;

// The compute capability's major number of the thread's current device.
int compute_capability_major() {
  int device = 0, major = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "cudaDeviceGetAttribute");
  return major;
}

// The 16-byte word of a complex128 element, for sm_90's 128-bit compare-and-swap.
struct alignas(16) Word16 {
  unsigned long long lo, hi;
};
__device__ bool operator!=(Word16 a, Word16 b) { return a.lo != b.lo || a.hi != b.hi; }

// The compare-and-swap loop on a word W that holds exactly one T.
template <ScatterMode Mode, class T, class W>
__device__ void combine_in_word(W* word, T v) {
  W old = *word, assumed;
  do {
    assumed = old;
    T current, next;
    memcpy(&current, &assumed, sizeof(T));
    next = fn::scatter_combine<Mode>(current, v);
    W bits;
    memcpy(&bits, &next, sizeof(T));
    old = atomicCAS(word, assumed, bits);
  } while (assumed != old);
}

// out = scatter_combine<Mode>(out, v) as one atomic step: a compare-and-swap loop on the word holding the
// element (the aligned 32-bit word around it for 1- and 2-byte types), retried until no other thread changed
// it in between. Bits are compared, not values, so a NaN cannot make it spin.
template <ScatterMode Mode, class T>
__device__ void atomic_combine(T* dst, T v) {
  if constexpr (sizeof(T) == 16) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
    combine_in_word<Mode>(reinterpret_cast<Word16*>(dst), v);
#else
    __trap();  // unreachable: the launcher refuses images and devices below sm_90
#endif
  } else if constexpr (sizeof(T) == 8 || sizeof(T) == 4) {
    using W = std::conditional_t<sizeof(T) == 8, unsigned long long, unsigned int>;
    combine_in_word<Mode>(reinterpret_cast<W*>(dst), v);
  } else {
    using U = std::conditional_t<sizeof(T) == 1, unsigned char, unsigned short>;
    const auto address = reinterpret_cast<uintptr_t>(dst);
    auto* word = reinterpret_cast<unsigned int*>(address & ~uintptr_t{3});
    const unsigned shift = static_cast<unsigned>(address & 3) * 8;
    const unsigned mask = ((1u << (8 * sizeof(T))) - 1u) << shift;
    unsigned old = *word, assumed;
    do {
      assumed = old;
      const U bits = static_cast<U>((assumed & mask) >> shift);
      T current, next;
      memcpy(&current, &bits, sizeof(T));
      next = fn::scatter_combine<Mode>(current, v);
      U next_bits;
      memcpy(&next_bits, &next, sizeof(T));
      old = atomicCAS(word, assumed, (assumed & ~mask) | (static_cast<unsigned>(next_bits) << shift));
    } while (assumed != old);
  }
}

template <class T, ScatterMode Mode>
__global__ void scatter_kernel(int64_t n, Indexer ix, T* out, const int64_t* index, const T* src, int64_t dim_stride) {
  TD_GRID_STRIDE_LOOP(i, n) {
    const auto o = offsets_of<3>(ix, i);
    T* dst = out + o.at[0] + index[o.at[1]] * dim_stride;
    const T v = src[o.at[2]];
    if constexpr (Mode == ScatterMode::kAssign) {
      *dst = v;
    } else if constexpr (Mode == ScatterMode::kAdd && is_complex_v<T>) {
      atomicAdd(&dst->re, v.re);  // complex addition is part by part
      atomicAdd(&dst->im, v.im);
    } else if constexpr (Mode == ScatterMode::kAdd && std::is_same_v<T, int64_t>) {
      atomicAdd(reinterpret_cast<unsigned long long*>(dst), static_cast<unsigned long long>(v));  // two's complement
    } else if constexpr (Mode == ScatterMode::kAdd &&
                         (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t>)) {
      atomicAdd(dst, v);  // the hardware's own atomic add
    } else {
      atomic_combine<Mode>(dst, v);
    }
  }
}

// Which (op, type) pairs can reach a kernel: the front end promotes or rejects the rest, so those are
// not compiled at all.
template <BinaryOp Op, class T>
constexpr bool kValid = is_complex_v<T> ? fn::complex_binary_op(Op) : !(fn::kAnyFloat<T> &&
                          (Op == BinaryOp::kBitwiseAnd || Op == BinaryOp::kBitwiseOr || Op == BinaryOp::kBitwiseXor)) &&
                        !(!fn::kAnyFloat<T> && (Op == BinaryOp::kDiv || Op == BinaryOp::kAtan2)) &&
                        !(std::is_same_v<T, bool> && (Op == BinaryOp::kSub || Op == BinaryOp::kFmod ||
                                                      Op == BinaryOp::kRemainder || Op == BinaryOp::kFloorDivide));
}  // namespace

void binary(BinaryOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* a, const void* b,
            const Scalar& alpha) {
  dispatch_with_complex(dtype, binary_op_name(op).data(), [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out);
    auto* x = static_cast<const T*>(a);
    auto* y = static_cast<const T*>(b);
    const opmath_t<T> al = alpha.to<opmath_t<T>>();
    constexpr int V = kPackOf<T>;
    const bool packed =
        ix.contiguous && pack_aligned<T, V>(o) && pack_aligned<T, V>(x) && pack_aligned<T, V>(y);
    switch (op) {
#define TD_BINARY_LAUNCH(Name)                                                                            \
  case BinaryOp::Name:                                                                                    \
    if constexpr (kValid<BinaryOp::Name, T>) {                                                            \
      if (packed) {                                                                                       \
        binary_packed_kernel<BinaryOp::Name, T, V><<<blocks_for_packs(n, V), kThreads, 0, stream()>>>(n, o, x, y, al); \
      } else {                                                                                            \
        binary_kernel<BinaryOp::Name, T><<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, o, x, y, al);                \
      }                                                                                                   \
      return;                                                                                             \
    }                                                                                                     \
    break;
      TD_FOR_EACH_BINARY_OP(TD_BINARY_LAUNCH)
#undef TD_BINARY_LAUNCH
    }
    throw Error(ErrorCode::kUnimplemented,
                str("[", binary_op_name(op), "] has no CUDA kernel for dtype ", dtype_name(dtype)));
  });
  check(cudaGetLastError(), "binary kernel launch");
}

void compare(CompareOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* a, const void* b) {
  dispatch_with_complex(dtype, compare_op_name(op).data(), [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<bool*>(out);
    auto* x = static_cast<const T*>(a);
    auto* y = static_cast<const T*>(b);
    switch (op) {
#define TD_COMPARE_LAUNCH(Name)                                                                   \
  case CompareOp::Name:                                                                           \
    compare_kernel<CompareOp::Name, T><<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, o, x, y); \
    break;
      TD_FOR_EACH_COMPARE_OP(TD_COMPARE_LAUNCH)
#undef TD_COMPARE_LAUNCH
    }
  });
  check(cudaGetLastError(), "compare kernel launch");
}

void threshold_backward(DType dtype, int64_t n, const Indexer& ix, void* out, const void* grad, const void* y,
                        double threshold) {
  float_or_double(dtype, [&](auto tag) {
    using T = decltype(tag);
    threshold_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        n, ix, static_cast<T*>(out), static_cast<const T*>(grad), static_cast<const T*>(y), static_cast<T>(threshold));
  });
  check(cudaGetLastError(), "threshold_backward kernel launch");
}

void where(DType dtype, int64_t n, const Indexer& ix, void* out, const void* cond, const void* a, const void* b) {
  dispatch_with_complex(dtype, "where", [&](auto tag) {
    using T = decltype(tag);
    where_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        n, ix, static_cast<T*>(out), static_cast<const bool*>(cond), static_cast<const T*>(a),
        static_cast<const T*>(b));
  });
  check(cudaGetLastError(), "where kernel launch");
}

void gather(DType dtype, int64_t n, const Indexer& ix, void* out, const void* in, const int64_t* index,
            int64_t dim_stride) {
  dispatch_with_complex(dtype, "gather", [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, static_cast<T*>(out),
                                                               static_cast<const T*>(in), index, dim_stride);
  });
  check(cudaGetLastError(), "gather kernel launch");
}

void scatter(ScatterMode mode, DType dtype, int64_t n, const Indexer& ix, void* out, const int64_t* index,
             const void* src, int64_t dim_stride) {
  dispatch_with_complex(dtype, scatter_mode_name(mode).data(), [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out);
    auto* s = static_cast<const T*>(src);
    if constexpr (is_complex_v<T>) {
      // Complex numbers have no max or min (the front end refuses them). A complex128 product takes a 16-byte
      // compare-and-swap, which devices of compute capability 9.0 and up have.
      if (mode == ScatterMode::kAssign) {
        scatter_kernel<T, ScatterMode::kAssign>
            <<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, o, index, s, dim_stride);
      } else if (mode == ScatterMode::kAdd) {
        scatter_kernel<T, ScatterMode::kAdd><<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, o, index, s, dim_stride);
      } else if (mode == ScatterMode::kMul && (sizeof(T) == 8 || (kBuiltForSm90 && compute_capability_major() >= 9))) {
        scatter_kernel<T, ScatterMode::kMul><<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, o, index, s, dim_stride);
      } else {
        throw Error(ErrorCode::kUnimplemented,
                    str("[", scatter_mode_name(mode), "] has no CUDA kernel for dtype ", dtype_name(dtype),
                        mode == ScatterMode::kMul ? " below sm_90 (device or build)" : ""));
      }
    } else {
      switch (mode) {
#define TD_SCATTER_LAUNCH(Name)                                                                        \
  case ScatterMode::Name:                                                                              \
    scatter_kernel<T, ScatterMode::Name><<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, o, index, s, dim_stride); \
    break;
        TD_FOR_EACH_SCATTER_MODE(TD_SCATTER_LAUNCH)
#undef TD_SCATTER_LAUNCH
      }
    }
  });
  check(cudaGetLastError(), "scatter kernel launch");
}

}  // namespace td::kernels::cuda
