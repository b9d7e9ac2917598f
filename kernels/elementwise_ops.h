// The math of every elementwise op, written once for all backends: each functor compiles for the host
// (kernels/cpu) and, under nvcc, for the device (kernels/cuda). Front ends have already promoted and checked
// dtypes, so a functor only sees the types its op allows; integer special cases that would trap in C++
// (x / 0, INT_MIN / -1) are defined here because a kernel must never crash the server.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/backend.h"
#include "core/complex.h"  // Complex<T>: complex64 and complex128 in kernels
#include "core/half.h"  // Half, BFloat16, opmath_t; defines TD_HD (inline, or __host__ __device__ under nvcc)
// Device code finds CUDA's float overloads (::expf-backed exp(float)) unqualified; host code needs std's.
#if defined(__CUDA_ARCH__)
#define TD_MATH_NAMESPACE
#else
#define TD_MATH_NAMESPACE using namespace std;
#endif

namespace td::kernels::fn {

template <class T>
inline constexpr bool kFloat = std::is_floating_point_v<T>;
template <class T>
inline constexpr bool kBool = std::is_same_v<T, bool>;
/// float, double, Half or BFloat16: what the kernels' dtype checks mean by a floating type (the functors
/// themselves only ever see float and double: 16-bit floats are computed in float, see InOpMath).
template <class T>
inline constexpr bool kAnyFloat = is_floating_type_v<T>;

/// A value cast to another element type; to bool means "non-zero" (a plain cast would keep only the low bits
/// of an integer and truncate 0.5 to false). A complex value becomes a real one by its real part, to bool
/// too (PyTorch 1.13's copy_ rule: 1j casts to False), a real one a complex one with imaginary part 0.
template <class To, class From>
TD_HD To convert(From v) {
  if constexpr (is_complex_v<From> && !is_complex_v<To>) {
    return convert<To>(v.re);
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From{};
  } else {
    return static_cast<To>(v);
  }
}

template <class T>
TD_HD T erfinv_of(T y) {
#if defined(__CUDA_ARCH__)
  return erfinv(y);
#else
  // Winitzki's closed form (relative error ~2e-3), then Newton steps on erf; each step squares the error.
  if (y != y || y < -1 || y > 1) return std::numeric_limits<T>::quiet_NaN();
  if (y == 1 || y == -1) return y * std::numeric_limits<T>::infinity();
  if (y == 0) return y;
  const double pi = 3.14159265358979323846, a = 0.147, yd = static_cast<double>(y);
  const double ln = std::log((1 - yd) * (1 + yd)), t = 2 / (pi * a) + ln / 2;
  double x = std::copysign(std::sqrt(std::sqrt(t * t - ln / a) - t), yd);
  for (int i = 0; i < 3; ++i) x -= (std::erf(x) - yd) / (2 / std::sqrt(pi) * std::exp(-x * x));
  return static_cast<T>(x);
#endif
}

/// A unary functor F applied to x in x's compute type (float for Half and BFloat16) and rounded back to x's
/// type once; predicates stay bool. For every other type it is F itself.
template <class F>
struct InOpMath {
  template <class T>
  TD_HD auto operator()(T x) const {
    using M = opmath_t<T>;
    if constexpr (std::is_same_v<decltype(F{}(M(x))), bool>) {
      return F{}(M(x));
    } else {
      return T(F{}(M(x)));
    }
  }
};

// ---- unary: float ops (T is float or double) ----
#define TD_FLOAT_FN(Name, expr)              \
  struct Name {                              \
    template <class T>                       \
    TD_HD T operator()(T x) const {          \
      TD_MATH_NAMESPACE                      \
      return expr;                           \
    }                                        \
  };
TD_FLOAT_FN(Exp, exp(x))
TD_FLOAT_FN(Exp2, exp2(x))
TD_FLOAT_FN(Expm1, expm1(x))
TD_FLOAT_FN(Log, log(x))
TD_FLOAT_FN(Log2, log2(x))
TD_FLOAT_FN(Log10, log10(x))
TD_FLOAT_FN(Log1p, log1p(x))
TD_FLOAT_FN(Sqrt, sqrt(x))
TD_FLOAT_FN(Rsqrt, T(1) / sqrt(x))
TD_FLOAT_FN(Sin, sin(x))
TD_FLOAT_FN(Cos, cos(x))
TD_FLOAT_FN(Tan, tan(x))
TD_FLOAT_FN(Asin, asin(x))
TD_FLOAT_FN(Acos, acos(x))
TD_FLOAT_FN(Atan, atan(x))
TD_FLOAT_FN(Sinh, sinh(x))
TD_FLOAT_FN(Cosh, cosh(x))
TD_FLOAT_FN(Tanh, tanh(x))
TD_FLOAT_FN(Asinh, asinh(x))
TD_FLOAT_FN(Acosh, acosh(x))
TD_FLOAT_FN(Atanh, atanh(x))
TD_FLOAT_FN(Sigmoid, T(1) / (T(1) + exp(-x)))
TD_FLOAT_FN(Erf, erf(x))
TD_FLOAT_FN(Erfc, erfc(x))
TD_FLOAT_FN(Erfinv, erfinv_of(x))
TD_FLOAT_FN(Reciprocal, T(1) / x)
TD_FLOAT_FN(Frac, x - trunc(x))
#undef TD_FLOAT_FN

/// The float ops above that also run on complex numbers (their expressions reach core/complex.h's
/// functions by argument-dependent lookup): those PyTorch 1.13 runs on complex tensors. The front end
/// refuses the others (exp2, expm1, log1p, erf, erfc, erfinv, frac) for complex tensors, as PyTorch does.
template <class F>
inline constexpr bool kComplexUnary =
    std::is_same_v<F, Exp> || std::is_same_v<F, Log> || std::is_same_v<F, Log2> || std::is_same_v<F, Log10> ||
    std::is_same_v<F, Sqrt> || std::is_same_v<F, Rsqrt> || std::is_same_v<F, Sin> || std::is_same_v<F, Cos> ||
    std::is_same_v<F, Tan> || std::is_same_v<F, Asin> || std::is_same_v<F, Acos> || std::is_same_v<F, Atan> ||
    std::is_same_v<F, Sinh> || std::is_same_v<F, Cosh> || std::is_same_v<F, Tanh> || std::is_same_v<F, Asinh> ||
    std::is_same_v<F, Acosh> || std::is_same_v<F, Atanh> || std::is_same_v<F, Sigmoid> ||
    std::is_same_v<F, Reciprocal>;
/// |z| for complex z: a real result (abs of a complex tensor is float32 or float64).
struct ComplexAbs {
  template <class T>
  TD_HD typename T::value_type operator()(T z) const {
    return abs(z);
  }
};

// ---- unary: ops on every type they allow (bool excluded by the front end where PyTorch excludes it) ----
struct Abs {
  template <class T>
  TD_HD T operator()(T x) const {
    if constexpr (kFloat<T>) {
      return x < T(0) ? T(-x) : x == T(0) ? T(0) : x;  // abs(-0.) is +0.; NaN passes through
    } else if constexpr (std::is_signed_v<T>) {
      return x < 0 ? T(-x) : x;
    } else {
      return x;
    }
  }
};
struct Sign {
  template <class T>
  TD_HD T operator()(T x) const {
    if constexpr (kBool<T>) {
      return x;
    } else {
      return T((T(0) < x) - (x < T(0)));  // 0 for NaN and for both zeros, as PyTorch 1.13
    }
  }
};
struct Neg {
  template <class T>
  TD_HD T operator()(T x) const {
    if constexpr (kBool<T>) {
      return x;  // unreachable: the front end refuses bool
    } else if constexpr (std::is_integral_v<T>) {
      return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(x));  // wraps at the minimum, as PyTorch
    } else {
      return -x;  // -0. for 0., and each part negated for complex
    }
  }
};
/// sign for real numbers; z / |z| for complex ones (0 for 0), part by part as PyTorch's kernel divides.
struct Sgn {
  template <class T>
  TD_HD T operator()(T x) const {
    if constexpr (is_complex_v<T>) {
      const auto m = abs(x);
      if (m == 0) return T(0, 0);
      return T(x.re / m, x.im / m);
    } else {
      return Sign{}(x);
    }
  }
};
/// The dtype-keeping ops with a complex kernel (abs has its own: its result is real).
template <class F>
inline constexpr bool kComplexAny = std::is_same_v<F, Neg> || std::is_same_v<F, Sgn>;
#define TD_ROUNDING_FN(Name, expr)   \
  struct Name {                      \
    template <class T>               \
    TD_HD T operator()(T x) const {  \
      TD_MATH_NAMESPACE              \
      if constexpr (kFloat<T>) {     \
        return expr;                 \
      } else {                       \
        return x;                    \
      }                              \
    }                                \
  };
