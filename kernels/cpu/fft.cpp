// The CPU's discrete Fourier transforms (Backend::fft) with FFTW (libfftw3-dev): double precision through
// fftw_*, single through fftwf_*. A plan is made once per geometry (kind, direction, precision, batch, signal
// sizes, the arrays' alignment, threads) with FFTW_ESTIMATE, which reads neither array, and kept in a small
// LRU cache; executing a plan on new arrays (fftw_execute_dft and friends) is thread-safe, while FFTW's
// planner is not, so plans are made and destroyed under one mutex.
#include "kernels/cpu/fft.h"

#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/error.h"

namespace td::kernels {

namespace {

// FFTW's API for one precision.
template <class Real>
struct Fftw;

template <>
struct Fftw<double> {
  using Plan = fftw_plan;
  using Complex = fftw_complex;
  static constexpr auto plan_dft = fftw_plan_guru64_dft;
  static constexpr auto plan_r2c = fftw_plan_guru64_dft_r2c;
  static constexpr auto plan_c2r = fftw_plan_guru64_dft_c2r;
  static constexpr auto exec_dft = fftw_execute_dft;
  static constexpr auto exec_r2c = fftw_execute_dft_r2c;
  static constexpr auto exec_c2r = fftw_execute_dft_c2r;
  static constexpr auto destroy = fftw_destroy_plan;
  static constexpr auto alignment_of = fftw_alignment_of;
  static constexpr auto init_threads = fftw_init_threads;
  static constexpr auto with_nthreads = fftw_plan_with_nthreads;
};

template <>
struct Fftw<float> {
  using Plan = fftwf_plan;
  using Complex = fftwf_complex;
  static constexpr auto plan_dft = fftwf_plan_guru64_dft;
  static constexpr auto plan_r2c = fftwf_plan_guru64_dft_r2c;
  static constexpr auto plan_c2r = fftwf_plan_guru64_dft_c2r;
  static constexpr auto exec_dft = fftwf_execute_dft;
  static constexpr auto exec_r2c = fftwf_execute_dft_r2c;
  static constexpr auto exec_c2r = fftwf_execute_dft_c2r;
  static constexpr auto destroy = fftwf_destroy_plan;
  static constexpr auto alignment_of = fftwf_alignment_of;
  static constexpr auto init_threads = fftwf_init_threads;
  static constexpr auto with_nthreads = fftwf_plan_with_nthreads;
};

// Everything a plan depends on: FFTW may only execute a plan on arrays with the alignment it was made for.
struct PlanKey {
  FftKind kind;
  bool forward;
  int64_t batch;
  std::vector<int64_t> sizes;
  int in_alignment, out_alignment, threads;
  auto operator<=>(const PlanKey&) const = default;
};

// Transforms of fewer elements than this run on one thread: FFTW's threads cost more than they save there.
constexpr int64_t kThreadedElements = int64_t{1} << 16;
// Plans kept per precision; the least recently used goes first. Each is a few KiB.
constexpr size_t kPlanCacheSize = 256;

template <class Real>
class PlanCache {
 public:
  using F = Fftw<Real>;
  using PlanPtr = std::shared_ptr<std::remove_pointer_t<typename F::Plan>>;

  static PlanCache& get() {
    static PlanCache cache;
    return cache;
  }

  // The plan for key, made on (in, out) when absent; a plan in use stays alive after its eviction.
  PlanPtr find(const PlanKey& key, void* in, void* out) {
    std::lock_guard lock(planner_mutex());
    if (auto it = plans_.find(key); it != plans_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);
      return it->second.first;
    }
    PlanPtr plan = make(key, in, out);
    if (plans_.size() >= kPlanCacheSize) {
      plans_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(key);
    plans_.emplace(key, std::make_pair(plan, order_.begin()));
    return plan;
  }

 private:
  // FFTW's planner is one per process for both precisions' shared state: one lock for both caches.
  static std::mutex& planner_mutex() {
    static std::mutex m;
    return m;
  }

