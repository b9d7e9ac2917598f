// Backend::sgd_momentum_step and adam_step on CUDA: one launch per parameter instead of the op-by-op
// update's eight (SGD) or about twenty (Adam), with the per-element arithmetic of kernels/optimizer_ops.h,
// which the CPU runs too (no fused multiply-add, IEEE sqrt and division: the op-by-op values bit for bit).
#include "kernels/cuda/loops.cuh"
#include "kernels/optimizer_ops.h"

namespace td::kernels::cuda {

namespace {
template <bool kMaximize, bool kDecay, bool kNesterov, class T>
__global__ void sgd_kernel(int64_t n, T* p, const T* g, T* b, optim_ops::SgdConstants<T> c) {
  TD_GRID_STRIDE_LOOP(i, n) { optim_ops::sgd_element<kMaximize, kDecay, kNesterov>(p[i], g[i], b[i], c); }
}

template <bool kMaximize, bool kCoupledDecay, bool kDecoupled, bool kAmsgrad, class T>
__global__ void adam_kernel(int64_t n, T* p, const T* g, T* m1, T* m2, T* mx, optim_ops::AdamConstants<T> c) {
  TD_GRID_STRIDE_LOOP(i, n) {
    optim_ops::adam_element<kMaximize, kCoupledDecay, kDecoupled, kAmsgrad>(p[i], g[i], m1[i], m2[i],
                                                                            kAmsgrad ? mx + i : nullptr, c);
  }
}

template <class T>
void sgd(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& s) {
  const int64_t n = param.numel();
  const optim_ops::SgdConstants<T> c(s);
  optim_ops::with_flags(
      [&](auto maximize, auto decay, auto nesterov) {
        sgd_kernel<decltype(maximize)::value, decltype(decay)::value, decltype(nesterov)::value, T>
            <<<blocks_for(n), kThreads, 0, stream()>>>(n, static_cast<T*>(param.data),
                                                       static_cast<const T*>(grad.data), static_cast<T*>(buf.data), c);
      },
      s.maximize, s.weight_decay != 0, s.nesterov);
}

template <class T>
void adam(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
          const StridedRef& max_exp_avg_sq, const AdamStep& s) {
  const int64_t n = param.numel();
  const optim_ops::AdamConstants<T> c(s);
  optim_ops::with_flags(
      [&](auto maximize, auto coupled_decay, auto decoupled, auto amsgrad) {
        adam_kernel<decltype(maximize)::value, decltype(coupled_decay)::value, decltype(decoupled)::value,
                    decltype(amsgrad)::value, T><<<blocks_for(n), kThreads, 0, stream()>>>(
            n, static_cast<T*>(param.data), static_cast<const T*>(grad.data), static_cast<T*>(exp_avg.data),
            static_cast<T*>(exp_avg_sq.data), static_cast<T*>(max_exp_avg_sq.data), c);
      },
      s.maximize, !s.decoupled && s.weight_decay != 0, s.decoupled, s.amsgrad);
}
}  // namespace

bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step) {
  if (!optim_ops::same_layout(param, {&grad, &buf})) return false;
  if (param.numel() > 0) {
    if (param.dtype == DType::kFloat32) {
      sgd<float>(param, grad, buf, step);
    } else {
      sgd<double>(param, grad, buf, step);
    }
    check(cudaGetLastError(), "sgd kernel launch");
  }
  return true;
}

bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
               const StridedRef& max_exp_avg_sq, const AdamStep& step) {
  if (!optim_ops::same_layout(param, {&grad, &exp_avg, &exp_avg_sq})) return false;
  if (step.amsgrad && (!max_exp_avg_sq.data || !optim_ops::same_layout(param, {&max_exp_avg_sq}))) return false;
  if (param.numel() > 0) {
    if (param.dtype == DType::kFloat32) {
      adam<float>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step);
    } else {
      adam<double>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step);
    }
    check(cudaGetLastError(), "adam kernel launch");
  }
  return true;
}

}  // namespace td::kernels::cuda