TD_ROUNDING_FN(Floor, floor(x))
TD_ROUNDING_FN(Ceil, ceil(x))
TD_ROUNDING_FN(Round, nearbyint(x))  // half to even, as PyTorch
TD_ROUNDING_FN(Trunc, trunc(x))
#undef TD_ROUNDING_FN
struct Relu {
  template <class T>
  TD_HD T operator()(T x) const {
    return x < T(0) ? T(0) : x;  // NaN and -0. pass through, as clamp_min(0)
  }
};
struct BitwiseNot {
  template <class T>
  TD_HD T operator()(T x) const {
    if constexpr (kBool<T>) {
      return !x;
    } else if constexpr (kFloat<T>) {
      return x;  // unreachable: the front end rejects floats
    } else {
      return T(~x);
    }
  }
};

// ---- unary predicates: bool results ----
struct Isnan {
  template <class T>
  TD_HD bool operator()(T x) const {
    return x != x;
  }
};
struct Isinf {
  template <class T>
  TD_HD bool operator()(T x) const {
    if constexpr (is_complex_v<T>) {
      return (*this)(x.re) || (*this)(x.im);
    } else if constexpr (kFloat<T>) {
      return x == std::numeric_limits<T>::infinity() || x == -std::numeric_limits<T>::infinity();
    } else {
      return false;
    }
  }
};
struct Isfinite {
  template <class T>
  TD_HD bool operator()(T x) const {
    if constexpr (is_complex_v<T>) {
      return (*this)(x.re) && (*this)(x.im);
    } else if constexpr (kFloat<T>) {
      return x - x == T(0);  // NaN for NaN and for ±inf
    } else {
      return true;
    }
  }
};
struct LogicalNot {
  template <class T>
  TD_HD bool operator()(T x) const {
    return x == T(0);
  }
};

