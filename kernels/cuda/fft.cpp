// Discrete Fourier transforms on CUDA through cuFFT (Backend::fft), on the calling thread's current stream.
// A plan is made once per device and geometry (kind, precision, batch, signal sizes: the arrays are
// contiguous, cuFFT's basic layout) and kept in an LRU cache, as PyTorch's cuFFT plan cache. A plan does
// not allocate its own work area: each execution takes one from the device's caching allocator on the
// current stream, so two sessions' streams running the same plan never share scratch memory. Setting the
// stream and the work area and queueing the transform happen under the plan's own lock.
#include <cufft.h>

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/stream.h"

namespace td::kernels::cuda {

namespace {

void check_cufft(cufftResult r, const char* what) {
  TD_CHECK(r == CUFFT_SUCCESS, ErrorCode::kInternal, "[fft] cuFFT's ", what, " failed with status ",
           static_cast<int>(r));
}

struct PlanKey {
  int device;
  FftKind kind;
  bool is_double;
  int64_t batch;
  std::vector<int64_t> sizes;
  auto operator<=>(const PlanKey&) const = default;
};

class Plan {
 public:
  explicit Plan(const PlanKey& key) {
    check_cufft(cufftCreate(&handle_), "cufftCreate");
    check_cufft(cufftSetAutoAllocation(handle_, 0), "cufftSetAutoAllocation");
    std::vector<long long> n(key.sizes.begin(), key.sizes.end());
    const cufftType type = key.kind == FftKind::kC2C ? (key.is_double ? CUFFT_Z2Z : CUFFT_C2C)
                           : key.kind == FftKind::kR2C ? (key.is_double ? CUFFT_D2Z : CUFFT_R2C)
                                                       : (key.is_double ? CUFFT_Z2D : CUFFT_C2R);
    // Null embeddings: the basic layout, each signal packed (the complex side of R2C and C2R holds n / 2 + 1
    // in the last dim) and the batch one signal after another.
    const cufftResult made = cufftMakePlanMany64(handle_, static_cast<int>(n.size()), n.data(), nullptr, 1, 0,
                                                 nullptr, 1, 0, type, key.batch, &work_bytes_);
    if (made != CUFFT_SUCCESS) cufftDestroy(handle_);
    check_cufft(made, "cufftMakePlanMany64");
  }
  ~Plan() { cufftDestroy(handle_); }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  void run(const PlanKey& key, bool forward, void* out, void* in) {
    std::lock_guard lock(mutex_);
    Workspace work(work_bytes_, key.device);
    check_cufft(cufftSetStream(handle_, stream()), "cufftSetStream");
    check_cufft(cufftSetWorkArea(handle_, work.data), "cufftSetWorkArea");
    const int direction = forward ? CUFFT_FORWARD : CUFFT_INVERSE;
    cufftResult r = CUFFT_SUCCESS;
    switch (key.kind) {
      case FftKind::kC2C:
        r = key.is_double ? cufftExecZ2Z(handle_, static_cast<cufftDoubleComplex*>(in),
                                         static_cast<cufftDoubleComplex*>(out), direction)
                          : cufftExecC2C(handle_, static_cast<cufftComplex*>(in), static_cast<cufftComplex*>(out),
                                         direction);
        break;
      case FftKind::kR2C:
        r = key.is_double ? cufftExecD2Z(handle_, static_cast<cufftDoubleReal*>(in),
                                         static_cast<cufftDoubleComplex*>(out))
                          : cufftExecR2C(handle_, static_cast<cufftReal*>(in), static_cast<cufftComplex*>(out));
        break;
      case FftKind::kC2R:
        r = key.is_double ? cufftExecZ2D(handle_, static_cast<cufftDoubleComplex*>(in),
                                         static_cast<cufftDoubleReal*>(out))
                          : cufftExecC2R(handle_, static_cast<cufftComplex*>(in), static_cast<cufftReal*>(out));
        break;
    }
    check_cufft(r, "cufftExec");
  }

 private:
  cufftHandle handle_ = 0;
  size_t work_bytes_ = 0;
  std::mutex mutex_;
};

// Plans kept, over all devices; the least recently used goes first (a plan in use lives on until done).
constexpr size_t kPlanCacheSize = 1024;

std::shared_ptr<Plan> find_plan(const PlanKey& key) {
  static std::mutex mutex;
  static std::list<PlanKey> order;  // most recent first
  static std::map<PlanKey, std::pair<std::shared_ptr<Plan>, std::list<PlanKey>::iterator>> plans;
  std::lock_guard lock(mutex);
  if (auto it = plans.find(key); it != plans.end()) {
    order.splice(order.begin(), order, it->second.second);
    return it->second.first;
  }
  auto plan = std::make_shared<Plan>(key);
  if (plans.size() >= kPlanCacheSize) {
    plans.erase(order.back());
    order.pop_back();
  }
  order.push_front(key);
  plans.emplace(key, std::make_pair(plan, order.begin()));
  return plan;
}

}  // namespace

void fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim, int device) {
  const StridedRef& real_side = kind == FftKind::kR2C ? in : out;  // holds the signal sizes (C2C: either)
  const size_t lead = real_side.sizes.size() - static_cast<size_t>(signal_ndim);
  PlanKey key{device, kind, in.dtype == DType::kFloat64 || in.dtype == DType::kComplex128, 1, {}};
  for (size_t i = 0; i < lead; ++i) key.batch *= real_side.sizes[i];
  key.sizes.assign(real_side.sizes.begin() + static_cast<std::ptrdiff_t>(lead), real_side.sizes.end());
  find_plan(key)->run(key, forward, out.data, in.data);
}

}  // namespace td::kernels::cuda
