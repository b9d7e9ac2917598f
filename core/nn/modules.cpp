// Containers, Linear, Bilinear, Flatten/Unflatten.
#include "core/nn/modules.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/nn/functional.h"
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

ModuleDict::ModuleDict() : Module("ModuleDict") {}
ModuleDict::ModuleDict(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> modules) : ModuleDict() {
  for (const auto& [key, m] : modules) insert(key, m);
}
ModuleDict& ModuleDict::insert(const std::string& key, std::shared_ptr<Module> module) {
  if (contains(key)) {
    replace_module(key, std::move(module));
  } else {
    register_module(key, std::move(module));
  }
  return *this;
}
bool ModuleDict::contains(const std::string& key) const {
  for (const auto& [name, m] : named_children()) {
    if (name == key) return true;
  }
  return false;
}
std::shared_ptr<Module> ModuleDict::at(const std::string& key) const {
  for (const auto& [name, m] : named_children()) {
    if (name == key) return m;
  }
  TD_CHECK(false, ErrorCode::kNotFound, "[ModuleDict] KeyError: '", key, "'");
  return nullptr;
}
Module& ModuleDict::operator[](const std::string& key) const { return *at(key); }
std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [name, m] : named_children()) out.push_back(name);
  return out;
}

namespace {
// A parameter's line in the reprs of ParameterList and ParameterDict: "Parameter containing: [<type> of size 2x3]"
// (ParameterList names the dtype, "torch.float32"; ParameterDict the legacy type, "torch.FloatTensor").
std::string parameter_line(const Tensor& p, bool legacy_type) {
  std::string size;
  for (int64_t i = 0; i < p.dim(); ++i) size += (i ? "x" : "") + std::to_string(p.size(i));
  std::string type = legacy_type ? str("torch.", p.device().is_cuda() ? "cuda." : "", scalar_type_name(p.dtype()),
                                       "Tensor")
                                 : str("torch.", dtype_name(p.dtype()));
  std::string device = p.device().is_cuda() ? str(" (GPU ", p.device().index, ")") : "";
  return str("Parameter containing: [", type, " of size ", size, device, "]");
}
}  // namespace

ParameterList::ParameterList() : Module("ParameterList") {}
ParameterList::ParameterList(std::initializer_list<Tensor> params) : ParameterList() {
  for (const Tensor& p : params) push_back(p);
}
ParameterList& ParameterList::push_back(Tensor param, bool requires_grad) {
  register_parameter(std::to_string(size_), std::move(param), requires_grad);
  ++size_;
  return *this;
}
Tensor& ParameterList::operator[](int64_t i) {
  return get_tensor(std::to_string(wrap_index(type_name(), i, size_)));
}
std::string ParameterList::extra_repr() const {
  std::string s;
  size_t i = 0;
  for (const auto& [name, p] : named_parameters("", false)) {
    s += (i++ ? "\n" : "") + str("  (", name, "): ", parameter_line(p, false));
  }
  return s;
}

ParameterDict::ParameterDict() : Module("ParameterDict") {}
ParameterDict::ParameterDict(std::initializer_list<std::pair<std::string, Tensor>> params) : ParameterDict() {
  for (const auto& [key, p] : params) insert(key, p);
}
bool ParameterDict::contains(const std::string& key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}
ParameterDict& ParameterDict::insert(const std::string& key, Tensor param, bool requires_grad) {
  if (contains(key)) {
    TD_CHECK_ARG(param.is_leaf(), "[ParameterDict] Cannot assign non-leaf Tensor to parameter '", key, "'");
    param.requires_grad_(requires_grad);
    get_tensor(key) = std::move(param);
  } else {
    register_parameter(key, std::move(param), requires_grad);
    keys_.push_back(key);
  }
  return *this;
}
Tensor& ParameterDict::operator[](const std::string& key) {
  TD_CHECK(contains(key), ErrorCode::kNotFound, "[ParameterDict] KeyError: '", key, "'");
  return get_tensor(key);
}
std::string ParameterDict::extra_repr() const {
  std::string s;
  size_t i = 0;
  for (const auto& [name, p] : named_parameters("", false)) {
    s += (i++ ? "\n" : "") + str("  (", name, "): ", parameter_line(p, true));
  }
  return s;
}

Bilinear::Bilinear(int64_t in1, int64_t in2, int64_t out, bool with_bias, TensorOptions options)
    : Module("Bilinear"), in1_features(in1), in2_features(in2), out_features(out) {
  TD_CHECK_ARG(in1 >= 0 && in2 >= 0 && out >= 0, "[Bilinear] feature counts must be >= 0, got ", in1, ", ", in2,
               " and ", out);
  options.requires_grad = false;
  weight = register_parameter("weight", empty({out, in1, in2}, options));
  bias = register_parameter("bias", with_bias ? empty({out}, options) : Tensor());
  reset_parameters();
}

void Bilinear::reset_parameters() {
  const double bound = in1_features > 0 ? 1 / std::sqrt(static_cast<double>(in1_features)) : 0;
  init::uniform_(weight, -bound, bound);
  if (bias.defined()) init::uniform_(bias, -bound, bound);
}

Tensor Bilinear::operator()(const Tensor& input1, const Tensor& input2) { return call({input1, input2})[0]; }

TensorList Bilinear::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(inputs.size() == 2, "[Bilinear] forward takes input1 and input2, got ", inputs.size(), " tensors");
  return {functional::bilinear(inputs[0], inputs[1], weight, bias)};
}

std::string Bilinear::extra_repr() const {
  return str("in1_features=", in1_features, ", in2_features=", in2_features, ", out_features=", out_features,
             ", bias=", bias.defined() ? "True" : "False");
}

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
