// The complex element type of complex64 and complex128 as kernels see it: Complex<T>, two T's (real, then
// imaginary), layout-compatible with std::complex<T> and cuComplex/cuDoubleComplex, with arithmetic and the
// elementary functions usable in host and device code (std::complex is not usable in device code). Host
// APIs (tensor<std::complex<float>>, item, to_vector) speak std::complex; kernels speak Complex.
#pragma once

#include <cmath>
#include <complex>
#include <type_traits>

#include "core/half.h"  // defines TD_HD (inline, or __host__ __device__ under nvcc)

// Host code takes the float overloads from std, device code CUDA's global ones.
#if defined(__CUDA_ARCH__)
#define TD_CMATH ::
#else
#define TD_CMATH std::
#endif

namespace td {

// Complex and its functions live in their own namespace: argument-dependent lookup finds exp(Complex) from
// the kernels' functors, while unqualified exp(float) there still reaches the std/CUDA overloads (a td::exp
// template would hide them).
namespace complex_detail {

/// A complex number of two T's (float or double), real part first.
template <class T>
struct alignas(2 * sizeof(T)) Complex {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  using value_type = T;
  T re;
  T im;

  Complex() = default;  // trivial, so arrays may live in CUDA shared memory; Complex{} is 0
  TD_HD constexpr Complex(T r, T i) : re(r), im(i) {}
  /// From a real number of any element type (bool, integers, Half, BFloat16, float, double): imaginary 0.
  template <class U, std::enable_if_t<std::is_arithmetic_v<U> || is_reduced_float_v<U>, int> = 0>
  TD_HD explicit Complex(U v) : re(static_cast<T>(static_cast<opmath_t<U>>(v))), im(T(0)) {}
  /// From the other precision.
  template <class U, std::enable_if_t<!std::is_same_v<U, T>, int> = 0>
  TD_HD explicit Complex(Complex<U> v) : re(static_cast<T>(v.re)), im(static_cast<T>(v.im)) {}
  /// Host only: to and from std::complex.
  Complex(const std::complex<T>& z) : re(z.real()), im(z.imag()) {}  // NOLINT: implicit, same layout
  operator std::complex<T>() const { return {re, im}; }               // NOLINT

