// Compiled with -mavx (see kernels/CMakeLists.txt) so that SLEEF's __m256 entry points are visible; SLEEF
// itself picks AVX or AVX2+FMA at run time. Everything here runs only after vector_math_available() said
// yes, and the file defines no inline or template code that the linker could share with non-AVX files.
#include "kernels/cpu/vector_math.h"

#include <immintrin.h>

#include <algorithm>
#include <sleef.h>

namespace td::kernels {

namespace {
// SLEEF declares its functions with a const-qualified return type; match its pointer type exactly.
using F8 = decltype(&Sleef_expf8_u10);
using D4 = decltype(&Sleef_expd4_u10);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-qualifiers"
const __m256 sigmoid_f8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 e = Sleef_expf8_u10(_mm256_sub_ps(_mm256_setzero_ps(), x));
  return _mm256_div_ps(one, _mm256_add_ps(one, e));
}
const __m256d sigmoid_d4(__m256d x) {
  const __m256d one = _mm256_set1_pd(1.0);
  __m256d e = Sleef_expd4_u10(_mm256_sub_pd(_mm256_setzero_pd(), x));
  return _mm256_div_pd(one, _mm256_add_pd(one, e));
}
#pragma GCC diagnostic pop

F8 float_fn(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp: return Sleef_expf8_u10;
    case UnaryOp::kExp2: return Sleef_exp2f8_u10;
    case UnaryOp::kExpm1: return Sleef_expm1f8_u10;
    case UnaryOp::kLog: return Sleef_logf8_u10;
    case UnaryOp::kLog2: return Sleef_log2f8_u10;
    case UnaryOp::kLog10: return Sleef_log10f8_u10;
    case UnaryOp::kLog1p: return Sleef_log1pf8_u10;
    case UnaryOp::kSin: return Sleef_sinf8_u10;
    case UnaryOp::kCos: return Sleef_cosf8_u10;
    case UnaryOp::kTan: return Sleef_tanf8_u10;
    case UnaryOp::kAsin: return Sleef_asinf8_u10;
    case UnaryOp::kAcos: return Sleef_acosf8_u10;
    case UnaryOp::kAtan: return Sleef_atanf8_u10;
    case UnaryOp::kSinh: return Sleef_sinhf8_u10;
    case UnaryOp::kCosh: return Sleef_coshf8_u10;
    case UnaryOp::kTanh: return Sleef_tanhf8_u10;
    case UnaryOp::kAsinh: return Sleef_asinhf8_u10;
    case UnaryOp::kAcosh: return Sleef_acoshf8_u10;
    case UnaryOp::kAtanh: return Sleef_atanhf8_u10;
    case UnaryOp::kErf: return Sleef_erff8_u10;
    case UnaryOp::kErfc: return Sleef_erfcf8_u15;
    case UnaryOp::kSigmoid: return sigmoid_f8;
    default: return nullptr;
  }
}

D4 double_fn(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp: return Sleef_expd4_u10;
    case UnaryOp::kExp2: return Sleef_exp2d4_u10;
    case UnaryOp::kExpm1: return Sleef_expm1d4_u10;
    case UnaryOp::kLog: return Sleef_logd4_u10;
    case UnaryOp::kLog2: return Sleef_log2d4_u10;
    case UnaryOp::kLog10: return Sleef_log10d4_u10;
    case UnaryOp::kLog1p: return Sleef_log1pd4_u10;
    case UnaryOp::kSin: return Sleef_sind4_u10;
    case UnaryOp::kCos: return Sleef_cosd4_u10;
    case UnaryOp::kTan: return Sleef_tand4_u10;
    case UnaryOp::kAsin: return Sleef_asind4_u10;
    case UnaryOp::kAcos: return Sleef_acosd4_u10;
    case UnaryOp::kAtan: return Sleef_atand4_u10;
    case UnaryOp::kSinh: return Sleef_sinhd4_u10;
    case UnaryOp::kCosh: return Sleef_coshd4_u10;
    case UnaryOp::kTanh: return Sleef_tanhd4_u10;
    case UnaryOp::kAsinh: return Sleef_asinhd4_u10;
    case UnaryOp::kAcosh: return Sleef_acoshd4_u10;
    case UnaryOp::kAtanh: return Sleef_atanhd4_u10;
    case UnaryOp::kErf: return Sleef_erfd4_u10;
    case UnaryOp::kErfc: return Sleef_erfcd4_u15;
    case UnaryOp::kSigmoid: return sigmoid_d4;
    default: return nullptr;
  }
}

