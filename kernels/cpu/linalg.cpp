// The CPU's LAPACK factorizations for torch.linalg (LinalgKernels) through LAPACKE (liblapacke-dev, over
// Debian's OpenBLAS, which is also PyTorch's LAPACK there): getrf, getrs, potrf, syevd/heevd, gesdd, geqrf
// and orgqr/ungqr, and BLAS's trsm, each matrix of the batch in turn (OpenBLAS threads inside a call). The
// _work entry points skip LAPACKE's NaN scan of the input: a NaN goes through LAPACK, as in PyTorch.
#include <complex>
#define lapack_complex_float std::complex<float>
#define lapack_complex_double std::complex<double>
#include <lapacke.h>
// OpenBLAS's cblas.h, after LAPACKE's complex types
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/linalg_kernels.h"

namespace td::kernels {

namespace {

using c64 = std::complex<float>;
using c128 = std::complex<double>;

size_t element_size(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kFloat64:
    case DType::kComplex64: return 8;
    case DType::kComplex128: return 16;
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "[linalg] LAPACK takes float32, float64, complex64 or complex128");
  }
}

// Matrix b of a batch of matrices of `count` elements each.
template <class T>
T* nth(void* base, int64_t b, int64_t count, DType dtype) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + static_cast<size_t>(b * count) * element_size(dtype));
}

void check_call(lapack_int status, const char* routine) {
  TD_CHECK(status >= 0, ErrorCode::kInternal, "[linalg] LAPACK's ", routine, " rejected argument ", -status);
}

// The number a LAPACK workspace query wrote into the first element of a work array of `dtype`.
double queried_size(const std::vector<char>& work, DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return *reinterpret_cast<const float*>(work.data());
    case DType::kFloat64: return *reinterpret_cast<const double*>(work.data());
    case DType::kComplex64: return reinterpret_cast<const c64*>(work.data())->real();
    default: return reinterpret_cast<const c128*>(work.data())->real();
  }
}

DType real_dtype(DType t) {
  return t == DType::kComplex64 ? DType::kFloat32 : t == DType::kComplex128 ? DType::kFloat64 : t;
}

