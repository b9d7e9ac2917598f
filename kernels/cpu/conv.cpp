// im2col and col2im on the CPU: the window unfolding behind convolution (core/ops/conv.cpp). Both walk the
// window positions row by row; along the last spatial dim the range of positions whose input lies inside the
// padding-free input is computed once per kernel position, so the inner loop is a plain (contiguous when the
// stride is 1) copy or accumulation without per-element bounds checks or divisions.
#include <algorithm>
#include <type_traits>

#include "kernels/conv_geometry.h"
#include "kernels/cpu/loops.h"
#include "kernels/elementwise_ops.h"

namespace td::kernels {

namespace {

// The window positions [lo, hi) along the last dim whose input index ow * stride + offset lies in [0, in).
std::pair<int64_t, int64_t> inner_range(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - offset > 0 ? (in - offset + stride - 1) / stride : 0;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

template <class T>
void im2col_kernel(const StridedRef& col, const StridedRef& in, const ConvWindow& w) {
  const ConvGeometry g = make_geometry(in.sizes, in.strides, w);
  const int64_t rows = g.channels * g.kernel_numel, L = g.out_numel, B = g.batch;
  const int64_t OW = g.out[2];
  auto* pc = static_cast<T*>(col.data);
  auto* pi = static_cast<const T*>(in.data);
#pragma omp parallel for collapse(2) schedule(static) if (rows * B * L >= kParallelGrain)
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t c = row / g.kernel_numel, k = row % g.kernel_numel;
      const int64_t kw = k % g.kernel[2], kh = (k / g.kernel[2]) % g.kernel[1], kd = k / (g.kernel[2] * g.kernel[1]);
      const T* src = pi + b * g.batch_stride + c * g.channel_stride;
      T* dst = pc + (row * B + b) * L;
      const int64_t off_w = kw * g.dilation[2] - g.padding[2];
      const auto [lo, hi] = inner_range(off_w, g.stride[2], g.in[2], OW);
      const int64_t sw = g.stride[2] * g.in_stride[2];
      for (int64_t od = 0; od < g.out[0]; ++od) {
        const int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.padding[0];
        for (int64_t oh = 0; oh < g.out[1]; ++oh, dst += OW) {
          const int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.padding[1];
          if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) {
            for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = T{};
            continue;
          }
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T{};
          const T* s = src + id * g.in_stride[0] + ih * g.in_stride[1] + off_w * g.in_stride[2];
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = s[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = s[ow * sw];
          }
          for (int64_t ow = hi; ow < OW; ++ow) dst[ow] = T{};
        }
      }
    }
  }
}

template <class T>
void col2im_kernel(const StridedRef& out, const StridedRef& col, const ConvWindow& w) {
  const ConvGeometry g = make_geometry(out.sizes, out.strides, w);  // out is contiguous
  using M = opmath_t<T>;
  const int64_t planes = g.batch * g.channels, L = g.out_numel, B = g.batch, K = g.kernel_numel;
  const int64_t OW = g.out[2], plane = g.in[0] * g.in[1] * g.in[2];
  auto* po = static_cast<T*>(out.data);
  auto* pc = static_cast<const T*>(col.data);
#pragma omp parallel for schedule(static) if (planes * K * L >= kParallelGrain)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t b = p / g.channels, c = p % g.channels;
    T* dst = po + p * plane;
    // Sums in the compute type: float for the 16-bit floats, so each output rounds once.
    std::vector<M> acc;
    M* a;
    if constexpr (std::is_same_v<M, T>) {
      std::fill(dst, dst + plane, T{});
      a = dst;
    } else {
      acc.assign(static_cast<size_t>(plane), M{});
      a = acc.data();
    }
    for (int64_t k = 0; k < K; ++k) {
      const int64_t kw = k % g.kernel[2], kh = (k / g.kernel[2]) % g.kernel[1], kd = k / (g.kernel[2] * g.kernel[1]);
      const T* src = pc + ((c * K + k) * B + b) * L;
      const int64_t off_w = kw * g.dilation[2] - g.padding[2];
      const auto [lo, hi] = inner_range(off_w, g.stride[2], g.in[2], OW);
      const int64_t sw = g.stride[2];
      for (int64_t od = 0; od < g.out[0]; ++od) {
        const int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.padding[0];
        for (int64_t oh = 0; oh < g.out[1]; ++oh, src += OW) {
          const int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.padding[1];
          if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) continue;
          M* d = a + (id * g.in[1] + ih) * g.in[2] + off_w;
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) d[ow] += static_cast<M>(src[ow]);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) d[ow * sw] += static_cast<M>(src[ow]);
          }
        }
      }
    }
    if constexpr (!std::is_same_v<M, T>) {
      for (int64_t i = 0; i < plane; ++i) dst[i] = fn::convert<T>(acc[static_cast<size_t>(i)]);
    }
  }
}

}  // namespace

void cpu_im2col(const StridedRef& col, const StridedRef& in, const ConvWindow& w) {
  dispatch(in.dtype, "im2col", [&](auto tag) { im2col_kernel<decltype(tag)>(col, in, w); });
}

void cpu_col2im(const StridedRef& out, const StridedRef& col, const ConvWindow& w) {
  dispatch(out.dtype, "col2im", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw Error(ErrorCode::kUnimplemented, "[col2im] has no CPU kernel for dtype bool");
    } else {
      col2im_kernel<T>(out, col, w);
    }
  });
}

}  // namespace td::kernels
