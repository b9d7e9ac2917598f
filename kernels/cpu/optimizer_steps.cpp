// One pass per parameter for the optimizers' updates: torch.optim.SGD with momentum reads param, grad and
// the momentum buffer once and writes param and buffer once, where the op-by-op update (mul_, add_, add_)
// makes eight passes over memory. Memory-bound: this is what such a step costs on a large model.
#include "kernels/cpu/optimizer_steps.h"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/loops.h"

namespace td::kernels {

namespace {

// The ops of SGD::step in their order, each rounded in T (no fused multiply-add: this file is compiled for
// the baseline ISA, which has none, like the elementwise kernels the op-by-op path runs).
template <class T, bool kMaximize, bool kDecay, bool kNesterov>
void sgd_run(T* __restrict p, const T* __restrict g, T* __restrict buf, int64_t n, const SgdStep& s) {
  const T neg_lr = static_cast<T>(-s.lr), m = static_cast<T>(s.momentum),
          keep = static_cast<T>(1 - s.dampening), wd = static_cast<T>(s.weight_decay);
  auto chunk = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T d = kMaximize ? -g[i] : g[i];
      if constexpr (kDecay) d = d + wd * p[i];
      T b = buf[i] * m;
      b = b + keep * d;
      buf[i] = b;
      d = kNesterov ? d + m * b : b;
      p[i] = p[i] + neg_lr * d;
    }
  };
  if (n < 2 * kParallelGrain || omp_get_max_threads() == 1) return chunk(0, n);
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t per = ((n + threads - 1) / threads + 15) / 16 * 16;  // whole cache lines per thread
    chunk(std::min(n, t * per), std::min(n, (t + 1) * per));
  }
}

template <class T>
void sgd_dispatch(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& s) {
  auto* p = static_cast<T*>(param.data);
  const auto* g = static_cast<const T*>(grad.data);
  auto* b = static_cast<T*>(buf.data);
  const int64_t n = param.numel();
  const int flags = (s.maximize ? 4 : 0) | (s.weight_decay != 0 ? 2 : 0) | (s.nesterov ? 1 : 0);
  switch (flags) {
    case 0: return sgd_run<T, false, false, false>(p, g, b, n, s);
    case 1: return sgd_run<T, false, false, true>(p, g, b, n, s);
    case 2: return sgd_run<T, false, true, false>(p, g, b, n, s);
    case 3: return sgd_run<T, false, true, true>(p, g, b, n, s);
    case 4: return sgd_run<T, true, false, false>(p, g, b, n, s);
    case 5: return sgd_run<T, true, false, true>(p, g, b, n, s);
    case 6: return sgd_run<T, true, true, false>(p, g, b, n, s);
    default: return sgd_run<T, true, true, true>(p, g, b, n, s);
  }
}

}  // namespace

bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step) {
  const DType t = param.dtype;
  if ((t != DType::kFloat32 && t != DType::kFloat64) || grad.dtype != t || buf.dtype != t) return false;
  if (!is_contiguous(param) || !is_contiguous(grad) || !is_contiguous(buf)) return false;
  if (param.sizes.size() != grad.sizes.size() || param.sizes.size() != buf.sizes.size()) return false;
  for (size_t d = 0; d < param.sizes.size(); ++d) {
    if (grad.sizes[d] != param.sizes[d] || buf.sizes[d] != param.sizes[d]) return false;
  }
  if (t == DType::kFloat32) {
    sgd_dispatch<float>(param, grad, buf, step);
  } else {
    sgd_dispatch<double>(param, grad, buf, step);
  }
  return true;
}

}  // namespace td::kernels
