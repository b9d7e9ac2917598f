// The complex element type of complex64 and complex128 as kernels see it: Complex<T>, two T's (real, then
// imaginary), layout-compatible with std::complex<T> and cuComplex/cuDoubleComplex, with arithmetic and the
// elementary functions usable in host and device code (std::complex is not usable in device code). Host
// APIs (tensor<std::complex<float>>, item, to_vector) speak std::complex; kernels speak Complex.
#pragma once

#include <cmath>
#include <complex>
#include <limits>
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

// Elementary functions, found by argument-dependent lookup from the kernels' functors. They follow
// std::complex (C99 Annex G, what PyTorch's CPU kernels call): the same principal branches, the branch cuts
// on the axes taking the side of a signed zero, and Kahan's cancellation-free formulas for the inverse
// functions; infinite and NaN parts give Annex G's results for exp, log, sqrt, sinh, cosh, tanh and the
// inverse functions. complex_test.cpp checks every function against std::complex on a grid.
template <class T>
TD_HD bool is_inf_part(T v) {
  return v == std::numeric_limits<T>::infinity() || v == -std::numeric_limits<T>::infinity();
}
template <class T>
TD_HD bool is_finite_part(T v) {
  return v - v == T(0);  // NaN for NaN and for ±inf
}
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
  if (is_inf_part(z.re) && !is_finite_part(z.im)) {
    // e^(+inf + i inf) has an infinite modulus and no angle; e^(-inf + i inf) is 0 whatever the angle.
    if (z.re > T(0)) return {z.re, z.im - z.im};
    return {T(0), T(0)};
  }
  const T m = exp(z.re);
  return {m * cos(z.im), m * sin(z.im)};
}
/// Near |z| = 1, log |z| is log1p(|z|^2 - 1) / 2 with |z|^2 - 1 = (a-1)(a+1) + b^2 (a the larger part, a - 1
/// exact): log(hypot) there keeps only absolute accuracy.
template <class T>
TD_HD Complex<T> log(Complex<T> z) {
  using TD_CMATH fabs, TD_CMATH log, TD_CMATH log1p;
  const T x = fabs(z.re), y = fabs(z.im), a = x >= y ? x : y, b = x >= y ? y : x;  // NaN: a is NaN
  if (a >= T(0.5) && a <= T(2)) return {T(0.5) * log1p((a - T(1)) * (a + T(1)) + b * b), arg(z)};
  return {log(abs(z)), arg(z)};
}
/// log(z) / ln 2, part by part, as PyTorch.
template <class T>
TD_HD Complex<T> log2(Complex<T> z) {
  const Complex<T> l = log(z);
  const T ln2 = T(0.693147180559945309417232121458176568);
  return {l.re / ln2, l.im / ln2};
}
/// log(z) / ln 10, part by part, as std::log10.
template <class T>
TD_HD Complex<T> log10(Complex<T> z) {
  const Complex<T> l = log(z);
  const T ln10 = T(2.30258509299404568401799145468436421);
  return {l.re / ln10, l.im / ln10};
}
template <class T>
TD_HD Complex<T> sqrt(Complex<T> z) {
  using TD_CMATH copysign, TD_CMATH fabs, TD_CMATH sqrt;
  if (is_inf_part(z.im)) return {std::numeric_limits<T>::infinity(), z.im};  // even for a NaN real part
  const T r = abs(z);
  if (r == T(0)) return {T(0), z.im};
  const T t = sqrt((r + fabs(z.re)) / T(2));
  if (z.re >= T(0)) return {t, z.im / (T(2) * t)};
  return {fabs(z.im) / (T(2) * t), copysign(t, z.im)};
}
template <class T>
TD_HD Complex<T> sinh(Complex<T> z) {
  using TD_CMATH cos, TD_CMATH cosh, TD_CMATH sin, TD_CMATH sinh;
  if (z.im == T(0)) return {sinh(z.re), z.im};  // real: no inf * 0
  if (is_inf_part(z.re) && !is_finite_part(z.im)) return {z.re, z.im - z.im};
  if (z.re == T(0)) return {is_finite_part(z.im) ? z.re * cos(z.im) : z.re, sin(z.im)};  // imaginary
  return {sinh(z.re) * cos(z.im), cosh(z.re) * sin(z.im)};
}
template <class T>
TD_HD Complex<T> cosh(Complex<T> z) {
  using TD_CMATH copysign, TD_CMATH cos, TD_CMATH cosh, TD_CMATH sin, TD_CMATH sinh;
  // Real: the imaginary part is sinh(x) * (±0), a zero of sign sign(x) sign(y), without inf * 0.
  if (z.im == T(0)) return {cosh(z.re), copysign(T(0), z.re) * z.im};
  if (is_inf_part(z.re) && !is_finite_part(z.im)) return {std::numeric_limits<T>::infinity(), z.im - z.im};
  if (z.re == T(0)) return {cos(z.im), is_finite_part(z.im) ? z.re * sin(z.im) : T(0)};  // imaginary
  return {cosh(z.re) * cos(z.im), sinh(z.re) * sin(z.im)};
}
/// sin z = -i sinh(iz).
template <class T>
TD_HD Complex<T> sin(Complex<T> z) {
  const Complex<T> s = sinh(Complex<T>(-z.im, z.re));
  return {s.im, -s.re};
}
/// cos z = cosh(iz).
template <class T>
TD_HD Complex<T> cos(Complex<T> z) {
  return cosh(Complex<T>(-z.im, z.re));
}
/// tanh(x + iy) = (sinh x cosh x + i sin y cos y) / (sinh^2 x + cos^2 y): both terms of the denominator are
/// non-negative, so nothing cancels (sinh 2x / (cosh 2x + cos 2y) loses digits near y = pi/2). For large |x|
/// it is ±1 (+ i 0 sin 2y).
template <class T>
TD_HD Complex<T> tanh(Complex<T> z) {
  using TD_CMATH copysign, TD_CMATH cos, TD_CMATH cosh, TD_CMATH fabs, TD_CMATH sin, TD_CMATH sinh, TD_CMATH tan,
      TD_CMATH tanh;
  if (fabs(z.re) > T(sizeof(T) == 4 ? 10 : 22) && (is_finite_part(z.im) || is_inf_part(z.re))) {
    return {copysign(T(1), z.re), is_finite_part(z.im) ? copysign(T(0), sin(T(2) * z.im)) : T(0)};
  }
  if (z.im == T(0)) return {tanh(z.re), z.im};
  if (z.re == T(0)) return {z.re, tan(z.im)};  // i tan y
  const T sh = sinh(z.re), ch = cosh(z.re), s = sin(z.im), c = cos(z.im);
  const T d = sh * sh + c * c;
  return {sh * ch / d, s * c / d};
}
/// tan(z) = -i tanh(iz).
template <class T>
TD_HD Complex<T> tan(Complex<T> z) {
  const Complex<T> t = tanh(Complex<T>(-z.im, z.re));
  return {t.im, -t.re};
}

