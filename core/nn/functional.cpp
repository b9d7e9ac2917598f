// torch.nn.functional: each function names its registry op and packs the arguments.
#include "core/nn/functional.h"

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/nn/repr.h"

namespace td::nn::functional {

namespace {

// A one-value list goes as a number, which the registry repeats to the op's `int[N]` length.
Value int_value(const IntArg& a) {
  if (a.values.size() == 1) return Scalar(a.values[0]);
  return a.values;
}

Value tensor_or_none(const Tensor& t) { return t.defined() ? Value(t) : Value(None{}); }

}  // namespace

// Convolution

namespace {
Tensor conv(std::string_view op, const Tensor& input, const Tensor& weight, const Tensor& bias, const IntArg& stride,
            const Padding& padding, const IntArg& dilation, int64_t groups) {
  if (auto* mode = std::get_if<std::string>(&padding.value)) {
    return call_op(std::string(op) + ".padding", {input, weight, tensor_or_none(bias), int_value(stride), *mode,
                                                  int_value(dilation), Scalar(groups)})[0];
  }
  return call_op(op, {input, weight, tensor_or_none(bias), int_value(stride),
                      int_value(std::get<IntArg>(padding.value)), int_value(dilation), Scalar(groups)})[0];
}

Tensor conv_transpose(std::string_view op, const Tensor& input, const Tensor& weight, const Tensor& bias,
                      const IntArg& stride, const IntArg& padding, const IntArg& output_padding, int64_t groups,
                      const IntArg& dilation) {
  return call_op(op, {input, weight, tensor_or_none(bias), int_value(stride), int_value(padding),
                      int_value(output_padding), Scalar(groups), int_value(dilation)})[0];
}
}  // namespace

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride, Padding padding,
              IntArg dilation, int64_t groups) {
  return conv("conv1d", input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride, Padding padding,
              IntArg dilation, int64_t groups) {
  return conv("conv2d", input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride, Padding padding,
              IntArg dilation, int64_t groups) {
  return conv("conv3d", input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride,
                        IntArg padding, IntArg output_padding, int64_t groups, IntArg dilation) {
  return conv_transpose("conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups, dilation);
}
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride,
                        IntArg padding, IntArg output_padding, int64_t groups, IntArg dilation) {
  return conv_transpose("conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation);
}
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride,
                        IntArg padding, IntArg output_padding, int64_t groups, IntArg dilation) {
  return conv_transpose("conv_transpose3d", input, weight, bias, stride, padding, output_padding, groups, dilation);
}

// Losses

namespace {
Tensor op(std::string_view name, std::vector<Value> args) { return call_op(name, std::move(args)).at(0); }
}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  return op("mse_loss", {input, target, reduction});
}
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  return op("l1_loss", {input, target, reduction});
}
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction, double beta) {
  return op("smooth_l1_loss", {input, target, reduction, Scalar(beta)});
}
Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction, double delta) {
  return op("huber_loss", {input, target, reduction, Scalar(delta)});
}
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                const std::string& reduction) {
  return op("nll_loss", {input, target, tensor_or_none(weight), reduction, Scalar(ignore_index)});
}
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     const std::string& reduction, double label_smoothing) {
  return op("cross_entropy_loss",
            {input, target, tensor_or_none(weight), reduction, Scalar(ignore_index), Scalar(label_smoothing)});
}
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            const std::string& reduction) {
  return op("binary_cross_entropy", {input, target, tensor_or_none(weight), reduction});
}
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const std::string& reduction, const Tensor& pos_weight) {
  return op("binary_cross_entropy_with_logits",
            {input, target, tensor_or_none(weight), tensor_or_none(pos_weight), reduction});
}
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction, bool log_target) {
  return op("kl_div", {input, target, reduction, Scalar(log_target)});
}
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin,
                             const std::string& reduction) {
  return op("cosine_embedding_loss", {input1, input2, target, Scalar(margin), reduction});
}
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin,
                           const std::string& reduction) {
  return op("margin_ranking_loss", {input1, input2, target, Scalar(margin), reduction});
}
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin,
                           double p, double eps, bool swap, const std::string& reduction) {
  return op("triplet_margin_loss",
            {anchor, positive, negative, Scalar(margin), Scalar(p), Scalar(eps), Scalar(swap), reduction});
}
Tensor soft_margin_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  return op("soft_margin_loss", {input, target, reduction});
}
Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, double margin, const std::string& reduction) {
  return op("hinge_embedding_loss", {input, target, Scalar(margin), reduction});
}
Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, bool log_input, bool full, double eps,
                        const std::string& reduction) {
  return op("poisson_nll_loss", {input, target, Scalar(log_input), Scalar(full), Scalar(eps), reduction});
}
Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var, bool full, double eps,
                         const std::string& reduction) {
  return op("gaussian_nll_loss", {input, target, var, Scalar(full), Scalar(eps), reduction});
}
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const std::vector<int64_t>& input_lengths,
                const std::vector<int64_t>& target_lengths, int64_t blank, const std::string& reduction,
                bool zero_infinity) {
  return op("ctc_loss", {log_probs, targets, input_lengths, target_lengths, Scalar(blank), reduction,
                         Scalar(zero_infinity)});
}
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank, const std::string& reduction, bool zero_infinity) {
  TD_CHECK_ARG(is_integral(input_lengths.dtype()) && is_integral(target_lengths.dtype()),
               "[ctc_loss] input_lengths and target_lengths must be integer tensors (got ",
               dtype_name(input_lengths.dtype()), " and ", dtype_name(target_lengths.dtype()), ")");
  return ctc_loss(log_probs, targets, input_lengths.to_vector<int64_t>(), target_lengths.to_vector<int64_t>(), blank,
                  reduction, zero_infinity);
}

