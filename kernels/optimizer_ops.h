// The per-element arithmetic of the one-pass optimizer updates (Backend::sgd_momentum_step and adam_step),
// shared by the CPU (kernels/cpu/optimizer_steps.cpp) and CUDA (kernels/cuda/optimizer.cu) kernels. Each runs
// the ops of the op-by-op update (core/optim) in their order, each rounded in T: the products and sums go
// through fn::mul_rn/add_rn, which the GPU computes with its round-to-nearest intrinsics so that nvcc cannot
// fuse them into one fma, and sqrt and division are IEEE on both. So every device gives the op-by-op values
// bit for bit.
#pragma once

#include <cmath>
#include <initializer_list>
#include <type_traits>

#include "core/backend.h"
#include "core/half.h"  // TD_HD
#include "kernels/coalesce.h"  // is_contiguous
#include "kernels/elementwise_ops.h"  // mul_rn, add_rn

namespace td::kernels::optim_ops {

using fn::add_rn;
using fn::mul_rn;

template <class T>
TD_HD T div(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) return __fdiv_rn(a, b);
  else return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
template <class T>
TD_HD T sqrt_of(T a) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) return __fsqrt_rn(a);
  else return __dsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

/// SGD::step's constants in T.
template <class T>
struct SgdConstants {
  T neg_lr, momentum, keep, weight_decay;
  explicit SgdConstants(const SgdStep& s)
      : neg_lr(static_cast<T>(-s.lr)),
        momentum(static_cast<T>(s.momentum)),
        keep(static_cast<T>(1 - s.dampening)),
        weight_decay(static_cast<T>(s.weight_decay)) {}
};

/// SGD::step's ops on one element: d = grad (negated when maximize) + weight_decay * param; buf = buf *
/// momentum + (1 - dampening) * d; d = nesterov ? d + momentum * buf : buf; param += -lr * d.
template <bool kMaximize, bool kDecay, bool kNesterov, class T>
TD_HD void sgd_element(T& p, T g, T& b, const SgdConstants<T>& c) {
  T d = kMaximize ? -g : g;
  if constexpr (kDecay) d = add_rn(d, mul_rn(c.weight_decay, p));
  T v = mul_rn(b, c.momentum);
  v = add_rn(v, mul_rn(c.keep, d));
  b = v;
  d = kNesterov ? add_rn(d, mul_rn(c.momentum, v)) : v;
  p = add_rn(p, mul_rn(c.neg_lr, d));
}

/// Adam's constants in T.
template <class T>
struct AdamConstants {
  T beta1, keep1, beta2, keep2, weight_decay, shrink, bias_correction2_sqrt, eps, neg_step;
  explicit AdamConstants(const AdamStep& s)
      : beta1(static_cast<T>(s.beta1)),
        keep1(static_cast<T>(1 - s.beta1)),
        beta2(static_cast<T>(s.beta2)),
        keep2(static_cast<T>(1 - s.beta2)),
        weight_decay(static_cast<T>(s.weight_decay)),
        shrink(static_cast<T>(1 - s.lr * s.weight_decay)),
        bias_correction2_sqrt(static_cast<T>(s.bias_correction2_sqrt)),
        eps(static_cast<T>(s.eps)),
        neg_step(static_cast<T>(-s.step_size)) {}
};

/// Adam's and AdamW's ops (core/optim/adam.cpp) on one element: AdamW first scales param by 1 - lr *
/// weight_decay, Adam adds weight_decay * param to the gradient; exp_avg = exp_avg * beta1 + (1 - beta1) * d;
/// exp_avg_sq = exp_avg_sq * beta2 + (d * (1 - beta2)) * d (addcmul); with amsgrad, max_exp_avg_sq =
/// maximum(itself, exp_avg_sq) (NaN propagates); denom = sqrt(that) / bias_correction2_sqrt + eps; param +=
/// (exp_avg * -step_size) / denom (addcdiv). `mx` is read and written only with amsgrad.
template <bool kMaximize, bool kCoupledDecay, bool kDecoupled, bool kAmsgrad, class T>
TD_HD void adam_element(T& p, T g, T& m1, T& m2, T* mx, const AdamConstants<T>& c) {
  T d = kMaximize ? -g : g;
  T w = p;
  if constexpr (kDecoupled) w = mul_rn(w, c.shrink);
  if constexpr (kCoupledDecay) d = add_rn(d, mul_rn(c.weight_decay, w));
  const T a = add_rn(mul_rn(m1, c.beta1), mul_rn(c.keep1, d));
  const T q = add_rn(mul_rn(m2, c.beta2), mul_rn(mul_rn(d, c.keep2), d));
  m1 = a;
  m2 = q;
  T second = q;
  if constexpr (kAmsgrad) {
    const T prev = *mx;
    second = prev != prev ? prev : q != q ? q : (prev > q ? prev : q);  // maximum(), NaN first
    *mx = second;
  }
  const T denom = add_rn(div(sqrt_of(second), c.bias_correction2_sqrt), c.eps);
  p = add_rn(w, div(mul_rn(a, c.neg_step), denom));
}

// ---- host side: the cases the kernels take, and run-time flags as compile-time ones ----

/// Whether a one-pass kernel takes the update: float or double, every given tensor contiguous and of param's
/// shape and dtype.
inline bool same_layout(const StridedRef& param, std::initializer_list<const StridedRef*> others) {
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

/// f(std::bool_constant<a>, std::bool_constant<b>, ...): run-time flags as compile-time ones, so each
/// combination gets a loop without branches.
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

}  // namespace td::kernels::optim_ops
