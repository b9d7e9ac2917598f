// Optimizer updates as single passes over a parameter (core/optim uses them when the backend has them; see
// Backend::sgd_momentum_step and Backend::adam_step).
#pragma once

#include "core/backend.h"

namespace td::kernels {

/// Backend::sgd_momentum_step on the CPU: float or double, param, grad and buf contiguous, of one shape and
/// dtype; false (nothing done) otherwise.
bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step);
/// Backend::adam_step on the CPU, on the same conditions.
bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
               const StridedRef& max_exp_avg_sq, const AdamStep& step);

}  // namespace td::kernels