// ---- binary ----
template <class T>
TD_HD T int_pow(T base, T exp) {
  if (exp < T(0)) {  // PyTorch: 1 and -1 keep a value, everything else truncates to 0
    if (base == T(1)) return T(1);
    if (base == T(-1)) return (exp % 2) ? T(-1) : T(1);
    return T(0);
  }
  T result = 1;
  while (exp) {
    if (exp & 1) result = T(result * base);
    base = T(base * base);
    exp = T(exp >> 1);
  }
  return result;
}

/// a (op) b for complex a and b: the arithmetic ops only (the front ends refuse the others for complex, as
/// PyTorch does).
template <BinaryOp Op, class T>
TD_HD T complex_binary(T a, T b, T alpha) {
  if constexpr (Op == BinaryOp::kAdd) return a + alpha * b;
  else if constexpr (Op == BinaryOp::kSub) return a - alpha * b;
  else if constexpr (Op == BinaryOp::kMul) return a * b;
  else if constexpr (Op == BinaryOp::kDiv) return a / b;
  else if constexpr (Op == BinaryOp::kPow) return pow(a, b);
  else return T(0);  // unreachable
}

/// Which binary ops have a complex kernel.
inline constexpr bool complex_binary_op(BinaryOp op) {
  return op == BinaryOp::kAdd || op == BinaryOp::kSub || op == BinaryOp::kMul || op == BinaryOp::kDiv ||
         op == BinaryOp::kPow;
}

