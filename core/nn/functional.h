// torch.nn.functional for C++: free functions with PyTorch's argument names, order and defaults, each a thin
// call of a registry op (so they record autograd, profile and trace like any op). Where PyTorch's Python
// function returns a tuple only when asked (return_indices=True), the C++ form has a `_with_indices` twin
// returning a pair.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"
#include "core/random/generator.h"
#include "core/tensor.h"

namespace td::nn::functional {

/// An int or a list of ints, as PyTorch's `int[N]` arguments take: `2` or `{2, 3}`; empty (`{}`) stands for
/// an argument left out (None), as aten's `stride=[]`.
struct IntArg {
  std::vector<int64_t> values;
  IntArg() = default;
  IntArg(int64_t v) : values{v} {}  // NOLINT: implicit, as Python's int for a tuple
  IntArg(int v) : values{v} {}      // NOLINT
  IntArg(std::initializer_list<int64_t> v) : values(v) {}
  IntArg(std::vector<int64_t> v) : values(std::move(v)) {}  // NOLINT
  /// The registry value: a single int stays a number, which the signature expands to N.
  Value value() const { return values.size() == 1 ? Value(Scalar(values[0])) : Value(values); }
  /// The list expanded to n entries.
  std::vector<int64_t> expand(size_t n) const {
    return values.size() == 1 ? std::vector<int64_t>(n, values[0]) : values;
  }
};

/// A convolution's padding: numbers (as IntArg) or the string "valid" (none) or "same" (output as large as
/// the input; stride 1 only).
struct Padding {
  Padding(int64_t v) : value(IntArg(v)) {}                               // NOLINT
  Padding(int v) : value(IntArg(v)) {}                                   // NOLINT
  Padding(std::initializer_list<int64_t> v) : value(IntArg(v)) {}        // NOLINT
  Padding(std::vector<int64_t> v) : value(IntArg(std::move(v))) {}       // NOLINT
  Padding(const char* mode) : value(std::string(mode)) {}                // NOLINT
  Padding(std::string mode) : value(std::move(mode)) {}                  // NOLINT
  std::variant<IntArg, std::string> value;
};

// Convolution

/// 1-d convolution of input [N, C_in, L] or [C_in, L] with weight [C_out, C_in / groups, k] (F.conv1d).
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
              Padding padding = 0, IntArg dilation = 1, int64_t groups = 1);
/// 2-d convolution of input [N, C_in, H, W] or [C_in, H, W] with weight [C_out, C_in / groups, kH, kW]
/// (F.conv2d).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
              Padding padding = 0, IntArg dilation = 1, int64_t groups = 1);
/// 3-d convolution of input [N, C_in, D, H, W] or [C_in, D, H, W] (F.conv3d).
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
              Padding padding = 0, IntArg dilation = 1, int64_t groups = 1);
/// 1-d transposed convolution with weight [C_in, C_out / groups, k] (F.conv_transpose1d).
Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
                        IntArg padding = 0, IntArg output_padding = 0, int64_t groups = 1, IntArg dilation = 1);
/// 2-d transposed convolution with weight [C_in, C_out / groups, kH, kW] (F.conv_transpose2d).
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
                        IntArg padding = 0, IntArg output_padding = 0, int64_t groups = 1, IntArg dilation = 1);
/// 3-d transposed convolution with weight [C_in, C_out / groups, kD, kH, kW] (F.conv_transpose3d).
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
                        IntArg padding = 0, IntArg output_padding = 0, int64_t groups = 1, IntArg dilation = 1);
// Pooling


namespace detail {
inline Value optional_ints(const IntArg& v) {
  return v.values.empty() ? Value(None{}) : v.value();
}
inline std::pair<Tensor, Tensor> two(std::vector<Tensor> v) {
  return {v[0], v[1]};
}
}  // namespace detail

