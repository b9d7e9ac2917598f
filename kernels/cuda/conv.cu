// im2col and col2im on CUDA, the window unfolding behind convolution (core/ops/conv.cpp; the GEMMs are
// cuBLAS's). One thread per col element for im2col; one thread per output element for col2im, which gathers
// the col entries that read it (no atomics, so the sums do not depend on scheduling).
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/conv_geometry.h"
#include "kernels/cuda/loops.cuh"

namespace td::kernels::cuda {

namespace {

// col is [C, K, B, L] contiguous; the window position l is the fastest index, so neighbouring threads read
// neighbouring (stride-spaced) input elements.
template <class T>
__global__ void im2col_kernel(int64_t n, T* col, const T* in, ConvGeometry g) {
  TD_GRID_STRIDE_LOOP(i, n) {
    int64_t l = i % g.out_numel;
    int64_t r = i / g.out_numel;
    const int64_t b = r % g.batch;
    r /= g.batch;
    const int64_t k = r % g.kernel_numel, c = r / g.kernel_numel;
    const int64_t ow = l % g.out[2], oh = (l / g.out[2]) % g.out[1], od = l / (g.out[2] * g.out[1]);
    const int64_t kw = k % g.kernel[2], kh = (k / g.kernel[2]) % g.kernel[1], kd = k / (g.kernel[2] * g.kernel[1]);
    const int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.padding[0];
    const int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.padding[1];
    const int64_t iw = ow * g.stride[2] + kw * g.dilation[2] - g.padding[2];
    const bool inside = id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 && iw < g.in[2];
    col[i] = inside ? in[b * g.batch_stride + c * g.channel_stride + id * g.in_stride[0] + ih * g.in_stride[1] +
                         iw * g.in_stride[2]]
                    : T{};
  }
}

// Along one dim: the window positions o in [0, out) and kernel positions k with o * stride + k * dilation -
// padding == i are walked by k; this gives the o for a k, or -1.
__device__ __forceinline__ int64_t window_of(int64_t i, int64_t k, int64_t stride, int64_t padding,
                                             int64_t dilation, int64_t out) {
  const int64_t t = i + padding - k * dilation;
  if (t < 0 || t % stride != 0) return -1;
  const int64_t o = t / stride;
  return o < out ? o : -1;
}

template <class T>
__global__ void col2im_kernel(int64_t n, T* out, const T* col, ConvGeometry g) {
  using M = opmath_t<T>;
  const int64_t K = g.kernel_numel, L = g.out_numel, B = g.batch;
  TD_GRID_STRIDE_LOOP(i, n) {
    const int64_t iw = i % g.in[2], ih = (i / g.in[2]) % g.in[1], id = (i / (g.in[2] * g.in[1])) % g.in[0];
    const int64_t p = i / (g.in[2] * g.in[1] * g.in[0]);
    const int64_t c = p % g.channels, b = p / g.channels;
    M sum = M(0);
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      const int64_t od = window_of(id, kd, g.stride[0], g.padding[0], g.dilation[0], g.out[0]);
      if (od < 0) continue;
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        const int64_t oh = window_of(ih, kh, g.stride[1], g.padding[1], g.dilation[1], g.out[1]);
        if (oh < 0) continue;
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
          const int64_t ow = window_of(iw, kw, g.stride[2], g.padding[2], g.dilation[2], g.out[2]);
          if (ow < 0) continue;
          const int64_t k = (kd * g.kernel[1] + kh) * g.kernel[2] + kw;
          const int64_t l = (od * g.out[1] + oh) * g.out[2] + ow;
          sum += static_cast<M>(col[((c * K + k) * B + b) * L + l]);
        }
      }
    }
    out[i] = convert<T>(sum);
  }
}

}  // namespace

void im2col(const StridedRef& col, const StridedRef& in, const ConvWindow& w) {
  const int64_t n = col.numel();
  if (n == 0) return;
  const ConvGeometry g = make_geometry(in.sizes, in.strides, w);
  dispatch_floating(in.dtype, "im2col", "CUDA", [&](auto tag) {
    using T = decltype(tag);
    im2col_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(n, static_cast<T*>(col.data),
                                                               static_cast<const T*>(in.data), g);
  });
  check(cudaGetLastError(), "im2col kernel launch");
}

void col2im(const StridedRef& out, const StridedRef& col, const ConvWindow& w) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const ConvGeometry g = make_geometry(out.sizes, out.strides, w);
  dispatch_floating(out.dtype, "col2im", "CUDA", [&](auto tag) {
    using T = decltype(tag);
    col2im_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(n, static_cast<T*>(out.data),
                                                               static_cast<const T*>(col.data), g);
  });
  check(cudaGetLastError(), "col2im kernel launch");
}

}  // namespace td::kernels::cuda
