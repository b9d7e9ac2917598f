// Discrete Fourier transforms on CUDA through cuFFT (Backend::fft), on the calling thread's current stream.
// A plan is made once per device and geometry (kind, precision, batch, signal sizes, and the line stride of a
// strided one-dimensional plan) and kept in an LRU cache, as PyTorch's cuFFT plan cache. A plan does not
// allocate its own work area: each execution takes one from the device's caching allocator on the current
// stream, so two sessions' streams running the same plan never share scratch memory. Setting the stream and
// the work area and queueing the transform happen under the plan's own lock.
//
// The transforms are composed as the CPU's (kernels/cpu/fft.cpp) are, so both give the same values:
// - C2C and R2C: the last three signal dims (at most) in one plan, any further ones one dim at a time, in
//   place, along strided lines (cuFFT plans at most three dims).
// - C2R: the other signal dims first, by inverse C2C in place on the input, then one-dimensional C2R lines
//   whose DC and Nyquist bins have their imaginary parts cleared, which is what a Hermitian input has and what
//   FFTW's and pocketfft's C2R read (cuFFT's multi-dimensional C2R gives other values for an input that is
//   not Hermitian, and its C2R lets a DC imaginary part leak into the output).
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <cstdint>

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
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
  // 0: cuFFT's basic layout (each signal packed, one after another). Otherwise a one-dimensional plan over
  // `batch` lines whose elements are `stride` apart, line b starting at element b.
  int64_t stride = 0;
  auto operator<=>(const PlanKey&) const = default;
};

class Plan {
 public:
  explicit Plan(const PlanKey& key) {
    check_cufft(cufftCreate(&handle_), "cufftCreate");
    std::vector<long long> n(key.sizes.begin(), key.sizes.end());
    const cufftType type = key.kind == FftKind::kC2C ? (key.is_double ? CUFFT_Z2Z : CUFFT_C2C)
                           : key.kind == FftKind::kR2C ? (key.is_double ? CUFFT_D2Z : CUFFT_R2C)
                                                       : (key.is_double ? CUFFT_Z2D : CUFFT_C2R);
    cufftResult made = cufftSetAutoAllocation(handle_, 0);
    if (made == CUFFT_SUCCESS && key.stride == 0) {
      // Null embeddings: the basic layout, each signal packed (the complex side of R2C and C2R holds n / 2 + 1
      // in the last dim) and the batch one signal after another.
      made = cufftMakePlanMany64(handle_, static_cast<int>(n.size()), n.data(), nullptr, 1, 0, nullptr, 1, 0, type,
                                 key.batch, &work_bytes_);
    } else if (made == CUFFT_SUCCESS) {
      // The advanced layout: element i of line b at b + i * stride, in and out alike.
      made = cufftMakePlanMany64(handle_, 1, n.data(), n.data(), key.stride, 1, n.data(), key.stride, 1, type,
                                 key.batch, &work_bytes_);
    }
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

namespace {
int64_t product(std::span<const int64_t> sizes, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= sizes[i];
  return p;
}

// In-place C2C of contiguous complex data [outer, n, inner] along its middle dim.
void c2c_along(void* data, bool is_double, bool forward, int64_t outer, int64_t n, int64_t inner, int device) {
  if (n == 1) return;  // the identity
  if (inner == 1) {  // packed lines: one basic plan over all of them
    const PlanKey key{device, FftKind::kC2C, is_double, outer, {n}};
    find_plan(key)->run(key, forward, data, data);
    return;
  }
  const PlanKey key{device, FftKind::kC2C, is_double, inner, {n}, inner};
  std::shared_ptr<Plan> plan = find_plan(key);
  const int64_t block = n * inner * (is_double ? 16 : 8);
  for (int64_t o = 0; o < outer; ++o) {
    void* p = static_cast<char*>(data) + o * block;
    plan->run(key, forward, p, p);
  }
}
}  // namespace

void fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim, int device) {
  const bool is_double = in.dtype == DType::kFloat64 || in.dtype == DType::kComplex128;
  const size_t nd = out.sizes.size(), lead = nd - static_cast<size_t>(signal_ndim);
  if (kind == FftKind::kC2R) {
    // The complex side's other signal dims first, in place (C2R may overwrite its input), as the CPU does.
    for (size_t d = lead; d + 1 < nd; ++d) {
      c2c_along(in.data, is_double, false, product(in.sizes, 0, d), in.sizes[d], product(in.sizes, d + 1, nd),
                device);
    }
    const int64_t n = out.sizes[nd - 1], half = in.sizes[nd - 1], lines = product(in.sizes, 0, nd - 1);
    const size_t real_bytes = is_double ? 8 : 4, pitch = static_cast<size_t>(half) * 2 * real_bytes;
    for (int64_t bin : {int64_t{0}, n % 2 == 0 ? n / 2 : int64_t{-1}}) {
      if (bin < 0) continue;
      char* imag = static_cast<char*>(in.data) + static_cast<size_t>(bin) * 2 * real_bytes + real_bytes;
      check(cudaMemset2DAsync(imag, pitch, 0, real_bytes, static_cast<size_t>(lines), stream()),
            "cudaMemset2DAsync of C2R's DC and Nyquist imaginary parts");
    }
    const PlanKey key{device, kind, is_double, lines, {n}};
    find_plan(key)->run(key, forward, out.data, in.data);
    return;
  }
  // C2C and R2C: the last (at most three) signal dims in one plan.
  const StridedRef& real_side = kind == FftKind::kR2C ? in : out;  // holds the signal sizes (C2C: either)
  const size_t first = std::max(lead, nd - std::min<size_t>(static_cast<size_t>(signal_ndim), 3));
  const PlanKey key{device, kind, is_double, product(real_side.sizes, 0, first),
                    std::vector<int64_t>(real_side.sizes.begin() + static_cast<std::ptrdiff_t>(first),
                                         real_side.sizes.end())};
  void* src = in.data;
  std::optional<Workspace> aligned;
  const size_t elem_bytes = kind == FftKind::kR2C ? (is_double ? 8 : 4) : (is_double ? 16 : 8);
  if (kind == FftKind::kR2C && reinterpret_cast<uintptr_t>(src) % (2 * elem_bytes) != 0) {
    // cuFFT wants R2C's real input aligned as its complex type (PyTorch copies it too).
    const size_t bytes = static_cast<size_t>(in.numel()) * elem_bytes;
    aligned.emplace(bytes, device);
    check(cudaMemcpyAsync(aligned->data, src, bytes, cudaMemcpyDeviceToDevice, stream()), "cudaMemcpyAsync");
    src = aligned->data;
  }
  find_plan(key)->run(key, forward, out.data, src);
  // Any further signal dims, one by one, in place on the (complex) output.
  for (size_t d = lead; d < first; ++d) {
    c2c_along(out.data, is_double, kind == FftKind::kR2C || forward, product(out.sizes, 0, d), out.sizes[d],
              product(out.sizes, d + 1, nd), device);
  }
}

}  // namespace td::kernels::cuda
