// CPU pooling: planes [planes, D, H, W] (contiguous) split across OpenMP threads. Max pooling with regular
// windows runs one output row at a time with the window's taps outermost, so the innermost loop walks a
// row of outputs with a fixed input offset (no bounds checks inside, the compiler can vectorise it); 2-d
// planes read from a copy padded with -inf, 2x2/stride-2 windows have a loop of their own. The gradient
// scatters each plane's output gradients to their indices. Everything else evaluates the shared
// per-element formulas of kernels/pool_ops.h, as the CUDA kernels do.
#include "kernels/cpu/pool.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/loops.h"
#include "kernels/elementwise_ops.h"
#include "kernels/pool_ops.h"

namespace td::kernels {

namespace {

using fn::convert;

// Whether `work` element steps are worth a parallel region.
bool worth_threads(int64_t work) {
  return work >= kParallelGrain && omp_get_max_threads() > 1;
}

// One plane of max pooling with regular 3-d windows (2-d ones take max_pool_plane_padded or _2x2). For each
// output row, `best` and `at` start at -inf and the first tap of each window; then every tap (d, h, kw)
// updates the outputs whose window holds it, which is the whole row but the few clipped at the edges. Per
// output the taps come in PyTorch's order (row-major), so ties and NaNs resolve as in max_pool_at.
template <class T, bool kIndices>
void max_pool_plane_rows(const PoolGeometry& g, const T* in, T* out, int64_t* indices, opmath_t<T>* best,
                         const int64_t* first_w) {
  using M = opmath_t<T>;
  const PoolDim &Dd = g.dims[0], &Hd = g.dims[1], &Wd = g.dims[2];
  const int64_t H = Hd.in, W = Wd.in, OW = Wd.out, s = Wd.stride;
  for (int64_t od = 0; od < Dd.out; ++od) {
    const pool::Taps td = pool::max_taps(Dd, false, od);
    for (int64_t oh = 0; oh < Hd.out; ++oh) {
      const pool::Taps th = pool::max_taps(Hd, false, oh);
      const int64_t o_row = (od * Hd.out + oh) * OW;
      int64_t* at = kIndices ? indices + o_row : nullptr;
      const int64_t base = (td.first * H + th.first) * W;
      for (int64_t ow = 0; ow < OW; ++ow) {
        best[ow] = -std::numeric_limits<M>::infinity();
        if constexpr (kIndices) at[ow] = base + first_w[ow];
      }
      for (int64_t d = td.first; d < td.end; d += td.step) {
        for (int64_t h = th.first; h < th.end; h += th.step) {
          const int64_t row_off = (d * H + h) * W;
          const T* row = in + row_off;
          for (int64_t kw = 0; kw < Wd.kernel; ++kw) {
            const int64_t off = kw * Wd.dilation - Wd.pad;  // input w of output ow: ow * s + off
            const int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
            const int64_t hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / s + 1);
            const T* src = row + off;
            if (s == 2 && !kIndices) {
              for (int64_t ow = lo; ow < hi; ++ow) {
                const M v = static_cast<M>(src[2 * ow]);
                best[ow] = (v > best[ow] || v != v) ? v : best[ow];
              }
              continue;
            }
            for (int64_t ow = lo; ow < hi; ++ow) {
              const M v = static_cast<M>(src[ow * s]);
              const bool take = v > best[ow] || v != v;  // a select: which tap wins is data-dependent
              best[ow] = take ? v : best[ow];
              if constexpr (kIndices) at[ow] = take ? row_off + off + ow * s : at[ow];
            }
          }
        }
      }
      T* o = out + o_row;
      for (int64_t ow = 0; ow < OW; ++ow) o[ow] = static_cast<T>(best[ow]);
    }
  }
}

// The common 2x2 window with stride 2 (MaxPool2d(2)): both input rows of an output row at once, the four
// taps in PyTorch's order, so the result is max_pool_plane_rows's. Selects rather than branches (which tap
// wins is data-dependent and mispredicts on real activations); the winning tap's number rides in 32-bit
// lanes beside the values, so GCC vectorises the row, and becomes an index in a second pass.
template <class T, bool kIndices>
void max_pool_plane_2x2(const PoolGeometry& g, const T* in, T* out, int64_t* indices, int32_t* __restrict tap) {
  using M = opmath_t<T>;
  const int64_t W = g.dims[2].in, OH = g.dims[1].out, OW = g.dims[2].out;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = in + 2 * oh * W;
    const T* r1 = r0 + W;
    T* o = out + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const M a = static_cast<M>(r0[2 * ow]), b = static_cast<M>(r0[2 * ow + 1]),
              c = static_cast<M>(r1[2 * ow]), d = static_cast<M>(r1[2 * ow + 1]);
      // The first tap always becomes the max (a -inf keeps the first position either way).
      M best = a;
      int32_t k = 0;
      const bool tb = b > best || b != b;
      best = tb ? b : best;
      k = tb ? 1 : k;
      const bool tc = c > best || c != c;
      best = tc ? c : best;
      k = tc ? 2 : k;
      const bool td = d > best || d != d;
      best = td ? d : best;
      k = td ? 3 : k;
      o[ow] = static_cast<T>(best);
      if constexpr (kIndices) tap[ow] = k;
    }
    if constexpr (kIndices) {
      int64_t* at = indices + oh * OW;
      for (int64_t ow = 0; ow < OW; ++ow) at[ow] = 2 * oh * W + 2 * ow + (tap[ow] & 1) + (tap[ow] >> 1) * W;
    }
  }
}

