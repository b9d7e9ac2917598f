// The window arithmetic of the pooling kernels, for host and device code alike, so the CPU and CUDA backends
// cannot disagree: which input positions an output reads (regular windows with stride, padding and
// dilation, or adaptive ones), average pooling's divisor, and which outputs read a given input (for the
// gradient gathered per input element). The formulas are PyTorch 1.13's (Pool.h, AdaptivePooling.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/backend.h"
#include "core/half.h"  // TD_HD, opmath_t

namespace td::kernels::pool {

/// PyTorch's start_index / end_index of adaptive pooling: floor(o * in / out) and ceil((o + 1) * in / out).
TD_HD int64_t adaptive_start(int64_t o, int64_t out, int64_t in) {
  return (o / out) * in + ((o % out) * in) / out;
}
TD_HD int64_t adaptive_end(int64_t o, int64_t out, int64_t in) {
  return 1 + ((o + 1) * in - 1) / out;
}

/// The positions output o reads along one dim: first, first + step, ... below end (all inside the input).
struct Taps {
  int64_t first, end, step;
};

/// Max pooling's taps: a regular window starts at o * stride - pad and skips the padding in dilation steps
/// (PyTorch's `while (ih0 < 0) ih0 += dilation`); an adaptive one is [start, end).
TD_HD Taps max_taps(const PoolDim& d, bool adaptive, int64_t o) {
  if (adaptive) return {adaptive_start(o, d.out, d.in), adaptive_end(o, d.out, d.in), 1};
  int64_t first = o * d.stride - d.pad;
  const int64_t end =
      first + (d.kernel - 1) * d.dilation + 1 < d.in ? first + (d.kernel - 1) * d.dilation + 1 : d.in;
  while (first < 0) first += d.dilation;
  return {first, end, d.dilation};
}

/// Average pooling's window along one dim: [begin, end) clipped to the input, and its size clipped only to
/// the padded input (count_include_pad's count).
struct AvgWindow {
  int64_t begin, end, padded_size;
};
TD_HD AvgWindow avg_window(const PoolDim& d, bool adaptive, int64_t o) {
  if (adaptive) {
    const int64_t b = adaptive_start(o, d.out, d.in), e = adaptive_end(o, d.out, d.in);
    return {b, e, e - b};
  }
  int64_t b = o * d.stride - d.pad;
  int64_t e = b + d.kernel < d.in + d.pad ? b + d.kernel : d.in + d.pad;
  const int64_t padded = e - b;
  b = b < 0 ? 0 : b;
  e = e < d.in ? e : d.in;
  return {b, e, padded};
}

/// The divisor of output (od, oh, ow), given its three windows.
TD_HD int64_t avg_divisor(const PoolGeometry& g, const AvgWindow& wd, const AvgWindow& wh,
                          const AvgWindow& ww) {
  if (g.divisor_override) return g.divisor_override;
  if (g.count_include_pad) return wd.padded_size * wh.padded_size * ww.padded_size;
  return (wd.end - wd.begin) * (wh.end - wh.begin) * (ww.end - ww.begin);
}

/// The outputs [lo, hi) whose average window holds input position i along one dim (windows without
/// dilation): regular windows o * stride - pad + [0, kernel), adaptive ones [floor(o in/out), ceil((o+1)
/// in/out)).
TD_HD void covering_outputs(const PoolDim& d, bool adaptive, int64_t i, int64_t& lo, int64_t& hi) {
  if (adaptive) {
    lo = (i * d.out) / d.in;
    hi = ((i + 1) * d.out + d.in - 1) / d.in;
  } else {
    // o * stride - pad <= i and i < o * stride - pad + kernel.
    const int64_t a = i + d.pad - d.kernel + 1;  // o * stride >= a
    lo = a <= 0 ? 0 : (a + d.stride - 1) / d.stride;
    hi = (i + d.pad) / d.stride + 1;
  }
  if (hi > d.out) hi = d.out;
  if (lo > hi) lo = hi;
}

/// The max of output (od, oh, ow) of one plane (`in` points at the plane) and its offset in the plane:
/// taps in row-major order, a value replacing the max when greater or NaN (so NaN wins, the last NaN),
/// starting from -inf at the first tap, as PyTorch's kernels.
template <class T>
TD_HD opmath_t<T> max_pool_at(const PoolGeometry& g, const T* in, int64_t od, int64_t oh, int64_t ow,
                              int64_t* index) {
  using M = opmath_t<T>;
  const Taps td = max_taps(g.dims[0], g.adaptive, od), th = max_taps(g.dims[1], g.adaptive, oh),
             tw = max_taps(g.dims[2], g.adaptive, ow);
  const int64_t H = g.dims[1].in, W = g.dims[2].in;
  M best = -static_cast<M>(INFINITY);
  int64_t at = (td.first * H + th.first) * W + tw.first;
  for (int64_t d = td.first; d < td.end; d += td.step) {
    for (int64_t h = th.first; h < th.end; h += th.step) {
      const int64_t row = (d * H + h) * W;
      for (int64_t w = tw.first; w < tw.end; w += tw.step) {
        const M v = static_cast<M>(in[row + w]);
        if (v > best || v != v) {
          best = v;
          at = row + w;
        }
      }
    }
  }
  *index = at;
  return best;
}

/// The accumulator of average pooling: float for the 16-bit floats, int64 for integers, else T.
template <class T>
using avg_acc_t = std::conditional_t<std::is_integral_v<T>, int64_t, opmath_t<T>>;

/// The average of output (od, oh, ow) of one plane; 0 for a window with nothing inside the input.
template <class T>
TD_HD avg_acc_t<T> avg_pool_at(const PoolGeometry& g, const T* in, int64_t od, int64_t oh, int64_t ow) {
  using A = avg_acc_t<T>;
  const AvgWindow wd = avg_window(g.dims[0], g.adaptive, od), wh = avg_window(g.dims[1], g.adaptive, oh),
                  ww = avg_window(g.dims[2], g.adaptive, ow);
  if (wd.begin >= wd.end || wh.begin >= wh.end || ww.begin >= ww.end) return A(0);
  const int64_t H = g.dims[1].in, W = g.dims[2].in;
  A sum = A(0);
  for (int64_t d = wd.begin; d < wd.end; ++d)
    for (int64_t h = wh.begin; h < wh.end; ++h)
      for (int64_t w = ww.begin; w < ww.end; ++w) sum += static_cast<A>(in[(d * H + h) * W + w]);
  return sum / static_cast<A>(avg_divisor(g, wd, wh, ww));
}

/// The gradient reaching input (id, ih, iw) of one plane from the gradients `go` of the plane's outputs:
/// each covering output's gradient divided by its divisor, summed in output order.
template <class T>
TD_HD opmath_t<T> avg_pool_grad_at(const PoolGeometry& g, const T* go, int64_t id, int64_t ih, int64_t iw) {
  using M = opmath_t<T>;
  int64_t d0, d1, h0, h1, w0, w1;
  covering_outputs(g.dims[0], g.adaptive, id, d0, d1);
  covering_outputs(g.dims[1], g.adaptive, ih, h0, h1);
  covering_outputs(g.dims[2], g.adaptive, iw, w0, w1);
  const int64_t OH = g.dims[1].out, OW = g.dims[2].out;
  M sum = M(0);
  for (int64_t od = d0; od < d1; ++od) {
    const AvgWindow wd = avg_window(g.dims[0], g.adaptive, od);
    for (int64_t oh = h0; oh < h1; ++oh) {
      const AvgWindow wh = avg_window(g.dims[1], g.adaptive, oh);
      for (int64_t ow = w0; ow < w1; ++ow) {
        const AvgWindow ww = avg_window(g.dims[2], g.adaptive, ow);
        sum += static_cast<M>(go[(od * OH + oh) * OW + ow]) / static_cast<M>(avg_divisor(g, wd, wh, ww));
      }
    }
  }
  return sum;
}

}  // namespace td::kernels::pool