/// Max pooling over the last dim of [C, L] or [N, C, L] (F.max_pool1d).
inline Tensor max_pool1d(const Tensor& input, IntArg kernel_size, IntArg stride = {}, IntArg padding = 0,
                         IntArg dilation = 1, bool ceil_mode = false) {
  return call_op("max_pool1d", {input, kernel_size.value(), detail::optional_ints(stride), padding.value(),
                                dilation.value(), Scalar(ceil_mode)})[0];
}
/// F.max_pool1d(..., return_indices=True): the values and each max's index along the dim.
inline std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, IntArg kernel_size,
                                                         IntArg stride = {}, IntArg padding = 0,
                                                         IntArg dilation = 1, bool ceil_mode = false) {
  return detail::two(
      call_op("max_pool1d_with_indices", {input, kernel_size.value(), detail::optional_ints(stride),
                                          padding.value(), dilation.value(), Scalar(ceil_mode)}));
}
/// Max pooling over the last 2 dims of [C, H, W] or [N, C, H, W] (F.max_pool2d).
inline Tensor max_pool2d(const Tensor& input, IntArg kernel_size, IntArg stride = {}, IntArg padding = 0,
                         IntArg dilation = 1, bool ceil_mode = false) {
  return call_op("max_pool2d", {input, kernel_size.value(), detail::optional_ints(stride), padding.value(),
                                dilation.value(), Scalar(ceil_mode)})[0];
}
/// F.max_pool2d(..., return_indices=True): the values and each max's offset h * W + w in its plane.
inline std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, IntArg kernel_size,
                                                         IntArg stride = {}, IntArg padding = 0,
                                                         IntArg dilation = 1, bool ceil_mode = false) {
  return detail::two(
      call_op("max_pool2d_with_indices", {input, kernel_size.value(), detail::optional_ints(stride),
                                          padding.value(), dilation.value(), Scalar(ceil_mode)}));
}
/// Max pooling over the last 3 dims of [C, D, H, W] or [N, C, D, H, W] (F.max_pool3d).
inline Tensor max_pool3d(const Tensor& input, IntArg kernel_size, IntArg stride = {}, IntArg padding = 0,
                         IntArg dilation = 1, bool ceil_mode = false) {
  return call_op("max_pool3d", {input, kernel_size.value(), detail::optional_ints(stride), padding.value(),
                                dilation.value(), Scalar(ceil_mode)})[0];
}
/// F.max_pool3d(..., return_indices=True): the values and each max's offset (d * H + h) * W + w.
inline std::pair<Tensor, Tensor> max_pool3d_with_indices(const Tensor& input, IntArg kernel_size,
                                                         IntArg stride = {}, IntArg padding = 0,
                                                         IntArg dilation = 1, bool ceil_mode = false) {
  return detail::two(
      call_op("max_pool3d_with_indices", {input, kernel_size.value(), detail::optional_ints(stride),
                                          padding.value(), dilation.value(), Scalar(ceil_mode)}));
}

/// Average pooling over the last dim (F.avg_pool1d).
inline Tensor avg_pool1d(const Tensor& input, IntArg kernel_size, IntArg stride = {}, IntArg padding = 0,
                         bool ceil_mode = false, bool count_include_pad = true) {
  return call_op("avg_pool1d", {input, kernel_size.value(), detail::optional_ints(stride), padding.value(),
                                Scalar(ceil_mode), Scalar(count_include_pad)})[0];
}
/// Average pooling over the last 2 dims (F.avg_pool2d); divisor_override replaces the window size.
inline Tensor avg_pool2d(const Tensor& input, IntArg kernel_size, IntArg stride = {}, IntArg padding = 0,
                         bool ceil_mode = false, bool count_include_pad = true,
                         std::optional<int64_t> divisor_override = std::nullopt) {
  return call_op("avg_pool2d", {input, kernel_size.value(), detail::optional_ints(stride), padding.value(),
                                Scalar(ceil_mode), Scalar(count_include_pad),
                                divisor_override ? Value(Scalar(*divisor_override)) : Value(None{})})[0];
}
/// Average pooling over the last 3 dims (F.avg_pool3d).
inline Tensor avg_pool3d(const Tensor& input, IntArg kernel_size, IntArg stride = {}, IntArg padding = 0,
                         bool ceil_mode = false, bool count_include_pad = true,
                         std::optional<int64_t> divisor_override = std::nullopt) {
  return call_op("avg_pool3d", {input, kernel_size.value(), detail::optional_ints(stride), padding.value(),
                                Scalar(ceil_mode), Scalar(count_include_pad),
                                divisor_override ? Value(Scalar(*divisor_override)) : Value(None{})})[0];
}

