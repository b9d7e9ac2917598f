// Backend::channel_sums and channel_affine on CUDA: batch norm's per-channel passes over contiguous
// [N, C, S...] tensors (core/ops/norm.cpp's native_batch_norm, forward and backward), with the CPU's
// arithmetic (kernels/cpu/batch_norm.cpp). The sums accumulate in double: each block folds one slice of one
// channel, and one thread per channel adds its slices in order, so a result never depends on scheduling.
#include <algorithm>
#include <cstdint>

#include "kernels/channel_passes.h"
#include "kernels/dispatch.h"
#include "kernels/cuda/block_fold.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/elementwise_ops.h"

namespace td::kernels::cuda {

namespace {

// Block (channel, slice) folds elements j = slice * blockDim + t, stepping by slices * blockDim, of the
// channel's n * s (I: the index type of j, 32 bits where it fits). partials: [2][C][slices].
template <class T, class I>
__global__ void channel_partials_kernel(ChannelPlanes p, int slices, const T* a, const T* b, const T* center,
                                        bool want1, bool want2, double* partials) {
  const int64_t channel = blockIdx.x / slices;
  const int slice = static_cast<int>(blockIdx.x % slices);
  const T m = center ? center[channel] : T(0);
  const I per = static_cast<I>(p.n * p.s), s = static_cast<I>(p.s);
  double s1 = 0, s2 = 0;
  for (I j = static_cast<I>(slice) * blockDim.x + threadIdx.x; j < per; j += static_cast<I>(slices) * blockDim.x) {
    const I image = j / s;
    const int64_t at = (static_cast<int64_t>(image) * p.c + channel) * p.s + (j - image * s);
    const T x = a[at];
    if (want1) s1 += static_cast<double>(x);
    if (want2) {
      if (b) {
        s2 += static_cast<double>(fn::mul_rn(x, T(b[at] - m)));
      } else {
        const T d = x - m;
        s2 += static_cast<double>(fn::mul_rn(d, d));
      }
    }
  }
  const double2 sums = block_fold(make_double2(s1, s2), make_double2(0.0, 0.0), [](double2 a, double2 b) {
    return make_double2(a.x + b.x, a.y + b.y);
  });
  if (threadIdx.x == 0) {
    partials[channel * slices + slice] = sums.x;
    partials[(p.c + channel) * slices + slice] = sums.y;
  }
}

template <class T>
__global__ void channel_finish_kernel(int64_t channels, int slices, const double* partials, T* sum1, T* sum2) {
  TD_GRID_STRIDE_LOOP(c, channels) {
    double s1 = 0, s2 = 0;
    for (int k = 0; k < slices; ++k) {
      s1 += partials[c * slices + k];
      s2 += partials[(channels + c) * slices + k];
    }
    if (sum1) sum1[c] = static_cast<T>(s1);
    if (sum2) sum2[c] = static_cast<T>(s2);
  }
}

// out = (a[c] g + b[c] x) + d[c], or x b[c] + d[c] without g, each step rounded (no fma), as the CPU does.
template <class T>
__global__ void channel_affine_kernel(int64_t total, int64_t channels, int64_t s, T* out, const T* g, const T* x,
                                      const T* a, const T* b, const T* d) {
  TD_GRID_STRIDE_LOOP(j, total) {
    const int64_t c = (j / s) % channels;
    out[j] = g ? fn::add_rn(fn::add_rn(fn::mul_rn(a[c], g[j]), fn::mul_rn(b[c], x[j])), d[c])
               : fn::add_rn(fn::mul_rn(x[j], b[c]), d[c]);
  }
}

template <class T>
__global__ void batch_norm_channels_kernel(BatchNormVectors<T> v, int64_t channels) {
  TD_GRID_STRIDE_LOOP(c, channels) { batch_norm_channel(v, c); }
}

template <class T>
void sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
          const StridedRef& center, int device) {
  const ChannelPlanes p = channel_planes_of(a);
  if (p.c == 0) return;
  const int64_t per = p.n * p.s;
  // Slices per channel: enough blocks to fill the device, at least ~4 elements a thread.
  const int slices = static_cast<int>(slicing(p.c, per, 4 * kThreads).used);
  Workspace partials(static_cast<size_t>(2 * p.c * slices) * sizeof(double), device);
  auto* w = static_cast<double*>(partials.data);
  const auto* pa = static_cast<const T*>(a.data);
  const auto* pb = static_cast<const T*>(b.data);
  const auto* pc = static_cast<const T*>(center.data);
  const unsigned blocks = static_cast<unsigned>(p.c * slices);
  if (per <= INT32_MAX) {
    channel_partials_kernel<T, uint32_t><<<blocks, kThreads, 0, stream()>>>(p, slices, pa, pb, pc, sum1.data != nullptr,
                                                                             sum2.data != nullptr, w);
  } else {
    channel_partials_kernel<T, int64_t><<<blocks, kThreads, 0, stream()>>>(p, slices, pa, pb, pc, sum1.data != nullptr,
                                                                            sum2.data != nullptr, w);
  }
  channel_finish_kernel<T><<<blocks_for(p.c), kThreads, 0, stream()>>>(p.c, slices, w, static_cast<T*>(sum1.data),
                                                                       static_cast<T*>(sum2.data));
  check(cudaGetLastError(), "channel_sums kernel launch");
}

}  // namespace

bool channel_sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
                  const StridedRef& center, int device) {
  if (!channel_sums_covered(sum1, sum2, a, b, center)) return false;
  if (a.numel() == 0) return false;  // empty channels: the composite's zeros
  if (a.dtype == DType::kFloat32) {
    sums<float>(sum1, sum2, a, b, center, device);
  } else {
    sums<double>(sum1, sum2, a, b, center, device);
  }
  return true;
}

bool channel_affine(const StridedRef& out, const StridedRef& g, const StridedRef& x, const StridedRef& a,
                    const StridedRef& b, const StridedRef& d) {
  if (!channel_affine_covered(out, g, x, a, b, d)) return false;
  const ChannelPlanes p = channel_planes_of(x);
  const int64_t total = x.numel();
  if (total == 0) return true;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    channel_affine_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
        total, p.c, p.s, static_cast<T*>(out.data), static_cast<const T*>(g.data), static_cast<const T*>(x.data),
        static_cast<const T*>(a.data), static_cast<const T*>(b.data), static_cast<const T*>(d.data));
  };
  if (x.dtype == DType::kFloat32) {
    launch(float{});
  } else {
    launch(double{});
  }
  check(cudaGetLastError(), "channel_affine kernel launch");
  return true;
}

bool batch_norm_channels(const BatchNormChannels& p) {
  if (!batch_norm_channels_covered(p)) return false;
  if (p.channels == 0) return true;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    batch_norm_channels_kernel<T><<<blocks_for(p.channels), kThreads, 0, stream()>>>(batch_norm_vectors<T>(p),
                                                                                      p.channels);
  };
  float_or_double(batch_norm_channels_dtype(p), launch);
  check(cudaGetLastError(), "batch_norm_channels kernel launch");
  return true;
}

}  // namespace td::kernels::cuda
