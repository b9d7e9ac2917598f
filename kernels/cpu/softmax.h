// Backend::softmax on the CPU: softmax or log_softmax along the middle dim of contiguous [outer, n, inner]
// data.
#pragma once

#include "core/backend.h"

namespace td::kernels {

/// out = softmax (or log_softmax) of in along the middle dim; float, double, float16 and bfloat16 (the 16-bit
/// ones computed in float). False, having done nothing, for other dtypes.
bool softmax(bool is_log, const StridedRef& out, const StridedRef& in);

}  // namespace td::kernels