/// Adaptive average pooling of the last dim to output_size (F.adaptive_avg_pool1d).
inline Tensor adaptive_avg_pool1d(const Tensor& input, IntArg output_size) {
  return call_op("adaptive_avg_pool1d", {input, output_size.value()})[0];
}
/// Adaptive average pooling of the last 2 dims to output_size (F.adaptive_avg_pool2d).
inline Tensor adaptive_avg_pool2d(const Tensor& input, IntArg output_size) {
  return call_op("adaptive_avg_pool2d", {input, output_size.value()})[0];
}
/// Adaptive max pooling of the last dim (F.adaptive_max_pool1d).
inline Tensor adaptive_max_pool1d(const Tensor& input, IntArg output_size) {
  return call_op("adaptive_max_pool1d", {input, output_size.value()})[0];
}
/// F.adaptive_max_pool1d(..., return_indices=True).
inline std::pair<Tensor, Tensor> adaptive_max_pool1d_with_indices(const Tensor& input, IntArg output_size) {
  return detail::two(call_op("adaptive_max_pool1d", {input, output_size.value()}));
}
/// Adaptive max pooling of the last 2 dims (F.adaptive_max_pool2d).
inline Tensor adaptive_max_pool2d(const Tensor& input, IntArg output_size) {
  return call_op("adaptive_max_pool2d", {input, output_size.value()})[0];
}
/// F.adaptive_max_pool2d(..., return_indices=True).
inline std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& input, IntArg output_size) {
  return detail::two(call_op("adaptive_max_pool2d", {input, output_size.value()}));
}
/// Adaptive average pooling of the last 3 dims to output_size (F.adaptive_avg_pool3d).
inline Tensor adaptive_avg_pool3d(const Tensor& input, IntArg output_size) {
  return call_op("adaptive_avg_pool3d", {input, output_size.value()})[0];
}
/// Adaptive max pooling of the last 3 dims (F.adaptive_max_pool3d).
inline Tensor adaptive_max_pool3d(const Tensor& input, IntArg output_size) {
  return call_op("adaptive_max_pool3d", {input, output_size.value()})[0];
}
/// F.adaptive_max_pool3d(..., return_indices=True).
inline std::pair<Tensor, Tensor> adaptive_max_pool3d_with_indices(const Tensor& input, IntArg output_size) {
  return detail::two(call_op("adaptive_max_pool3d", {input, output_size.value()}));
}

/// Power-average pooling over the last dim: (sum of x^p over each window)^(1/p) (F.lp_pool1d).
inline Tensor lp_pool1d(const Tensor& input, double norm_type, IntArg kernel_size, IntArg stride = {},
                        bool ceil_mode = false) {
  return call_op("lp_pool1d", {input, Scalar(norm_type), kernel_size.value(), detail::optional_ints(stride),
                               Scalar(ceil_mode)})[0];
}
/// Power-average pooling over the last 2 dims (F.lp_pool2d).
inline Tensor lp_pool2d(const Tensor& input, double norm_type, IntArg kernel_size, IntArg stride = {},
                        bool ceil_mode = false) {
  return call_op("lp_pool2d", {input, Scalar(norm_type), kernel_size.value(), detail::optional_ints(stride),
                               Scalar(ceil_mode)})[0];
}

namespace detail {
// F._unpool_output_size: the default size inverts the pooling's; a given one (optionally with the two
// leading dims) must lie strictly within a stride of it.
inline std::vector<int64_t> unpool_output_size(const Tensor& input, const std::vector<int64_t>& kernel_size,
                                               const std::vector<int64_t>& stride,
                                               const std::vector<int64_t>& padding,
                                               const std::optional<std::vector<int64_t>>& output_size) {
  const size_t n = kernel_size.size();
  TD_CHECK_ARG(input.dim() >= static_cast<int64_t>(n), "[max_unpool] input of shape ",
               shape_str(input.sizes()), " has fewer than ", n, " dims");
  std::vector<int64_t> def;
  for (size_t d = 0; d < n; ++d) {
    def.push_back((input.size(input.dim() - static_cast<int64_t>(n) + static_cast<int64_t>(d)) - 1) *
                      stride[d] +
                  kernel_size[d] - 2 * padding[d]);
  }
  if (!output_size) return def;
  std::vector<int64_t> out = *output_size;
  if (out.size() == n + 2) out.erase(out.begin(), out.begin() + 2);
  TD_CHECK_ARG(out.size() == n, "[max_unpool] output_size should be a sequence containing ", n, " or ", n + 2,
               " elements, but it has a length of '", out.size(), "'");
  for (size_t d = 0; d < n; ++d) {
    const int64_t lo = def[d] - stride[d], hi = def[d] + stride[d];
    TD_CHECK_ARG(lo < out[d] && out[d] < hi, "[max_unpool] invalid output_size \"", shape_str(*output_size),
                 "\" (dim ", d, " must be between ", lo, " and ", hi, ")");
  }
  return out;
}
}  // namespace detail

