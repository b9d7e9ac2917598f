// Which cases of batch norm's per-channel passes (Backend::channel_sums and channel_affine) the fused kernels
// cover, the same on every backend (kernels/cpu/batch_norm.cpp, kernels/cuda/batch_norm.cu): float or double
// tensors of one dtype, the [N, C, S...] ones contiguous. The caller composes the rest from ops.
#pragma once

#include <cstdint>
#include <initializer_list>

#include <cmath>

#include "core/backend.h"
#include "core/half.h"
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

/// Backend::batch_norm_channels' vectors as a kernel reads them: one [C] vector (null: absent) and its stride.
template <class T>
struct ChannelVector {
  T* p = nullptr;
  int64_t stride = 0;
  TD_HD double at(int64_t c) const { return static_cast<double>(p[c * stride]); }
  TD_HD void set(int64_t c, double v) const { p[c * stride] = static_cast<T>(v); }
};

/// Every vector of a BatchNormChannels, typed.
template <class T>
struct BatchNormVectors {
  ChannelVector<T> mean, sum_sq, weight, bias, running_mean, running_var, invstd, scale, shift;
  ChannelVector<T> sum_g, sum_gc, grad_mean, grad_invstd, k, cx, grad_weight, grad_bias;
  bool grad = false, training = true;
  double count = 1, eps = 0, momentum = 0;
};

/// Whether the backends' batch_norm_channels kernels take p: float or double, every present vector 1-d of
/// `channels` elements and of that dtype, and the outputs its kind writes present.
/// The dtype of a BatchNormChannels' vectors (covered ones share it): that of an input its kind always has.
inline DType batch_norm_channels_dtype(const BatchNormChannels& p) {
  return p.grad ? p.sum_g.dtype : p.training ? p.mean.dtype : p.running_mean.dtype;
}

inline bool batch_norm_channels_covered(const BatchNormChannels& p) {
  const DType dtype = batch_norm_channels_dtype(p);
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) return false;
  for (const StridedRef* r : {&p.mean, &p.sum_sq, &p.weight, &p.bias, &p.running_mean, &p.running_var, &p.invstd,
                              &p.scale, &p.shift, &p.sum_g, &p.sum_gc, &p.grad_mean, &p.grad_invstd, &p.k, &p.cx,
                              &p.grad_weight, &p.grad_bias}) {
    if (r->data && (r->dtype != dtype || r->sizes.size() != 1 || r->sizes[0] != p.channels)) return false;
  }
  if (p.grad) return p.sum_g.data && p.sum_gc.data && p.mean.data && p.invstd.data && p.k.data && p.cx.data &&
                     p.shift.data;
  if (p.training && !(p.mean.data && p.sum_sq.data)) return false;
  if (!p.training && !(p.running_mean.data && p.running_var.data)) return false;
  return p.invstd.data && p.scale.data && p.shift.data;
}

template <class T>
ChannelVector<T> channel_vector(const StridedRef& r) {
  return {static_cast<T*>(r.data), r.data ? r.strides[0] : 0};
}

template <class T>
BatchNormVectors<T> batch_norm_vectors(const BatchNormChannels& p) {
  BatchNormVectors<T> v;
  v.mean = channel_vector<T>(p.mean);
  v.sum_sq = channel_vector<T>(p.sum_sq);
  v.weight = channel_vector<T>(p.weight);
  v.bias = channel_vector<T>(p.bias);
  v.running_mean = channel_vector<T>(p.running_mean);
  v.running_var = channel_vector<T>(p.running_var);
  v.invstd = channel_vector<T>(p.invstd);
  v.scale = channel_vector<T>(p.scale);
  v.shift = channel_vector<T>(p.shift);
  v.sum_g = channel_vector<T>(p.sum_g);
  v.sum_gc = channel_vector<T>(p.sum_gc);
  v.grad_mean = channel_vector<T>(p.grad_mean);
  v.grad_invstd = channel_vector<T>(p.grad_invstd);
  v.k = channel_vector<T>(p.k);
  v.cx = channel_vector<T>(p.cx);
  v.grad_weight = channel_vector<T>(p.grad_weight);
  v.grad_bias = channel_vector<T>(p.grad_bias);
  v.grad = p.grad;
  v.training = p.training;
  v.count = p.count;
  v.eps = p.eps;
  v.momentum = p.momentum;
  return v;
}

/// Channel c of Backend::batch_norm_channels, the same arithmetic on every backend.
template <class T>
TD_HD void batch_norm_channel(const BatchNormVectors<T>& v, int64_t c) {
  const double n = v.count;
  if (v.grad) {
    const double invstd = v.invstd.at(c), sum_gxhat = v.sum_gc.at(c) * invstd, sum_g = v.sum_g.at(c);
    const double k = v.weight.p ? invstd * v.weight.at(c) : invstd;
    // gx = k (g - mean(g) - xhat mean(g xhat)) + grad_mean / n - grad_invstd invstd^2 xhat / n, as
    // c1 xhat + c0 + k g with xhat = (x - mean) invstd.
    double c1 = -k * sum_gxhat / n, c0 = -k * sum_g / n;
    if (v.grad_mean.p) c0 += v.grad_mean.at(c) / n;
    if (v.grad_invstd.p) c1 -= v.grad_invstd.at(c) * invstd * invstd / n;
    const double cx = c1 * invstd;
    v.k.set(c, k);
    v.cx.set(c, cx);
    v.shift.set(c, c0 - cx * v.mean.at(c));
    if (v.grad_weight.p) v.grad_weight.set(c, sum_gxhat);
    if (v.grad_bias.p) v.grad_bias.set(c, sum_g);
    return;
  }
  const double mean = v.training ? v.mean.at(c) : v.running_mean.at(c);
  const double var = v.training ? v.sum_sq.at(c) / n : v.running_var.at(c);
  const double invstd = 1.0 / sqrt(var + v.eps);
  const double scale = v.weight.p ? invstd * v.weight.at(c) : invstd;
  double shift = -(mean * scale);
  if (v.bias.p) shift += v.bias.at(c);
  v.invstd.set(c, invstd);
  v.scale.set(c, scale);
  v.shift.set(c, shift);
  if (v.training) {
    const double m = v.momentum;
    if (v.running_mean.p) v.running_mean.set(c, m * mean + (1 - m) * v.running_mean.at(c));
    if (v.running_var.p) v.running_var.set(c, m * (v.sum_sq.at(c) / (n - 1)) + (1 - m) * v.running_var.at(c));
  }
}

}  // namespace td::kernels
