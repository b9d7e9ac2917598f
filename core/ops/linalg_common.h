// Helpers shared by the torch.linalg op files (core/ops/linalg.cpp, core/ops/linalg_svd.cpp): PyTorch's input
// checks, LAPACK's column-major copies and the reading of LAPACK's info. Internal to core/ops.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/linalg_kernels.h"
#include "core/tensor.h"
#include "core/tensor_impl.h"

namespace td {
class Registry;
}

namespace td::linalg_detail {

using Shape = std::vector<int64_t>;

inline Tensor mT(const Tensor& x) { return x.transpose(-2, -1); }
inline Tensor mH(const Tensor& x) { return is_complex(x.dtype()) ? x.transpose(-2, -1).conj() : x.transpose(-2, -1); }

inline DType real_of(DType t) {
  return t == DType::kComplex64 ? DType::kFloat32 : t == DType::kComplex128 ? DType::kFloat64 : t;
}

// PyTorch's dtype check of a linalg input: float32, float64, complex64 or complex128 (LAPACK's four).
inline void check_linalg_dtype(std::string_view name, const Tensor& a) {
  const DType t = a.dtype();
  TD_CHECK_ARG(is_floating(t) || is_complex(t), "[", name,
               "] Expected a floating point or complex tensor as input. Got ", scalar_type_name(t));
  TD_CHECK_ARG(t != DType::kFloat16 && t != DType::kBFloat16, "[", name, "] Low precision dtypes not supported. Got ",
               scalar_type_name(t));
}

// PyTorch's checks of a linalg input that must be batches of square matrices.
inline void check_square_float(std::string_view name, const Tensor& a, std::string_view arg = "A") {
  TD_CHECK_ARG(a.dim() >= 2, "[", name, "] ", arg, " must have at least 2 dimensions, but got shape ",
               shape_str(a.shape()));
  TD_CHECK_ARG(a.size(-1) == a.size(-2), "[", name, "] ", arg, " must be batches of square matrices, but they are ",
               a.size(-2), " by ", a.size(-1), " matrices");
  check_linalg_dtype(name, a);
}

// A column-major copy of each matrix of x ([..., m, n] -> a contiguous [..., n, m] whose memory is x's
// matrices column by column), owned: the kernels overwrite it.
inline Tensor column_major_copy(const Tensor& x) {
  Tensor t = mT(x);
  return t.is_contiguous() ? t.clone() : t.contiguous();
}

inline int64_t batch_of(const Tensor& x) { return x.dim() <= 2 ? 1 : shape_numel(x.sizes().subspan(0, x.dim() - 2)); }

inline Shape batch_shape(const Tensor& x) { return Shape(x.sizes().begin(), x.sizes().end() - 2); }

// LAPACK's LU factors with partial pivoting of each m x n matrix of a (getrf): lu holds them column by column
// (lu.mT() is the packed [..., m, n] factor), pivots [..., min(m, n)] and info [...] are int32.
struct LuFactors {
  Tensor lu, pivots, info;
};

inline LuFactors lu_factor(const Tensor& a) {
  const int64_t m = a.size(-2), n = a.size(-1);
  LuFactors f;
  f.lu = column_major_copy(a);
  Shape shape = batch_shape(a);
  f.info = zeros(shape, {DType::kInt32, a.device()});
  shape.push_back(std::min(m, n));
  f.pivots = zeros(shape, {DType::kInt32, a.device()});
  if (a.numel() > 0) {
    linalg_kernels(a.device().type)
        .lu_factor(f.lu.data_ptr(), a.dtype(), batch_of(a), m, n, static_cast<int32_t*>(f.pivots.data_ptr()),
                   static_cast<int32_t*>(f.info.data_ptr()), a.device().index);
  }
  return f;
}

// info's first positive entry, with its batch index, or {-1, 0}: one host read.
inline std::pair<int64_t, int32_t> first_failure(const Tensor& info) {
  if (info.numel() == 0) return {-1, 0};
  auto v = info.to("cpu").reshape({-1}).to_vector<int32_t>();
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] > 0) return {static_cast<int64_t>(i), v[i]};
  }
  return {-1, 0};
}

// "(Batch element 3): " for a batch, nothing for one matrix, as PyTorch's messages.
inline std::string batch_prefix(const Tensor& info, int64_t index) {
  return info.dim() > 0 ? str("(Batch element ", index, "): ") : std::string();
}

// Square matrices with v ([..., n]) on their diagonals (torch.diag_embed), differentiable.
inline Tensor diag_embed(const Tensor& v) {
  Shape shape = v.shape();
  shape.push_back(v.size(-1));
  return zeros(shape, {v.dtype(), v.device()}).diagonal_scatter(v, 0, -2, -1);
}

inline Tensor eye_like(const Tensor& a) {
  const int64_t n = a.size(-1);
  return call_op("eye", {Scalar(n), None{}, real_of(a.dtype()), a.device().str()})[0].to(a.dtype());
}


/// Registers the SVD, QR, triangular solves, pinv, ranks and norms (core/ops/linalg_svd.cpp).
void register_decompositions(Registry& r);
/// Registers the LU family (core/ops/linalg_lu.cpp).
void register_lu(Registry& r);

}  // namespace td::linalg_detail
