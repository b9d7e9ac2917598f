// Convolutions through oneDNN (Debian's libdnnl, the library PyTorch's CPU convolutions use): forward,
// backward to the input and backward to the weight and bias, float32, contiguous NC[D]HW tensors; the weight
// (and its gradient) may be any strided view that does not overlap itself. Each returns false where oneDNN has
// no primitive for the case.
#pragma once

#include <cstdint>

#include "core/backend.h"

namespace td::kernels {

bool onednn_conv_forward(const StridedRef& y, const StridedRef& x, const StridedRef& w, const StridedRef& bias,
                         const ConvWindow& win, int64_t groups);
bool onednn_conv_backward_input(const StridedRef& gx, const StridedRef& gy, const StridedRef& w,
                                const ConvWindow& win, int64_t groups);
bool onednn_conv_backward_weight(const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                                 const StridedRef& gy, const ConvWindow& win, int64_t groups);

/// Both backward convolutions in one call (gx, or gw and gb, may have null data: not computed), reordering gy
/// once where the two primitives want it in the same layout.
bool onednn_conv_backward(const StridedRef& gx, const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                          const StridedRef& gy, const StridedRef& w, const ConvWindow& win, int64_t groups);

}  // namespace td::kernels
