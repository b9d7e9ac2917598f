// Per-channel passes of batch norm over contiguous [N, C, S...] tensors (core/ops/norm.cpp's primitive uses
// them when the backend has them; see Backend::channel_sums and Backend::channel_affine).
#pragma once

#include "core/backend.h"

namespace td::kernels {

/// sum1[c] = sum of a over channel c; sum2[c] = the sum of a * (b - center[c]), or of (a - center[c])^2 when b
/// has null data. Either output may have null data (not computed). Accumulates in double. False (nothing
/// done) unless every given tensor is float or double, one dtype, and a and b are contiguous.
bool channel_sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
                  const StridedRef& center);
/// out = a[c] * g + b[c] * x + d[c] elementwise (g with null data: out = b[c] * x + d[c]), each product and
/// sum rounded in the element type in that order (no fused multiply-add). False (nothing done) unless out,
/// g and x are contiguous and every tensor is float or double of one dtype.
bool channel_affine(const StridedRef& out, const StridedRef& g, const StridedRef& x, const StridedRef& a,
                    const StridedRef& b, const StridedRef& d);

/// Backend::batch_norm_channels: false (nothing done) outside batch_norm_channels_covered
/// (kernels/channel_passes.h).
bool batch_norm_channels(const BatchNormChannels& p);

}  // namespace td::kernels