// The lane type, width and operations the softmax row kernel needs, for float (8 lanes) and double (4).
struct Float8 {
  using T = float;
  using V = __m256;
  static constexpr int kWidth = 8;
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V exp(V a) { return Sleef_expf8_u10(a); }
  static T log(T x) { return __builtin_logf(x); }
};
struct Double4 {
  using T = double;
  using V = __m256d;
  static constexpr int kWidth = 4;
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V max(V a, V b) { return _mm256_max_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V exp(V a) { return Sleef_expd4_u10(a); }
  static T log(T x) { return __builtin_log(x); }
};

// A tail of fewer than kWidth elements as one full vector, the missing lanes set to `fill`.
template <class L>
typename L::V load_tail(const typename L::T* p, int64_t k, typename L::T fill) {
  alignas(32) typename L::T buf[L::kWidth];
  for (int i = 0; i < L::kWidth; ++i) buf[i] = i < k ? p[i] : fill;
  return L::load(buf);
}
template <class L>
void store_tail(typename L::T* p, int64_t k, typename L::V v) {
  alignas(32) typename L::T buf[L::kWidth];
  L::store(buf, v);
  for (int64_t i = 0; i < k; ++i) p[i] = buf[i];
}
template <class L>
typename L::T lanes_max(typename L::V v) {
  alignas(32) typename L::T buf[L::kWidth];
  L::store(buf, v);
  typename L::T m = buf[0];
  for (int i = 1; i < L::kWidth; ++i) m = buf[i] > m ? buf[i] : m;
  return m;
}
template <class L>
typename L::T lanes_sum(typename L::V v) {
  alignas(32) typename L::T buf[L::kWidth];
  L::store(buf, v);
  typename L::T s = 0;
  for (int i = 0; i < L::kWidth; ++i) s += buf[i];
  return s;
}

// max (max_ps skips a NaN, which still reaches every output through the sum), then exp(x - max) and its sum
// (kept in out for softmax), then the normalisation: softmax multiplies by 1/sum, log_softmax subtracts
// log(sum), as PyTorch's vectorised last-dim kernels do.
template <class L>
void softmax_row(bool is_log, const typename L::T* in, typename L::T* out, int64_t n) {
  using T = typename L::T;
  using V = typename L::V;
  constexpr int W = L::kWidth;
  const T neg_inf = -__builtin_inf();
  const int64_t full = n / W * W, tail = n - full;
  V vmax = L::set1(neg_inf);
  for (int64_t i = 0; i < full; i += W) vmax = L::max(L::load(in + i), vmax);
  if (tail) vmax = L::max(load_tail<L>(in + full, tail, neg_inf), vmax);
  T m = lanes_max<L>(vmax);
  const V vm = L::set1(m);
  V s0 = L::set1(0), s1 = L::set1(0);
  int64_t i = 0;
  for (; i + 2 * W <= full; i += 2 * W) {
    V e0 = L::exp(L::sub(L::load(in + i), vm)), e1 = L::exp(L::sub(L::load(in + i + W), vm));
    if (!is_log) {
      L::store(out + i, e0);
      L::store(out + i + W, e1);
    }
    s0 = L::add(s0, e0);
    s1 = L::add(s1, e1);
  }
  for (; i < full; i += W) {
    V e = L::exp(L::sub(L::load(in + i), vm));
    if (!is_log) L::store(out + i, e);
    s0 = L::add(s0, e);
  }
  if (tail) {
    V e = L::exp(L::sub(load_tail<L>(in + full, tail, neg_inf), vm));  // exp(-inf) = 0 in the missing lanes
    if (!is_log) store_tail<L>(out + full, tail, e);
    s0 = L::add(s0, e);
  }
  T sum = lanes_sum<L>(L::add(s0, s1));
  if (is_log) {
    const V vl = L::set1(L::log(sum));
    for (i = 0; i < full; i += W) L::store(out + i, L::sub(L::sub(L::load(in + i), vm), vl));
    if (tail) store_tail<L>(out + full, tail, L::sub(L::sub(load_tail<L>(in + full, tail, 0), vm), vl));
  } else {
    const V vr = L::set1(T(1) / sum);
    for (i = 0; i < full; i += W) L::store(out + i, L::mul(L::load(out + i), vr));
    if (tail) store_tail<L>(out + full, tail, L::mul(load_tail<L>(out + full, tail, 0), vr));
  }
}
}  // namespace