  // Called with the planner lock held.
  PlanPtr make(const PlanKey& key, void* in, void* out) {
    static const bool threads_ok = F::init_threads() != 0;
    F::with_nthreads(threads_ok ? key.threads : 1);
    // Contiguous arrays: element strides of the real and complex sides (the complex side of r2c and c2r holds
    // n / 2 + 1 in the last dim), batch after batch.
    const size_t rank = key.sizes.size();
    std::vector<fftw_iodim64> dims(rank);
    int64_t real_stride = 1, complex_stride = 1;
    for (size_t i = rank; i-- > 0;) {
      const int64_t n = key.sizes[i];
      const int64_t cn = key.kind != FftKind::kC2C && i + 1 == rank ? n / 2 + 1 : n;
      const bool real_in = key.kind == FftKind::kR2C, real_out = key.kind == FftKind::kC2R;
      dims[i] = {n, real_in ? real_stride : complex_stride, real_out ? real_stride : complex_stride};
      real_stride *= n;
      complex_stride *= cn;
    }
    const int64_t in_dist = key.kind == FftKind::kR2C ? real_stride : complex_stride;
    const int64_t out_dist = key.kind == FftKind::kC2R ? real_stride : complex_stride;
    fftw_iodim64 batch{key.batch, in_dist, out_dist};
    const int r = static_cast<int>(rank);
    typename F::Plan p = nullptr;
    using C = typename F::Complex;
    switch (key.kind) {
      case FftKind::kC2C:
        p = F::plan_dft(r, dims.data(), 1, &batch, static_cast<C*>(in), static_cast<C*>(out),
                        key.forward ? FFTW_FORWARD : FFTW_BACKWARD, FFTW_ESTIMATE);
        break;
      case FftKind::kR2C:
        p = F::plan_r2c(r, dims.data(), 1, &batch, static_cast<Real*>(in), static_cast<C*>(out), FFTW_ESTIMATE);
        break;
      case FftKind::kC2R:
        p = F::plan_c2r(r, dims.data(), 1, &batch, static_cast<C*>(in), static_cast<Real*>(out),
                        FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
        break;
    }
    TD_CHECK(p != nullptr, ErrorCode::kInternal, "[fft] FFTW could not plan a transform of sizes ",
             shape_str(key.sizes), " x ", key.batch);
    return PlanPtr(p, [](typename F::Plan q) {
      std::lock_guard lock(planner_mutex());
      F::destroy(q);
    });
  }

  // Entries hold their plan and their place in order_ (most recent first).
  std::map<PlanKey, std::pair<PlanPtr, typename std::list<PlanKey>::iterator>> plans_;
  std::list<PlanKey> order_;
};

template <class Real>
void run(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim) {
  using F = Fftw<Real>;
  const StridedRef& real_side = kind == FftKind::kR2C ? in : out;  // holds the signal sizes
  const size_t rank = static_cast<size_t>(signal_ndim);
  const size_t lead = real_side.sizes.size() - rank;
  PlanKey key{kind, forward, 1, {}, 0, 0, 1};
  for (size_t i = 0; i < lead; ++i) key.batch *= real_side.sizes[i];
  key.sizes.assign(real_side.sizes.begin() + static_cast<std::ptrdiff_t>(lead), real_side.sizes.end());
  if (kind == FftKind::kC2C) key.sizes.assign(out.sizes.begin() + static_cast<std::ptrdiff_t>(lead), out.sizes.end());
  key.in_alignment = F::alignment_of(static_cast<Real*>(in.data));
  key.out_alignment = F::alignment_of(static_cast<Real*>(out.data));
  key.threads = std::max(in.numel(), out.numel()) >= kThreadedElements ? omp_get_max_threads() : 1;
  auto plan = PlanCache<Real>::get().find(key, in.data, out.data);
  using C = typename F::Complex;
  switch (kind) {
    case FftKind::kC2C: F::exec_dft(plan.get(), static_cast<C*>(in.data), static_cast<C*>(out.data)); break;
    case FftKind::kR2C: F::exec_r2c(plan.get(), static_cast<Real*>(in.data), static_cast<C*>(out.data)); break;
    case FftKind::kC2R: F::exec_c2r(plan.get(), static_cast<C*>(in.data), static_cast<Real*>(out.data)); break;
  }
}

}  // namespace

void cpu_fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim) {
  const DType real = kind == FftKind::kR2C ? in.dtype : kind == FftKind::kC2R ? out.dtype : DType::kFloat64;
  const bool is_double = kind == FftKind::kC2C ? in.dtype == DType::kComplex128 : real == DType::kFloat64;
  if (is_double) {
    run<double>(kind, forward, out, in, signal_ndim);
  } else {
    run<float>(kind, forward, out, in, signal_ndim);
  }
}

}  // namespace td::kernels
