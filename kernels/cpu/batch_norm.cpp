#include "kernels/cpu/batch_norm.h"

#include <omp.h>

#include <cstdint>
#include <vector>

#include "kernels/channel_passes.h"
#include "kernels/dispatch.h"
#include "kernels/cpu/loops.h"

namespace td::kernels {
namespace {

// The sum of term(i) for i in [0, n) in double, over eight independent accumulators (a chain of dependent
// adds would wait on each one's latency; the eight vectorise).
template <class F>
double plane_sum(int64_t n, F term) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(term(i + k));
  }
  for (; i < n; ++i) acc[0] += static_cast<double>(term(i));
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <class T>
void sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
          const StridedRef& center) {
  const ChannelPlanes p = channel_planes_of(a);
  const T* pa = static_cast<const T*>(a.data);
  const T* pb = static_cast<const T*>(b.data);
  const T* pc = static_cast<const T*>(center.data);
  T* o1 = static_cast<T*>(sum1.data);
  T* o2 = static_cast<T*>(sum2.data);
  const bool parallel = p.n * p.c * p.s >= kParallelGrain && p.c > 1 && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < p.c; ++c) {
    const T m = pc ? pc[c] : T(0);
    double s1 = 0, s2 = 0;
    for (int64_t n = 0; n < p.n; ++n) {
      const T* x = pa + (n * p.c + c) * p.s;
      const T* y = pb ? pb + (n * p.c + c) * p.s : nullptr;
      if (o1) s1 += plane_sum(p.s, [&](int64_t i) { return x[i]; });
      if (o2 && y) {
        s2 += plane_sum(p.s, [&](int64_t i) { return x[i] * (y[i] - m); });
      } else if (o2) {
        s2 += plane_sum(p.s, [&](int64_t i) { return (x[i] - m) * (x[i] - m); });
      }
    }
    if (o1) o1[c] = static_cast<T>(s1);
    if (o2) o2[c] = static_cast<T>(s2);
  }
}

template <class T>
void affine(const StridedRef& out, const StridedRef& g, const StridedRef& x, const StridedRef& a,
            const StridedRef& b, const StridedRef& d) {
  const ChannelPlanes p = channel_planes_of(x);
  const T* pg = static_cast<const T*>(g.data);
  const T* px = static_cast<const T*>(x.data);
  const T* pa = static_cast<const T*>(a.data);
  const T* pb = static_cast<const T*>(b.data);
  const T* pd = static_cast<const T*>(d.data);
  T* po = static_cast<T*>(out.data);
  const int64_t planes = p.n * p.c;
  const bool parallel = planes * p.s >= kParallelGrain && planes > 1 && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const int64_t c = plane % p.c;
    const T bc = pb[c], dc = pd[c];
    const T* xs = px + plane * p.s;
    T* os = po + plane * p.s;
    if (pg) {
      const T ac = pa[c];
      const T* gs = pg + plane * p.s;
      for (int64_t i = 0; i < p.s; ++i) {
        const T t1 = ac * gs[i];
        const T t2 = bc * xs[i];
        os[i] = (t1 + t2) + dc;
      }
    } else {
      for (int64_t i = 0; i < p.s; ++i) {
        const T t2 = xs[i] * bc;
        os[i] = t2 + dc;
      }
    }
  }
}

}  // namespace

bool channel_sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
                  const StridedRef& center) {
  if (!channel_sums_covered(sum1, sum2, a, b, center)) return false;
  if (a.dtype == DType::kFloat32) {
    sums<float>(sum1, sum2, a, b, center);
  } else {
    sums<double>(sum1, sum2, a, b, center);
  }
  return true;
}

bool channel_affine(const StridedRef& out, const StridedRef& g, const StridedRef& x, const StridedRef& a,
                    const StridedRef& b, const StridedRef& d) {
  if (!channel_affine_covered(out, g, x, a, b, d)) return false;
  if (x.dtype == DType::kFloat32) {
    affine<float>(out, g, x, a, b, d);
  } else {
    affine<double>(out, g, x, a, b, d);
  }
  return true;
}

bool batch_norm_channels(const BatchNormChannels& p) {
  if (!batch_norm_channels_covered(p)) return false;
  auto run = [&](auto tag) {
    const BatchNormVectors<decltype(tag)> v = batch_norm_vectors<decltype(tag)>(p);
    for (int64_t c = 0; c < p.channels; ++c) batch_norm_channel(v, c);
  };
  float_or_double(batch_norm_channels_dtype(p), run);
  return true;
}

}  // namespace td::kernels
