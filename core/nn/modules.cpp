// Containers, Linear, Flatten/Unflatten.
#include "core/nn/modules.h"

#include <cmath>

#include "core/error.h"
#include "core/nn/init.h"

namespace td::nn {

namespace {
// Position i of n, negative counting from the end, as Python indexing.
size_t wrap_index(const std::string& type, int64_t i, size_t n) {
  const int64_t size = static_cast<int64_t>(n);
  TD_CHECK(i >= -size && i < size, ErrorCode::kOutOfRange, "[", type, "] index ", i, " is out of range");
  return static_cast<size_t>(i < 0 ? i + size : i);
}
}  // namespace

Sequential::Sequential() : Module("Sequential") {}
Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) : Sequential() {
  for (const auto& m : modules) push_back(m);
}
Sequential& Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
  return *this;
}
std::shared_ptr<Module> Sequential::at(int64_t i) const {
  return named_children()[wrap_index(type_name(), i, size())].second;
}
Module& Sequential::operator[](int64_t i) const { return *at(i); }
TensorList Sequential::forward_list(const TensorList& inputs) {
  TensorList x = inputs;
  for (const auto& [name, m] : named_children()) x = m->call(std::move(x));
  return x;
}

ModuleList::ModuleList() : Module("ModuleList") {}
ModuleList::ModuleList(std::initializer_list<std::shared_ptr<Module>> modules) : ModuleList() {
  for (const auto& m : modules) push_back(m);
}
ModuleList& ModuleList::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
  return *this;
}
std::shared_ptr<Module> ModuleList::at(int64_t i) const {
  return named_children()[wrap_index(type_name(), i, size())].second;
}
Module& ModuleList::operator[](int64_t i) const { return *at(i); }

Linear::Linear(int64_t in_features_, int64_t out_features_, bool with_bias, TensorOptions options)
    : Module("Linear"), in_features(in_features_), out_features(out_features_) {
  TD_CHECK_ARG(in_features >= 0 && out_features >= 0, "[Linear] in_features and out_features must be >= 0, got ",
               in_features, " and ", out_features);
  options.requires_grad = false;
  weight = register_parameter("weight", empty({out_features, in_features}, options));
  bias = register_parameter("bias", with_bias ? empty({out_features}, options) : Tensor());
  reset_parameters();
}

void Linear::reset_parameters() {
  // kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = in_features > 0 ? 1 / std::sqrt(static_cast<double>(in_features)) : 0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& input) {
  TD_CHECK_ARG(input.dim() >= 1 && input.size(-1) == in_features, "[Linear] mat1 and mat2 shapes cannot be "
               "multiplied (input ", shape_str(input.shape()), ", weight ", shape_str(weight.shape()), ")");
  if (input.dim() == 2 && bias.defined()) return bias.addmm(input, weight.t());
  Tensor y = input.matmul(weight.t());
  return bias.defined() ? y.add(bias) : y;
}

std::string Linear::extra_repr() const {
  return str("in_features=", in_features, ", out_features=", out_features, ", bias=", bias.defined() ? "True" : "False");
}

Flatten::Flatten(int64_t start, int64_t end) : Module("Flatten"), start_dim(start), end_dim(end) {}
Tensor Flatten::forward(const Tensor& input) { return input.flatten(start_dim, end_dim); }
std::string Flatten::extra_repr() const { return str("start_dim=", start_dim, ", end_dim=", end_dim); }

Unflatten::Unflatten(int64_t dim_, std::vector<int64_t> sizes_)
    : Module("Unflatten"), dim(dim_), sizes(std::move(sizes_)) {}
Tensor Unflatten::forward(const Tensor& input) { return input.unflatten(dim, sizes); }
std::string Unflatten::extra_repr() const {
  std::string s = "(";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return str("dim=", dim, ", unflattened_size=", s, sizes.size() == 1 ? ",)" : ")");
}

}  // namespace td::nn