/// a * b, a + b and a - b, each rounded on its own: on the GPU through the round-to-nearest intrinsics, which
/// nvcc never fuses into an fma, so that add and sub with alpha (and the optimizer steps) round as the CPU's
/// (which has no fused multiply-add at its baseline ISA and is built without contraction) do.
template <class T>
TD_HD T mul_rn(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float>) return __fmul_rn(a, b);
  else if constexpr (std::is_same_v<T, double>) return __dmul_rn(a, b);
  else return a * b;
#else
  return a * b;
#endif
}
template <class T>
TD_HD T add_rn(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float>) return __fadd_rn(a, b);
  else if constexpr (std::is_same_v<T, double>) return __dadd_rn(a, b);
  else return a + b;
#else
  return a + b;
#endif
}
template <class T>
TD_HD T sub_rn(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float>) return __fsub_rn(a, b);
  else if constexpr (std::is_same_v<T, double>) return __dsub_rn(a, b);
  else return a - b;
#else
  return a - b;
#endif
}

/// a (op) b for the ops of BinaryOp; alpha scales b for add/sub.
template <BinaryOp Op, class T>
TD_HD T binary(T a, T b, T alpha) {
  TD_MATH_NAMESPACE
  if constexpr (is_complex_v<T>) {
    return complex_binary<Op>(a, b, alpha);
  } else if constexpr (Op == BinaryOp::kAdd) {
    if constexpr (kBool<T>) return a || (alpha && b);
    else if constexpr (kFloat<T>) return add_rn(a, mul_rn(alpha, b));
    else return T(a + alpha * b);
  } else if constexpr (Op == BinaryOp::kSub) {
    if constexpr (kFloat<T>) return sub_rn(a, mul_rn(alpha, b));
    else return T(a - alpha * b);
  } else if constexpr (Op == BinaryOp::kMul) {
    if constexpr (kBool<T>) return a && b;
    else return T(a * b);
  } else if constexpr (Op == BinaryOp::kDiv) {
    if constexpr (kFloat<T>) return a / b;
    else return b == T(0) ? T(0) : T(a / b);  // unreachable for integers: div promotes them to float
  } else if constexpr (Op == BinaryOp::kMaximum) {
    if constexpr (kFloat<T>) return a != a ? a : b != b ? b : (a > b ? a : b);  // NaN propagates
    else return a > b ? a : b;
  } else if constexpr (Op == BinaryOp::kMinimum) {
    if constexpr (kFloat<T>) return a != a ? a : b != b ? b : (a < b ? a : b);
    else return a < b ? a : b;
  } else if constexpr (Op == BinaryOp::kPow) {
    if constexpr (kFloat<T>) return pow(a, b);
    else if constexpr (kBool<T>) return a || !b;
    else return int_pow(a, b);
  } else if constexpr (Op == BinaryOp::kFmod) {
    if constexpr (kFloat<T>) return fmod(a, b);
    else if constexpr (std::is_signed_v<T>) return b == T(0) ? T(0) : b == T(-1) ? T(0) : T(a % b);
    else return b == T(0) ? T(0) : T(a % b);
  } else if constexpr (Op == BinaryOp::kRemainder) {
    if constexpr (kFloat<T>) {
      T r = fmod(a, b);
      return (r != T(0) && ((r < T(0)) != (b < T(0)))) ? T(r + b) : r;
    } else if constexpr (std::is_signed_v<T>) {
      if (b == T(0) || b == T(-1)) return T(0);
      T r = T(a % b);
      return (r != 0 && ((r < 0) != (b < 0))) ? T(r + b) : r;
    } else {
      return b == T(0) ? T(0) : T(a % b);
    }
  } else if constexpr (Op == BinaryOp::kFloorDivide) {
    if constexpr (kFloat<T>) {
      // Python's a // b: the quotient of the exact remainder, rounded to the nearest integer below.
      if (b == T(0)) return a / b;
      T mod = fmod(a, b);
      T div = (a - mod) / b;
      if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
      if (div == T(0)) return copysign(T(0), a / b);
      T floordiv = floor(div);
      if (div - floordiv > T(0.5)) floordiv += T(1);
      return floordiv;
    } else if constexpr (std::is_signed_v<T>) {
      if (b == T(0)) return T(0);
      if (b == T(-1)) return T(T(0) - a);  // wraps for the minimum value instead of trapping
      T q = T(a / b);
      return ((a % b) != 0 && ((a < 0) != (b < 0))) ? T(q - 1) : q;
    } else {
      return b == T(0) ? T(0) : T(a / b);
    }
  } else if constexpr (Op == BinaryOp::kAtan2) {
    if constexpr (kFloat<T>) return atan2(a, b);
    else return T(0);  // unreachable: atan2 promotes integers to float
  } else if constexpr (Op == BinaryOp::kBitwiseAnd) {
    if constexpr (kFloat<T>) return T(0);  // unreachable: rejected for floats
    else if constexpr (kBool<T>) return a && b;
    else return T(a & b);
  } else if constexpr (Op == BinaryOp::kBitwiseOr) {
    if constexpr (kFloat<T>) return T(0);
    else if constexpr (kBool<T>) return a || b;
    else return T(a | b);
  } else {
    static_assert(Op == BinaryOp::kBitwiseXor);
    if constexpr (kFloat<T>) return T(0);
    else if constexpr (kBool<T>) return a != b;
    else return T(a ^ b);
  }
}