/// asin of a finite z by Kahan ("Branch cuts for complex elementary functions", 1987):
/// asin z = atan(Re z / Re(sqrt(1-z) sqrt(1+z))) + i asinh(Im(conj(sqrt(1-z)) sqrt(1+z))).
/// 1 - z is (1 - x) - iy: the real 1 has no imaginary part, so the sign of a zero y flips.
template <class T>
TD_HD Complex<T> asin_finite(Complex<T> z) {
  using TD_CMATH asinh, TD_CMATH atan2;
  const Complex<T> s1 = sqrt(Complex<T>(T(1) - z.re, -z.im)), s2 = sqrt(Complex<T>(T(1) + z.re, z.im));
  return {atan2(z.re, s1.re * s2.re - s1.im * s2.im), asinh(s1.re * s2.im - s1.im * s2.re)};
}
/// asinh z = -i asin(iz); for an infinite part it is ±inf + i arg(|x| + iy) (Annex G).
template <class T>
TD_HD Complex<T> asinh(Complex<T> z) {
  using TD_CMATH atan2, TD_CMATH copysign, TD_CMATH fabs;
  if (is_inf_part(z.re) || is_inf_part(z.im)) {
    return {copysign(std::numeric_limits<T>::infinity(), z.re), atan2(z.im, fabs(z.re))};
  }
  const Complex<T> w = asin_finite(Complex<T>(-z.im, z.re));
  return {w.im, -w.re};
}
/// asin z = -i asinh(iz) where a part is infinite.
template <class T>
TD_HD Complex<T> asin(Complex<T> z) {
  if (is_inf_part(z.re) || is_inf_part(z.im)) {
    const Complex<T> w = asinh(Complex<T>(-z.im, z.re));
    return {w.im, -w.re};
  }
  return asin_finite(z);
}
/// acos z = 2 atan(Re sqrt(1-z) / Re sqrt(1+z)) + i asinh(Im(conj(sqrt(1+z)) sqrt(1-z))) (Kahan); for an
/// infinite part, arg(x + i|y|) - i sign(y) inf (Annex G).
template <class T>
TD_HD Complex<T> acos(Complex<T> z) {
  using TD_CMATH asinh, TD_CMATH atan2, TD_CMATH copysign, TD_CMATH fabs;
  if (is_inf_part(z.re) || is_inf_part(z.im)) {
    return {atan2(fabs(z.im), z.re), -copysign(std::numeric_limits<T>::infinity(), z.im)};
  }
  const Complex<T> s1 = sqrt(Complex<T>(T(1) - z.re, -z.im)), s2 = sqrt(Complex<T>(T(1) + z.re, z.im));
  return {T(2) * atan2(s1.re, s2.re), asinh(s2.re * s1.im - s2.im * s1.re)};
}
/// acosh z = asinh(Re(conj(sqrt(z-1)) sqrt(z+1))) + i 2 atan(Im sqrt(z-1) / Re sqrt(z+1)) (Kahan); for an
/// infinite part, inf + i sign(y) arg(x + i|y|) (Annex G).
template <class T>
TD_HD Complex<T> acosh(Complex<T> z) {
  using TD_CMATH asinh, TD_CMATH atan2, TD_CMATH copysign, TD_CMATH fabs;
  if (is_inf_part(z.re) || is_inf_part(z.im)) {
    return {std::numeric_limits<T>::infinity(), copysign(atan2(fabs(z.im), z.re), z.im)};
  }
  const Complex<T> s1 = sqrt(Complex<T>(z.re - T(1), z.im)), s2 = sqrt(Complex<T>(z.re + T(1), z.im));
  return {asinh(s1.re * s2.re + s1.im * s2.im), T(2) * atan2(s1.im, s2.re)};
}
/// atanh z = 1/4 log1p(4x / ((1-x)^2 + y^2)) + i/2 atan2(2y, (1-x)(1+x) - y^2) for x >= 0, and
/// -atanh(-z) for x < 0 (so the log1p argument is never near -1); for an infinite part, ±0 + i sign(y) pi/2.
template <class T>
TD_HD Complex<T> atanh(Complex<T> z) {
  using TD_CMATH atan2, TD_CMATH copysign, TD_CMATH log1p, TD_CMATH signbit;
  if (is_inf_part(z.re) || is_inf_part(z.im)) {
    const T half_pi = T(1.57079632679489661923132169163975144);
    return {copysign(T(0), z.re), z.im != z.im ? z.im : copysign(half_pi, z.im)};
  }
  const bool negative = signbit(z.re);
  const T x = negative ? -z.re : z.re, y = negative ? -z.im : z.im, one_minus = T(1) - x;
  const Complex<T> w(T(0.25) * log1p(T(4) * x / (one_minus * one_minus + y * y)),
                     T(0.5) * atan2(T(2) * y, one_minus * (T(1) + x) - y * y));
  return negative ? -w : w;
}
/// atan z = -i atanh(iz).
template <class T>
TD_HD Complex<T> atan(Complex<T> z) {
  const Complex<T> w = atanh(Complex<T>(-z.im, z.re));
  return {w.im, -w.re};
}
/// a^b = exp(b log a), std::pow's (and so PyTorch's) formula, also at a = 0: 0^b is 0 for Re b > 0,
/// inf + NaN i for b < 0 and NaN + NaN i for b = 0 (PyTorch's pow(Tensor, Scalar) special-cases
/// exponents 0, 1, 2, 3, -2, ±1/2 and -1 before it gets here).
template <class T>
TD_HD Complex<T> pow(Complex<T> a, Complex<T> b) {
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
