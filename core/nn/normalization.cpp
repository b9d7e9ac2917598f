// The normalization layers: checks of the input's rank, the running-statistics bookkeeping of
// torch.nn.modules.batchnorm and instancenorm, and calls of nn::functional.
#include "core/nn/normalization.h"

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/nn/functional.h"
#include "core/nn/init.h"
#include "core/nn/repr.h"

namespace td::nn {

namespace F = functional;
using detail::py_bool;
using detail::py_float;

NormBase::NormBase(std::string type_name, int64_t num_features_, double eps_, std::optional<double> momentum_,
                   bool affine_, bool track_running_stats_, TensorOptions options)
    : Module(std::move(type_name)),
      num_features(num_features_),
      eps(eps_),
      momentum(momentum_),
      affine(affine_),
      track_running_stats(track_running_stats_) {
  TD_CHECK_ARG(num_features >= 0, "[", this->type_name(), "] num_features must be >= 0, got ", num_features);
  options.requires_grad = false;
  weight = register_parameter("weight", affine ? empty({num_features}, options) : Tensor());
  bias = register_parameter("bias", affine ? empty({num_features}, options) : Tensor());
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}, options));
    running_var = register_buffer("running_var", ones({num_features}, options));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {DType::kInt64, options.device}));
  } else {
    // Registered as None, as PyTorch does: absent from the state_dict, present as names.
    running_mean = register_buffer("running_mean", Tensor());
    running_var = register_buffer("running_var", Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", Tensor());
  }
  reset_parameters();
}

void NormBase::reset_running_stats() {
  if (!track_running_stats) return;
  autograd::NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void NormBase::reset_parameters() {
  reset_running_stats();
  if (affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

std::string NormBase::extra_repr() const {
  return str(num_features, ", eps=", py_float(eps), ", momentum=", momentum ? py_float(*momentum) : "None",
             ", affine=", py_bool(affine), ", track_running_stats=", py_bool(track_running_stats));
}

namespace {
const char* batch_norm_name(size_t dims) {
  return dims == 1 ? "BatchNorm1d" : dims == 2 ? "BatchNorm2d" : "BatchNorm3d";
}
const char* instance_norm_name(size_t dims) {
  return dims == 1 ? "InstanceNorm1d" : dims == 2 ? "InstanceNorm2d" : "InstanceNorm3d";
}
}  // namespace

BatchNormNd::BatchNormNd(size_t dims, int64_t num_features_, double eps_, std::optional<double> momentum_,
                         bool affine_, bool track_running_stats_, TensorOptions options)
    : NormBase(batch_norm_name(dims), num_features_, eps_, momentum_, affine_, track_running_stats_, options),
      dims_(dims) {
  TD_CHECK_ARG(dims >= 1 && dims <= 3, "[BatchNorm] dims must be 1, 2 or 3, got ", dims);
}

Tensor BatchNormNd::forward(const Tensor& input) {
  const int64_t d = input.dim();
  if (dims_ == 1) {
    TD_CHECK_ARG(d == 2 || d == 3, "[", type_name(), "] expected 2D or 3D input (got ", d, "D input)");
  } else {
    const auto want = static_cast<int64_t>(dims_) + 2;
    TD_CHECK_ARG(d == want, "[", type_name(), "] expected ", want, "D input (got ", d, "D input)");
  }
  // torch.nn.modules.batchnorm._BatchNorm.forward: count the batch, pick the averaging factor, use the
  // batch's statistics in training (and in eval when there are no running ones).
  double factor = momentum.value_or(0.0);
  if (is_training() && track_running_stats) {
    autograd::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    if (!momentum) factor = 1.0 / static_cast<double>(num_batches_tracked.item<int64_t>());
  }
  const bool use_batch_stats = is_training() || (!running_mean.defined() && !running_var.defined());
  const bool pass_stats = !is_training() || track_running_stats;
  return F::batch_norm(input, pass_stats ? running_mean : Tensor(), pass_stats ? running_var : Tensor(),
                       weight, bias, use_batch_stats, factor, eps);
}

InstanceNormNd::InstanceNormNd(size_t dims, int64_t num_features_, double eps_, double momentum_,
                               bool affine_, bool track_running_stats_, TensorOptions options)
    : NormBase(instance_norm_name(dims), num_features_, eps_, momentum_, affine_, track_running_stats_,
               options),
      dims_(dims) {
  TD_CHECK_ARG(dims >= 1 && dims <= 3, "[InstanceNorm] dims must be 1, 2 or 3, got ", dims);
}

Tensor InstanceNormNd::forward(const Tensor& input) {
  const int64_t d = input.dim(), unbatched = static_cast<int64_t>(dims_) + 1;
  TD_CHECK_ARG(d == unbatched || d == unbatched + 1, "[", type_name(), "] expected ", unbatched, "D or ",
               unbatched + 1, "D input (got ", d, "D input)");
  const bool use_input_stats = is_training() || !track_running_stats;
  auto run = [&](const Tensor& x) {
    return F::instance_norm(x, running_mean, running_var, weight, bias, use_input_stats,
                            momentum.value_or(0.1), eps);
  };
  if (d == unbatched) return run(input.unsqueeze(0)).squeeze(0);
  return run(input);
}

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape_, double eps_, bool elementwise_affine_,
                     TensorOptions options)
    : Module("LayerNorm"),
      normalized_shape(std::move(normalized_shape_)),
      eps(eps_),
      elementwise_affine(elementwise_affine_) {
  options.requires_grad = false;
  weight = register_parameter("weight", elementwise_affine ? empty(normalized_shape, options) : Tensor());
  bias = register_parameter("bias", elementwise_affine ? empty(normalized_shape, options) : Tensor());
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (!elementwise_affine) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
  return F::layer_norm(input, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  return str(detail::py_tuple(normalized_shape), ", eps=", py_float(eps),
             ", elementwise_affine=", py_bool(elementwise_affine));
}

GroupNorm::GroupNorm(int64_t num_groups_, int64_t num_channels_, double eps_, bool affine_,
                     TensorOptions options)
    : Module("GroupNorm"), num_groups(num_groups_), num_channels(num_channels_), eps(eps_), affine(affine_) {
  TD_CHECK_ARG(num_groups > 0 && num_channels % num_groups == 0,
               "[GroupNorm] num_channels must be divisible by num_groups");
  options.requires_grad = false;
  weight = register_parameter("weight", affine ? empty({num_channels}, options) : Tensor());
  bias = register_parameter("bias", affine ? empty({num_channels}, options) : Tensor());
  reset_parameters();
}

void GroupNorm::reset_parameters() {
  if (!affine) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor GroupNorm::forward(const Tensor& input) {
  return F::group_norm(input, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const {
  return str(num_groups, ", ", num_channels, ", eps=", py_float(eps), ", affine=", py_bool(affine));
}

LocalResponseNorm::LocalResponseNorm(int64_t size_, double alpha_, double beta_, double k_)
    : Module("LocalResponseNorm"), size(size_), alpha(alpha_), beta(beta_), k(k_) {}

Tensor LocalResponseNorm::forward(const Tensor& input) {
  return F::local_response_norm(input, size, alpha, beta, k);
}

std::string LocalResponseNorm::extra_repr() const {
  return str(size, ", alpha=", py_float(alpha), ", beta=", py_float(beta), ", k=", py_float(k));
}

}  // namespace td::nn
