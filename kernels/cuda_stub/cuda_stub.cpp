// The CUDA backend of a build without CUDA: it reports no device, and every use names what is missing.
#include "core/backend.h"
#include "core/error.h"

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
}  // namespace

Backend& cuda_backend() {
  static CudaStub backend;
  return backend;
}

}  // namespace td::kernels
