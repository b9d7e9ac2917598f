// torch.linalg's factorizations on CUDA (LinalgKernels) through cuSOLVER's dense API: getrf, getrs, potrf,
// syevd/heevd, gesvdj (Jacobi SVD: any shape, unlike gesvd), geqrf and orgqr/ungqr, and cuBLAS's trsm and geam
// (V to V^H), one matrix of the batch after another (the general eigenproblem, geev, and LDL run on the host,
// as PyTorch's MAGMA geev does; so do the matrices gesvdj does not converge on, as PyTorch reruns them with
// gesvd), on the calling thread's current stream, with workspaces from the device's caching allocator. One
// cuSOLVER handle per thread and device, as cuBLAS's.
#include <cusolverDn.h>

#include <algorithm>
#include <array>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/linalg_kernels.h"
#include "kernels/cuda/blas_handle.h"
#include "kernels/cuda/handle_pool.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/stream.h"

namespace td::kernels {

namespace {

void check_solver(cusolverStatus_t s, const char* what) {
  TD_CHECK(s == CUSOLVER_STATUS_SUCCESS, ErrorCode::kInternal, "[linalg] cuSOLVER's ", what, " failed with status ",
           static_cast<int>(s));
}

cusolverDnHandle_t solver_for(int device) {
  thread_local cuda::ThreadHandles<cusolverDnHandle_t> handles;  // pooled when the thread ends
  TD_CHECK(device >= 0 && device < cuda::kMaxDevices, ErrorCode::kInvalidArgument, "[cuda] device index ", device,
           " out of range");
  cusolverDnHandle_t& h = handles.at(device);
  if (!h) {
    check_solver(cusolverDnCreate(&h), "cusolverDnCreate");
    cuda::ThreadHandles<cusolverDnHandle_t>::made();
  }
  check_solver(cusolverDnSetStream(h, cuda::stream()), "cusolverDnSetStream");
  return h;
}

// cuSOLVER's entry points for one element type.
template <class T>
struct Solver;

#define TD_SOLVER(T, Real, P, E, Q)                                                                       \
  template <>                                                                                             \
  struct Solver<T> {                                                                                      \
    using R = Real;                                                                                       \
    static constexpr auto getrf_size = cusolverDn##P##getrf_bufferSize;                                    \
    static constexpr auto getrf = cusolverDn##P##getrf;                                                   \
    static constexpr auto getrs = cusolverDn##P##getrs;                                                   \
    static constexpr auto potrf_size = cusolverDn##P##potrf_bufferSize;                                    \
    static constexpr auto potrf = cusolverDn##P##potrf;                                                   \
    static constexpr auto eig_size = cusolverDn##P##E##evd_bufferSize;                                     \
    static constexpr auto eig = cusolverDn##P##E##evd;                                                    \
    static constexpr auto svd_size = cusolverDn##P##gesvdj_bufferSize;                                     \
    static constexpr auto svd = cusolverDn##P##gesvdj;                                                    \
    static constexpr auto geqrf_size = cusolverDn##P##geqrf_bufferSize;                                    \
    static constexpr auto geqrf = cusolverDn##P##geqrf;                                                   \
    static constexpr auto orgqr_size = cusolverDn##P##Q##gqr_bufferSize;                                   \
    static constexpr auto orgqr = cusolverDn##P##Q##gqr;                                                  \
    static constexpr auto trsm = cublas##P##trsm;                                                         \
    static constexpr auto geam = cublas##P##geam;                                                         \
    static constexpr auto getrf_batched = cublas##P##getrfBatched;                                        \
    static constexpr auto getrs_batched = cublas##P##getrsBatched;                                        \
  };
TD_SOLVER(float, float, S, sy, or)
TD_SOLVER(double, double, D, sy, or)
TD_SOLVER(cuComplex, float, C, he, un)
TD_SOLVER(cuDoubleComplex, double, Z, he, un)
#undef TD_SOLVER

void check_blas(cublasStatus_t s, const char* what) {
  TD_CHECK(s == CUBLAS_STATUS_SUCCESS, ErrorCode::kInternal, "[linalg] cuBLAS's ", what, " failed with status ",
           static_cast<int>(s));
}

// Real square matrices of a batch up to this order are LU-factored and solved by cuBLAS's batched routines,
// one launch sequence for the whole batch, rather than by one cuSOLVER call per matrix (on an H100, 64
// matrices of order 64: 8.6 ms one by one, 0.22 ms batched, PyTorch 0.47-0.58 ms). Complex ones stay with
// cuSOLVER, whose pivots are LAPACK's: cuBLAS's batched getrf picked other rows of a complex128 batch.
constexpr int64_t kBatchedLuMaxOrder = 512;
template <class T>
bool batched_lu(int64_t batch, int64_t n) {
  return std::is_floating_point_v<T> && batch > 1 && n <= kBatchedLuMaxOrder;
}

// The device array of the batch's matrix pointers that cuBLAS's batched routines take. The pageable source is
// staged before cudaMemcpyAsync returns, so the host vector may go.
template <class T>
void fill_pointer_array(const cuda::Workspace& array, T* base, int64_t batch, int64_t stride) {
  std::vector<T*> pointers(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) pointers[static_cast<size_t>(b)] = base + b * stride;
  cuda::check(cudaMemcpyAsync(array.data, pointers.data(), pointers.size() * sizeof(T*), cudaMemcpyHostToDevice,
                              cuda::stream()),
              "cudaMemcpyAsync");
}

template <class T>
T scalar_one() {
  if constexpr (std::is_same_v<T, cuComplex>) {
    return make_cuComplex(1, 0);
  } else if constexpr (std::is_same_v<T, cuDoubleComplex>) {
    return make_cuDoubleComplex(1, 0);
  } else {
    return T(1);
  }
}

size_t element_bytes(DType t) { return t == DType::kFloat32 ? 4 : t == DType::kComplex128 ? 16 : 8; }

// A host copy of device memory for the routines that run on the host: read in (when `in`) at construction and
// written back (when `out`) at destruction, both on the current stream, which the copy waits for.
class HostCopy {
 public:
  HostCopy(void* device, size_t bytes, bool in = true, bool out = true)
      : device_(device), host_(std::max<size_t>(bytes, 1)), bytes_(bytes), out_(out) {
    if (in && bytes_ > 0) {
      cuda::check(cudaMemcpyAsync(host_.data(), device_, bytes_, cudaMemcpyDeviceToHost, cuda::stream()),
                  "cudaMemcpyAsync");
      cuda::check(cudaStreamSynchronize(cuda::stream()), "cudaStreamSynchronize");
    }
  }
  ~HostCopy() {
    if (!out_ || bytes_ == 0) return;
    // A failure here cannot throw from a destructor: the next CUDA call reports the device's error.
    if (cudaMemcpyAsync(device_, host_.data(), bytes_, cudaMemcpyHostToDevice, cuda::stream()) == cudaSuccess) {
      cudaStreamSynchronize(cuda::stream());
    }
  }
  HostCopy(const HostCopy&) = delete;
  HostCopy& operator=(const HostCopy&) = delete;
  void* host() { return host_.data(); }

