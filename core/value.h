// The argument values an op takes, generic over the tensor type so that td::Tensor (local) and
// td::remote::Tensor (a handle on a server) share one list of op methods (DESIGN.md invariant 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/dtype.h"
#include "core/scalar.h"

namespace td {

/// "Not given" (PyTorch's None).
struct None {
  bool operator==(const None&) const = default;
};

/// A slice in an index list (Python's start:stop:step): x.index({Slice(1, std::nullopt, 2)}) is x[1::2].
struct Slice {
  Slice(std::optional<int64_t> start_ = std::nullopt, std::optional<int64_t> stop_ = std::nullopt, int64_t step_ = 1)
      : start(start_), stop(stop_), step(step_) {}
  std::optional<int64_t> start, stop;
  int64_t step;
};
/// `...` in an index list: as many whole dims as the other entries leave.
struct EllipsisIndex {};
inline constexpr EllipsisIndex Ellipsis{};

/// One op argument: None, a tensor, a number, a list of ints, a string, a dtype or a list of tensors
/// (`Tensor[]`).
template <class TensorT>
using BasicValue =
    std::variant<None, TensorT, Scalar, std::vector<int64_t>, std::string, DType, std::vector<TensorT>>;

/// Builds an int-list value (dims, shapes) without the variant's overload puzzles.
inline std::vector<int64_t> int_list(std::initializer_list<int64_t> v) { return std::vector<int64_t>(v); }

/// A dim argument that may be absent: `None` or an int list.
template <class TensorT>
BasicValue<TensorT> optional_dims(const std::optional<std::vector<int64_t>>& dims) {
  if (!dims) return None{};
  return *dims;
}

/// An optional dtype argument: `None` or a dtype.
template <class TensorT>
BasicValue<TensorT> optional_dtype(std::optional<DType> t) {
  if (!t) return None{};
  return *t;
}

}  // namespace td