/// a (op) b for the ops of CompareOp.
template <CompareOp Op, class T>
TD_HD bool compare(T a, T b) {
  if constexpr (is_complex_v<T>) {
    if constexpr (Op == CompareOp::kEq) return a == b;
    else if constexpr (Op == CompareOp::kNe) return a != b;
    else if constexpr (Op == CompareOp::kLogicalAnd) return a != T(0) && b != T(0);
    else if constexpr (Op == CompareOp::kLogicalOr) return a != T(0) || b != T(0);
    else if constexpr (Op == CompareOp::kLogicalXor) return (a != T(0)) != (b != T(0));
    else return false;  // unreachable: complex numbers are not ordered, the front end refuses
  } else if constexpr (Op == CompareOp::kEq) return a == b;
  else if constexpr (Op == CompareOp::kNe) return a != b;
  else if constexpr (Op == CompareOp::kLt) return a < b;
  else if constexpr (Op == CompareOp::kLe) return a <= b;
  else if constexpr (Op == CompareOp::kGt) return a > b;
  else if constexpr (Op == CompareOp::kGe) return a >= b;
  else if constexpr (Op == CompareOp::kLogicalAnd) return a != T(0) && b != T(0);
  else if constexpr (Op == CompareOp::kLogicalOr) return a != T(0) || b != T(0);
  else return (a != T(0)) != (b != T(0));
}

/// What scatter leaves in an output element that already holds acc when it writes v (ScatterMode).
/// 16-bit floats combine in float and round once per step.
template <ScatterMode Mode, class T>
TD_HD T scatter_combine(T acc, T v) {
  using M = opmath_t<T>;
  if constexpr (Mode == ScatterMode::kAssign)
    return v;
  else if constexpr (Mode == ScatterMode::kAdd)
    return T(binary<BinaryOp::kAdd>(M(acc), M(v), M(1)));
  else if constexpr (Mode == ScatterMode::kMul)
    return T(binary<BinaryOp::kMul>(M(acc), M(v), M(1)));
  else if constexpr (Mode == ScatterMode::kMax)
    return T(binary<BinaryOp::kMaximum>(M(acc), M(v), M(1)));
  else
    return T(binary<BinaryOp::kMinimum>(M(acc), M(v), M(1)));
}