class CpuLinalg final : public LinalgKernels {
 public:
  void lu_factor(void* a, DType dtype, int64_t batch, int64_t m, int64_t n, int32_t* pivots, int32_t* info,
                 int) override {
    const auto lm = static_cast<lapack_int>(m), ln = static_cast<lapack_int>(n);
    const int64_t k = std::min(m, n);
    for (int64_t b = 0; b < batch; ++b) {
      int32_t* ipiv = pivots + b * k;
      lapack_int r = 0;
      switch (dtype) {
        case DType::kFloat32:
          r = LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, lm, ln, nth<float>(a, b, m * n, dtype), lm, ipiv);
          break;
        case DType::kFloat64:
          r = LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, lm, ln, nth<double>(a, b, m * n, dtype), lm, ipiv);
          break;
        case DType::kComplex64:
          r = LAPACKE_cgetrf_work(LAPACK_COL_MAJOR, lm, ln, nth<c64>(a, b, m * n, dtype), lm, ipiv);
          break;
        default: r = LAPACKE_zgetrf_work(LAPACK_COL_MAJOR, lm, ln, nth<c128>(a, b, m * n, dtype), lm, ipiv); break;
      }
      check_call(r < 0 ? r : 0, "getrf");
      info[b] = static_cast<int32_t>(r);
    }
  }

  void lu_solve(const void* lu, const int32_t* pivots, void* rhs, DType dtype, int64_t batch, int64_t n, int64_t k,
                int) override {
    const auto ln = static_cast<lapack_int>(n), lk = static_cast<lapack_int>(k);
    void* factors = const_cast<void*>(lu);  // getrs only reads it
    for (int64_t b = 0; b < batch; ++b) {
      const int32_t* ipiv = pivots + b * n;
      lapack_int r = 0;
      switch (dtype) {
        case DType::kFloat32:
          r = LAPACKE_sgetrs_work(LAPACK_COL_MAJOR, 'N', ln, lk, nth<float>(factors, b, n * n, dtype), ln, ipiv,
                                  nth<float>(rhs, b, n * k, dtype), ln);
          break;
        case DType::kFloat64:
          r = LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, 'N', ln, lk, nth<double>(factors, b, n * n, dtype), ln, ipiv,
                                  nth<double>(rhs, b, n * k, dtype), ln);
          break;
        case DType::kComplex64:
          r = LAPACKE_cgetrs_work(LAPACK_COL_MAJOR, 'N', ln, lk, nth<c64>(factors, b, n * n, dtype), ln, ipiv,
                                  nth<c64>(rhs, b, n * k, dtype), ln);
          break;
        default:
          r = LAPACKE_zgetrs_work(LAPACK_COL_MAJOR, 'N', ln, lk, nth<c128>(factors, b, n * n, dtype), ln, ipiv,
                                  nth<c128>(rhs, b, n * k, dtype), ln);
          break;
      }
      check_call(r, "getrs");
    }
  }

  void cholesky(void* a, DType dtype, int64_t batch, int64_t n, int32_t* info, int) override {
    const auto ln = static_cast<lapack_int>(n);
    for (int64_t b = 0; b < batch; ++b) {
      lapack_int r = 0;
      switch (dtype) {
        case DType::kFloat32:
          r = LAPACKE_spotrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<float>(a, b, n * n, dtype), ln);
          break;
        case DType::kFloat64:
          r = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<double>(a, b, n * n, dtype), ln);
          break;
        case DType::kComplex64:
          r = LAPACKE_cpotrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<c64>(a, b, n * n, dtype), ln);
          break;
        default: r = LAPACKE_zpotrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<c128>(a, b, n * n, dtype), ln); break;
      }
      check_call(r < 0 ? r : 0, "potrf");
      info[b] = static_cast<int32_t>(r);
    }
  }

  void eigh(void* a, void* w, DType dtype, int64_t batch, int64_t n, bool upper, bool vectors, int32_t* info,
            int) override {
    const auto ln = static_cast<lapack_int>(n);
    const char jobz = vectors ? 'V' : 'N', uplo = upper ? 'U' : 'L';
    const DType real = real_dtype(dtype);
    // One workspace for the batch, sized by LAPACK's query (lwork = -1) on the first matrix.
    std::vector<char> work;
    std::vector<char> rwork;
    std::vector<lapack_int> iwork;
    lapack_int lwork = -1, lrwork = -1, liwork = -1;
    auto call = [&](int64_t b) -> lapack_int {
      void* wk = work.empty() ? nullptr : work.data();
      void* rw = rwork.empty() ? nullptr : rwork.data();
      lapack_int* iw = iwork.empty() ? nullptr : iwork.data();
      switch (dtype) {
        case DType::kFloat32:
          return LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, jobz, uplo, ln, nth<float>(a, b, n * n, dtype), ln,
                                     nth<float>(w, b, n, real), static_cast<float*>(wk), lwork, iw, liwork);
        case DType::kFloat64:
          return LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz, uplo, ln, nth<double>(a, b, n * n, dtype), ln,
                                     nth<double>(w, b, n, real), static_cast<double*>(wk), lwork, iw, liwork);
        case DType::kComplex64:
          return LAPACKE_cheevd_work(LAPACK_COL_MAJOR, jobz, uplo, ln, nth<c64>(a, b, n * n, dtype), ln,
                                     nth<float>(w, b, n, real), static_cast<c64*>(wk), lwork, static_cast<float*>(rw),
                                     lrwork, iw, liwork);
        default:
          return LAPACKE_zheevd_work(LAPACK_COL_MAJOR, jobz, uplo, ln, nth<c128>(a, b, n * n, dtype), ln,
                                     nth<double>(w, b, n, real), static_cast<c128*>(wk), lwork,
                                     static_cast<double*>(rw), lrwork, iw, liwork);
      }
    };
    // The query writes the sizes (as numbers of the element type) into one element each.
    double work_size = 0, rwork_size = 0;
    lapack_int iwork_size = 0;
    {
      std::vector<char> probe(16), rprobe(16);
      work.swap(probe);
      rwork.swap(rprobe);
      iwork.assign(1, 0);
      check_call(call(0), is_complex(dtype) ? "heevd" : "syevd");
      work_size = queried_size(work, dtype);
      rwork_size = queried_size(rwork, real);
      iwork_size = iwork[0];
    }
    lwork = std::max<lapack_int>(1, static_cast<lapack_int>(work_size));
    lrwork = std::max<lapack_int>(1, static_cast<lapack_int>(rwork_size));
    liwork = std::max<lapack_int>(1, iwork_size);
    work.assign(static_cast<size_t>(lwork) * element_size(dtype), 0);
    rwork.assign(static_cast<size_t>(lrwork) * element_size(real), 0);
    iwork.assign(static_cast<size_t>(liwork), 0);
    for (int64_t b = 0; b < batch; ++b) {
      const lapack_int r = call(b);
      check_call(r < 0 ? r : 0, is_complex(dtype) ? "heevd" : "syevd");
      info[b] = static_cast<int32_t>(r);
    }
  }

  void svd(void* a, void* u, void* s, void* vh, DType dtype, int64_t batch, int64_t m, int64_t n, bool full,
           bool vectors, int32_t* info, int) override {
    const int64_t k = std::min(m, n), ucols = full ? m : k, vrows = full ? n : k;
    const auto lm = static_cast<lapack_int>(m), ln = static_cast<lapack_int>(n);
    const char jobz = !vectors ? 'N' : full ? 'A' : 'S';
    const DType real = real_dtype(dtype);
    // LAPACK 3.11's minimum real workspace of the complex gesdd, and its integer workspace.
    const int64_t lrwork = !vectors ? 7 * k : std::max(5 * k * k + 5 * k, 2 * std::max(m, n) * k + 2 * k * k + k);
    std::vector<char> work(16), rwork(static_cast<size_t>(std::max<int64_t>(lrwork, 1)) * element_size(real));
    std::vector<lapack_int> iwork(static_cast<size_t>(std::max<int64_t>(8 * k, 1)));
    lapack_int lwork = -1;
    // u and vh are not referenced without vectors; LAPACK still wants leading dimensions of at least 1.
    const auto ldu = static_cast<lapack_int>(std::max<int64_t>(m, 1)),
               ldvt = static_cast<lapack_int>(std::max<int64_t>(vrows, 1));
    auto call = [&](int64_t b) -> lapack_int {
      void* ub = vectors ? nth<char>(u, b, m * ucols, dtype) : nullptr;
      void* vb = vectors ? nth<char>(vh, b, vrows * n, dtype) : nullptr;
      switch (dtype) {
        case DType::kFloat32:
          return LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, jobz, lm, ln, nth<float>(a, b, m * n, dtype), lm,
                                     nth<float>(s, b, k, real), static_cast<float*>(ub), ldu, static_cast<float*>(vb),
                                     ldvt, reinterpret_cast<float*>(work.data()), lwork, iwork.data());
        case DType::kFloat64:
          return LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, lm, ln, nth<double>(a, b, m * n, dtype), lm,
                                     nth<double>(s, b, k, real), static_cast<double*>(ub), ldu,
                                     static_cast<double*>(vb), ldvt, reinterpret_cast<double*>(work.data()), lwork,
                                     iwork.data());
        case DType::kComplex64:
          return LAPACKE_cgesdd_work(LAPACK_COL_MAJOR, jobz, lm, ln, nth<c64>(a, b, m * n, dtype), lm,
                                     nth<float>(s, b, k, real), static_cast<c64*>(ub), ldu, static_cast<c64*>(vb), ldvt,
                                     reinterpret_cast<c64*>(work.data()), lwork,
                                     reinterpret_cast<float*>(rwork.data()), iwork.data());
        default:
          return LAPACKE_zgesdd_work(LAPACK_COL_MAJOR, jobz, lm, ln, nth<c128>(a, b, m * n, dtype), lm,
                                     nth<double>(s, b, k, real), static_cast<c128*>(ub), ldu, static_cast<c128*>(vb),
                                     ldvt, reinterpret_cast<c128*>(work.data()), lwork,
                                     reinterpret_cast<double*>(rwork.data()), iwork.data());
      }
    };
    check_call(call(0), "gesdd");
    lwork = std::max<lapack_int>(1, static_cast<lapack_int>(queried_size(work, dtype)));
    work.assign(static_cast<size_t>(lwork) * element_size(dtype), 0);
    for (int64_t b = 0; b < batch; ++b) {
      const lapack_int r = call(b);
      check_call(r < 0 ? r : 0, "gesdd");
      info[b] = static_cast<int32_t>(r);
    }
  }

  void eig(void* a, void* w, void* v, DType dtype, int64_t batch, int64_t n, bool vectors, int32_t* info,
           int) override {
    const auto ln = static_cast<lapack_int>(n);
    const char jobvr = vectors ? 'V' : 'N';
    const DType complex = dtype == DType::kFloat32   ? DType::kComplex64
                          : dtype == DType::kFloat64 ? DType::kComplex128
                                                     : dtype;
    // Real matrices: LAPACK's wr, wi and packed real vectors (a complex pair's vectors are columns j and j + 1:
    // v_j = x + iy, v_j+1 = x - iy), unpacked into the complex outputs below.
    std::vector<double> wr(static_cast<size_t>(n)), wi(static_cast<size_t>(n));
    std::vector<double> vr(static_cast<size_t>(vectors && !is_complex(dtype) ? n * n : 1));
    std::vector<float> wrf(wr.size()), wif(wi.size()), vrf(vr.size());
    std::vector<char> work(16), rwork(static_cast<size_t>(2 * n + 1) * element_size(real_dtype(dtype)));
    lapack_int lwork = -1;
    const lapack_int ldv = static_cast<lapack_int>(std::max<int64_t>(n, 1));
    auto call = [&](int64_t b) -> lapack_int {
      switch (dtype) {
        case DType::kFloat32:
          return LAPACKE_sgeev_work(LAPACK_COL_MAJOR, 'N', jobvr, ln, nth<float>(a, b, n * n, dtype), ln,
                                    wrf.data(), wif.data(), nullptr, 1, vrf.data(), ldv,
                                    reinterpret_cast<float*>(work.data()), lwork);
        case DType::kFloat64:
          return LAPACKE_dgeev_work(LAPACK_COL_MAJOR, 'N', jobvr, ln, nth<double>(a, b, n * n, dtype), ln,
                                    wr.data(), wi.data(), nullptr, 1, vr.data(), ldv,
                                    reinterpret_cast<double*>(work.data()), lwork);
        case DType::kComplex64:
          return LAPACKE_cgeev_work(LAPACK_COL_MAJOR, 'N', jobvr, ln, nth<c64>(a, b, n * n, dtype), ln,
                                    nth<c64>(w, b, n, complex), nullptr, 1,
                                    vectors ? nth<c64>(v, b, n * n, complex) : nullptr, ldv,
                                    reinterpret_cast<c64*>(work.data()), lwork, reinterpret_cast<float*>(rwork.data()));
        default:
          return LAPACKE_zgeev_work(LAPACK_COL_MAJOR, 'N', jobvr, ln, nth<c128>(a, b, n * n, dtype), ln,
                                    nth<c128>(w, b, n, complex), nullptr, 1,
                                    vectors ? nth<c128>(v, b, n * n, complex) : nullptr, ldv,
                                    reinterpret_cast<c128*>(work.data()), lwork,
                                    reinterpret_cast<double*>(rwork.data()));
      }
    };
    check_call(call(0), "geev");
    lwork = std::max<lapack_int>(1, static_cast<lapack_int>(queried_size(work, dtype)));
    work.assign(static_cast<size_t>(lwork) * element_size(dtype), 0);
    for (int64_t b = 0; b < batch; ++b) {
      const lapack_int r = call(b);
      check_call(r < 0 ? r : 0, "geev");
      info[b] = static_cast<int32_t>(r);
      if (is_complex(dtype)) continue;
      auto unpack = [&](auto* out_w, auto* out_v, const auto& re, const auto& im, const auto& packed) {
        for (int64_t j = 0; j < n; ++j) out_w[j] = {re[static_cast<size_t>(j)], im[static_cast<size_t>(j)]};
        if (!vectors) return;
        for (int64_t j = 0; j < n; ++j) {
          const bool pair = im[static_cast<size_t>(j)] != 0 && j + 1 < n;
          for (int64_t i = 0; i < n; ++i) {
            const auto x = packed[static_cast<size_t>(j * n + i)];
            if (!pair) {
              out_v[j * n + i] = {x, 0};
            } else {
              const auto y = packed[static_cast<size_t>((j + 1) * n + i)];
              out_v[j * n + i] = {x, y};
              out_v[(j + 1) * n + i] = {x, -y};
            }
          }
          if (pair) ++j;
        }
      };
      if (dtype == DType::kFloat32) {
        unpack(nth<c64>(w, b, n, complex), vectors ? nth<c64>(v, b, n * n, complex) : nullptr, wrf, wif, vrf);
      } else {
        unpack(nth<c128>(w, b, n, complex), vectors ? nth<c128>(v, b, n * n, complex) : nullptr, wr, wi, vr);
      }
    }
  }

  void ldl_factor(void* a, int32_t* pivots, DType dtype, int64_t batch, int64_t n, bool hermitian, int32_t* info,
                  int) override {
    const auto ln = static_cast<lapack_int>(n);
    std::vector<char> work(16);
    lapack_int lwork = -1;
    auto call = [&](int64_t b) -> lapack_int {
      int32_t* ipiv = pivots + b * n;
      switch (dtype) {
        case DType::kFloat32:
          return LAPACKE_ssytrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<float>(a, b, n * n, dtype), ln, ipiv,
                                     reinterpret_cast<float*>(work.data()), lwork);
        case DType::kFloat64:
          return LAPACKE_dsytrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<double>(a, b, n * n, dtype), ln, ipiv,
                                     reinterpret_cast<double*>(work.data()), lwork);
        case DType::kComplex64:
          return hermitian ? LAPACKE_chetrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<c64>(a, b, n * n, dtype), ln, ipiv,
                                                 reinterpret_cast<c64*>(work.data()), lwork)
                           : LAPACKE_csytrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<c64>(a, b, n * n, dtype), ln, ipiv,
                                                 reinterpret_cast<c64*>(work.data()), lwork);
        default:
          return hermitian ? LAPACKE_zhetrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<c128>(a, b, n * n, dtype), ln, ipiv,
                                                 reinterpret_cast<c128*>(work.data()), lwork)
                           : LAPACKE_zsytrf_work(LAPACK_COL_MAJOR, 'L', ln, nth<c128>(a, b, n * n, dtype), ln, ipiv,
                                                 reinterpret_cast<c128*>(work.data()), lwork);
      }
    };
    check_call(call(0), "sytrf");
    lwork = std::max<lapack_int>(1, static_cast<lapack_int>(queried_size(work, dtype)));
    work.assign(static_cast<size_t>(lwork) * element_size(dtype), 0);
    for (int64_t b = 0; b < batch; ++b) {
      const lapack_int r = call(b);
      check_call(r < 0 ? r : 0, "sytrf");
      info[b] = static_cast<int32_t>(r);
    }
  }

  void ldl_solve(const void* ld, const int32_t* pivots, void* rhs, DType dtype, int64_t batch, int64_t n, int64_t k,
                 bool hermitian, int) override {
    const auto ln = static_cast<lapack_int>(n), lk = static_cast<lapack_int>(k);
    void* factors = const_cast<void*>(ld);  // sytrs only reads it
    for (int64_t b = 0; b < batch; ++b) {
      const int32_t* ipiv = pivots + b * n;
      lapack_int r = 0;
      switch (dtype) {
        case DType::kFloat32:
          r = LAPACKE_ssytrs_work(LAPACK_COL_MAJOR, 'L', ln, lk, nth<float>(factors, b, n * n, dtype), ln, ipiv,
                                  nth<float>(rhs, b, n * k, dtype), ln);
          break;
        case DType::kFloat64:
          r = LAPACKE_dsytrs_work(LAPACK_COL_MAJOR, 'L', ln, lk, nth<double>(factors, b, n * n, dtype), ln, ipiv,
                                  nth<double>(rhs, b, n * k, dtype), ln);
          break;
        case DType::kComplex64:
          r = hermitian ? LAPACKE_chetrs_work(LAPACK_COL_MAJOR, 'L', ln, lk, nth<c64>(factors, b, n * n, dtype), ln,
                                              ipiv, nth<c64>(rhs, b, n * k, dtype), ln)
                        : LAPACKE_csytrs_work(LAPACK_COL_MAJOR, 'L', ln, lk, nth<c64>(factors, b, n * n, dtype), ln,
                                              ipiv, nth<c64>(rhs, b, n * k, dtype), ln);
          break;
        default:
          r = hermitian ? LAPACKE_zhetrs_work(LAPACK_COL_MAJOR, 'L', ln, lk, nth<c128>(factors, b, n * n, dtype), ln,
                                              ipiv, nth<c128>(rhs, b, n * k, dtype), ln)
                        : LAPACKE_zsytrs_work(LAPACK_COL_MAJOR, 'L', ln, lk, nth<c128>(factors, b, n * n, dtype), ln,
                                              ipiv, nth<c128>(rhs, b, n * k, dtype), ln);
          break;
      }
      check_call(r, "sytrs");
    }
  }

  void geqrf(void* a, void* tau, DType dtype, int64_t batch, int64_t m, int64_t n, int) override {
    const int64_t k = std::min(m, n);
    const auto lm = static_cast<lapack_int>(m), ln = static_cast<lapack_int>(n);
    for (int64_t b = 0; b < batch; ++b) {
      lapack_int r = 0;
      switch (dtype) {
        case DType::kFloat32:
          r = LAPACKE_sgeqrf(LAPACK_COL_MAJOR, lm, ln, nth<float>(a, b, m * n, dtype), lm,
                             nth<float>(tau, b, k, dtype));
          break;
        case DType::kFloat64:
          r = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, lm, ln, nth<double>(a, b, m * n, dtype), lm,
                             nth<double>(tau, b, k, dtype));
          break;
        case DType::kComplex64:
          r = LAPACKE_cgeqrf(LAPACK_COL_MAJOR, lm, ln, nth<c64>(a, b, m * n, dtype), lm,
                             nth<c64>(tau, b, k, dtype));
          break;
        default:
          r = LAPACKE_zgeqrf(LAPACK_COL_MAJOR, lm, ln, nth<c128>(a, b, m * n, dtype), lm,
                             nth<c128>(tau, b, k, dtype));
          break;
      }
      // LAPACKE's NaN check answers -4 for a NaN in a: the factors are NaN, as PyTorch's.
      if (r == -4) continue;
      check_call(r, "geqrf");
    }
  }

  void orgqr(void* q, const void* tau, DType dtype, int64_t batch, int64_t m, int64_t cols, int64_t k, int) override {
    const auto lm = static_cast<lapack_int>(m), lc = static_cast<lapack_int>(cols), lk = static_cast<lapack_int>(k);
    void* t = const_cast<void*>(tau);  // orgqr only reads it
    for (int64_t b = 0; b < batch; ++b) {
      lapack_int r = 0;
      switch (dtype) {
        case DType::kFloat32:
          r = LAPACKE_sorgqr(LAPACK_COL_MAJOR, lm, lc, lk, nth<float>(q, b, m * cols, dtype), lm,
                             nth<float>(t, b, k, dtype));
          break;
        case DType::kFloat64:
          r = LAPACKE_dorgqr(LAPACK_COL_MAJOR, lm, lc, lk, nth<double>(q, b, m * cols, dtype), lm,
                             nth<double>(t, b, k, dtype));
          break;
        case DType::kComplex64:
          r = LAPACKE_cungqr(LAPACK_COL_MAJOR, lm, lc, lk, nth<c64>(q, b, m * cols, dtype), lm,
                             nth<c64>(t, b, k, dtype));
          break;
        default:
          r = LAPACKE_zungqr(LAPACK_COL_MAJOR, lm, lc, lk, nth<c128>(q, b, m * cols, dtype), lm,
                             nth<c128>(t, b, k, dtype));
          break;
      }
      if (r == -5 || r == -8) continue;  // LAPACKE's NaN check (a or tau): NaN factors
      check_call(r, "orgqr");
    }
  }

  void triangular_solve(const void* a, void* b, DType dtype, int64_t batch, int64_t n, int64_t k, bool upper,
                        bool unit, int) override {
    const auto uplo = upper ? CblasUpper : CblasLower;
    const auto diag = unit ? CblasUnit : CblasNonUnit;
    const auto ln = static_cast<blasint>(n), lk = static_cast<blasint>(k);
    void* factors = const_cast<void*>(a);
    for (int64_t i = 0; i < batch; ++i) {
      switch (dtype) {
        case DType::kFloat32:
          cblas_strsm(CblasColMajor, CblasLeft, uplo, CblasNoTrans, diag, ln, lk, 1.0f,
                      nth<float>(factors, i, n * n, dtype), ln, nth<float>(b, i, n * k, dtype), ln);
          break;
        case DType::kFloat64:
          cblas_dtrsm(CblasColMajor, CblasLeft, uplo, CblasNoTrans, diag, ln, lk, 1.0,
                      nth<double>(factors, i, n * n, dtype), ln, nth<double>(b, i, n * k, dtype), ln);
          break;
        case DType::kComplex64: {
          const c64 one(1);
          cblas_ctrsm(CblasColMajor, CblasLeft, uplo, CblasNoTrans, diag, ln, lk, &one,
                      nth<c64>(factors, i, n * n, dtype), ln, nth<c64>(b, i, n * k, dtype), ln);
          break;
        }
        default: {
          const c128 one(1);
          cblas_ztrsm(CblasColMajor, CblasLeft, uplo, CblasNoTrans, diag, ln, lk, &one,
                      nth<c128>(factors, i, n * n, dtype), ln, nth<c128>(b, i, n * k, dtype), ln);
          break;
        }
      }
    }
  }
};

}  // namespace

LinalgKernels& cpu_linalg() {
  static CpuLinalg kernels;
  return kernels;
}

}  // namespace td::kernels
