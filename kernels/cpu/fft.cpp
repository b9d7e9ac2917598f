// The CPU's discrete Fourier transforms (Backend::fft) with FFTW (libfftw3-dev): double precision through
// fftw_*, single through fftwf_*. FFTW only ever sees 1-d transforms of contiguous lines: a multi-dimensional
// transform is the last dim's lines transformed as one batch, then each other dim's lines gathered in blocks
// into a contiguous buffer, transformed and scattered back, as pocketfft does. FFTW_ESTIMATE plans strided
// lines poorly (the columns of 16 complex64 images of 256 x 256: 9.8 ms, against 1.3 ms for their rows),
// and FFTW_MEASURE costs a planning of 0.2 s per shape. A plan is made once per geometry (kind, direction,
// precision, batch, length, the arrays' alignment, threads) with FFTW_ESTIMATE, which reads neither array,
// and kept in a small LRU cache; executing a plan on new arrays (fftw_execute_dft and friends) is
// thread-safe, while FFTW's planner is not, so plans are made and destroyed under one mutex.
#include "kernels/cpu/fft.h"

#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <array>
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
  static constexpr auto malloc = fftw_malloc;
  static constexpr auto free = fftw_free;
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
  static constexpr auto malloc = fftwf_malloc;
  static constexpr auto free = fftwf_free;
};

// Everything a plan depends on: FFTW may only execute a plan on arrays with the alignment it was made for.
struct PlanKey {
  FftKind kind;
  bool forward;
  int64_t batch, n;  // `batch` contiguous lines of n points
  int in_alignment, out_alignment, threads;
  auto operator<=>(const PlanKey&) const = default;
};

// Transforms of fewer elements than this run on one thread: FFTW's threads cost more than they save there.
constexpr int64_t kThreadedElements = int64_t{1} << 16;
// Plans kept per precision; the least recently used goes first. Each is a few KiB.
constexpr size_t kPlanCacheSize = 256;

