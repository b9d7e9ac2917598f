// CUDA kernels for the unary family (kernels/elementwise_ops.h functors, shared with the CPU). Half and
// BFloat16 elements are computed in float (fn::InOpMath) and rounded back once.
#include "core/error.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/vectorized.cuh"
#include "kernels/elementwise_ops.h"

namespace td::kernels::cuda {

namespace {
template <class O, class I, class F>
__global__ void map_kernel(int64_t n, Indexer ix, O* out, const I* in, F f) {
  TD_GRID_STRIDE_LOOP(i, n) {
    const auto o = offsets_of<2>(ix, i);
    out[o.at[0]] = f(in[o.at[1]]);
  }
}

// The contiguous case with both pointers aligned to a pack: vector loads and stores.
template <class O, class I, class F, int V>
__global__ void map_packed_kernel(int64_t n, O* out, const I* in, F f) {
  map_packs<V>(n, out, in, static_cast<const I*>(nullptr), [f](I x, I) { return f(x); });
}

template <class O, class I, class F>
void launch(int64_t n, const Indexer& ix, void* out, const void* in) {
  constexpr int V = kPackFor<O, I>;
  auto* o = static_cast<O*>(out);
  auto* x = static_cast<const I*>(in);
  if (ix.contiguous && pack_aligned<O, V>(o) && pack_aligned<I, V>(x)) {
    map_packed_kernel<O, I, F, V><<<blocks_for_packs(n, V), kThreads, 0, stream()>>>(n, o, x, F{});
  } else {
    map_kernel<O, I, F><<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, o, x, F{});
  }
}

template <class F>
void float_op(UnaryOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* in) {
  if constexpr (fn::kComplexUnary<F>) {
    if (dtype == DType::kComplex64) return launch<Complex<float>, Complex<float>, F>(n, ix, out, in);
    if (dtype == DType::kComplex128) return launch<Complex<double>, Complex<double>, F>(n, ix, out, in);
  }
  if (dtype == DType::kFloat32) return launch<float, float, F>(n, ix, out, in);
  if (dtype == DType::kFloat64) return launch<double, double, F>(n, ix, out, in);
  if (dtype == DType::kFloat16) return launch<Half, Half, fn::InOpMath<F>>(n, ix, out, in);
  if (dtype == DType::kBFloat16) return launch<BFloat16, BFloat16, fn::InOpMath<F>>(n, ix, out, in);
  throw Error(ErrorCode::kUnimplemented,
              str("[", unary_op_name(op), "] has no CUDA kernel for dtype ", dtype_name(dtype)));
}

template <class F>
void any_op(UnaryOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* in) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<F, fn::BitwiseNot> && fn::kAnyFloat<T>) {
      // The front end refuses bitwise_not on floats: no kernel is compiled for them.
      throw Error(ErrorCode::kUnimplemented, str("[bitwise_not] has no CUDA kernel for dtype ", dtype_name(dtype)));
    } else {
      launch<T, T, fn::InOpMath<F>>(n, ix, out, in);
    }
  };
  if constexpr (fn::kComplexAny<F>) {
    dispatch_with_complex(dtype, unary_op_name(op).data(), run);
  } else {
    dispatch(dtype, unary_op_name(op).data(), run);
  }
}

template <class F>
void predicate_op(UnaryOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* in) {
  dispatch_with_complex(dtype, unary_op_name(op).data(), [&](auto tag) {
    using T = decltype(tag);
    launch<bool, T, fn::InOpMath<F>>(n, ix, out, in);
  });
}
}  // namespace

void unary(UnaryOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* in) {
  if (op == UnaryOp::kAbs && dtype == DType::kComplex64) {
    launch<float, Complex<float>, fn::ComplexAbs>(n, ix, out, in);
  } else if (op == UnaryOp::kAbs && dtype == DType::kComplex128) {
    launch<double, Complex<double>, fn::ComplexAbs>(n, ix, out, in);
  } else {
    switch (op) {
#define TD_UNARY_LAUNCH(Name, name) \
  case UnaryOp::k##Name: float_op<fn::Name>(op, dtype, n, ix, out, in); break;
    TD_FLOAT_UNARY_OPS(TD_UNARY_LAUNCH)
#undef TD_UNARY_LAUNCH
#define TD_UNARY_LAUNCH(Name, name) \
  case UnaryOp::k##Name: any_op<fn::Name>(op, dtype, n, ix, out, in); break;
    TD_ANY_UNARY_OPS(TD_UNARY_LAUNCH)
#undef TD_UNARY_LAUNCH
#define TD_UNARY_LAUNCH(Name, name) \
  case UnaryOp::k##Name: predicate_op<fn::Name>(op, dtype, n, ix, out, in); break;
    TD_PREDICATE_UNARY_OPS(TD_UNARY_LAUNCH)
#undef TD_UNARY_LAUNCH
    }
  }
  check(cudaGetLastError(), "unary kernel launch");
}

}  // namespace td::kernels::cuda
