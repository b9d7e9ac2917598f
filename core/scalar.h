// A Python-like number: what `alpha=1` or `fill_value=0.5` is before it meets a tensor's dtype.
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/dtype.h"
#include "core/complex.h"
#include "core/half.h"

namespace td {

/// A bool, integer, floating or complex number, remembering which (PyTorch's c10::Scalar).
class Scalar {
 public:
  Scalar() : kind_(Kind::kInt), i_(0) {}
  Scalar(bool v) : kind_(Kind::kBool), i_(v) {}  // NOLINT: implicit like PyTorch's Scalar
  Scalar(int v) : kind_(Kind::kInt), i_(v) {}  // NOLINT
  Scalar(int64_t v) : kind_(Kind::kInt), i_(v) {}  // NOLINT
  Scalar(double v) : kind_(Kind::kFloat), d_(v) {}  // NOLINT
  Scalar(float v) : kind_(Kind::kFloat), d_(v) {}  // NOLINT
  Scalar(std::complex<double> v) : kind_(Kind::kComplex), d_(v.real()), im_(v.imag()) {}  // NOLINT
  Scalar(std::complex<float> v) : Scalar(std::complex<double>(v)) {}                       // NOLINT

  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_integral() const { return kind_ == Kind::kBool || kind_ == Kind::kInt; }
  bool is_floating() const { return kind_ == Kind::kFloat; }
  bool is_complex() const { return kind_ == Kind::kComplex; }
  /// The real value (the real part of a complex number).
  double to_double() const { return is_integral() ? static_cast<double>(i_) : d_; }
  int64_t to_int() const { return is_integral() ? i_ : static_cast<int64_t>(d_); }
  /// The value as a complex number (imaginary part 0 unless it is one).
  std::complex<double> to_complex() const { return {to_double(), is_complex() ? im_ : 0.0}; }
  /// The value as a C++ number type: floats convert (to Half and BFloat16 through float, as c10 does),
  /// integers truncate toward zero, bool is "non-zero", complex types take both parts; a real type takes
  /// a complex number's real part (the caller decides whether dropping the imaginary part is an error).
  template <class T>
  T to() const {
    if constexpr (is_complex_v<T>) {
      using V = typename T::value_type;
      return T(static_cast<V>(to_double()), static_cast<V>(is_complex() ? im_ : 0.0));
    } else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
      return T(to_complex());
    } else if constexpr (std::is_same_v<T, bool>) {
      return to_double() != 0 || (is_complex() && im_ != 0);
    } else if constexpr (is_floating_type_v<T>) {
      return static_cast<T>(to_double());
    } else {
      return static_cast<T>(to_int());
    }
  }
  /// The dtype a tensor made from this number would have: bool, int64, the default float or the default
  /// complex (complex64).
  DType natural_dtype() const {
    return kind_ == Kind::kBool    ? DType::kBool
           : kind_ == Kind::kInt   ? DType::kInt64
           : kind_ == Kind::kFloat ? default_float_dtype()
                                   : DType::kComplex64;
  }
  std::string str() const;

 private:
  enum class Kind : uint8_t { kBool, kInt, kFloat, kComplex };
  Kind kind_;
  union {
    int64_t i_;
    double d_;  // a float, or a complex number's real part
  };
  double im_ = 0;  // a complex number's imaginary part
};

}  // namespace td