// Normalization

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  return call_op("batch_norm", {input, tensor_or_none(weight), tensor_or_none(bias), tensor_or_none(running_mean),
                                tensor_or_none(running_var), Scalar(training), Scalar(momentum), Scalar(eps)})[0];
}
Tensor instance_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                     const Tensor& bias, bool use_input_stats, double momentum, double eps) {
  return call_op("instance_norm", {input, tensor_or_none(weight), tensor_or_none(bias), tensor_or_none(running_mean),
                                   tensor_or_none(running_var), Scalar(use_input_stats), Scalar(momentum),
                                   Scalar(eps)})[0];
}
Tensor layer_norm(const Tensor& input, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  return call_op("layer_norm", {input, normalized_shape, tensor_or_none(weight), tensor_or_none(bias), Scalar(eps)})[0];
}
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  return call_op("group_norm", {input, Scalar(num_groups), tensor_or_none(weight), tensor_or_none(bias), Scalar(eps)})[0];
}
Tensor local_response_norm(const Tensor& input, int64_t size, double alpha, double beta, double k) {
  return call_op("local_response_norm", {input, Scalar(size), Scalar(alpha), Scalar(beta), Scalar(k)})[0];
}
Tensor normalize(const Tensor& input, double p, int64_t dim, double eps) {
  return call_op("normalize", {input, Scalar(p), Scalar(dim), Scalar(eps)})[0];
}

// Embeddings, bilinear

void embedding_renorm_(const Tensor& weight, const Tensor& input, double max_norm, double norm_type) {
  autograd::NoGradGuard no_grad;
  // Each row once (aten renormalises the sorted unique indices); rows within max_norm are written back as they
  // are, multiplied by exactly 1.
  Tensor rows_index = call_op("unique", {input.reshape({-1}).to(DType::kInt64)})[0];
  Tensor rows = weight.index_select(0, rows_index);
  Tensor norms = rows.norm(norm_type, std::vector<int64_t>{1}, true);
  Tensor scale = full(norms.shape(), max_norm, {norms.dtype(), norms.device()}).div(norms.add(1e-7));
  scale = scale.where(norms.gt(max_norm), 1.0);
  weight.index_copy_(0, rows_index, rows.mul(scale));
}

namespace {
// F.embedding's padding_idx: checked against the table and wrapped; -1 (aten's "none") when absent.
int64_t wrapped_padding_idx(std::string_view op, std::optional<int64_t> padding_idx, int64_t rows) {
  if (!padding_idx) return -1;
  const int64_t p = *padding_idx;
  TD_CHECK_ARG(p < rows && p >= -rows, "[", op, "] Padding_idx must be within num_embeddings (got ", p, " for ",
               rows, " embeddings)");
  return p < 0 ? p + rows : p;
}
}  // namespace

Tensor embedding(const Tensor& input, const Tensor& weight, std::optional<int64_t> padding_idx,
                 std::optional<double> max_norm, double norm_type, bool scale_grad_by_freq, bool sparse) {
  TD_CHECK_ARG(weight.dim() == 2, "[embedding] 'weight' must be 2-D, got ", shape_str(weight.sizes()));
  const int64_t pad = wrapped_padding_idx("embedding", padding_idx, weight.size(0));
  if (max_norm) embedding_renorm_(weight, input, *max_norm, norm_type);
  return call_op("embedding", {weight, input, Scalar(pad), Scalar(scale_grad_by_freq), Scalar(sparse)})[0];
}

