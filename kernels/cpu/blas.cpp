// Batched GEMM on the CPU through OpenBLAS (float32/float64); integer types use a plain loop, as PyTorch does.
//
// OpenBLAS was chosen by measurement (bench/gemm_choice.sh, docs/performance.md "GEMM"), on the condition that
// it runs the kernels the CPU can run. A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels from a table of
// CPU models when it loads; 0.3.21 does not know Sapphire/Emerald Rapids and later Xeons and falls back to its
// SSE3 "Prescott" kernels, 4-8x slower than its AVX-512 ones. select_openblas_core() re-selects by CPU
// features instead of model, once, when this library is loaded.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/cpu/loops.h"

// DYNAMIC_ARCH builds of OpenBLAS export these (not in cblas.h). Weak, so a build for one fixed target, which
// lacks them, still links and simply keeps its kernels.
extern "C" {
char* openblas_get_corename(void);
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace td::kernels {

namespace {

// The OpenBLAS core type for this CPU's features, or nullptr for "keep OpenBLAS's choice".
const char* core_for_features() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

// Runs while the library loads: after OpenBLAS's own initialiser (a shared library is initialised before the
// objects that depend on it), before main and so before any thread of ours could be inside BLAS. The choice
// goes through OpenBLAS's own OPENBLAS_CORETYPE parsing, which its re-initialisation reads; the variable is
// removed again so child processes see the environment they were given. An OPENBLAS_CORETYPE set by the user
// is respected: OpenBLAS has already applied it.
std::string select_openblas_core() {
  const char* chosen = openblas_get_corename();
  const char* want = core_for_features();
  if (gotoblas_dynamic_init && gotoblas_dynamic_quit && want && std::getenv("OPENBLAS_CORETYPE") == nullptr &&
      std::strcmp(chosen, "Prescott") == 0) {
    setenv("OPENBLAS_CORETYPE", want, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
  }
  // The GEMMs take their threads from OpenMP (see blas_gemm).
  openblas_set_num_threads(1);
  return std::string("OpenBLAS (") + openblas_get_corename() + " kernels)";
}

struct Mat {
  MatrixLayout layout;
  int64_t batch_stride;
};

Mat mat(const StridedRef& r) {
  return {gemm_layout(r.sizes[1], r.sizes[2], r.strides[1], r.strides[2]), r.strides[0]};
}

// One single-threaded OpenBLAS call: C (m x n, row stride ldc) = A (m x k) B (k x n).
template <class T>
void gemm_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* pa, int64_t lda, const T* pb,
               int64_t ldb, T* po, int64_t ldc) {
  const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, TA, TB, m, n, k, 1.0f, pa, lda, pb, ldb, 0.0f, po, ldc);
  } else if constexpr (std::is_same_v<T, Complex<float>>) {  // same layout as OpenBLAS's float complex
    const T one(1, 0), zero(0, 0);
    cblas_cgemm(CblasRowMajor, TA, TB, m, n, k, &one, pa, lda, pb, ldb, &zero, po, ldc);
  } else if constexpr (std::is_same_v<T, Complex<double>>) {
    const T one(1, 0), zero(0, 0);
    cblas_zgemm(CblasRowMajor, TA, TB, m, n, k, &one, pa, lda, pb, ldb, &zero, po, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, TA, TB, m, n, k, 1.0, pa, lda, pb, ldb, 0.0, po, ldc);
  }
}

// Below this many multiply-adds a GEMM stays on one thread (OpenBLAS's own threshold for threading).
constexpr int64_t kGemmParallelWork = int64_t{1} << 18;

// The GEMMs run on OpenMP's threads, as every other CPU kernel and oneDNN do, with OpenBLAS itself on one
// thread (set when this library loads): OpenBLAS's own pool would spin for ~0.1 s after each call (its
// default thread timeout), yielding in a loop on the cores the next kernels' OpenMP threads need. A batch is
// split by items when it has at least one per thread; one product by blocks of rows or columns of C,
// whichever dimension is longer, each block a whole number of cache lines wide.
template <class T>
void blas_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  const int64_t batch = out.sizes[0], m = out.sizes[1], n = out.sizes[2], k = a.sizes[2];
  const Mat ma = mat(a), mb = mat(b);
  const bool ta = ma.layout.transposed, tb = mb.layout.transposed;
  const int64_t lda = ma.layout.ld, ldb = mb.layout.ld;
  const auto* A = static_cast<const T*>(a.data);
  const auto* B = static_cast<const T*>(b.data);
  auto* C = static_cast<T*>(out.data);
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const bool parallel = threads > 1 && batch * m * n * k >= kGemmParallelWork;
  if (parallel && batch >= threads) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < batch; ++i) {
      gemm_call(ta, tb, m, n, k, A + i * ma.batch_stride, lda, B + i * mb.batch_stride, ldb, C + i * m * n, n);
    }
    return;
  }
  for (int64_t i = 0; i < batch; ++i) {
    const T* pa = A + i * ma.batch_stride;
    const T* pb = B + i * mb.batch_stride;
    T* po = C + i * m * n;
    if (!parallel || m * n * k < kGemmParallelWork) {
      gemm_call(ta, tb, m, n, k, pa, lda, pb, ldb, po, n);
      continue;
    }
    constexpr int64_t kLine = 64 / sizeof(T) > 0 ? 64 / sizeof(T) : 1;
    const bool by_rows = m >= n;
    const int64_t len = by_rows ? m : n;
    const int64_t unit = by_rows ? 1 : kLine;  // rows are whole lines apart; columns in whole lines
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t per = ((len + nt - 1) / nt + unit - 1) / unit * unit;
      const int64_t begin = std::min(len, t * per), end = std::min(len, begin + per);
      if (begin < end) {
        if (by_rows) {  // rows [begin, end) of A and C
          gemm_call(ta, tb, end - begin, n, k, pa + (ta ? begin : begin * lda), lda, pb, ldb, po + begin * n, n);
        } else {  // columns [begin, end) of B and C
          gemm_call(ta, tb, m, end - begin, k, pa, lda, pb + (tb ? begin * ldb : begin), ldb, po + begin, n);
        }
      }
    }
  }
}