/// The inverse of max_pool1d: zeros with the values put back at their indices (F.max_unpool1d).
inline Tensor max_unpool1d(const Tensor& input, const Tensor& indices, IntArg kernel_size, IntArg stride = {},
                           IntArg padding = 0,
                           std::optional<std::vector<int64_t>> output_size = std::nullopt) {
  auto k = kernel_size.expand(1), p = padding.expand(1);
  auto s = stride.values.empty() ? k : stride.expand(1);
  auto size = detail::unpool_output_size(input, k, s, p, output_size);
  size.push_back(1);
  return call_op("max_unpool2d", {input.unsqueeze(-1), indices.unsqueeze(-1), size})[0];
}
/// The inverse of max_pool2d (F.max_unpool2d).
inline Tensor max_unpool2d(const Tensor& input, const Tensor& indices, IntArg kernel_size, IntArg stride = {},
                           IntArg padding = 0,
                           std::optional<std::vector<int64_t>> output_size = std::nullopt) {
  auto k = kernel_size.expand(2), p = padding.expand(2);
  auto s = stride.values.empty() ? k : stride.expand(2);
  return call_op("max_unpool2d",
                 {input, indices, detail::unpool_output_size(input, k, s, p, output_size)})[0];
}
/// The inverse of max_pool3d (F.max_unpool3d).
inline Tensor max_unpool3d(const Tensor& input, const Tensor& indices, IntArg kernel_size, IntArg stride = {},
                           IntArg padding = 0,
                           std::optional<std::vector<int64_t>> output_size = std::nullopt) {
  auto k = kernel_size.expand(3), p = padding.expand(3);
  auto s = stride.values.empty() ? k : stride.expand(3);
  return call_op("max_unpool3d", {input, indices, detail::unpool_output_size(input, k, s, p, output_size), s, p})[0];
}

namespace detail {
/// F.fractional_max_pool{2,3}d's front end: the output size from output_size or output_ratio (of the last n
/// dims), and random samples [N, C, n] from td's current generator when none are given, as torch.rand does.
std::pair<Tensor, Tensor> fractional_max_pool(int n, const Tensor& input, IntArg kernel_size, IntArg output_size,
                                              std::optional<std::vector<double>> output_ratio,
                                              const Tensor& random_samples);
}  // namespace detail

/// F.fractional_max_pool2d(..., return_indices=True): max pooling over windows of kernel_size placed at
/// pseudo-random intervals; the size comes from output_size or output_ratio (of the input's H and W). Without
/// random_samples ([N, C, 2] in [0, 1)), they are drawn from td's current generator, as torch.rand does.
inline std::pair<Tensor, Tensor> fractional_max_pool2d_with_indices(
    const Tensor& input, IntArg kernel_size, IntArg output_size = {},
    std::optional<std::vector<double>> output_ratio = std::nullopt, const Tensor& random_samples = Tensor()) {
  return detail::fractional_max_pool(2, input, std::move(kernel_size), std::move(output_size), std::move(output_ratio),
                                     random_samples);
}
/// F.fractional_max_pool2d: the values of fractional_max_pool2d_with_indices.
inline Tensor fractional_max_pool2d(const Tensor& input, IntArg kernel_size, IntArg output_size = {},
                                    std::optional<std::vector<double>> output_ratio = std::nullopt,
                                    const Tensor& random_samples = Tensor()) {
  return fractional_max_pool2d_with_indices(input, kernel_size, std::move(output_size),
                                            std::move(output_ratio), random_samples)
      .first;
}
/// F.fractional_max_pool3d(..., return_indices=True): the 3-d form (T, H, W; random_samples [N, C, 3]).
inline std::pair<Tensor, Tensor> fractional_max_pool3d_with_indices(
    const Tensor& input, IntArg kernel_size, IntArg output_size = {},
    std::optional<std::vector<double>> output_ratio = std::nullopt, const Tensor& random_samples = Tensor()) {
  return detail::fractional_max_pool(3, input, std::move(kernel_size), std::move(output_size), std::move(output_ratio),
                                     random_samples);
}
/// F.fractional_max_pool3d: the values of fractional_max_pool3d_with_indices.
inline Tensor fractional_max_pool3d(const Tensor& input, IntArg kernel_size, IntArg output_size = {},
                                    std::optional<std::vector<double>> output_ratio = std::nullopt,
                                    const Tensor& random_samples = Tensor()) {
  return fractional_max_pool3d_with_indices(input, kernel_size, std::move(output_size),
                                            std::move(output_ratio), random_samples)
      .first;
}