// A 2-d (or 1-d) plane with regular windows, copied first into `padded`, a buffer of opmath values with the
// padding (and what ceil_mode windows reach past the end) set to -inf. Then every window reads its taps
// without bounds checks, and the small planes of a CNN's later layers (8x8 outputs from 16x16, as in
// resnet's 3x3/stride-2 pooling) pay no per-row setup. A -inf tap never wins (-inf > best is false for
// every best, and it is not NaN), so the result and the index (the first valid tap when nothing beats
// -inf) are max_pool_at's.
template <class T, bool kIndices>
void max_pool_plane_padded(const PoolGeometry& g, const T* in, T* out, int64_t* indices, opmath_t<T>* padded,
                           int64_t PH, int64_t PW, opmath_t<T>* __restrict best, int32_t* __restrict tap,
                           const int64_t* tap_offset, const int64_t* first_h, const int64_t* first_w) {
  using M = opmath_t<T>;
  const PoolDim &Hd = g.dims[1], &Wd = g.dims[2];
  const int64_t H = Hd.in, W = Wd.in;
  const M ninf = -std::numeric_limits<M>::infinity();
  for (int64_t ph = 0; ph < PH; ++ph) {
    M* row = padded + ph * PW;
    const int64_t h = ph - Hd.pad;
    if (h < 0 || h >= H) {
      for (int64_t pw = 0; pw < PW; ++pw) row[pw] = ninf;
      continue;
    }
    const T* src = in + h * W;
    for (int64_t pw = 0; pw < Wd.pad; ++pw) row[pw] = ninf;
    for (int64_t w = 0; w < W; ++w) row[Wd.pad + w] = static_cast<M>(src[w]);
    for (int64_t pw = Wd.pad + W; pw < PW; ++pw) row[pw] = ninf;
  }
  const int64_t KH = Hd.kernel, KW = Wd.kernel, OW = Wd.out, s = Wd.stride;
  for (int64_t oh = 0; oh < Hd.out; ++oh) {
    // Taps outermost: for each, one pass along the output row, which GCC vectorises (the winner's tap
    // number, kh * KW + kw, rides in 32-bit lanes beside the float maxima; -1: nothing beat -inf).
    for (int64_t ow = 0; ow < OW; ++ow) {
      best[ow] = ninf;
      if constexpr (kIndices) tap[ow] = -1;
    }
    for (int64_t kh = 0; kh < KH; ++kh) {
      const M* row = padded + (oh * Hd.stride + kh * Hd.dilation) * PW;
      for (int64_t kw = 0; kw < KW; ++kw) {
        const M* src = row + kw * Wd.dilation;
        const auto k = static_cast<int32_t>(kh * KW + kw);
        auto update = [&](int64_t ow, M v) {
          const bool take = v > best[ow] || v != v;  // selects: which tap wins is data-dependent
          best[ow] = take ? v : best[ow];
          if constexpr (kIndices) tap[ow] = take ? k : tap[ow];
        };
        if (s == 2) {  // the constant stride lets the loads vectorise too
          for (int64_t ow = 0; ow < OW; ++ow) update(ow, src[2 * ow]);
        } else if (s == 1) {
          for (int64_t ow = 0; ow < OW; ++ow) update(ow, src[ow]);
        } else {
          for (int64_t ow = 0; ow < OW; ++ow) update(ow, src[ow * s]);
        }
      }
    }
    T* o = out + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) o[ow] = static_cast<T>(best[ow]);
    if constexpr (kIndices) {
      int64_t* at = indices + oh * OW;
      const int64_t corner = (oh * Hd.stride - Hd.pad) * W - Wd.pad;  // where tap 0 of window (oh, 0) lies
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int32_t t = tap[ow];
        at[ow] = t < 0 ? first_h[oh] * W + first_w[ow] : corner + ow * s + tap_offset[t];
      }
    }
  }
}

