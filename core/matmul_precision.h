// torch.set_float32_matmul_precision: how float32 matrix products may trade precision for speed, process-wide.
// "highest" (the default) computes in float32; "high" and "medium" let CUDA's cuBLAS use TF32 tensor cores
// (torch.backends.cuda.matmul.allow_tf32, 10 mantissa bits per product, float32 accumulation). The CPU's GEMMs
// are float32 at every setting, as PyTorch's. Header-only: the CUDA kernels read the setting at each product.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "core/error.h"

namespace td {

enum class MatmulPrecision : int { kHighest, kHigh, kMedium };

namespace detail {
inline std::atomic<MatmulPrecision>& matmul_precision_state() {
  static std::atomic<MatmulPrecision> state{MatmulPrecision::kHighest};
  return state;
}
}  // namespace detail

inline MatmulPrecision float32_matmul_precision() { return detail::matmul_precision_state().load(std::memory_order_relaxed); }

/// "highest", "high" or "medium" (torch.set_float32_matmul_precision); anything else is INVALID_ARGUMENT.
inline void set_float32_matmul_precision(std::string_view precision) {
  MatmulPrecision p;
  if (precision == "highest") {
    p = MatmulPrecision::kHighest;
  } else if (precision == "high") {
    p = MatmulPrecision::kHigh;
  } else if (precision == "medium") {
    p = MatmulPrecision::kMedium;
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                str("[set_float32_matmul_precision] Invalid precision \"", precision,
                    "\": expected \"highest\", \"high\" or \"medium\""));
  }
  detail::matmul_precision_state().store(p, std::memory_order_relaxed);
}

/// The current setting's name (torch.get_float32_matmul_precision).
inline std::string get_float32_matmul_precision() {
  switch (float32_matmul_precision()) {
    case MatmulPrecision::kHigh: return "high";
    case MatmulPrecision::kMedium: return "medium";
    default: return "highest";
  }
}

namespace cuda::matmul {
/// torch.backends.cuda.matmul.allow_tf32: whether float32 products may use TF32 ("high" when set).
inline bool allow_tf32() { return float32_matmul_precision() != MatmulPrecision::kHighest; }
inline void set_allow_tf32(bool allow) { set_float32_matmul_precision(allow ? "high" : "highest"); }
}  // namespace cuda::matmul

}  // namespace td