namespace {
// 256-bit lanes of float or double (AVX), spelled once for both.
template <class T>
struct Lanes;
template <>
struct Lanes<float> {
  using V = __m256;
  static constexpr int64_t kN = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
};
template <>
struct Lanes<double> {
  using V = __m256d;
  static constexpr int64_t kN = 4;
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V div(V a, V b) { return _mm256_div_pd(a, b); }
};

// One vector form and one scalar form of the same arithmetic (the tail), applied over the run.
template <class T, class VF, class SF>
void binary_run(const T* a, const T* b, T* out, int64_t n, bool b_scalar, VF vf, SF sf) {
  using L = Lanes<T>;
  int64_t i = 0;
  if (b_scalar) {
    const typename L::V bv = L::set1(*b);
    for (; i + L::kN <= n; i += L::kN) L::store(out + i, vf(L::load(a + i), bv));
    for (; i < n; ++i) out[i] = sf(a[i], *b);
  } else {
    for (; i + L::kN <= n; i += L::kN) L::store(out + i, vf(L::load(a + i), L::load(b + i)));
    for (; i < n; ++i) out[i] = sf(a[i], b[i]);
  }
}

template <class T>
bool binary_lanes(BinaryOp op, const T* a, const T* b, T* out, int64_t n, T alpha, bool b_scalar) {
  using L = Lanes<T>;
  using V = typename L::V;
  const V av = L::set1(alpha);
  switch (op) {
    case BinaryOp::kAdd:
      if (alpha == T(1)) {
        binary_run(a, b, out, n, b_scalar, [](V x, V y) { return L::add(x, y); }, [](T x, T y) { return x + y; });
      } else {
        binary_run(a, b, out, n, b_scalar, [&](V x, V y) { return L::add(x, L::mul(av, y)); },
                   [&](T x, T y) { return T(x + alpha * y); });
      }
      return true;
    case BinaryOp::kSub:
      if (alpha == T(1)) {
        binary_run(a, b, out, n, b_scalar, [](V x, V y) { return L::sub(x, y); }, [](T x, T y) { return x - y; });
      } else {
        binary_run(a, b, out, n, b_scalar, [&](V x, V y) { return L::sub(x, L::mul(av, y)); },
                   [&](T x, T y) { return T(x - alpha * y); });
      }
      return true;
    case BinaryOp::kMul:
      binary_run(a, b, out, n, b_scalar, [](V x, V y) { return L::mul(x, y); }, [](T x, T y) { return x * y; });
      return true;
    case BinaryOp::kDiv:
      binary_run(a, b, out, n, b_scalar, [](V x, V y) { return L::div(x, y); }, [](T x, T y) { return x / y; });
      return true;
    default: return false;
  }
}
}  // namespace

bool vector_binary(BinaryOp op, const float* a, const float* b, float* out, int64_t n, float alpha, bool b_scalar) {
  return binary_lanes(op, a, b, out, n, alpha, b_scalar);
}
bool vector_binary(BinaryOp op, const double* a, const double* b, double* out, int64_t n, double alpha,
                   bool b_scalar) {
  return binary_lanes(op, a, b, out, n, alpha, b_scalar);
}

