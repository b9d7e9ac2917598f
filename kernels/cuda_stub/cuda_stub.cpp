// The CUDA backend of a build without CUDA: it reports no device, and every use names what is missing.
#include "core/backend.h"
#include "core/error.h"
#include "core/linalg_kernels.h"
#include "kernels/cuda_handles.h"

namespace td::kernels {

namespace {
class CudaStub final : public Backend {
 public:
  std::string_view name() const override { return "CUDA"; }
  bool is_available() const override { return false; }
  int device_count() const override { return 0; }
  void* allocate(size_t, int) override { unavailable(); }
  void deallocate(void*, size_t, int) override {}
  void copy_to_host(void*, const void*, size_t, int) override { unavailable(); }
  void copy_from_host(void*, const void*, size_t, int) override { unavailable(); }

 private:
  [[noreturn]] static void unavailable() {
    throw Error(ErrorCode::kFailedPrecondition, "[cuda] tensord was built without CUDA support");
  }
};

class CudaLinalgStub final : public LinalgKernels {
 public:
  void lu_factor(void*, DType, int64_t, int64_t, int64_t, int32_t*, int32_t*, int) override { unavailable(); }
  void lu_solve(const void*, const int32_t*, void*, DType, int64_t, int64_t, int64_t, int) override { unavailable(); }
  void cholesky(void*, DType, int64_t, int64_t, int32_t*, int) override { unavailable(); }
  void eigh(void*, void*, DType, int64_t, int64_t, bool, bool, int32_t*, int) override { unavailable(); }
  void svd(void*, void*, void*, void*, DType, int64_t, int64_t, int64_t, bool, bool, int32_t*, int) override {
    unavailable();
  }
  void eig(void*, void*, void*, DType, int64_t, int64_t, bool, int32_t*, int) override { unavailable(); }
  void ldl_factor(void*, int32_t*, DType, int64_t, int64_t, bool, int32_t*, int) override { unavailable(); }
  void ldl_solve(const void*, const int32_t*, void*, DType, int64_t, int64_t, int64_t, bool, int) override {
    unavailable();
  }
  void geqrf(void*, void*, DType, int64_t, int64_t, int64_t, int) override { unavailable(); }
  void orgqr(void*, const void*, DType, int64_t, int64_t, int64_t, int64_t, int) override { unavailable(); }
  void triangular_solve(const void*, void*, DType, int64_t, int64_t, int64_t, bool, bool, int) override {
    unavailable();
  }

 private:
  [[noreturn]] static void unavailable() {
    throw Error(ErrorCode::kFailedPrecondition, "[cuda] tensord was built without CUDA support");
  }
};
}  // namespace

LinalgKernels& cuda_linalg() {
  static CudaLinalgStub kernels;
  return kernels;
}

Backend& cuda_backend() {
  static CudaStub backend;
  return backend;
}

namespace cuda {
int64_t blas_handles_made() {
  return 0;
}
}  // namespace cuda

}  // namespace td::kernels