bool is_2x2_stride_2(const PoolGeometry& g) {
  // Every window whole: no ceil_mode window hanging over the end.
  auto plain = [](const PoolDim& d) {
    return d.kernel == 2 && d.stride == 2 && d.pad == 0 && d.dilation == 1 && 2 * d.out <= d.in;
  };
  return !g.adaptive && g.dims[0].in == 1 && g.dims[0].kernel == 1 && plain(g.dims[1]) && plain(g.dims[2]);
}

template <class T>
void max_pool_kernel(const StridedRef& out, const StridedRef& indices, const StridedRef& in,
                     const PoolGeometry& g) {
  using M = opmath_t<T>;
  const T* pi = static_cast<const T*>(in.data);
  T* po = static_cast<T*>(out.data);
  auto* px = static_cast<int64_t*>(indices.data);
  const int64_t n_in = g.in_numel(), n_out = g.out_numel();
  const PoolDim& Wd = g.dims[2];
  std::vector<int64_t> first_w(static_cast<size_t>(Wd.out));
  for (int64_t ow = 0; ow < Wd.out; ++ow)
    first_w[static_cast<size_t>(ow)] = pool::max_taps(Wd, g.adaptive, ow).first;
  const int64_t taps = g.dims[0].kernel * g.dims[1].kernel * g.dims[2].kernel;
  const bool two_by_two = is_2x2_stride_2(g);
  // Planes without depth take the padded-buffer kernel; its buffer spans every tap of every window.
  const PoolDim& Hd = g.dims[1];
  const bool padded = !two_by_two && !g.adaptive && g.dims[0].in == 1 && g.dims[0].kernel == 1;
  const int64_t PH = std::max(Hd.in + Hd.pad, (Hd.out - 1) * Hd.stride + (Hd.kernel - 1) * Hd.dilation + 1);
  const int64_t PW = std::max(Wd.in + Wd.pad, (Wd.out - 1) * Wd.stride + (Wd.kernel - 1) * Wd.dilation + 1);
  // Tap kh * KW + kw of a window lies this far from its tap 0 in the input plane.
  std::vector<int64_t> tap_offset(static_cast<size_t>(Hd.kernel * Wd.kernel));
  for (int64_t t = 0; t < Hd.kernel * Wd.kernel; ++t) {
    tap_offset[static_cast<size_t>(t)] = (t / Wd.kernel) * Hd.dilation * Wd.in + (t % Wd.kernel) * Wd.dilation;
  }
  std::vector<int64_t> first_h(static_cast<size_t>(Hd.out));
  for (int64_t oh = 0; oh < Hd.out; ++oh) first_h[static_cast<size_t>(oh)] = pool::max_taps(Hd, false, oh).first;
#pragma omp parallel if (worth_threads(g.planes * n_out * taps))
  {
    std::vector<M> best(static_cast<size_t>(Wd.out));
    std::vector<M> buffer(padded ? static_cast<size_t>(PH * PW) : 0);
    std::vector<int32_t> taps_won(static_cast<size_t>(Wd.out));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* plane = pi + p * n_in;
      if (padded) {
        if (px) {
          max_pool_plane_padded<T, true>(g, plane, po + p * n_out, px + p * n_out, buffer.data(), PH, PW,
                                         best.data(), taps_won.data(), tap_offset.data(), first_h.data(),
                                         first_w.data());
        } else {
          max_pool_plane_padded<T, false>(g, plane, po + p * n_out, nullptr, buffer.data(), PH, PW,
                                          best.data(), taps_won.data(), tap_offset.data(), first_h.data(),
                                         first_w.data());
        }
      } else if (two_by_two) {
        if (px) {
          max_pool_plane_2x2<T, true>(g, plane, po + p * n_out, px + p * n_out, taps_won.data());
        } else {
          max_pool_plane_2x2<T, false>(g, plane, po + p * n_out, nullptr, nullptr);
        }
      } else if (g.adaptive) {
        for (int64_t o = 0; o < n_out; ++o) {
          const int64_t ow = o % Wd.out, oh = (o / Wd.out) % g.dims[1].out, od = o / (Wd.out * g.dims[1].out);
          int64_t at;
          po[p * n_out + o] = static_cast<T>(pool::max_pool_at(g, plane, od, oh, ow, &at));
          if (px) px[p * n_out + o] = at;
        }
      } else if (px) {
        max_pool_plane_rows<T, true>(g, plane, po + p * n_out, px + p * n_out, best.data(), first_w.data());
      } else {
        max_pool_plane_rows<T, false>(g, plane, po + p * n_out, nullptr, best.data(), first_w.data());
      }
    }
  }
}

}  // namespace

