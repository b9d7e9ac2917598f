// Which cases of batch norm's per-channel passes (Backend::channel_sums and channel_affine) the fused kernels
// cover, the same on every backend (kernels/cpu/batch_norm.cpp, kernels/cuda/batch_norm.cu): float or double
// tensors of one dtype, the [N, C, S...] ones contiguous. The caller composes the rest from ops.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "core/backend.h"
#include "kernels/coalesce.h"

namespace td::kernels {

/// [N, C, S] of a tensor with channels at dim 1 (S: the product of the dims after it).
struct ChannelPlanes {
  int64_t n = 1, c = 1, s = 1;
};
inline ChannelPlanes channel_planes_of(const StridedRef& t) {
  ChannelPlanes p;
  p.n = t.sizes[0];
  p.c = t.sizes.size() > 1 ? t.sizes[1] : 1;
  for (size_t d = 2; d < t.sizes.size(); ++d) p.s *= t.sizes[d];
  return p;
}

/// Whether dtype is float or double and every given tensor (those with data) has it.
inline bool channel_dtypes_agree(DType dtype, std::initializer_list<const StridedRef*> refs) {
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) return false;
  for (const StridedRef* r : refs) {
    if (r->data && r->dtype != dtype) return false;
  }
  return true;
}

inline bool channel_sums_covered(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a,
                                 const StridedRef& b, const StridedRef& center) {
  return a.sizes.size() >= 2 && channel_dtypes_agree(a.dtype, {&sum1, &sum2, &b, &center}) && is_contiguous(a) &&
         (!b.data || is_contiguous(b));
}

inline bool channel_affine_covered(const StridedRef& out, const StridedRef& g, const StridedRef& x,
                                   const StridedRef& a, const StridedRef& b, const StridedRef& d) {
  return x.sizes.size() >= 2 && channel_dtypes_agree(x.dtype, {&out, &g, &a, &b, &d}) && is_contiguous(out) &&
         is_contiguous(x) && (!g.data || is_contiguous(g));
}

}  // namespace td::kernels
