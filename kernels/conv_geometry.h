// A convolution window as the im2col/col2im kernels of both backends read it: spatial dims padded to three at
// the front (size 1, stride 0) and the [B, C, spatial...] tensor's strides, a plain struct passed to CUDA
// kernels by value.
#pragma once

#include <cstdint>
#include <span>

#include "core/backend.h"

namespace td::kernels {

struct ConvGeometry {
  int64_t batch = 0, channels = 0, kernel_numel = 0, out_numel = 0;
  int64_t in[3] = {}, kernel[3] = {}, out[3] = {}, stride[3] = {}, padding[3] = {}, dilation[3] = {};
  int64_t batch_stride = 0, channel_stride = 0, in_stride[3] = {};
};

/// The geometry of window w over a tensor of these sizes and strides ([B, C, spatial...]).
inline ConvGeometry make_geometry(std::span<const int64_t> sizes, std::span<const int64_t> strides,
                                  const ConvWindow& w) {
  ConvGeometry g;
  g.batch = sizes[0];
  g.channels = sizes[1];
  g.kernel_numel = w.kernel_numel();
  g.out_numel = w.out_numel();
  g.batch_stride = strides[0];
  g.channel_stride = strides[1];
  const int lead = ConvWindow::kMaxDims - w.dims;
  for (int d = 0; d < ConvWindow::kMaxDims; ++d) {
    const int s = d - lead;
    const bool real = s >= 0;
    g.in[d] = real ? w.in[s] : 1;
    g.kernel[d] = real ? w.kernel[s] : 1;
    g.out[d] = real ? w.out[s] : 1;
    g.stride[d] = real ? w.stride[s] : 1;
    g.padding[d] = real ? w.padding[s] : 0;
    g.dilation[d] = real ? w.dilation[s] : 1;
    g.in_stride[d] = real ? strides[static_cast<size_t>(2 + s)] : 0;
  }
  return g;
}

}  // namespace td::kernels
