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
#include "kernels/optimizer_ops.h"

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

// SGD::step's ops (optim_ops::sgd_element) over the parameter.
template <class T>
void sgd(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& s) {
  T* __restrict p = static_cast<T*>(param.data);
  const T* __restrict g = static_cast<const T*>(grad.data);
  T* __restrict b = static_cast<T*>(buf.data);
  const optim_ops::SgdConstants<T> c(s);
  optim_ops::with_flags(
      [&](auto maximize, auto decay, auto nesterov) {
        run_chunks(param.numel(), [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            optim_ops::sgd_element<decltype(maximize)::value, decltype(decay)::value, decltype(nesterov)::value>(
                p[i], g[i], b[i], c);
          }
        });
      },
      s.maximize, s.weight_decay != 0, s.nesterov);
}

// Adam's and AdamW's ops (optim_ops::adam_element) over the parameter.
template <class T>
void adam(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
          const StridedRef& max_exp_avg_sq, const AdamStep& s) {
  T* __restrict p = static_cast<T*>(param.data);
  const T* __restrict g = static_cast<const T*>(grad.data);
  T* __restrict m1 = static_cast<T*>(exp_avg.data);
  T* __restrict m2 = static_cast<T*>(exp_avg_sq.data);
  T* __restrict mx = static_cast<T*>(max_exp_avg_sq.data);
  const optim_ops::AdamConstants<T> c(s);
  optim_ops::with_flags(
      [&](auto maximize, auto coupled_decay, auto decoupled, auto amsgrad) {
        run_chunks(param.numel(), [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            optim_ops::adam_element<decltype(maximize)::value, decltype(coupled_decay)::value,
                                    decltype(decoupled)::value, decltype(amsgrad)::value>(
                p[i], g[i], m1[i], m2[i], decltype(amsgrad)::value ? mx + i : nullptr, c);
          }
        });
      },
      s.maximize, !s.decoupled && s.weight_decay != 0, s.decoupled, s.amsgrad);
}

}  // namespace

bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step) {
  if (!optim_ops::same_layout(param, {&grad, &buf})) return false;
  if (param.dtype == DType::kFloat32) {
    sgd<float>(param, grad, buf, step);
  } else {
    sgd<double>(param, grad, buf, step);
  }
  return true;
}

bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
               const StridedRef& max_exp_avg_sq, const AdamStep& step) {
  if (!optim_ops::same_layout(param, {&grad, &exp_avg, &exp_avg_sq})) return false;
  if (step.amsgrad && (!max_exp_avg_sq.data || !optim_ops::same_layout(param, {&max_exp_avg_sq}))) return false;
  if (param.dtype == DType::kFloat32) {
    adam<float>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step);
  } else {
    adam<double>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step);
  }
  return true;
}

}  // namespace td::kernels