void cpu_max_pool(const StridedRef& out, const StridedRef& indices, const StridedRef& in,
                  const PoolGeometry& g) {
  dispatch_floating<false>(in.dtype, "max_pool", "CPU",
                       [&](auto tag) { max_pool_kernel<decltype(tag)>(out, indices, in, g); });
}

void cpu_max_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const StridedRef& indices) {
  dispatch_floating<false>(grad_in.dtype, "max_pool_backward", "CPU", [&](auto tag) {
    using T = decltype(tag);
    using M = opmath_t<T>;
    const int64_t planes = grad_in.sizes[0], n_in = grad_in.sizes[1], n_out = grad_out.sizes[1];
    T* gi = static_cast<T*>(grad_in.data);
    const T* go = static_cast<const T*>(grad_out.data);
    const auto* ix = static_cast<const int64_t*>(indices.data);
    std::atomic<bool> bad{false};
    // A plane's writes stay in the plane, so planes run in parallel and each sums in output order.
#pragma omp parallel for schedule(static) if (worth_threads(planes * (n_in + n_out)))
    for (int64_t p = 0; p < planes; ++p) {
      T* g = gi + p * n_in;
      std::memset(static_cast<void*>(g), 0, static_cast<size_t>(n_in) * sizeof(T));
      const T* src = go + p * n_out;
      const int64_t* at = ix + p * n_out;
      for (int64_t o = 0; o < n_out; ++o) {
        // The gradient ops are public: an index from elsewhere is refused, never written through.
        if (static_cast<uint64_t>(at[o]) >= static_cast<uint64_t>(n_in)) [[unlikely]] {
          bad.store(true, std::memory_order_relaxed);
          continue;
        }
        g[at[o]] = static_cast<T>(static_cast<M>(g[at[o]]) + static_cast<M>(src[o]));
      }
    }
    TD_CHECK(!bad.load(), ErrorCode::kOutOfRange, "[max_pool_backward] an index lies outside its plane of ",
             n_in, " elements");
  });
}

void cpu_avg_pool(const StridedRef& out, const StridedRef& in, const PoolGeometry& g) {
  dispatch_floating<true>(in.dtype, "avg_pool", "CPU", [&](auto tag) {
    using T = decltype(tag);
    const T* pi = static_cast<const T*>(in.data);
    T* po = static_cast<T*>(out.data);
    const int64_t n_in = g.in_numel(), n_out = g.out_numel(), OW = g.dims[2].out, OH = g.dims[1].out;
    const int64_t taps = g.adaptive ? std::max<int64_t>(1, n_in / std::max<int64_t>(1, n_out))
                                    : g.dims[0].kernel * g.dims[1].kernel * g.dims[2].kernel;
#pragma omp parallel for schedule(static) if (worth_threads(g.planes * n_out * taps))
    for (int64_t p = 0; p < g.planes; ++p) {
      for (int64_t o = 0; o < n_out; ++o) {
        po[p * n_out + o] =
            static_cast<T>(pool::avg_pool_at(g, pi + p * n_in, o / (OW * OH), (o / OW) % OH, o % OW));
      }
    }
  });
}

void cpu_avg_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const PoolGeometry& g) {
  dispatch_floating<false>(grad_in.dtype, "avg_pool_backward", "CPU", [&](auto tag) {
    using T = decltype(tag);
    T* gi = static_cast<T*>(grad_in.data);
    const T* go = static_cast<const T*>(grad_out.data);
    const int64_t n_in = g.in_numel(), n_out = g.out_numel(), W = g.dims[2].in, H = g.dims[1].in;
#pragma omp parallel for schedule(static) if (worth_threads(g.planes * (n_in + n_out)))
    for (int64_t p = 0; p < g.planes; ++p) {
      for (int64_t i = 0; i < n_in; ++i) {
        gi[p * n_in + i] =
            static_cast<T>(pool::avg_pool_grad_at(g, go + p * n_out, i / (W * H), (i / W) % H, i % W));
      }
    }
  });
}

}  // namespace td::kernels