// (end of Pooling)

// Interpolation (core/ops/upsample.cpp)

/// A float or a list of floats (F.interpolate's scale_factor); empty stands for None.
struct FloatArg {
  std::vector<double> values;
  FloatArg() = default;
  FloatArg(double v) : values{v} {}  // NOLINT: implicit, as Python's float for a tuple
  FloatArg(std::initializer_list<double> v) : values(v) {}
  FloatArg(std::vector<double> v) : values(std::move(v)) {}  // NOLINT
};

/// Resizes the spatial dims of input [N, C, d1, ...] (3-5 dims) to `size` or by `scale_factor` (exactly one of
/// them) as F.interpolate of PyTorch 1.13: mode "nearest", "nearest-exact", "linear" (3-d input), "bilinear"
/// and "bicubic" (4-d), "trilinear" (5-d) or "area" (adaptive average pooling, 3-d to 5-d); align_corners only
/// for the interpolating modes (None means False); recompute_scale_factor passes the computed size instead of
/// the scale to the op.
Tensor interpolate(const Tensor& input, IntArg size = {}, FloatArg scale_factor = {},
                   const std::string& mode = "nearest", std::optional<bool> align_corners = std::nullopt,
                   std::optional<bool> recompute_scale_factor = std::nullopt);

/// Samples input [N, C, H, W] at grid [N, Ho, Wo, 2]'s (x, y) in [-1, 1] (F.grid_sample): mode "bilinear" or
/// "nearest" ("bicubic" and 5-d inputs are not implemented), padding_mode "zeros", "border" or "reflection".
Tensor grid_sample(const Tensor& input, const Tensor& grid, const std::string& mode = "bilinear",
                   const std::string& padding_mode = "zeros", bool align_corners = false);
/// The sampling grid of affine matrices theta [N, 2, 3] for an output of `size` [N, C, H, W] (or [N, 3, 4] and
/// [N, C, D, H, W]), as F.affine_grid.
Tensor affine_grid(const Tensor& theta, const std::vector<int64_t>& size, bool align_corners = false);

// (end of Interpolation)

// Losses (core/ops/loss.cpp). reduction is "none", "mean" or "sum"; an undefined weight stands for None.

/// Mean of (input - target)^2, input and target broadcasting (F.mse_loss).
Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
/// Mean of |input - target| (F.l1_loss).
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
/// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (F.smooth_l1_loss).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
                      double beta = 1.0);
/// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (F.huber_loss).
Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
                  double delta = 1.0);
/// -weight[t] input[n, t, ...] for int64 class indices t, input [N, C, d...] or [C] of log-probabilities
/// (F.nll_loss).
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = {}, int64_t ignore_index = -100,
                const std::string& reduction = "mean");
/// nll_loss(log_softmax(input, class dim)); targets are class indices or class probabilities of input's shape
/// (F.cross_entropy).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                     int64_t ignore_index = -100, const std::string& reduction = "mean",
                     double label_smoothing = 0.0);
/// Binary cross entropy of probabilities in [0, 1] (F.binary_cross_entropy).
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            const std::string& reduction = "mean");
/// Binary cross entropy of sigmoid(input), computed stably (F.binary_cross_entropy_with_logits).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                                        const std::string& reduction = "mean", const Tensor& pos_weight = {});
/// KL divergence of log-probabilities input from target; reduction may be "batchmean" (F.kl_div).
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
              bool log_target = false);
/// F.cosine_embedding_loss: target 1 pulls the rows of input1 and input2 together, -1 pushes them apart.
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0.0,
                             const std::string& reduction = "mean");
/// max(0, -target (input1 - input2) + margin) (F.margin_ranking_loss).
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0.0,
                           const std::string& reduction = "mean");
/// max(0, margin + d(anchor, positive) - d(anchor, negative)) (F.triplet_margin_loss).
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin = 1.0,
                           double p = 2.0, double eps = 1e-6, bool swap = false,
                           const std::string& reduction = "mean");
