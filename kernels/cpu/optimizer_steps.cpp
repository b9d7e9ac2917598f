// One pass per parameter for the optimizers' updates. torch.optim.SGD with momentum reads param, grad and the
// momentum buffer once and writes param and buffer once, where the op-by-op update (mul_, add_, add_) makes
// eight passes over memory; Adam reads four tensors and writes three, where its ops make about twenty passes
// and allocate three temporaries. Memory-bound: this is what such a step costs on a large model. Each kernel
// runs the ops of the op-by-op update in their order, each rounded in T: no fused multiply-add (this file is
// compiled for the baseline ISA, which has none, like the elementwise kernels the op-by-op path runs), and
// IEEE sqrt and division, so the results are those of the ops bit for bit.
#include "kernels/cpu/optimizer_steps.h"

#include <cmath>
#include <span>
#include <type_traits>

#include "kernels/cpu/loops.h"

namespace td::kernels {

namespace {

// chunk(begin, end) over [0, n): for_each_row's walk of one long row, which cuts it into a block of whole
// cache lines per thread when it is long enough.
template <class Chunk>
void run_chunks(int64_t n, const Chunk& chunk) {
  if (n == 0) return;
  const int64_t size[1] = {n}, stride[1] = {1};
  for_each_row<1>(size, {std::span<const int64_t>(stride)},
                  [&](auto off, int64_t count, auto) { chunk(off[0], off[0] + count); });
}

// f(std::bool_constant<a>, std::bool_constant<b>, ...): run-time flags as compile-time ones, so each
// combination gets a loop without branches.
template <class F>
void with_flags(F&& f) {
  f();
}
template <class F, class... Rest>
void with_flags(F&& f, bool first, Rest... rest) {
  auto next = [&](auto flag) {
    with_flags([&](auto... more) { f(flag, more...); }, rest...);
  };
  if (first) {
    next(std::true_type{});
  } else {
    next(std::false_type{});
  }
}

// SGD::step's ops: d = grad (negated when maximize) + weight_decay * param; buf = buf * momentum +
// (1 - dampening) * d; d = nesterov ? d + momentum * buf : buf; param += -lr * d.
template <class T>
void sgd(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& s) {
  T* __restrict p = static_cast<T*>(param.data);
  const T* __restrict g = static_cast<const T*>(grad.data);
  T* __restrict b = static_cast<T*>(buf.data);
  const T neg_lr = static_cast<T>(-s.lr), m = static_cast<T>(s.momentum), keep = static_cast<T>(1 - s.dampening),
          wd = static_cast<T>(s.weight_decay);
  with_flags(
      [&](auto maximize, auto decay, auto nesterov) {
        run_chunks(param.numel(), [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            T d = maximize ? -g[i] : g[i];
            if constexpr (decay) d = d + wd * p[i];
            T v = b[i] * m;
            v = v + keep * d;
            b[i] = v;
            d = nesterov ? d + m * v : v;
            p[i] = p[i] + neg_lr * d;
          }
        });
      },
      s.maximize, s.weight_decay != 0, s.nesterov);
}

// Adam's and AdamW's ops (core/optim/adam.cpp): AdamW first scales param by 1 - lr * weight_decay, Adam adds
// weight_decay * param to the gradient; exp_avg = exp_avg * beta1 + (1 - beta1) * d; exp_avg_sq =
// exp_avg_sq * beta2 + (d * (1 - beta2)) * d (addcmul); with amsgrad, max_exp_avg_sq = maximum(itself,
// exp_avg_sq) (NaN propagates); denom = sqrt(that) / bias_correction2_sqrt + eps; param += (exp_avg *
// -step_size) / denom (addcdiv).
template <class T>
void adam(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
          const StridedRef& max_exp_avg_sq, const AdamStep& s) {
  T* __restrict p = static_cast<T*>(param.data);
  const T* __restrict g = static_cast<const T*>(grad.data);
  T* __restrict m1 = static_cast<T*>(exp_avg.data);
  T* __restrict m2 = static_cast<T*>(exp_avg_sq.data);
  T* __restrict mx = static_cast<T*>(max_exp_avg_sq.data);
  const T beta1 = static_cast<T>(s.beta1), keep1 = static_cast<T>(1 - s.beta1), beta2 = static_cast<T>(s.beta2),
          keep2 = static_cast<T>(1 - s.beta2), wd = static_cast<T>(s.weight_decay),
          shrink = static_cast<T>(1 - s.lr * s.weight_decay), bc2 = static_cast<T>(s.bias_correction2_sqrt),
          eps = static_cast<T>(s.eps), neg_step = static_cast<T>(-s.step_size);
  with_flags(
      [&](auto maximize, auto coupled_decay, auto decoupled, auto amsgrad) {
        run_chunks(param.numel(), [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            T d = maximize ? -g[i] : g[i];
            T w = p[i];
            if constexpr (decoupled) w = w * shrink;
            if constexpr (coupled_decay) d = d + wd * w;
            const T a = m1[i] * beta1 + keep1 * d;
            const T q = m2[i] * beta2 + (d * keep2) * d;
            m1[i] = a;
            m2[i] = q;
            T second = q;
            if constexpr (amsgrad) {
              const T prev = mx[i];
              second = prev != prev ? prev : q != q ? q : (prev > q ? prev : q);  // maximum(), NaN first
              mx[i] = second;
            }
            const T denom = std::sqrt(second) / bc2 + eps;
            p[i] = w + (a * neg_step) / denom;
          }
        });
      },
      s.maximize, !s.decoupled && s.weight_decay != 0, s.decoupled, s.amsgrad);
}

// float or double, every given tensor contiguous and of param's shape and dtype.
bool same_layout(const StridedRef& param, std::initializer_list<const StridedRef*> others) {
  if (param.dtype != DType::kFloat32 && param.dtype != DType::kFloat64) return false;
  if (!is_contiguous(param)) return false;
  for (const StridedRef* r : others) {
    if (r->dtype != param.dtype || !is_contiguous(*r) || r->sizes.size() != param.sizes.size()) return false;
    for (size_t d = 0; d < param.sizes.size(); ++d) {
      if (r->sizes[d] != param.sizes[d]) return false;
    }
  }
  return true;
}

}  // namespace

bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step) {
  if (!same_layout(param, {&grad, &buf})) return false;
  if (param.dtype == DType::kFloat32) {
    sgd<float>(param, grad, buf, step);
  } else {
    sgd<double>(param, grad, buf, step);
  }
  return true;
}

bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
               const StridedRef& max_exp_avg_sq, const AdamStep& step) {
  if (!same_layout(param, {&grad, &exp_avg, &exp_avg_sq})) return false;
  if (step.amsgrad && (!max_exp_avg_sq.data || !same_layout(param, {&max_exp_avg_sq}))) return false;
  if (param.dtype == DType::kFloat32) {
    adam<float>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step);
  } else {
    adam<double>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step);
  }
  return true;
}

}  // namespace td::kernels
