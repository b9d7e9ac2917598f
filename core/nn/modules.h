// The basic layers: containers (Sequential, ModuleList), Identity, Linear, Flatten/Unflatten, and the
// activations that are single registry ops. Their numerics and default initialisation are PyTorch's.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/nn/module.h"

namespace td::nn {

/// Modules called in order, each on the previous one's outputs (nn.Sequential). Children are named "0", "1", ...
class Sequential : public Module {
 public:
  Sequential();
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  /// Appends a module, named by its position.
  Sequential& push_back(std::shared_ptr<Module> module);
  /// The i-th module (negative counts from the end), as features[0] in PyTorch.
  Module& operator[](int64_t i) const;
  std::shared_ptr<Module> at(int64_t i) const;
  size_t size() const { return named_children().size(); }
  TensorList forward_list(const TensorList& inputs) override;
};

/// A list of submodules with no forward of its own (nn.ModuleList).
class ModuleList : public Module {
 public:
  ModuleList();
  ModuleList(std::initializer_list<std::shared_ptr<Module>> modules);
  ModuleList& push_back(std::shared_ptr<Module> module);
  Module& operator[](int64_t i) const;
  std::shared_ptr<Module> at(int64_t i) const;
  size_t size() const { return named_children().size(); }
};

/// Returns its input (nn.Identity).
class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& input) override { return input; }
};

/// y = x W^T + b (nn.Linear); weight [out_features, in_features] and bias drawn from U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, TensorOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  /// Re-draws weight and bias as the constructor does.
  void reset_parameters();

  int64_t in_features, out_features;
  Tensor weight, bias;
};

/// Flattens dims start_dim..end_dim into one (nn.Flatten; from dim 1 by default, keeping the batch dim).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  int64_t start_dim, end_dim;
};

/// Splits dim into `sizes` (nn.Unflatten).
class Unflatten : public Module {
 public:
  Unflatten(int64_t dim, std::vector<int64_t> sizes);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  int64_t dim;
  std::vector<int64_t> sizes;
};

/// max(x, 0) (nn.ReLU).
class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& input) override { return input.relu(); }
};

/// 1 / (1 + exp(-x)) (nn.Sigmoid).
class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& input) override { return input.sigmoid(); }
};

/// tanh(x) (nn.Tanh).
class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& input) override { return input.tanh(); }
};

/// softmax along dim (nn.Softmax).
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : Module("Softmax"), dim(dim) {}
  Tensor forward(const Tensor& input) override { return input.softmax(dim); }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
  int64_t dim;
};

/// log_softmax along dim (nn.LogSoftmax).
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim) : Module("LogSoftmax"), dim(dim) {}
  Tensor forward(const Tensor& input) override { return input.log_softmax(dim); }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
  int64_t dim;
};

}  // namespace td::nn
