// CPU pooling kernels (kernels/cpu/pool.cpp), called by the CPU backend; see Backend::max_pool and friends.
#pragma once

#include "core/backend.h"

namespace td::kernels {

void cpu_max_pool(const StridedRef& out, const StridedRef& indices, const StridedRef& in,
                  const PoolGeometry& g);
void cpu_max_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const StridedRef& indices);
void cpu_avg_pool(const StridedRef& out, const StridedRef& in, const PoolGeometry& g);
void cpu_avg_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const PoolGeometry& g);

}  // namespace td::kernels
