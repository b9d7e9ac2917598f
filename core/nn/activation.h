// Activation and dropout layers (nn.LeakyReLU ... nn.Dropout2d) over the registry ops of
// core/ops/activation.cpp, and their functional forms in td::nn::functional, with PyTorch's names, defaults
// and reprs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/nn/module.h"

namespace td::nn {

namespace functional {
Tensor leaky_relu(const Tensor& input, double negative_slope = 0.01);
Tensor elu(const Tensor& input, double alpha = 1.0);
Tensor selu(const Tensor& input);
Tensor celu(const Tensor& input, double alpha = 1.0);
/// approximate: "none" or "tanh".
Tensor gelu(const Tensor& input, const std::string& approximate = "none");
Tensor silu(const Tensor& input);
Tensor mish(const Tensor& input);
Tensor hardtanh(const Tensor& input, double min_val = -1.0, double max_val = 1.0);
Tensor relu6(const Tensor& input);
Tensor hardswish(const Tensor& input);
Tensor hardsigmoid(const Tensor& input);
Tensor softplus(const Tensor& input, double beta = 1.0, double threshold = 20.0);
Tensor softsign(const Tensor& input);
Tensor threshold(const Tensor& input, double threshold, double value);
Tensor glu(const Tensor& input, int64_t dim = -1);
Tensor prelu(const Tensor& input, const Tensor& weight);
Tensor logsigmoid(const Tensor& input);
Tensor tanhshrink(const Tensor& input);
Tensor softshrink(const Tensor& input, double lambd = 0.5);
Tensor hardshrink(const Tensor& input, double lambd = 0.5);
Tensor rrelu(const Tensor& input, double lower = 1.0 / 8, double upper = 1.0 / 3, bool training = false);
Tensor softmin(const Tensor& input, int64_t dim);
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true);
/// Zeroes whole channels: dropout1d takes (N, C, L) or (C, L), dropout2d (N, C, H, W), dropout3d (N, C, D, H, W).
Tensor dropout1d(const Tensor& input, double p = 0.5, bool training = true);
Tensor dropout2d(const Tensor& input, double p = 0.5, bool training = true);
Tensor dropout3d(const Tensor& input, double p = 0.5, bool training = true);
Tensor alpha_dropout(const Tensor& input, double p = 0.5, bool training = false);
Tensor feature_alpha_dropout(const Tensor& input, double p = 0.5, bool training = false);
}  // namespace functional

/// An activation with no state: a name for repr, the function, and the settings repr shows.
class Activation : public Module {
 public:
  Activation(std::string type_name, std::function<Tensor(const Tensor&)> fn, std::string extra = "");
  Tensor forward(const Tensor& input) override { return fn_(input); }
  std::string extra_repr() const override { return extra_; }

 private:
  std::function<Tensor(const Tensor&)> fn_;
  std::string extra_;
};

std::shared_ptr<Module> LeakyReLU(double negative_slope = 0.01);
std::shared_ptr<Module> ELU(double alpha = 1.0);
std::shared_ptr<Module> SELU();
std::shared_ptr<Module> CELU(double alpha = 1.0);
std::shared_ptr<Module> GELU(const std::string& approximate = "none");
std::shared_ptr<Module> SiLU();
std::shared_ptr<Module> Mish();
std::shared_ptr<Module> Hardtanh(double min_val = -1.0, double max_val = 1.0);
std::shared_ptr<Module> ReLU6();
std::shared_ptr<Module> Hardswish();
std::shared_ptr<Module> Hardsigmoid();
std::shared_ptr<Module> Softplus(double beta = 1.0, double threshold = 20.0);
std::shared_ptr<Module> Softsign();
std::shared_ptr<Module> Threshold(double threshold, double value);
std::shared_ptr<Module> GLU(int64_t dim = -1);
std::shared_ptr<Module> LogSigmoid();
std::shared_ptr<Module> Tanhshrink();
std::shared_ptr<Module> Softshrink(double lambd = 0.5);
std::shared_ptr<Module> Hardshrink(double lambd = 0.5);
std::shared_ptr<Module> Softmin(int64_t dim);

/// x if x > 0 else a * x with a learnable a, one shared or one per channel (nn.PReLU; init 0.25).
class PReLU : public Module {
 public:
  explicit PReLU(int64_t num_parameters = 1, double init = 0.25, TensorOptions options = {});
  Tensor forward(const Tensor& input) override { return functional::prelu(input, weight); }
  std::string extra_repr() const override { return "num_parameters=" + std::to_string(num_parameters); }
  int64_t num_parameters;
  Tensor weight;
};

/// Randomised leaky ReLU: slopes from U(lower, upper) in training, their mean in eval (nn.RReLU).
class RReLU : public Module {
 public:
  explicit RReLU(double lower = 1.0 / 8, double upper = 1.0 / 3);
  Tensor forward(const Tensor& input) override { return functional::rrelu(input, lower, upper, is_training()); }
  std::string extra_repr() const override;
  double lower, upper;
};

/// The dropout layers: active in training mode only (nn.Dropout, Dropout1d/2d/3d, AlphaDropout,
/// FeatureAlphaDropout).
class Dropout : public Module {
 public:
  enum class Kind { kElement, kFeature1d, kFeature2d, kFeature3d, kAlpha, kFeatureAlpha };
  explicit Dropout(double p = 0.5, Kind kind = Kind::kElement);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  double p;
  Kind kind;
};
std::shared_ptr<Module> Dropout1d(double p = 0.5);
std::shared_ptr<Module> Dropout2d(double p = 0.5);
std::shared_ptr<Module> Dropout3d(double p = 0.5);
std::shared_ptr<Module> AlphaDropout(double p = 0.5);
std::shared_ptr<Module> FeatureAlphaDropout(double p = 0.5);

}  // namespace td::nn
