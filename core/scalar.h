// A Python-like number: what `alpha=1` or `fill_value=0.5` is before it meets a tensor's dtype.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/dtype.h"
#include "core/half.h"

namespace td {

/// A bool, integer or floating number, remembering which (PyTorch's c10::Scalar without complex, for now).
class Scalar {
 public:
  Scalar() : kind_(Kind::kInt), i_(0) {}
  Scalar(bool v) : kind_(Kind::kBool), i_(v) {}  // NOLINT: implicit like PyTorch's Scalar
  Scalar(int v) : kind_(Kind::kInt), i_(v) {}  // NOLINT
  Scalar(int64_t v) : kind_(Kind::kInt), i_(v) {}  // NOLINT
  Scalar(double v) : kind_(Kind::kFloat), d_(v) {}  // NOLINT
  Scalar(float v) : kind_(Kind::kFloat), d_(v) {}  // NOLINT

  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_integral() const { return kind_ != Kind::kFloat; }
  bool is_floating() const { return kind_ == Kind::kFloat; }
  double to_double() const { return kind_ == Kind::kFloat ? d_ : static_cast<double>(i_); }
  int64_t to_int() const { return kind_ == Kind::kFloat ? static_cast<int64_t>(d_) : i_; }
  /// The value as a C++ number type: floats convert (to Half and BFloat16 through float, as c10 does),
  /// integers truncate toward zero, bool is "non-zero".
  template <class T>
  T to() const {
    if constexpr (std::is_same_v<T, bool>) {
      return to_double() != 0;
    } else if constexpr (is_floating_type_v<T>) {
      return static_cast<T>(to_double());
    } else {
      return static_cast<T>(to_int());
    }
  }
  /// The dtype a tensor made from this number would have: bool, int64 or the default float.
  DType natural_dtype() const {
    return kind_ == Kind::kBool ? DType::kBool : kind_ == Kind::kInt ? DType::kInt64 : default_float_dtype();
  }
  std::string str() const;

 private:
  enum class Kind : uint8_t { kBool, kInt, kFloat };
  Kind kind_;
  union {
    int64_t i_;
    double d_;
  };
};

}  // namespace td
