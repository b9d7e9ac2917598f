// The torch.optim algorithms of PyTorch 1.13, each as its single-tensor (foreach=False) loop: SGD, Adam,
// AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam and LBFGS. Every constructor takes either a flat
// parameter list (one group) or groups with their own option overrides, and an options struct whose fields
// are the keyword arguments with PyTorch's defaults:
//
//   optim::SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
//   optim::Adam adam({{head, {{"lr", 1e-3}}}, {body, {}}}, {.lr = 1e-4});
//
// Only the defaults are validated, as in PyTorch; a group's overrides are taken as given.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/optim/optimizer.h"

namespace td::optim {

/// torch.optim.SGD's arguments; lr is required (every group must set it when it is left out here).
struct SGDOptions {
  std::optional<double> lr = std::nullopt;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
};

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options) : SGD(single_group(std::move(params)), options) {}
  SGD(std::vector<ParamGroup> groups, SGDOptions options);
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.Adam's arguments.
struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;
};

/// Adam (L2 weight decay added to the gradient).
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {})
      : Adam(single_group(std::move(params)), options) {}
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.AdamW's arguments (weight_decay defaults to 1e-2).
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

/// AdamW: Adam with decoupled weight decay (param *= 1 - lr * weight_decay).
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {})
      : AdamW(single_group(std::move(params)), options) {}
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.RMSprop's arguments.
struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;
};

/// RMSprop, optionally centered and with momentum.
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {})
      : RMSprop(single_group(std::move(params)), options) {}
  RMSprop(std::vector<ParamGroup> groups, RMSpropOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.Adagrad's arguments.
struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  bool maximize = false;
};

/// Adagrad; its state (step, sum) is made at construction, as in PyTorch.
class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions options = {})
      : Adagrad(single_group(std::move(params)), options) {}
  Adagrad(std::vector<ParamGroup> groups, AdagradOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.Adadelta's arguments.
struct AdadeltaOptions {
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0;
  bool maximize = false;
};

/// Adadelta.
class Adadelta : public Optimizer {
 public:
  Adadelta(std::vector<Tensor> params, AdadeltaOptions options = {})
      : Adadelta(single_group(std::move(params)), options) {}
  Adadelta(std::vector<ParamGroup> groups, AdadeltaOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.Adamax's arguments.
struct AdamaxOptions {
  double lr = 2e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool maximize = false;
};

/// Adamax (Adam with the infinity norm).
class Adamax : public Optimizer {
 public:
  Adamax(std::vector<Tensor> params, AdamaxOptions options = {})
      : Adamax(single_group(std::move(params)), options) {}
  Adamax(std::vector<ParamGroup> groups, AdamaxOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.NAdam's arguments (1.13 has no maximize here).
struct NAdamOptions {
  double lr = 2e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum_decay = 4e-3;
};

/// NAdam (Adam with Nesterov momentum and a momentum schedule).
class NAdam : public Optimizer {
 public:
  NAdam(std::vector<Tensor> params, NAdamOptions options = {})
      : NAdam(single_group(std::move(params)), options) {}
  NAdam(std::vector<ParamGroup> groups, NAdamOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.RAdam's arguments (1.13 has no maximize here).
struct RAdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
};

/// RAdam (Adam with the variance rectification term once it is defined, rho_t > 5).
class RAdam : public Optimizer {
 public:
  RAdam(std::vector<Tensor> params, RAdamOptions options = {})
      : RAdam(single_group(std::move(params)), options) {}
  RAdam(std::vector<ParamGroup> groups, RAdamOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;
};

/// torch.optim.LBFGS's arguments; max_eval defaults to max_iter * 5 / 4; line_search_fn is "" (None) or
/// "strong_wolfe".
struct LBFGSOptions {
  double lr = 1;
  int64_t max_iter = 20;
  std::optional<int64_t> max_eval = std::nullopt;
  double tolerance_grad = 1e-7;
  double tolerance_change = 1e-9;
  int64_t history_size = 100;
  std::string line_search_fn;
};

/// L-BFGS over all parameters as one flat vector; step() needs a closure. One parameter group only.
class LBFGS : public Optimizer {
 public:
  LBFGS(std::vector<Tensor> params, LBFGSOptions options = {})
      : LBFGS(single_group(std::move(params)), std::move(options)) {}
  LBFGS(std::vector<ParamGroup> groups, LBFGSOptions options = {});
  Tensor step(const LossClosure& closure = nullptr) override;

 private:
  Tensor gather_flat_grad() const;
  void add_grad(double step_size, const Tensor& update);
  std::vector<Tensor> clone_params() const;
  void set_params(const std::vector<Tensor>& values);
  std::pair<double, Tensor> directional_evaluate(const LossClosure& closure, const std::vector<Tensor>& x,
                                                 double t, const Tensor& d);
  int64_t numel_ = 0;
};

}  // namespace td::optim