 private:
  void* device_;
  std::vector<char> host_;
  size_t bytes_;
  bool out_;
};

template <class F>
void dispatch(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    case DType::kComplex64: return f(cuComplex{});
    case DType::kComplex128: return f(cuDoubleComplex{});
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "[linalg] cuSOLVER takes float32, float64, complex64 or complex128");
  }
}

class CudaLinalg final : public LinalgKernels {
 public:
  void lu_factor(void* a, DType dtype, int64_t batch, int64_t m, int64_t n, int32_t* pivots, int32_t* info,
                 int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      using S = Solver<T>;
      const int lm = static_cast<int>(m), ln = static_cast<int>(n);
      if (m == n && batched_lu<T>(batch, n)) {
        cuda::Workspace matrices(static_cast<size_t>(batch) * sizeof(T*), device);
        fill_pointer_array(matrices, static_cast<T*>(a), batch, n * n);
        check_blas(S::getrf_batched(cuda::blas_handle(device), ln, static_cast<T* const*>(matrices.data), ln, pivots,
                                    info, static_cast<int>(batch)),
                   "getrfBatched");
        return;
      }
      cusolverDnHandle_t h = solver_for(device);
      const int64_t k = std::min(m, n);
      int lwork = 0;
      check_solver(S::getrf_size(h, lm, ln, static_cast<T*>(a), lm, &lwork), "getrf_bufferSize");
      cuda::Workspace work(static_cast<size_t>(std::max(lwork, 1)) * sizeof(T), device);
      for (int64_t b = 0; b < batch; ++b) {
        check_solver(S::getrf(h, lm, ln, static_cast<T*>(a) + b * m * n, lm, static_cast<T*>(work.data),
                              pivots + b * k, info + b),
                     "getrf");
      }
    });
  }

  void lu_solve(const void* lu, const int32_t* pivots, void* rhs, DType dtype, int64_t batch, int64_t n, int64_t k,
                int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      const int ln = static_cast<int>(n), lk = static_cast<int>(k);
      if (batched_lu<T>(batch, n)) {
        cuda::Workspace factors(static_cast<size_t>(batch) * sizeof(T*), device);
        cuda::Workspace sides(static_cast<size_t>(batch) * sizeof(T*), device);
        fill_pointer_array(factors, const_cast<T*>(static_cast<const T*>(lu)), batch, n * n);
        fill_pointer_array(sides, static_cast<T*>(rhs), batch, n * k);
        int status = 0;  // argument errors only, reported on the host
        check_blas(Solver<T>::getrs_batched(cuda::blas_handle(device), CUBLAS_OP_N, ln, lk,
                                            static_cast<const T* const*>(factors.data), ln, pivots,
                                            static_cast<T* const*>(sides.data), ln, &status, static_cast<int>(batch)),
                   "getrsBatched");
        TD_CHECK(status == 0, ErrorCode::kInternal, "[linalg] cuBLAS's getrsBatched rejected argument ", -status);
        return;
      }
      cusolverDnHandle_t h = solver_for(device);
      cuda::Workspace status(sizeof(int), device);  // getrs reports only argument errors, checked on the host
      for (int64_t b = 0; b < batch; ++b) {
        check_solver(Solver<T>::getrs(h, CUBLAS_OP_N, ln, lk, static_cast<const T*>(lu) + b * n * n, ln,
                                      pivots + b * n, static_cast<T*>(rhs) + b * n * k, ln,
                                      static_cast<int*>(status.data)),
                     "getrs");
      }
    });
  }

  void cholesky(void* a, DType dtype, int64_t batch, int64_t n, int32_t* info, int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      using S = Solver<T>;
      cusolverDnHandle_t h = solver_for(device);
      const int ln = static_cast<int>(n);
      int lwork = 0;
      check_solver(S::potrf_size(h, CUBLAS_FILL_MODE_LOWER, ln, static_cast<T*>(a), ln, &lwork), "potrf_bufferSize");
      cuda::Workspace work(static_cast<size_t>(std::max(lwork, 1)) * sizeof(T), device);
      for (int64_t b = 0; b < batch; ++b) {
        check_solver(S::potrf(h, CUBLAS_FILL_MODE_LOWER, ln, static_cast<T*>(a) + b * n * n, ln,
                              static_cast<T*>(work.data), lwork, info + b),
                     "potrf");
      }
    });
  }

  void eigh(void* a, void* w, DType dtype, int64_t batch, int64_t n, bool upper, bool vectors, int32_t* info,
            int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      using S = Solver<T>;
      using R = typename S::R;
      cusolverDnHandle_t h = solver_for(device);
      const int ln = static_cast<int>(n);
      const cusolverEigMode_t jobz = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
      const cublasFillMode_t uplo = upper ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
      int lwork = 0;
      check_solver(S::eig_size(h, jobz, uplo, ln, static_cast<T*>(a), ln, static_cast<R*>(w), &lwork),
                   "evd_bufferSize");
      cuda::Workspace work(static_cast<size_t>(std::max(lwork, 1)) * sizeof(T), device);
      for (int64_t b = 0; b < batch; ++b) {
        check_solver(S::eig(h, jobz, uplo, ln, static_cast<T*>(a) + b * n * n, ln, static_cast<R*>(w) + b * n,
                            static_cast<T*>(work.data), lwork, info + b),
                     "evd");
      }
    });
  }

  void svd(void* a, void* u, void* s, void* vh, DType dtype, int64_t batch, int64_t m, int64_t n, bool full,
           bool vectors, int32_t* info, int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      using S = Solver<T>;
      using R = typename S::R;
      cusolverDnHandle_t h = solver_for(device);
      const int64_t k = std::min(m, n), ucols = full ? m : k, vrows = full ? n : k;
      const int lm = static_cast<int>(m), ln = static_cast<int>(n), econ = full ? 0 : 1;
      const cusolverEigMode_t jobz = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
      gesvdjInfo_t params = nullptr;
      check_solver(cusolverDnCreateGesvdjInfo(&params), "cusolverDnCreateGesvdjInfo");
      const std::unique_ptr<std::remove_pointer_t<gesvdjInfo_t>, decltype(&cusolverDnDestroyGesvdjInfo)> params_owner(
          params, cusolverDnDestroyGesvdjInfo);
      // gesvdj gives V (n x vrows); each is turned into vh (vrows x n) by a conjugate transpose.
      cuda::Workspace v(static_cast<size_t>(std::max<int64_t>(n * vrows, 1)) * sizeof(T), device);
      cuda::Workspace u_scratch(static_cast<size_t>(vectors ? 1 : std::max<int64_t>(m * m, 1)) * sizeof(T), device);
      T* u_base = vectors ? static_cast<T*>(u) : static_cast<T*>(u_scratch.data);
      // gesvdj destroys its input: a copy is kept for the matrices it does not converge on.
      const size_t a_bytes = static_cast<size_t>(batch * m * n) * sizeof(T);
      cuda::Workspace a_copy(std::max<size_t>(a_bytes, 1), device);
      cuda::check(cudaMemcpyAsync(a_copy.data, a, a_bytes, cudaMemcpyDeviceToDevice, cuda::stream()),
                  "cudaMemcpyAsync");
      int lwork = 0;
      cusolverStatus_t st = S::svd_size(h, jobz, econ, lm, ln, static_cast<T*>(a), lm, static_cast<R*>(s), u_base, lm,
                                        static_cast<T*>(v.data), ln, &lwork, params);
      if (st == CUSOLVER_STATUS_SUCCESS) {
        cuda::Workspace work(static_cast<size_t>(std::max(lwork, 1)) * sizeof(T), device);
        for (int64_t b = 0; b < batch && st == CUSOLVER_STATUS_SUCCESS; ++b) {
          st = S::svd(h, jobz, econ, lm, ln, static_cast<T*>(a) + b * m * n, lm, static_cast<R*>(s) + b * k,
                      vectors ? u_base + b * m * ucols : u_base, lm, static_cast<T*>(v.data), ln,
                      static_cast<T*>(work.data), lwork, info + b, params);
          if (st != CUSOLVER_STATUS_SUCCESS || !vectors) continue;
          const T one = scalar_one<T>(), zero{};
          check_blas(S::geam(cuda::blas_handle(device), CUBLAS_OP_C, CUBLAS_OP_N, static_cast<int>(vrows), ln, &one,
                             static_cast<const T*>(v.data), ln, &zero, static_cast<const T*>(v.data),
                             static_cast<int>(vrows), static_cast<T*>(vh) + b * vrows * n, static_cast<int>(vrows)),
                     "geam");
        }
      }
      check_solver(st, "gesvdj");
      // info = k + 1: gesvdj stopped short of its tolerance. Those matrices go to LAPACK's gesdd on the host, as
      // PyTorch reruns them with gesvd, so the CPU and CUDA succeed on the same inputs.
      std::vector<int32_t> host_info(static_cast<size_t>(batch));
      cuda::check(cudaMemcpyAsync(host_info.data(), info, host_info.size() * sizeof(int32_t), cudaMemcpyDeviceToHost,
                                  cuda::stream()),
                  "cudaMemcpyAsync");
      cuda::check(cudaStreamSynchronize(cuda::stream()), "cudaStreamSynchronize");
      for (int64_t b = 0; b < batch; ++b) {
        if (host_info[static_cast<size_t>(b)] != k + 1) continue;
        HostCopy ha(static_cast<T*>(a_copy.data) + b * m * n, static_cast<size_t>(m * n) * sizeof(T), true, false);
        HostCopy hs(static_cast<R*>(s) + b * k, static_cast<size_t>(k) * sizeof(R), false);
        HostCopy hu(vectors ? static_cast<T*>(u) + b * m * ucols : nullptr,
                    vectors ? static_cast<size_t>(m * ucols) * sizeof(T) : 0, false);
        HostCopy hv(vectors ? static_cast<T*>(vh) + b * vrows * n : nullptr,
                    vectors ? static_cast<size_t>(vrows * n) * sizeof(T) : 0, false);
        HostCopy hi(info + b, sizeof(int32_t), false);
        kernels::cpu_linalg().svd(ha.host(), hu.host(), hs.host(), hv.host(), dtype, 1, m, n, full, vectors,
                                  static_cast<int32_t*>(hi.host()), -1);
      }
    });
  }

  // On the host, as PyTorch's (MAGMA's geev runs there): the matrices are copied over, LAPACK's geev runs, and the
  // results come back, all ordered on the current stream.
  void eig(void* a, void* w, void* v, DType dtype, int64_t batch, int64_t n, bool vectors, int32_t* info,
           int device) override {
    cuda::use_device(device);
    const size_t complex_bytes = dtype == DType::kFloat32 || dtype == DType::kComplex64 ? 8 : 16;
    HostCopy ha(a, static_cast<size_t>(batch * n * n) * element_bytes(dtype), true, false);
    HostCopy hw(w, static_cast<size_t>(batch * n) * complex_bytes, false);
    HostCopy hv(v, vectors ? static_cast<size_t>(batch * n * n) * complex_bytes : 0, false);
    HostCopy hi(info, static_cast<size_t>(batch) * sizeof(int32_t), false);
    kernels::cpu_linalg().eig(ha.host(), hw.host(), hv.host(), dtype, batch, n, vectors,
                              static_cast<int32_t*>(hi.host()), -1);
  }

  // LDL on the host too (cuSOLVER has sytrf but no sytrs, and no Hermitian form): copied over and back on the
  // current stream.
  void ldl_factor(void* a, int32_t* pivots, DType dtype, int64_t batch, int64_t n, bool hermitian, int32_t* info,
                  int device) override {
    cuda::use_device(device);
    HostCopy ha(a, static_cast<size_t>(batch * n * n) * element_bytes(dtype));
    HostCopy hp(pivots, static_cast<size_t>(batch * n) * sizeof(int32_t), false);
    HostCopy hi(info, static_cast<size_t>(batch) * sizeof(int32_t), false);
    kernels::cpu_linalg().ldl_factor(ha.host(), static_cast<int32_t*>(hp.host()), dtype, batch, n, hermitian,
                                     static_cast<int32_t*>(hi.host()), -1);
  }
  void ldl_solve(const void* ld, const int32_t* pivots, void* b, DType dtype, int64_t batch, int64_t n, int64_t k,
                 bool hermitian, int device) override {
    cuda::use_device(device);
    HostCopy hl(const_cast<void*>(ld), static_cast<size_t>(batch * n * n) * element_bytes(dtype), true, false);
    HostCopy hp(const_cast<int32_t*>(pivots), static_cast<size_t>(batch * n) * sizeof(int32_t), true, false);
    HostCopy hb(b, static_cast<size_t>(batch * n * k) * element_bytes(dtype));
    kernels::cpu_linalg().ldl_solve(hl.host(), static_cast<const int32_t*>(hp.host()), hb.host(), dtype, batch, n, k,
                                    hermitian, -1);
  }

  void geqrf(void* a, void* tau, DType dtype, int64_t batch, int64_t m, int64_t n, int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      using S = Solver<T>;
      cusolverDnHandle_t h = solver_for(device);
      const int lm = static_cast<int>(m), ln = static_cast<int>(n);
      const int64_t k = std::min(m, n);
      int lwork = 0;
      check_solver(S::geqrf_size(h, lm, ln, static_cast<T*>(a), lm, &lwork), "geqrf_bufferSize");
      cuda::Workspace work(static_cast<size_t>(std::max(lwork, 1)) * sizeof(T), device);
      cuda::Workspace status(sizeof(int), device);
      for (int64_t b = 0; b < batch; ++b) {
        check_solver(S::geqrf(h, lm, ln, static_cast<T*>(a) + b * m * n, lm, static_cast<T*>(tau) + b * k,
                              static_cast<T*>(work.data), lwork, static_cast<int*>(status.data)),
                     "geqrf");
      }
    });
  }

  void orgqr(void* q, const void* tau, DType dtype, int64_t batch, int64_t m, int64_t cols, int64_t k,
             int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      using S = Solver<T>;
      cusolverDnHandle_t h = solver_for(device);
      const int lm = static_cast<int>(m), lc = static_cast<int>(cols), lk = static_cast<int>(k);
      int lwork = 0;
      check_solver(S::orgqr_size(h, lm, lc, lk, static_cast<const T*>(q), lm, static_cast<const T*>(tau), &lwork),
                   "orgqr_bufferSize");
      cuda::Workspace work(static_cast<size_t>(std::max(lwork, 1)) * sizeof(T), device);
      cuda::Workspace status(sizeof(int), device);
      for (int64_t b = 0; b < batch; ++b) {
        check_solver(S::orgqr(h, lm, lc, lk, static_cast<T*>(q) + b * m * cols, lm, static_cast<const T*>(tau) + b * k,
                              static_cast<T*>(work.data), lwork, static_cast<int*>(status.data)),
                     "orgqr");
      }
    });
  }

  void triangular_solve(const void* a, void* b, DType dtype, int64_t batch, int64_t n, int64_t k, bool upper,
                        bool unit, int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      cublasHandle_t h = cuda::blas_handle(device);
      const T one = scalar_one<T>();
      const int ln = static_cast<int>(n), lk = static_cast<int>(k);
      for (int64_t i = 0; i < batch; ++i) {
        check_blas(Solver<T>::trsm(h, CUBLAS_SIDE_LEFT, upper ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER,
                                   CUBLAS_OP_N, unit ? CUBLAS_DIAG_UNIT : CUBLAS_DIAG_NON_UNIT, ln, lk, &one,
                                   static_cast<const T*>(a) + i * n * n, ln, static_cast<T*>(b) + i * n * k, ln),
                   "trsm");
      }
    });
  }
};

}  // namespace

LinalgKernels& cuda_linalg() {
  static CudaLinalg kernels;
  return kernels;
}

}  // namespace td::kernels
