// The two 16-bit float element types, Half (IEEE binary16) and BFloat16 (the top half of a float32), as
// plain 2-byte structs usable in host and device code. They store bits only: arithmetic converts to float,
// computes there and rounds back once (round to nearest, ties to even), which is what PyTorch does per
// element. Conversions from double and integers go through float, as c10::Half's and c10::BFloat16's do.
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

#ifndef TD_HD
#if defined(__CUDACC__)
#define TD_HD __host__ __device__ __forceinline__
#else
#define TD_HD inline
#endif
#endif

namespace td {

namespace half_detail {

TD_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  return std::bit_cast<uint32_t>(f);
#endif
}
TD_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  return std::bit_cast<float>(u);
#endif
}

/// float -> binary16 bits, round to nearest even; NaN stays NaN (quiet, sign and top payload bits kept),
/// values from 65520 up become inf, values below 2^-25 (and 2^-25 itself, a tie) become signed zero.
TD_HD uint16_t float_to_half_bits(float f) {
  uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) {  // inf or NaN
    return static_cast<uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u | ((x >> 13) & 0x3ffu) : 0x7c00u));
  }
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // 65520 and up round to inf
  if (x >= 0x38800000u) {  // a normal half: rebias the exponent, round the 13 dropped mantissa bits
    x -= 112u << 23;
    x += 0xfffu + ((x >> 13) & 1u);
    return static_cast<uint16_t>(sign | (x >> 13));
  }
  if (x < 0x33000000u) return static_cast<uint16_t>(sign);  // below 2^-25 (or the tie at it): zero
  // A subnormal half: the value in units of 2^-24 is the full mantissa shifted right by 126 - exponent.
  const uint32_t exponent = x >> 23, mantissa = (x & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // 14..24
  uint32_t r = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (r & 1u))) ++r;  // may carry into the smallest normal: still right
  return static_cast<uint16_t>(sign | r);
}

/// binary16 bits -> float (exact).
TD_HD float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) return bits_float(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN with payload
  if (exponent != 0) return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24, exact in float.
  const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
  return sign ? -magnitude : magnitude;
}

/// float -> bfloat16 bits: the top 16 bits, rounded to nearest even; NaN stays a quiet NaN.
TD_HD uint16_t float_to_bfloat16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

TD_HD float bfloat16_bits_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

}  // namespace half_detail

/// IEEE 754 binary16: 1 sign bit, 5 exponent bits, 10 mantissa bits (PyTorch's torch.float16).
struct Half {
  uint16_t bits;

  Half() = default;  // trivial, so arrays of Half may live in CUDA shared memory; Half{} is +0
  TD_HD explicit Half(float f) {
#if defined(__CUDA_ARCH__)
    bits = __half_as_ushort(__float2half_rn(f));
#else
    bits = half_detail::float_to_half_bits(f);
#endif
  }
  /// From double or an integer, through float (as c10::Half).
  template <class U, std::enable_if_t<std::is_arithmetic_v<U> && !std::is_same_v<U, float>, int> = 0>
  TD_HD explicit Half(U v) : Half(static_cast<float>(v)) {}
  TD_HD operator float() const {  // NOLINT: implicit, as c10::Half
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(bits));
#else
    return half_detail::half_bits_to_float(bits);
#endif
  }
  static constexpr Half from_bits(uint16_t b) {
    Half h{};
    h.bits = b;
    return h;
  }
};

/// bfloat16: float32's sign and 8 exponent bits with 7 mantissa bits (PyTorch's torch.bfloat16).
struct BFloat16 {
  uint16_t bits;

  BFloat16() = default;
  TD_HD explicit BFloat16(float f) : bits(half_detail::float_to_bfloat16_bits(f)) {}
  template <class U, std::enable_if_t<std::is_arithmetic_v<U> && !std::is_same_v<U, float>, int> = 0>
  TD_HD explicit BFloat16(U v) : BFloat16(static_cast<float>(v)) {}
  TD_HD operator float() const { return half_detail::bfloat16_bits_to_float(bits); }  // NOLINT
  static constexpr BFloat16 from_bits(uint16_t b) {
    BFloat16 h{};
    h.bits = b;
    return h;
  }
};

/// Half or BFloat16: stored in 16 bits, computed in float.
template <class T>
inline constexpr bool is_reduced_float_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
/// A floating element type: float, double, Half or BFloat16.
template <class T>
inline constexpr bool is_floating_type_v = std::is_floating_point_v<T> || is_reduced_float_v<T>;

/// The type an element is computed in (PyTorch's opmath_type): float for Half and BFloat16, else itself.
template <class T>
using opmath_t = std::conditional_t<is_reduced_float_v<T>, float, T>;

// Arithmetic between two 16-bit floats computes in float and rounds once; with any other number the 16-bit
// value converts to float first (Half + float is float), as with c10::Half.
#define TD_REDUCED_FLOAT_OPS(T)                                                                          \
  TD_HD T operator+(T a, T b) { return T(float(a) + float(b)); }                                         \
  TD_HD T operator-(T a, T b) { return T(float(a) - float(b)); }                                         \
  TD_HD T operator*(T a, T b) { return T(float(a) * float(b)); }                                         \
  TD_HD T operator/(T a, T b) { return T(float(a) / float(b)); }                                         \
  TD_HD T operator-(T a) { return T::from_bits(static_cast<uint16_t>(a.bits ^ 0x8000u)); }               \
  TD_HD T& operator+=(T& a, T b) { return a = a + b; }                                                   \
  TD_HD T& operator-=(T& a, T b) { return a = a - b; }                                                   \
  TD_HD T& operator*=(T& a, T b) { return a = a * b; }                                                   \
  TD_HD T& operator/=(T& a, T b) { return a = a / b; }                                                   \
  TD_HD bool operator==(T a, T b) { return float(a) == float(b); }                                       \
  TD_HD bool operator!=(T a, T b) { return float(a) != float(b); }                                       \
  TD_HD bool operator<(T a, T b) { return float(a) < float(b); }                                         \
  TD_HD bool operator<=(T a, T b) { return float(a) <= float(b); }                                       \
  TD_HD bool operator>(T a, T b) { return float(a) > float(b); }                                         \
  TD_HD bool operator>=(T a, T b) { return float(a) >= float(b); }
TD_REDUCED_FLOAT_OPS(Half)
TD_REDUCED_FLOAT_OPS(BFloat16)
#undef TD_REDUCED_FLOAT_OPS

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);
static_assert(std::is_trivially_copyable_v<Half> && std::is_trivially_copyable_v<BFloat16>);

}  // namespace td