void vector_box_muller(const double* u1, const double* u2, double* z, int64_t n) {
  const __m256d minus_two = _mm256_set1_pd(-2.0), two_pi = _mm256_set1_pd(2.0 * 3.141592653589793238);
  // Four pairs' eight values, in element order: z0 z1 of pair 0, then of pair 1, ...
  auto four = [&](__m256d a, __m256d b, double* out) {
    const __m256d r = _mm256_sqrt_pd(_mm256_mul_pd(minus_two, Sleef_logd4_u10(a)));
    const Sleef___m256d_2 sc = Sleef_sincosd4_u10(_mm256_mul_pd(two_pi, b));  // x: sines, y: cosines
    const __m256d c = _mm256_mul_pd(r, sc.y), s = _mm256_mul_pd(r, sc.x);
    const __m256d lo = _mm256_unpacklo_pd(c, s), hi = _mm256_unpackhi_pd(c, s);  // pairs 0, 2 and 1, 3
    _mm256_storeu_pd(out, _mm256_permute2f128_pd(lo, hi, 0x20));
    _mm256_storeu_pd(out + 4, _mm256_permute2f128_pd(lo, hi, 0x31));
  };
  const int64_t pairs = (n + 1) / 2;
  int64_t k = 0;
  for (; k + 4 <= pairs && 2 * k + 8 <= n; k += 4)
    four(_mm256_loadu_pd(u1 + k), _mm256_loadu_pd(u2 + k), z + 2 * k);
  if (2 * k == n) return;
  // The last pairs through the same path (no scalar libm here: see the top of the file), padded with ones.
  alignas(32) double a[4] = {1, 1, 1, 1}, b[4] = {0, 0, 0, 0}, c[8];
  for (int64_t j = k; j < pairs; ++j) {
    a[j - k] = u1[j];
    b[j - k] = u2[j];
  }
  four(_mm256_load_pd(a), _mm256_load_pd(b), c);
  for (int64_t e = 2 * k; e < n; ++e) z[e] = c[e - 2 * k];
}

namespace {
// The high 32 bits of the eight 32 x 32-bit products m * c: the even lanes' products, then the odd lanes'.
__attribute__((target("avx2"))) __m256i mul_high_epu32(__m256i m, __m256i c) {
  const __m256i even = _mm256_mul_epu32(m, c), odd = _mm256_mul_epu32(m, _mm256_srli_epi64(c, 32));
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0b10101010);
}

// Philox-4x32-10 (random::philox4x32_10) on eight counters at once, word k of each in c[k].
__attribute__((target("avx2"))) void philox8(__m256i c[4], uint32_t k0, uint32_t k1) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0)), key1 = _mm256_set1_epi32(static_cast<int>(k1));
    const __m256i hi0 = mul_high_epu32(m0, c[0]), lo0 = _mm256_mullo_epi32(m0, c[0]);
    const __m256i hi1 = mul_high_epu32(m1, c[2]), lo1 = _mm256_mullo_epi32(m1, c[2]);
    c[0] = _mm256_xor_si256(_mm256_xor_si256(hi1, c[1]), key0);
    c[1] = lo1;
    c[2] = _mm256_xor_si256(_mm256_xor_si256(hi0, c[3]), key1);
    c[3] = lo0;
  }
}
}  // namespace

bool vector_philox_available() {
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
}

__attribute__((target("avx2"))) void vector_normal_uniforms(uint64_t seed, uint64_t base, uint64_t g0,
                                                            int64_t pairs, double* u1, double* u2) {
  const auto k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  // words[w][k][j]: word k of block w of group g + j, pair 2 j + w of the batch.
  alignas(32) uint32_t words[2][4][8];
  for (int64_t first = 0; first < pairs; first += 16) {  // eight groups of two pairs
    const uint64_t g = g0 + static_cast<uint64_t>(first / 2);
    alignas(32) uint32_t lo[8], hi[8];
    for (int j = 0; j < 8; ++j) {
      const uint64_t counter = base + g + static_cast<uint64_t>(j);
      lo[j] = static_cast<uint32_t>(counter);
      hi[j] = static_cast<uint32_t>(counter >> 32);
    }
    for (int w = 0; w < 2; ++w) {
      __m256i c[4] = {_mm256_load_si256(reinterpret_cast<const __m256i*>(lo)),
                      _mm256_load_si256(reinterpret_cast<const __m256i*>(hi)), _mm256_set1_epi32(w),
                      _mm256_setzero_si256()};
      philox8(c, k0, k1);
      for (int k = 0; k < 4; ++k) _mm256_store_si256(reinterpret_cast<__m256i*>(words[w][k]), c[k]);
    }
    const int64_t last = std::min<int64_t>(pairs, first + 16);
    for (int64_t e = first; e < last; ++e) {
      const int j = static_cast<int>((e - first) / 2), w = static_cast<int>((e - first) % 2);
      const uint64_t a = words[w][0][j] | static_cast<uint64_t>(words[w][1][j]) << 32;
      const uint64_t b = words[w][2][j] | static_cast<uint64_t>(words[w][3][j]) << 32;
      // 53-bit values: the signed conversion is exact and one instruction.
      u1[e] = 1.0 - static_cast<double>(static_cast<int64_t>(a >> 11)) * 0x1.0p-53;
      u2[e] = static_cast<double>(static_cast<int64_t>(b >> 11)) * 0x1.0p-53;
    }
  }
}

