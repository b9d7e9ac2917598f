// Compiled with -mavx (see kernels/CMakeLists.txt) so that SLEEF's __m256 entry points are visible; SLEEF
// itself picks AVX or AVX2+FMA at run time. Everything here runs only after vector_math_available() said
// yes, and the file defines no inline or template code that the linker could share with non-AVX files.
#include "kernels/cpu/vector_math.h"

#include <immintrin.h>
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
}  // namespace

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

}  // namespace td::kernels
