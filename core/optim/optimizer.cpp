// The Optimizer base: groups, defaults, state and state dicts, as torch/optim/optimizer.py (1.13).
#include "core/optim/optimizer.h"

#include <unordered_set>

#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/optim/common.h"
#include "core/tensor_impl.h"

namespace td::optim {

namespace {

const OptionValue& option_at(const ParamGroup& g, std::string_view key) {
  auto it = g.options.find(key);
  TD_CHECK(it != g.options.end(), ErrorCode::kNotFound, "[optim] KeyError: '", key,
           "' is not an option of this parameter group");
  return it->second;
}

[[noreturn]] void wrong_kind(std::string_view key, std::string_view want) {
  throw Error(ErrorCode::kInvalidArgument, str("[optim] option '", key, "' is not ", want));
}

// load_state_dict's cast: floating tensors follow the parameter's dtype, all tensors its device; "step" is
// left.
Tensor cast_like(const Tensor& param, const Tensor& value, std::string_view key) {
  if (key == "step") return value.clone();
  Tensor v = value;
  if (is_floating(param.dtype()) && is_floating(v.dtype()) && v.dtype() != param.dtype())
    v = v.to(param.dtype());
  if (v.device() != param.device()) v = v.to(param.device().str());
  return v.is_same(value) ? v.clone() : v;
}

StateValue cast_state(const Tensor& param, const StateValue& value, std::string_view key) {
  if (const auto* t = std::get_if<Tensor>(&value)) return t->defined() ? cast_like(param, *t, key) : *t;
  if (const auto* ts = std::get_if<std::vector<Tensor>>(&value)) {
    std::vector<Tensor> out;
    out.reserve(ts->size());
    for (const Tensor& t : *ts) out.push_back(t.defined() ? cast_like(param, t, "") : t);
    return out;
  }
  return value;
}

}  // namespace

double ParamGroup::number(std::string_view key) const {
  const OptionValue& v = option_at(*this, key);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  wrong_kind(key, "a number");
}

int64_t ParamGroup::integer(std::string_view key) const {
  const OptionValue& v = option_at(*this, key);
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  wrong_kind(key, "an integer");
}

bool ParamGroup::flag(std::string_view key) const {
  const auto* b = std::get_if<bool>(&option_at(*this, key));
  if (!b) wrong_kind(key, "a flag");
  return *b;
}

std::pair<double, double> ParamGroup::pair(std::string_view key) const {
  const auto* p = std::get_if<std::pair<double, double>>(&option_at(*this, key));
  if (!p) wrong_kind(key, "a pair");
  return *p;
}

const std::string& ParamGroup::name(std::string_view key) const {
  const auto* s = std::get_if<std::string>(&option_at(*this, key));
  if (!s) wrong_kind(key, "a name");
  return *s;
}

void ParamGroup::set(std::string_view key, OptionValue value) {
  auto it = options.find(key);
  if (it == options.end()) {
    options.emplace(std::string(key), std::move(value));
  } else {
    it->second = std::move(value);
  }
}

std::vector<ParamGroup> single_group(std::vector<Tensor> params) {
  std::vector<ParamGroup> groups;
  groups.push_back({std::move(params), {}});
  return groups;
}

Optimizer::Optimizer(std::string type_name, std::vector<ParamGroup> groups, Options defaults,
                     std::vector<std::string> required)
    : type_name_(std::move(type_name)), defaults_(std::move(defaults)), required_(std::move(required)) {
  size_t total = 0;
  for (const ParamGroup& g : groups) total += g.params.size();
  // PyTorch checks the list it was given: no groups, or one group of nothing, is an empty parameter list.
  TD_CHECK_ARG(!groups.empty() && !(groups.size() == 1 && total == 0), "[", type_name_,
               "] optimizer got an empty parameter list");
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  for (const Tensor& p : group.params) {
    TD_CHECK_ARG(p.defined(), "[", type_name_,
                 "] optimizer can only optimize Tensors, but one of the params is "
                 "NoneType");
    TD_CHECK_ARG(p.is_leaf() || p.retains_grad(), "[", type_name_, "] can't optimize a non-leaf Tensor");
  }
  for (const std::string& key : required_) {
    TD_CHECK_ARG(group.has(key), "[", type_name_,
                 "] parameter group didn't specify a value of required optimization parameter ", key);
  }
  for (const auto& [key, value] : defaults_) {
    if (!group.has(key)) group.options.emplace(key, value);
  }
  std::unordered_set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_) {
    for (const Tensor& p : g.params) seen.insert(p.impl_ptr().get());
  }
  for (const Tensor& p : group.params) {
    TD_CHECK_ARG(!seen.count(p.impl_ptr().get()), "[", type_name_,
                 "] some parameters appear in more than one parameter group");
  }
  groups_.push_back(std::move(group));
}