__attribute__((target("avx2"))) void vector_philox_words(uint64_t seed, uint64_t base, uint64_t g0,
                                                         int64_t groups, uint32_t* words) {
  const auto k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  alignas(32) uint32_t w[4][8];  // w[k][j]: word k of group first + j's block
  for (int64_t first = 0; first < groups; first += 8) {
    alignas(32) uint32_t lo[8], hi[8];
    for (int j = 0; j < 8; ++j) {
      const uint64_t counter = base + g0 + static_cast<uint64_t>(first + j);
      lo[j] = static_cast<uint32_t>(counter);
      hi[j] = static_cast<uint32_t>(counter >> 32);
    }
    __m256i c[4] = {_mm256_load_si256(reinterpret_cast<const __m256i*>(lo)),
                    _mm256_load_si256(reinterpret_cast<const __m256i*>(hi)), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
    philox8(c, k0, k1);
    for (int k = 0; k < 4; ++k) _mm256_store_si256(reinterpret_cast<__m256i*>(w[k]), c[k]);
    const int64_t n = std::min<int64_t>(8, groups - first);
    for (int64_t j = 0; j < n; ++j) {
      for (int k = 0; k < 4; ++k) words[4 * (first + j) + k] = w[k][j];
    }
  }
}

bool vector_math_available() {
  static const bool ok = __builtin_cpu_supports("avx");
  return ok;
}

bool vector_unary(UnaryOp op, const float* in, float* out, int64_t n) {
  F8 f = float_fn(op);
  if (!f) return false;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(in + i)));
  if (i < n) {  // the tail through a padded lane buffer, so every element gets the same function
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t k = i; k < n; ++k) buf[k - i] = in[k];
    _mm256_store_ps(buf, f(_mm256_load_ps(buf)));
    for (int64_t k = i; k < n; ++k) out[k] = buf[k - i];
  }
  return true;
}

bool vector_unary(UnaryOp op, const double* in, double* out, int64_t n) {
  D4 f = double_fn(op);
  if (!f) return false;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, f(_mm256_loadu_pd(in + i)));
  if (i < n) {
    alignas(32) double buf[4] = {0, 0, 0, 0};
    for (int64_t k = i; k < n; ++k) buf[k - i] = in[k];
    _mm256_store_pd(buf, f(_mm256_load_pd(buf)));
    for (int64_t k = i; k < n; ++k) out[k] = buf[k - i];
  }
  return true;
}

void vector_softmax_row(bool is_log, const float* in, float* out, int64_t n) {
  softmax_row<Float8>(is_log, in, out, n);
}
void vector_softmax_row(bool is_log, const double* in, double* out, int64_t n) {
  softmax_row<Double4>(is_log, in, out, n);
}

double vector_sum(const float* x, int64_t n) {
  constexpr int64_t kBlock = 128;  // 16 vectors of 8 lanes
  // Each lane adds its block's 16 elements pairwise in float (four rounding levels, partial sums of 2, 4, 8,
  // 16 elements); the block lanes are then widened and added in double.
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  const int64_t blocks = n / kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    const float* p = x + b * kBlock;
    __m256 v[8];
    for (int k = 0; k < 8; ++k)
      v[k] = _mm256_add_ps(_mm256_loadu_ps(p + 16 * k), _mm256_loadu_ps(p + 16 * k + 8));
    for (int k = 0; k < 4; ++k) v[k] = _mm256_add_ps(v[2 * k], v[2 * k + 1]);
    v[0] = _mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3]));
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v[0])));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v[0], 1)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(lo, hi));
  double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (int64_t i = blocks * kBlock; i < n; ++i) total += x[i];  // fewer than 128
  return total;
}

}  // namespace td::kernels