// FFTW's planner is not thread-safe: plans of both precisions are made and destroyed under this lock.
std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}

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
  // Called with the planner lock held.
  PlanPtr make(const PlanKey& key, void* in, void* out) {
    static const bool threads_ok = F::init_threads() != 0;
    F::with_nthreads(threads_ok ? key.threads : 1);
    // One contiguous line per transform; the complex side of r2c and c2r holds n / 2 + 1 points.
    const int64_t complex_n = key.kind == FftKind::kC2C ? key.n : key.n / 2 + 1;
    const int64_t in_dist = key.kind == FftKind::kR2C ? key.n : complex_n;
    const int64_t out_dist = key.kind == FftKind::kC2R ? key.n : complex_n;
    fftw_iodim64 line{key.n, 1, 1}, batch{key.batch, in_dist, out_dist};
    typename F::Plan p = nullptr;
    using C = typename F::Complex;
    switch (key.kind) {
      case FftKind::kC2C:
        p = F::plan_dft(1, &line, 1, &batch, static_cast<C*>(in), static_cast<C*>(out),
                        key.forward ? FFTW_FORWARD : FFTW_BACKWARD, FFTW_ESTIMATE);
        break;
      case FftKind::kR2C:
        p = F::plan_r2c(1, &line, 1, &batch, static_cast<Real*>(in), static_cast<C*>(out), FFTW_ESTIMATE);
        break;
      case FftKind::kC2R:
        p = F::plan_c2r(1, &line, 1, &batch, static_cast<C*>(in), static_cast<Real*>(out),
                        FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
        break;
    }
    TD_CHECK(p != nullptr, ErrorCode::kInternal, "[fft] FFTW could not plan ", key.batch, " transforms of ", key.n,
             " points");
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
void execute(typename Fftw<Real>::Plan plan, FftKind kind, void* out, void* in) {
  using F = Fftw<Real>;
  using C = typename F::Complex;
  switch (kind) {
    case FftKind::kC2C: F::exec_dft(plan, static_cast<C*>(in), static_cast<C*>(out)); break;
    case FftKind::kR2C: F::exec_r2c(plan, static_cast<Real*>(in), static_cast<C*>(out)); break;
    case FftKind::kC2R: F::exec_c2r(plan, static_cast<C*>(in), static_cast<Real*>(out)); break;
  }
}

// The 1-d transforms of `lines` contiguous lines of n points (the complex side of R2C and C2R holds
// n / 2 + 1), one after the other in `in` and `out`.
template <class Real>
void transform_lines(FftKind kind, bool forward, int64_t lines, int64_t n, void* out, void* in, int threads) {
  using F = Fftw<Real>;
  PlanKey key{kind, forward, lines, n, F::alignment_of(static_cast<Real*>(in)),
              F::alignment_of(static_cast<Real*>(out)), threads};
  execute<Real>(PlanCache<Real>::get().find(key, in, out).get(), kind, out, in);
}

// The in-place complex transforms along one dim of `data`, viewed as [outer, n, stride] (stride > 1: the
// dims after it): blocks of up to 16 adjacent lines are copied into a contiguous buffer, transformed there
// as one batch and copied back, each thread with buffers of its own.
template <class Real>
void transform_strided_dim(typename Fftw<Real>::Complex* data, int64_t outer, int64_t n, int64_t stride,
                           bool forward, bool parallel) {
  using F = Fftw<Real>;
  using C = typename F::Complex;
  // A block of lines stays within 256 KiB (the buffers sit in the L2 cache), and is at least one line.
  const int64_t width = std::clamp<int64_t>((int64_t{1} << 18) / (n * static_cast<int64_t>(sizeof(C))), 1,
                                            std::min<int64_t>(16, stride));
  const int64_t blocks_per_outer = (stride + width - 1) / width, blocks = outer * blocks_per_outer;
  // Each thread gathers into a buffer pair of its own. They are allocated, and the plan found, before the
  // parallel region: nothing may throw inside it. fftw_malloc aligns every buffer alike, so one plan serves all.
  const int threads = parallel && !omp_in_parallel() ? omp_get_max_threads() : 1;
  const size_t count = static_cast<size_t>(width * n);
  using Buffer = std::unique_ptr<C, void (*)(void*)>;
  std::vector<Buffer> buffers;
  for (int i = 0; i < 2 * threads; ++i) {
    buffers.emplace_back(static_cast<C*>(F::malloc(count * sizeof(C))), F::free);
    TD_CHECK(buffers.back() != nullptr, ErrorCode::kResourceExhausted, "[fft] out of memory for a ", count,
             "-element buffer");
    std::fill_n(reinterpret_cast<Real*>(buffers.back().get()), 2 * count, Real(0));  // a short last block's rest
  }
  auto alignment = [](const Buffer& b) { return F::alignment_of(reinterpret_cast<Real*>(b.get())); };
  for (const Buffer& b : buffers) {
    TD_CHECK(alignment(b) == alignment(buffers[0]), ErrorCode::kInternal, "[fft] FFTW buffers of unequal alignment");
  }
  PlanKey key{FftKind::kC2C, forward, width, n, alignment(buffers[0]), alignment(buffers[0]), 1};
  auto plan = PlanCache<Real>::get().find(key, buffers[0].get(), buffers[1].get());
#pragma omp parallel num_threads(threads)
  {
    C* gathered = buffers[static_cast<size_t>(2 * omp_get_thread_num())].get();
    C* transformed = buffers[static_cast<size_t>(2 * omp_get_thread_num() + 1)].get();
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t o = block / blocks_per_outer, first = (block % blocks_per_outer) * width;
      const int64_t w = std::min(width, stride - first);
      C* base = data + o * n * stride + first;
      for (int64_t k = 0; k < n; ++k) {
        for (int64_t j = 0; j < w; ++j) {
          gathered[j * n + k][0] = base[k * stride + j][0];
          gathered[j * n + k][1] = base[k * stride + j][1];
        }
      }
      execute<Real>(plan.get(), FftKind::kC2C, transformed, gathered);
      for (int64_t k = 0; k < n; ++k) {
        for (int64_t j = 0; j < w; ++j) {
          base[k * stride + j][0] = transformed[j * n + k][0];
          base[k * stride + j][1] = transformed[j * n + k][1];
        }
      }
    }
  }
}

template <class Real>
void run(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim) {
  using C = typename Fftw<Real>::Complex;
  const StridedRef& real_side = kind == FftKind::kR2C ? in : out;  // holds the signal sizes (C2C: either)
  const size_t ndim = real_side.sizes.size(), first = ndim - static_cast<size_t>(signal_ndim);
  const int64_t n_last = real_side.sizes.back(), lines = real_side.numel() / n_last;
  const bool large = std::max(in.numel(), out.numel()) >= kThreadedElements;
  const int threads = large ? omp_get_max_threads() : 1;
  // The complex side's other transform dims, each in place.
  auto other_dims = [&](C* data) {
    std::vector<int64_t> sizes(real_side.sizes.begin(), real_side.sizes.end());
    if (kind != FftKind::kC2C) sizes.back() = n_last / 2 + 1;
    for (size_t d = first; d + 1 < ndim; ++d) {
      int64_t outer = 1, stride = 1;
      for (size_t i = 0; i < d; ++i) outer *= sizes[i];
      for (size_t i = d + 1; i < ndim; ++i) stride *= sizes[i];
      transform_strided_dim<Real>(data, outer, sizes[d], stride, forward, large);
    }
  };
  if (kind == FftKind::kC2R) {
    other_dims(static_cast<C*>(in.data));  // in is the caller's to overwrite
    transform_lines<Real>(kind, forward, lines, n_last, out.data, in.data, threads);
  } else {
    transform_lines<Real>(kind, forward, lines, n_last, out.data, in.data, threads);
    other_dims(static_cast<C*>(out.data));
  }
}

}  // namespace

void cpu_fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim) {
  // The input's precision is the transform's (float64 with complex128, float32 with complex64).
  if (in.dtype == DType::kFloat64 || in.dtype == DType::kComplex128) {
    run<double>(kind, forward, out, in, signal_ndim);
  } else {
    run<float>(kind, forward, out, in, signal_ndim);
  }
}

}  // namespace td::kernels
