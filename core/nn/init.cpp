// nn::init: PyTorch's formulas (torch/nn/init.py), each a fill of the tensor under no_grad.
#include "core/nn/init.h"

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/random/generator.h"

namespace td::nn::init {

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  TD_CHECK_ARG(tensor.dim() >= 2, "[init] Fan in and fan out can not be computed for tensor with fewer than 2 "
                                  "dimensions (got shape ", shape_str(tensor.shape()), ")");
  int64_t receptive = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive *= tensor.size(d);
  return {tensor.size(1) * receptive, tensor.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, std::optional<double> param) {
  static const char* linear[] = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                                 "conv_transpose3d", "sigmoid"};
  for (const char* name : linear) {
    if (nonlinearity == name) return 1;
  }
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4;
  throw Error(ErrorCode::kInvalidArgument, str("[calculate_gain] Unsupported nonlinearity ", nonlinearity));
}

Tensor uniform_(const Tensor& tensor, double a, double b) {
  autograd::NoGradGuard no_grad;
  return random::uniform_(tensor.detach(), a, b), tensor;
}

Tensor normal_(const Tensor& tensor, double mean, double std) {
  autograd::NoGradGuard no_grad;
  return random::normal_(tensor.detach(), mean, std), tensor;
}

Tensor constant_(const Tensor& tensor, double value) {
  autograd::NoGradGuard no_grad;
  tensor.detach().fill_(value);
  return tensor;
}
Tensor zeros_(const Tensor& tensor) { return constant_(tensor, 0); }
Tensor ones_(const Tensor& tensor) { return constant_(tensor, 1); }

Tensor trunc_normal_(const Tensor& tensor, double mean, double std, double a, double b) {
  // PyTorch's method: uniform in [cdf(a), cdf(b)], mapped back through the inverse normal cdf.
  autograd::NoGradGuard no_grad;
  auto cdf = [](double x) { return (1 + std::erf(x / std::sqrt(2.0))) / 2; };
  const double l = cdf((a - mean) / std), u = cdf((b - mean) / std);
  Tensor t = tensor.detach();
  random::uniform_(t, 2 * l - 1, 2 * u - 1);
  t.copy_(t.erfinv().mul(std * std::sqrt(2.0)).add(mean).clamp(a, b));
  return tensor;
}

Tensor xavier_uniform_(const Tensor& tensor, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(tensor, -bound, bound);
}

Tensor xavier_normal_(const Tensor& tensor, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  return normal_(tensor, 0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
}

namespace {
double kaiming_std(const Tensor& tensor, double a, const std::string& mode, const std::string& nonlinearity) {
  TD_CHECK_ARG(mode == "fan_in" || mode == "fan_out", "[kaiming] Mode ", mode,
               " not supported, please use one of fan_in, fan_out");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const int64_t fan = mode == "fan_in" ? fan_in : fan_out;
  return calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

Tensor kaiming_uniform_(const Tensor& tensor, double a, const std::string& mode, const std::string& nonlinearity) {
  const double bound = std::sqrt(3.0) * kaiming_std(tensor, a, mode, nonlinearity);
  return uniform_(tensor, -bound, bound);
}

Tensor kaiming_normal_(const Tensor& tensor, double a, const std::string& mode, const std::string& nonlinearity) {
  return normal_(tensor, 0, kaiming_std(tensor, a, mode, nonlinearity));
}

}  // namespace td::nn::init
