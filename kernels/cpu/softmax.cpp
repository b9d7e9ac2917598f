// Backend::softmax on the CPU (kernels/cpu/softmax.h): rows through SLEEF's vector functions where the CPU
// has them, columns a block of neighbours at a time.
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/loops.h"
#include "kernels/cpu/vector_math.h"
#include "kernels/elementwise_ops.h"

namespace td::kernels {

namespace {

// One contiguous row, without SLEEF: the same three passes in scalar code.
template <class M>
void softmax_row_scalar(bool is_log, const M* in, M* out, int64_t n) {
  M m = -std::numeric_limits<M>::infinity();
  for (int64_t i = 0; i < n; ++i) m = in[i] > m ? in[i] : m;
  M sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    M e = std::exp(in[i] - m);
    if (!is_log) out[i] = e;
    sum += e;
  }
  if (is_log) {
    const M lse = std::log(sum);
    for (int64_t i = 0; i < n; ++i) out[i] = (in[i] - m) - lse;
  } else {
    const M r = M(1) / sum;
    for (int64_t i = 0; i < n; ++i) out[i] *= r;
  }
}

template <class M>
void softmax_row(bool is_log, const M* in, M* out, int64_t n) {
  if (vector_math_available()) return vector_softmax_row(is_log, in, out, n);
  softmax_row_scalar(is_log, in, out, n);
}

// x[i] = exp(x[i]) for a contiguous run, through SLEEF where the CPU allows.
template <class M>
void exp_inplace(M* x, int64_t n) {
  if (vector_math_available() && vector_unary(UnaryOp::kExp, x, x, n)) return;
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

// softmax over the middle dim of contiguous [outer, n, inner] data, T stored, M computed (float for Half and
// BFloat16). inner == 1: one vectorised row per task. inner > 1: the n x w block of w neighbouring columns is
// copied to a scratch buffer in M and reduced column-wise, so every pass runs over contiguous runs of w.
template <class T>
void softmax_kernel(bool is_log, const StridedRef& out, const StridedRef& in) {
  using M = opmath_t<T>;
  const int64_t outer = in.sizes[0], n = in.sizes[1], inner = in.sizes[2];
  const T* pi = static_cast<const T*>(in.data);
  T* po = static_cast<T*>(out.data);
  const bool parallel = outer * n * inner >= kParallelGrain;
  if (inner == 1) {
#pragma omp parallel if (parallel)
    {
      std::vector<M> buf(std::is_same_v<T, M> ? 0 : static_cast<size_t>(2 * n));
#pragma omp for schedule(static)
      for (int64_t r = 0; r < outer; ++r) {
        if constexpr (std::is_same_v<T, M>) {
          softmax_row<M>(is_log, pi + r * n, po + r * n, n);
        } else {
          for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<M>(pi[r * n + i]);
          softmax_row<M>(is_log, buf.data(), buf.data() + n, n);
          for (int64_t i = 0; i < n; ++i) po[r * n + i] = T(buf[n + i]);
        }
      }
    }
    return;
  }
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel if (parallel)
  {
    std::vector<M> x(static_cast<size_t>(n * std::min(inner, kBlock))), e(kBlock), m(kBlock), s(kBlock);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < outer * blocks; ++task) {
      const int64_t o = task / blocks, j0 = task % blocks * kBlock, w = std::min(kBlock, inner - j0);
      const T* src = pi + o * n * inner + j0;
      T* dst = po + o * n * inner + j0;
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < w; ++j) x[i * w + j] = static_cast<M>(src[i * inner + j]);
      }
      std::fill(m.begin(), m.end(), -std::numeric_limits<M>::infinity());
      std::fill(s.begin(), s.end(), M(0));
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < w; ++j) m[j] = x[i * w + j] > m[j] ? x[i * w + j] : m[j];
      }
      for (int64_t i = 0; i < n; ++i) {
        M* row = x.data() + i * w;
        for (int64_t j = 0; j < w; ++j) row[j] -= m[j];
        M* ex = is_log ? e.data() : row;
        if (is_log) std::copy(row, row + w, ex);
        exp_inplace(ex, w);
        for (int64_t j = 0; j < w; ++j) s[j] += ex[j];
      }
      for (int64_t j = 0; j < w; ++j) s[j] = is_log ? std::log(s[j]) : M(1) / s[j];
      for (int64_t i = 0; i < n; ++i) {
        const M* row = x.data() + i * w;
        for (int64_t j = 0; j < w; ++j) dst[i * inner + j] = T(is_log ? row[j] - s[j] : row[j] * s[j]);
      }
    }
  }
}

}  // namespace

bool softmax(bool is_log, const StridedRef& out, const StridedRef& in) {
  switch (in.dtype) {
    case DType::kFloat32:
      softmax_kernel<float>(is_log, out, in);
      return true;
    case DType::kFloat64:
      softmax_kernel<double>(is_log, out, in);
      return true;
    case DType::kFloat16:
      softmax_kernel<Half>(is_log, out, in);
      return true;
    case DType::kBFloat16:
      softmax_kernel<BFloat16>(is_log, out, in);
      return true;
    default:
      return false;
  }
}

}  // namespace td::kernels