Tensor embedding_bag(const Tensor& input, const Tensor& weight, const Tensor& offsets, std::optional<double> max_norm,
                     double norm_type, bool scale_grad_by_freq, const std::string& mode, bool sparse,
                     const Tensor& per_sample_weights, bool include_last_offset, std::optional<int64_t> padding_idx) {
  TD_CHECK_ARG(weight.dim() == 2, "[embedding_bag] 'weight' must be 2-D, got ", shape_str(weight.sizes()));
  if (max_norm) embedding_renorm_(weight, input, *max_norm, norm_type);
  return call_op("embedding_bag", {weight, input, tensor_or_none(offsets), Scalar(scale_grad_by_freq), mode,
                                   Scalar(sparse), tensor_or_none(per_sample_weights), Scalar(include_last_offset),
                                   padding_idx ? Value(Scalar(*padding_idx)) : Value(None{})})[0];
}

Tensor bilinear(const Tensor& input1, const Tensor& input2, const Tensor& weight, const Tensor& bias) {
  return call_op("bilinear", {input1, input2, weight, tensor_or_none(bias)})[0];
}

}  // namespace td::nn::functional

// Interpolation

namespace td::nn::functional {

namespace {
std::string py_float_list(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + nn::detail::py_float(v[i]);
  return s + "]";
}
}  // namespace

Tensor grid_sample(const Tensor& input, const Tensor& grid, const std::string& mode, const std::string& padding_mode,
                   bool align_corners) {
  const int64_t m = mode == "bilinear" ? 0 : mode == "nearest" ? 1 : mode == "bicubic" ? 2 : -1;
  TD_CHECK_ARG(m >= 0, "[grid_sample] nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
               "'bicubic', but got: '", mode, "'");
  const int64_t p = padding_mode == "zeros" ? 0 : padding_mode == "border" ? 1 : padding_mode == "reflection" ? 2 : -1;
  TD_CHECK_ARG(p >= 0, "[grid_sample] nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', "
               "or 'reflection', but got: '", padding_mode, "'");
  return call_op("grid_sampler", {input, grid, Scalar(m), Scalar(p), Scalar(align_corners)})[0];
}

Tensor affine_grid(const Tensor& theta, const std::vector<int64_t>& size, bool align_corners) {
  return call_op("affine_grid_generator", {theta, size, Scalar(align_corners)})[0];
}

Tensor interpolate(const Tensor& input, IntArg size, FloatArg scale_factor, const std::string& mode,
                   std::optional<bool> align_corners, std::optional<bool> recompute_scale_factor) {
  const bool interpolating = mode == "linear" || mode == "bilinear" || mode == "bicubic" || mode == "trilinear";
  if (mode == "nearest" || mode == "area" || mode == "nearest-exact") {
    TD_CHECK_ARG(!align_corners, "[interpolate] align_corners option can only be set with the interpolating "
                 "modes: linear | bilinear | bicubic | trilinear");
  }
  const bool align = align_corners.value_or(false);
  const int64_t dim = input.dim() - 2;
  const bool has_size = !size.values.empty(), has_scale = !scale_factor.values.empty();
  TD_CHECK_ARG(!(has_size && has_scale), "[interpolate] only one of size or scale_factor should be defined");
  TD_CHECK_ARG(has_size || has_scale, "[interpolate] either size or scale_factor should be defined");
  std::vector<int64_t> spatial;
  for (int64_t d = 2; d < input.dim(); ++d) spatial.push_back(input.size(d));
  std::vector<int64_t> output_size;
  std::vector<double> scales;
  if (has_size) {
    TD_CHECK_ARG(size.values.size() == 1 || static_cast<int64_t>(size.values.size()) == dim,
                 "[interpolate] Input and output must have the same number of spatial dimensions, but got input "
                 "with spatial dimensions of ", shape_str(spatial), " and output size of ", shape_str(size.values),
                 ". Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                 "...,oK) format.");
    output_size = size.expand(static_cast<size_t>(std::max<int64_t>(dim, 0)));
  } else {
    TD_CHECK_ARG(scale_factor.values.size() == 1 || static_cast<int64_t>(scale_factor.values.size()) == dim,
                 "[interpolate] Input and scale_factor must have the same number of spatial dimensions, but got "
                 "input with spatial dimensions of ", shape_str(spatial), " and scale_factor of shape ",
                 py_float_list(scale_factor.values), ". Please provide input tensor in (N, C, d1, d2, ...,dK) "
                 "format and scale_factor in (s1, s2, ...,sK) format.");
    scales = scale_factor.values.size() == 1
                 ? std::vector<double>(static_cast<size_t>(std::max<int64_t>(dim, 0)), scale_factor.values[0])
                 : scale_factor.values;
  }
  TD_CHECK_ARG(!(recompute_scale_factor.value_or(false) && has_size),
               "[interpolate] recompute_scale_factor is not meaningful with an explicit size.");
  // "area" always takes an explicit size: it goes the recompute_scale_factor way.
  if (mode == "area" && output_size.empty()) recompute_scale_factor = true;
  if (!has_size) {
    // Without recomputing, the op gets the scales and computes the size itself (aten's compute_output_size
    // truncates the product, as floor does for these positive values).
    for (size_t i = 0; i < scales.size(); ++i) {
      output_size.push_back(static_cast<int64_t>(std::floor(static_cast<double>(spatial[i]) * scales[i])));
    }
    if (recompute_scale_factor.value_or(false)) scales.clear();
  }
  std::vector<Value> args{input, output_size};
  if (interpolating) args.emplace_back(align);
  auto push_scales = [&](size_t n) {
    for (size_t i = 0; i < n; ++i) args.push_back(scales.empty() ? Value(None{}) : Value(scales[i]));
  };
  const int64_t nd = input.dim();
  auto run = [&](const std::string& op, size_t n) {
    push_scales(n);
    return call_op(op, std::move(args))[0];
  };
  if (mode == "nearest" && nd >= 3 && nd <= 5) return run(str("upsample_nearest", nd - 2, "d"), nd - 2);
  if (mode == "nearest-exact" && nd >= 3 && nd <= 5) return run(str("_upsample_nearest_exact", nd - 2, "d"), nd - 2);
  if (mode == "area" && nd == 3) return adaptive_avg_pool1d(input, output_size);
  if (mode == "area" && nd == 4) return adaptive_avg_pool2d(input, output_size);
  if (mode == "area" && nd == 5) return adaptive_avg_pool3d(input, output_size);
  if (mode == "linear" && nd == 3) return run("upsample_linear1d", 1);
  if (mode == "bilinear" && nd == 4) return run("upsample_bilinear2d", 2);
  if (mode == "trilinear" && nd == 5) return run("upsample_trilinear3d", 3);
  if (mode == "bicubic" && nd == 4) return run("upsample_bicubic2d", 2);
  const char* needs = mode == "linear" ? "3D" : mode == "bilinear" ? "4D" : "5D";
  const bool separable = mode == "linear" || mode == "bilinear" || mode == "trilinear";
  TD_CHECK(!(separable && nd >= 3 && nd <= 5), ErrorCode::kUnimplemented, "[interpolate] Got ", nd,
           "D input, but ", mode, " mode needs ", needs, " input");
  throw Error(ErrorCode::kUnimplemented,
              str("[interpolate] Input Error: Only 3D, 4D and 5D input Tensors supported (got ", nd,
                  "D) for the modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
                  "(got ", mode, ")"));
}

std::pair<Tensor, Tensor> detail::fractional_max_pool(int n, const Tensor& input, IntArg kernel_size,
                                                      IntArg output_size,
                                                      std::optional<std::vector<double>> output_ratio,
                                                      const Tensor& random_samples) {
  const std::string op = str("fractional_max_pool", n, "d");
  TD_CHECK_ARG(!output_size.values.empty() || output_ratio, "[", op, "] ", op,
               " requires specifying either an output_size or an output_ratio");
  TD_CHECK_ARG(input.dim() >= n + 1, "[", op, "] ", op, n == 2 ? "()" : "_out()", ": Expected ", n + 1, "D or ",
               n + 2, "D tensor, but got: ", shape_str(input.sizes()));
  Value size = output_size.value();
  if (output_size.values.empty()) {
    std::vector<double> r = output_ratio->size() == 1 ? std::vector<double>(static_cast<size_t>(n), (*output_ratio)[0])
                                                      : *output_ratio;
    TD_CHECK_ARG(r.size() == static_cast<size_t>(n), "[", op, "] output_ratio must have ", n, " elements, got ",
                 r.size());
    std::vector<int64_t> sizes;
    for (int d = 0; d < n; ++d) {
      sizes.push_back(static_cast<int64_t>(static_cast<double>(input.size(d - n)) * r[static_cast<size_t>(d)]));
    }
    size = sizes;
  }
  Tensor samples = random_samples;
  if (!samples.defined()) {
    const int64_t batch = input.dim() == n + 1 ? 1 : input.size(0);
    samples = random::rand({batch, input.size(-n - 1), n}, {input.dtype(), input.device()});
  }
  return detail::two(call_op(op, {input, kernel_size.value(), size, samples}));
}

}  // namespace td::nn::functional