/// log(1 + exp(-target * input)) (F.soft_margin_loss).
Tensor soft_margin_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
/// input where target is 1, max(0, margin - input) where it is -1 (F.hinge_embedding_loss).
Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, double margin = 1.0,
                            const std::string& reduction = "mean");
/// Poisson negative log-likelihood (F.poisson_nll_loss).
Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, bool log_input = true, bool full = false,
                        double eps = 1e-8, const std::string& reduction = "mean");
/// Gaussian negative log-likelihood with predicted variance var (F.gaussian_nll_loss).
Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var, bool full = false,
                         double eps = 1e-6, const std::string& reduction = "mean");
/// Connectionist temporal classification loss of log_probs [T, N, C] (or [T, C]) against targets [N, S] padded
/// or concatenated 1-d, with each sample's frame and label counts (F.ctc_loss).
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const std::vector<int64_t>& input_lengths,
                const std::vector<int64_t>& target_lengths, int64_t blank = 0, const std::string& reduction = "mean",
                bool zero_infinity = false);
/// F.ctc_loss with the lengths as integer tensors (read on the host).
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank = 0, const std::string& reduction = "mean",
                bool zero_infinity = false);

// Normalization (core/ops/norm.cpp). An undefined tensor stands for None.

/// Normalizes each channel of [N, C, *] by the batch's statistics (training, updating the running ones in
/// place) or the running ones (F.batch_norm).
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = {}, const Tensor& bias = {}, bool training = false, double momentum = 0.1,
                  double eps = 1e-5);
/// Normalizes each (sample, channel) plane of [N, C, *] by its own statistics (F.instance_norm).
Tensor instance_norm(const Tensor& input, const Tensor& running_mean = {}, const Tensor& running_var = {},
                     const Tensor& weight = {}, const Tensor& bias = {}, bool use_input_stats = true,
                     double momentum = 0.1, double eps = 1e-5);
/// Normalizes over the trailing normalized_shape dims (F.layer_norm).
Tensor layer_norm(const Tensor& input, const std::vector<int64_t>& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
/// Normalizes num_groups groups of channels per sample (F.group_norm).
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
/// x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta (F.local_response_norm).
Tensor local_response_norm(const Tensor& input, int64_t size, double alpha = 1e-4, double beta = 0.75,
                           double k = 1.0);
/// input / max(||input||_p along dim, eps) (F.normalize).
Tensor normalize(const Tensor& input, double p = 2.0, int64_t dim = 1, double eps = 1e-12);

// Embeddings (core/ops/embedding.cpp) and bilinear (core/ops/blas.cpp).

/// Rows of weight [num_embeddings, dim] at the integer indices `input` (F.embedding). padding_idx (negative
/// counts from the end) gets no gradient; with max_norm, the looked-up rows of weight whose norm_type-norm
/// exceeds max_norm are first rescaled in place to max_norm (without recording), as PyTorch does.
Tensor embedding(const Tensor& input, const Tensor& weight, std::optional<int64_t> padding_idx = std::nullopt,
                 std::optional<double> max_norm = std::nullopt, double norm_type = 2.0,
                 bool scale_grad_by_freq = false, bool sparse = false);
/// Sums, means or maxima of bags of embeddings: rows of a 2-d input, or a 1-d input cut at offsets
/// (F.embedding_bag).
Tensor embedding_bag(const Tensor& input, const Tensor& weight, const Tensor& offsets = {},
                     std::optional<double> max_norm = std::nullopt, double norm_type = 2.0,
                     bool scale_grad_by_freq = false, const std::string& mode = "mean", bool sparse = false,
                     const Tensor& per_sample_weights = {}, bool include_last_offset = false,
                     std::optional<int64_t> padding_idx = std::nullopt);
/// Rescales, in place and unrecorded, the rows of weight named by input whose norm_type-norm exceeds
/// max_norm to max_norm / (norm + 1e-7) times themselves (torch.embedding_renorm_).
void embedding_renorm_(const Tensor& weight, const Tensor& input, double max_norm, double norm_type);
/// input1^T W input2 + b over the last dims (F.bilinear).
Tensor bilinear(const Tensor& input1, const Tensor& input2, const Tensor& weight, const Tensor& bias = {});

}  // namespace td::nn::functional