// ---- reductions ----

/// How op folds values of T: the accumulator type A (double for float and double and int64 for integers in
/// sums and products, T itself for max/min; float for Half and BFloat16 in every op, as PyTorch's
/// acc_type; Complex<double> for complex sums and products), its identity, and the combining step. Max/min
/// propagate NaN.
template <ReduceOp Op, class T>
struct Reducer {
  using A = std::conditional_t<
      is_complex_v<T>, Complex<double>,
      std::conditional_t<
      is_reduced_float_v<T>, float,
      std::conditional_t<Op == ReduceOp::kMax || Op == ReduceOp::kMin || std::is_same_v<T, bool>, T,
                         std::conditional_t<std::is_floating_point_v<T>, double, int64_t>>>>;
  static TD_HD A identity() {
    if constexpr (Op == ReduceOp::kSum) {
      return A(0);
    } else if constexpr (Op == ReduceOp::kProd) {
      return A(1);
    } else if constexpr (Op == ReduceOp::kMax) {
      if constexpr (kFloat<A>) return -std::numeric_limits<A>::infinity();
      else return std::numeric_limits<A>::lowest();
    } else {
      if constexpr (kFloat<A>) return std::numeric_limits<A>::infinity();
      else return std::numeric_limits<A>::max();
    }
  }
  static TD_HD A combine(A a, A b) {
    if constexpr (Op == ReduceOp::kSum) {
      if constexpr (kBool<A>) return a || b;
      else return A(a + b);
    } else if constexpr (Op == ReduceOp::kProd) {
      if constexpr (kBool<A>) return a && b;
      else return A(a * b);
    } else if constexpr (Op == ReduceOp::kMax) {
      return binary<BinaryOp::kMaximum>(a, b, A(1));
    } else {
      return binary<BinaryOp::kMinimum>(a, b, A(1));
    }
  }
};

/// The max (is_max) or min of n values at stride s, and the first index holding it; the first NaN is the
/// extreme, as in PyTorch.
template <class T>
TD_HD void arg_best(const T* x, int64_t n, int64_t s, bool is_max, T& best, int64_t& at) {
  best = x[0];
  at = 0;
  for (int64_t i = 1; i < n && best == best; ++i) {
    T v = x[i * s];
    if (v != v || (is_max ? v > best : v < best)) {
      best = v;
      at = i;
    }
  }
}

}  // namespace td::kernels::fn

/// Calls X(BinaryOp::kName) for every binary op, to instantiate one kernel per op.
#define TD_FOR_EACH_BINARY_OP(X)                                                                         \
  X(kAdd) X(kSub) X(kMul) X(kDiv) X(kMaximum) X(kMinimum) X(kPow) X(kFmod) X(kRemainder) X(kFloorDivide) \
  X(kAtan2) X(kBitwiseAnd) X(kBitwiseOr) X(kBitwiseXor)
#define TD_FOR_EACH_COMPARE_OP(X) X(kEq) X(kNe) X(kLt) X(kLe) X(kGt) X(kGe) X(kLogicalAnd) X(kLogicalOr) X(kLogicalXor)
#define TD_FOR_EACH_SCATTER_MODE(X) X(kAssign) X(kAdd) X(kMul) X(kMax) X(kMin)

namespace td::kernels {

/// Whether Backend::threshold_backward's kernels take the case, the same on every backend: out, grad and y
/// of one dtype, float32 or float64.
inline bool threshold_backward_covered(const StridedRef& out, const StridedRef& grad, const StridedRef& y) {
  return (out.dtype == DType::kFloat32 || out.dtype == DType::kFloat64) && grad.dtype == out.dtype &&
         y.dtype == out.dtype;
}

}  // namespace td::kernels
