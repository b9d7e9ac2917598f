// Helpers shared by the optimizer algorithms (not part of the public API).
#pragma once

#include <initializer_list>
#include <string_view>

#include "core/error.h"
#include "core/optim/optimizer.h"

namespace td::optim::detail {

/// PyTorch's constructor checks: "[Adam] Invalid learning rate: -1" as a ValueError (INVALID_ARGUMENT).
template <class... Args>
void check_option(bool ok, std::string_view type_name, const Args&... message) {
  TD_CHECK_ARG(ok, "[", type_name, "] ", message...);
}

/// A zero tensor shaped, typed and placed like t (torch.zeros_like).
inline Tensor zeros_like(const Tensor& t) {
  return zeros(t.shape(), {t.dtype(), t.device()});
}

/// The gradient an update reads: -grad when maximizing.
inline Tensor signed_grad(const Tensor& grad, bool maximize) {
  return maximize ? grad.neg() : grad;
}

/// Whether param's update may run as one pass of a backend kernel (Backend::sgd_momentum_step, adam_step)
/// over param, its gradient and the state tensors it writes: not while a dual level is open (the ops carry
/// tangents), nor for inference tensors, tensors on another device, or memory shared between any two of
/// them; those take the ops.
bool one_pass_update_allowed(const Tensor& param, const Tensor& grad, std::initializer_list<const Tensor*> state);

/// The Adam family's beta checks, with PyTorch's messages.
inline void check_betas(std::string_view type_name, std::pair<double, double> betas) {
  check_option(0.0 <= betas.first && betas.first < 1.0, type_name,
               "Invalid beta parameter at index 0: ", betas.first);
  check_option(0.0 <= betas.second && betas.second < 1.0, type_name,
               "Invalid beta parameter at index 1: ", betas.second);
}

}  // namespace td::optim::detail
