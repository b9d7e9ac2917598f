// torch.nn.init: in-place initialisers that draw from td's default generator, with PyTorch's fan and gain
// rules. Each fills the tensor without recording history and returns it.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "core/tensor.h"

namespace td::nn::init {

/// (fan_in, fan_out) of a weight: dims 1 and 0 times the receptive field (the product of dims 2..).
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);
/// The recommended gain of a nonlinearity ("linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu",
/// "selu"); param is leaky_relu's negative slope (default 0.01).
double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt);

Tensor uniform_(const Tensor& tensor, double a = 0, double b = 1);
Tensor normal_(const Tensor& tensor, double mean = 0, double std = 1);
Tensor constant_(const Tensor& tensor, double value);
Tensor zeros_(const Tensor& tensor);
Tensor ones_(const Tensor& tensor);
/// Values from N(mean, std) redrawn until inside [a, b].
Tensor trunc_normal_(const Tensor& tensor, double mean = 0, double std = 1, double a = -2, double b = 2);
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1);
Tensor xavier_normal_(const Tensor& tensor, double gain = 1);
/// mode is "fan_in" or "fan_out"; a is leaky_relu's negative slope.
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu");
Tensor kaiming_normal_(const Tensor& tensor, double a = 0, const std::string& mode = "fan_in",
                       const std::string& nonlinearity = "leaky_relu");

}  // namespace td::nn::init
