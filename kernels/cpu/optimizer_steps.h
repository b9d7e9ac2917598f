// Optimizer updates as single passes over a parameter (core/optim uses them when the backend has them; see
// Backend::sgd_momentum_step).
#pragma once

#include "core/backend.h"

namespace td::kernels {

/// Backend::sgd_momentum_step on the CPU: float or double, param, grad and buf contiguous, of one shape and
/// dtype; false (nothing done) otherwise.
bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step);

}  // namespace td::kernels
