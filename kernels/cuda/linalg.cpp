// torch.linalg's factorizations on CUDA (LinalgKernels) through cuSOLVER's dense API: getrf, getrs, potrf
// and syevd/heevd, one matrix of the batch after another, on the calling thread's current stream, with
// workspaces from the device's caching allocator. One cuSOLVER handle per thread and device, as cuBLAS's.
#include <cusolverDn.h>

#include <algorithm>
#include <array>

#include "core/error.h"
#include "core/linalg_kernels.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/stream.h"

namespace td::kernels {

namespace {

void check_solver(cusolverStatus_t s, const char* what) {
  TD_CHECK(s == CUSOLVER_STATUS_SUCCESS, ErrorCode::kInternal, "[linalg] cuSOLVER's ", what, " failed with status ",
           static_cast<int>(s));
}

cusolverDnHandle_t solver_for(int device) {
  thread_local std::array<cusolverDnHandle_t, cuda::kMaxDevices> handles{};
  TD_CHECK(device >= 0 && device < cuda::kMaxDevices, ErrorCode::kInvalidArgument, "[cuda] device index ", device,
           " out of range");
  cusolverDnHandle_t& h = handles[static_cast<size_t>(device)];
  if (!h) check_solver(cusolverDnCreate(&h), "cusolverDnCreate");
  check_solver(cusolverDnSetStream(h, cuda::stream()), "cusolverDnSetStream");
  return h;
}

// cuSOLVER's entry points for one element type.
template <class T>
struct Solver;

#define TD_SOLVER(T, Real, P, E)                                                                          \
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
  };
TD_SOLVER(float, float, S, sy)
TD_SOLVER(double, double, D, sy)
TD_SOLVER(cuComplex, float, C, he)
TD_SOLVER(cuDoubleComplex, double, Z, he)
#undef TD_SOLVER

template <class F>
void dispatch(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    case DType::kComplex64: return f(cuComplex{});
    case DType::kComplex128: return f(cuDoubleComplex{});
    default: throw Error(ErrorCode::kInvalidArgument, "[linalg] cuSOLVER takes float32, float64, complex64 or complex128");
  }
}

class CudaLinalg final : public LinalgKernels {
 public:
  void lu_factor(void* a, DType dtype, int64_t batch, int64_t n, int32_t* pivots, int32_t* info, int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      using S = Solver<T>;
      cusolverDnHandle_t h = solver_for(device);
      const int ln = static_cast<int>(n);
      int lwork = 0;
      check_solver(S::getrf_size(h, ln, ln, static_cast<T*>(a), ln, &lwork), "getrf_bufferSize");
      cuda::Workspace work(static_cast<size_t>(std::max(lwork, 1)) * sizeof(T), device);
      for (int64_t b = 0; b < batch; ++b) {
        check_solver(S::getrf(h, ln, ln, static_cast<T*>(a) + b * n * n, ln, static_cast<T*>(work.data),
                              pivots + b * n, info + b),
                     "getrf");
      }
    });
  }

  void lu_solve(const void* lu, const int32_t* pivots, void* rhs, DType dtype, int64_t batch, int64_t n, int64_t k,
                int device) override {
    cuda::use_device(device);
    dispatch(dtype, [&](auto tag) {
      using T = decltype(tag);
      cusolverDnHandle_t h = solver_for(device);
      cuda::Workspace status(sizeof(int), device);  // getrs reports only argument errors, checked on the host
      const int ln = static_cast<int>(n), lk = static_cast<int>(k);
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
};

}  // namespace

LinalgKernels& cuda_linalg() {
  static CudaLinalg kernels;
  return kernels;
}

}  // namespace td::kernels