template <class T>
void loop_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  const int64_t batch = out.sizes[0], m = out.sizes[1], n = out.sizes[2], k = a.sizes[2];
  auto* po = static_cast<T*>(out.data);
  auto* pa = static_cast<const T*>(a.data);
  auto* pb = static_cast<const T*>(b.data);
#pragma omp parallel for collapse(2) schedule(static) if (batch * m * n * k >= kParallelGrain)
  for (int64_t bi = 0; bi < batch; ++bi) {
    for (int64_t i = 0; i < m; ++i) {
      T* row = po + (bi * m + i) * n;
      for (int64_t j = 0; j < n; ++j) row[j] = T{};
      for (int64_t p = 0; p < k; ++p) {
        const T av = pa[bi * a.strides[0] + i * a.strides[1] + p * a.strides[2]];
        const T* brow = pb + bi * b.strides[0] + p * b.strides[1];
        for (int64_t j = 0; j < n; ++j) row[j] += av * brow[j * b.strides[2]];
      }
    }
  }
}
}  // namespace

const std::string& cpu_gemm_library() {
  static const std::string name = select_openblas_core();
  return name;
}

namespace {
// Selects the kernels while the library loads (see select_openblas_core).
[[maybe_unused]] const std::string& kSelectedAtLoad = cpu_gemm_library();
}  // namespace

void cpu_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  switch (out.dtype) {
    case DType::kFloat32: return blas_gemm<float>(out, a, b);
    case DType::kFloat64: return blas_gemm<double>(out, a, b);
    case DType::kComplex64: return blas_gemm<Complex<float>>(out, a, b);
    case DType::kComplex128: return blas_gemm<Complex<double>>(out, a, b);
    default:
      dispatch(out.dtype, "matmul", [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, bool>) {
          throw Error(ErrorCode::kUnimplemented, "[matmul] has no CPU kernel for dtype bool");
        } else {
          loop_gemm<T>(out, a, b);
        }
      });
  }
}

}  // namespace td::kernels
