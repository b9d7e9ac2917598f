// The basic layers: containers (Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict), Identity,
// Linear, Bilinear, Flatten/Unflatten, and the
// activations that are single registry ops. Their numerics and default initialisation are PyTorch's.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
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

/// Submodules by key, in insertion order, with no forward of its own (nn.ModuleDict). Keys are the children's
/// names, so they follow PyTorch's rules (no "." and not empty).
class ModuleDict : public Module {
 public:
  ModuleDict();
  ModuleDict(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> modules);
  /// Adds a module under key, or replaces the module already there (keeping its position), as md[key] = m.
  ModuleDict& insert(const std::string& key, std::shared_ptr<Module> module);
  /// The module under key; NOT_FOUND ("KeyError") if absent.
  Module& operator[](const std::string& key) const;
  std::shared_ptr<Module> at(const std::string& key) const;
  bool contains(const std::string& key) const;
  /// Keys in insertion order.
  std::vector<std::string> keys() const;
  std::vector<std::shared_ptr<Module>> values() const { return children(); }
  size_t size() const { return named_children().size(); }
};

/// Parameters by position, registered as "0", "1", ... (nn.ParameterList); prints each one's dtype and size.
class ParameterList : public Module {
 public:
  ParameterList();
  ParameterList(std::initializer_list<Tensor> params);
  /// Appends a parameter (made a leaf that requires grad unless requires_grad is false).
  ParameterList& push_back(Tensor param, bool requires_grad = true);
  /// The i-th parameter (negative counts from the end).
  Tensor& operator[](int64_t i);
  size_t size() const { return size_; }
  std::string extra_repr() const override;

 private:
  size_t size_ = 0;
};

/// Parameters by key, in insertion order (nn.ParameterDict).
class ParameterDict : public Module {
 public:
  ParameterDict();
  ParameterDict(std::initializer_list<std::pair<std::string, Tensor>> params);
  /// Adds a parameter under key, or replaces the one there, as pd[key] = p.
  ParameterDict& insert(const std::string& key, Tensor param, bool requires_grad = true);
  /// The parameter under key; NOT_FOUND ("KeyError") if absent.
  Tensor& operator[](const std::string& key);
  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const { return keys_; }
  size_t size() const { return keys_.size(); }
  std::string extra_repr() const override;

 private:
  std::vector<std::string> keys_;
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

/// y = x1^T W x2 + b over the last dims (nn.Bilinear); weight [out_features, in1_features, in2_features] and bias
/// drawn from U(-1/sqrt(in1_features), 1/sqrt(in1_features)). Called with two tensors.
class Bilinear : public Module {
 public:
  Bilinear(int64_t in1_features, int64_t in2_features, int64_t out_features, bool bias = true,
           TensorOptions options = {});
  /// Module.__call__(input1, input2).
  Tensor operator()(const Tensor& input1, const Tensor& input2);
  TensorList forward_list(const TensorList& inputs) override;
  std::string extra_repr() const override;
  void reset_parameters();

  int64_t in1_features, in2_features, out_features;
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