  TD_HD T real() const { return re; }
  TD_HD T imag() const { return im; }
};

template <class T>
TD_HD Complex<T> operator+(Complex<T> a, Complex<T> b) {
  return {a.re + b.re, a.im + b.im};
}
template <class T>
TD_HD Complex<T> operator-(Complex<T> a, Complex<T> b) {
  return {a.re - b.re, a.im - b.im};
}
template <class T>
TD_HD Complex<T> operator-(Complex<T> a) {
  return {-a.re, -a.im};
}
template <class T>
TD_HD Complex<T> operator*(Complex<T> a, Complex<T> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
/// Smith's algorithm: scales by the larger part of b, so |b|^2 neither overflows nor underflows early.
template <class T>
TD_HD Complex<T> operator/(Complex<T> a, Complex<T> b) {
  using TD_CMATH fabs;
  if (fabs(b.re) >= fabs(b.im)) {
    if (b.re == T(0) && b.im == T(0)) return {T(0) / b.re, T(0) / b.re};  // NaN + NaNj, as PyTorch
    const T r = b.im / b.re, d = b.re + b.im * r;
    return {(a.re + a.im * r) / d, (a.im - a.re * r) / d};
  }
  const T r = b.re / b.im, d = b.im + b.re * r;
  return {(a.re * r + a.im) / d, (a.im * r - a.re) / d};
}
template <class T>
TD_HD Complex<T>& operator+=(Complex<T>& a, Complex<T> b) {
  return a = a + b;
}
template <class T>
TD_HD Complex<T>& operator*=(Complex<T>& a, Complex<T> b) {
  return a = a * b;
}
template <class T>
TD_HD bool operator==(Complex<T> a, Complex<T> b) {
  return a.re == b.re && a.im == b.im;
}
template <class T>
TD_HD bool operator!=(Complex<T> a, Complex<T> b) {
  return !(a == b);
}

// Elementary functions, found by argument-dependent lookup from the kernels' functors. They follow the
// C99 Annex G / std::complex formulas for finite values.
template <class T>
TD_HD Complex<T> conj(Complex<T> z) {
  return {z.re, -z.im};
}
template <class T>
TD_HD T abs(Complex<T> z) {
  using TD_CMATH hypot;
  return hypot(z.re, z.im);
}
template <class T>
TD_HD T arg(Complex<T> z) {
  using TD_CMATH atan2;
  return atan2(z.im, z.re);
}
template <class T>
TD_HD Complex<T> exp(Complex<T> z) {
  using TD_CMATH cos, TD_CMATH exp, TD_CMATH sin;
  if (z.im == T(0)) return {exp(z.re), z.im};  // exact for real arguments, keeps the sign of zero
  const T m = exp(z.re);
  return {m * cos(z.im), m * sin(z.im)};
}
template <class T>
TD_HD Complex<T> log(Complex<T> z) {
  using TD_CMATH log;
  return {log(abs(z)), arg(z)};
}
template <class T>
TD_HD Complex<T> sqrt(Complex<T> z) {
  using TD_CMATH copysign, TD_CMATH fabs, TD_CMATH sqrt;
  const T r = abs(z);
  if (r == T(0)) return {T(0), z.im};
  const T t = sqrt((r + fabs(z.re)) / T(2));
  if (z.re >= T(0)) return {t, z.im / (T(2) * t)};
  return {fabs(z.im) / (T(2) * t), copysign(t, z.im)};
}
template <class T>
TD_HD Complex<T> sin(Complex<T> z) {
  using TD_CMATH cos, TD_CMATH cosh, TD_CMATH sin, TD_CMATH sinh;
  return {sin(z.re) * cosh(z.im), cos(z.re) * sinh(z.im)};
}
template <class T>
TD_HD Complex<T> cos(Complex<T> z) {
  using TD_CMATH cos, TD_CMATH cosh, TD_CMATH sin, TD_CMATH sinh;
  return {cos(z.re) * cosh(z.im), -sin(z.re) * sinh(z.im)};
}
/// tanh(x + iy) = (sinh 2x + i sin 2y) / (cosh 2x + cos 2y); for large |x| it is ±1 (+ i 0·sin 2y).
template <class T>
TD_HD Complex<T> tanh(Complex<T> z) {
  using TD_CMATH copysign, TD_CMATH cos, TD_CMATH cosh, TD_CMATH fabs, TD_CMATH sin, TD_CMATH sinh;
  if (fabs(z.re) > T(sizeof(T) == 4 ? 10 : 22)) return {copysign(T(1), z.re), copysign(T(0), sin(T(2) * z.im))};
  const T d = cosh(T(2) * z.re) + cos(T(2) * z.im);
  return {sinh(T(2) * z.re) / d, sin(T(2) * z.im) / d};
}
/// a^b = exp(b log a); 0^b is 1 for b = 0 and 0 for b with a positive real part.
template <class T>
TD_HD Complex<T> pow(Complex<T> a, Complex<T> b) {
  if (a.re == T(0) && a.im == T(0)) {
    if (b.re == T(0) && b.im == T(0)) return {T(1), T(0)};
    if (b.im == T(0) && b.re > T(0)) return {T(0), T(0)};
  }
  return exp(b * log(a));
}

}  // namespace complex_detail

using complex_detail::Complex;

/// Complex<float> or Complex<double>.
template <class T>
inline constexpr bool is_complex_v = false;
template <class T>
inline constexpr bool is_complex_v<Complex<T>> = true;

static_assert(sizeof(Complex<float>) == sizeof(std::complex<float>) && alignof(Complex<float>) == 8);
static_assert(sizeof(Complex<double>) == sizeof(std::complex<double>) && alignof(Complex<double>) == 16);
static_assert(std::is_trivially_copyable_v<Complex<float>> && std::is_trivially_copyable_v<Complex<double>>);

}  // namespace td
