// dtype dispatch shared by the CPU and CUDA backends (host code).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/complex.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"

namespace td::kernels {

/// Runs f(T{}) with T the C++ type of dtype (Half and BFloat16 for the 16-bit floats); names the op, the
/// backend and the dtype when there is no kernel (complex: kernels that handle it use
/// dispatch_with_complex).
template <class F>
void dispatch(DType dtype, std::string_view op, std::string_view backend, F&& f) {
  switch (dtype) {
    case DType::kBool:
      return f(bool{});
    case DType::kUInt8:
      return f(uint8_t{});
    case DType::kInt8:
      return f(int8_t{});
    case DType::kInt16:
      return f(int16_t{});
    case DType::kInt32:
      return f(int32_t{});
    case DType::kInt64:
      return f(int64_t{});
    case DType::kFloat16:
      return f(Half{});
    case DType::kBFloat16:
      return f(BFloat16{});
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat64:
      return f(double{});
    default:
      throw Error(ErrorCode::kUnimplemented,
                  str("[", op, "] has no ", backend, " kernel for dtype ", dtype_name(dtype)));
  }
}

/// dispatch() for kernels written for the floating dtypes only (float32, float64, float16, bfloat16), and
/// int64 too when kWithInt64 (average pooling, as PyTorch's CPU kernel).
template <bool kWithInt64 = false, class F>
void dispatch_floating(DType dtype, std::string_view op, std::string_view backend, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat64:
      return f(double{});
    case DType::kFloat16:
      return f(Half{});
    case DType::kBFloat16:
      return f(BFloat16{});
    case DType::kInt64:
      if constexpr (kWithInt64) return f(int64_t{});
      [[fallthrough]];
    default:
      throw Error(ErrorCode::kUnimplemented,
                  str("[", op, "] has no ", backend, " kernel for dtype ", dtype_name(dtype)));
  }
}

/// For the fused kernels that cover float and double only, after their own coverage check: f(float{}) for
/// float32, f(double{}) otherwise.
template <class F>
void float_or_double(DType dtype, F&& f) {
  if (dtype == DType::kFloat32) {
    f(float{});
  } else {
    f(double{});
  }
}

/// dispatch() that also runs complex64 and complex128, as Complex<float> and Complex<double>: for the
/// kernels written for complex too (copies, fills, where, gather, arithmetic, sums, GEMM).
template <class F>
void dispatch_with_complex(DType dtype, std::string_view op, std::string_view backend, F&& f) {
  if (dtype == DType::kComplex64) return f(Complex<float>{});
  if (dtype == DType::kComplex128) return f(Complex<double>{});
  dispatch(dtype, op, backend, f);
}

}  // namespace td::kernels