const ParamState* Optimizer::find_state(const Tensor& param) const {
  auto it = state_.find(param.impl_ptr().get());
  return it == state_.end() ? nullptr : &it->second;
}

void Optimizer::zero_grad(bool set_to_none) {
  autograd::NoGradGuard no_grad;
  for (ParamGroup& g : groups_) {
    for (Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
        continue;
      }
      // A gradient with history (create_graph=True) is cut from it first, as PyTorch's detach_().
      if (!grad.grad_fn_name().empty()) {
        grad = grad.detach();
        p.set_grad(grad);
      } else if (grad.requires_grad()) {
        grad.requires_grad_(false);
      }
      grad.zero_();
    }
  }
}

Tensor Optimizer::evaluate(const LossClosure& closure) {
  if (!closure) return Tensor();
  autograd::GradModeGuard enable(true);
  return closure();
}

OptimizerStateDict Optimizer::state_dict() const {
  OptimizerStateDict out;
  std::unordered_map<const TensorImpl*, int64_t> index;
  int64_t next = 0;
  for (const ParamGroup& g : groups_) {
    GroupStateDict packed{g.options, {}};
    for (const Tensor& p : g.params) {
      auto [it, added] = index.emplace(p.impl_ptr().get(), next);
      packed.params.push_back(it->second);
      ++next;
    }
    out.param_groups.push_back(std::move(packed));
  }
  for (const auto& [impl, state] : state_) {
    auto it = index.find(impl);
    if (it != index.end()) out.state.emplace(it->second, state);
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerStateDict& sd) {
  TD_CHECK_ARG(sd.param_groups.size() == groups_.size(), "[", type_name_,
               "] loaded state dict has a different number of parameter groups");
  for (size_t i = 0; i < groups_.size(); ++i) {
    TD_CHECK_ARG(
        sd.param_groups[i].params.size() == groups_[i].params.size(), "[", type_name_,
        "] loaded state dict contains a parameter group that doesn't match the size of optimizer's group");
  }
  std::unordered_map<int64_t, Tensor> id_map;
  for (size_t i = 0; i < groups_.size(); ++i) {
    for (size_t j = 0; j < groups_[i].params.size(); ++j)
      id_map.emplace(sd.param_groups[i].params[j], groups_[i].params[j]);
  }
  std::unordered_map<const TensorImpl*, ParamState> state;
  for (const auto& [id, saved] : sd.state) {
    auto it = id_map.find(id);
    if (it == id_map.end())
      continue;  // PyTorch keeps such entries under their index; nothing here reads them
    const Tensor& param = it->second;
    ParamState copy;
    for (const auto& [key, value] : saved) copy.emplace(key, cast_state(param, value, key));
    state[param.impl_ptr().get()] = std::move(copy);
  }
  state_ = std::move(state);
  for (size_t i = 0; i < groups_.size(); ++i) groups_[i].options = sd.param_groups[i].options;
}

namespace detail {

bool one_pass_update_allowed(const Tensor& param, const Tensor& grad, std::initializer_list<const Tensor*> state) {
  if (autograd::forward_ad::detail::propagating()) return false;
  if (param.is_inference() || grad.device() != param.device() || grad.shares_storage(param)) return false;
  for (const Tensor* t : state) {
    if (t->is_inference() || t->device() != param.device() || t->shares_storage(param) || t->shares_storage(grad)) {
      return false;
    }
    for (const Tensor* u : state) {
      if (u != t && u->shares_storage(*t)) return false;
    }
  }
  return true;
}

}  // namespace detail

}  // namespace td::optim
