// td::optim::Optimizer: torch.optim.Optimizer's parameter groups, per-parameter state, zero_grad and
// state_dict, with PyTorch 1.13's names, defaults and messages.
//
// A group's options are a small dict, as in PyTorch (schedulers read and write "lr", "momentum", "betas",
// "initial_lr" by name). Each algorithm's options struct (SGDOptions, AdamOptions, ...) gives the defaults
// that fill a group's missing keys; a group may override any of them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace td::optim {

/// One option value: a number, an integer, a flag, a pair (Adam's betas) or a name ("" stands for None).
using OptionValue = std::variant<double, int64_t, bool, std::pair<double, double>, std::string>;

/// A parameter group's options by name (PyTorch's group dict without "params").
using Options = std::map<std::string, OptionValue, std::less<>>;

/// Parameters optimized together with their own options (one entry of optimizer.param_groups).
struct ParamGroup {
  std::vector<Tensor> params;
  Options options;

  /// Whether the group has an option.
  bool has(std::string_view key) const { return options.find(key) != options.end(); }
  /// A number option (a double or an integer); throws a KeyError-like error when absent.
  double number(std::string_view key) const;
  /// An integer option.
  int64_t integer(std::string_view key) const;
  /// A flag option.
  bool flag(std::string_view key) const;
  /// A pair option (betas).
  std::pair<double, double> pair(std::string_view key) const;
  /// A name option ("" for None).
  const std::string& name(std::string_view key) const;
  /// Sets an option, adding it when absent.
  void set(std::string_view key, OptionValue value);
};

/// One entry of a parameter's state: a tensor (exp_avg), a number (step), an integer (n_iter) or lists
/// (LBFGS's history).
using StateValue = std::variant<Tensor, double, int64_t, std::vector<Tensor>, std::vector<double>>;

/// A parameter's state by name (optimizer.state[p]).
using ParamState = std::map<std::string, StateValue, std::less<>>;

/// A group in a state dict: its options and its parameters as indices in the order of all groups' params.
struct GroupStateDict {
  Options options;
  std::vector<int64_t> params;
};

/// optimizer.state_dict(): "state" keyed by parameter index and "param_groups". The tensors are the
/// optimizer's own (not copies), as in PyTorch; load_state_dict copies them.
struct OptimizerStateDict {
  std::map<int64_t, ParamState> state;
  std::vector<GroupStateDict> param_groups;
};

/// Recomputes the loss (and its gradients) for step(); LBFGS calls it several times.
using LossClosure = std::function<Tensor()>;

/// Base of all optimizers (torch.optim.Optimizer).
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// The class name ("SGD"), used in messages.
  const std::string& type_name() const { return type_name_; }
  /// One update of every parameter that has a gradient. With a closure, it is called first (with grad mode
  /// on) and its loss is returned; otherwise the result is undefined.
  virtual Tensor step(const LossClosure& closure = nullptr) = 0;
  /// Sets every parameter's .grad to zero (set_to_none=False, PyTorch 1.13's default) or drops it.
  void zero_grad(bool set_to_none = false);
  /// Adds a group; missing options take the optimizer's defaults.
  void add_param_group(ParamGroup group);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// The options given at construction (optimizer.defaults).
  const Options& defaults() const { return defaults_; }

  /// The state of a parameter (created empty on first use).
  ParamState& state(const Tensor& param) { return state_[param.impl_ptr().get()]; }
  /// The state of a parameter, or nullptr when it has none yet.
  const ParamState* find_state(const Tensor& param) const;

  /// optimizer.state_dict().
  OptimizerStateDict state_dict() const;
  /// Loads a state dict: checks group count and sizes, copies the state (floating tensors converted to each
  /// parameter's dtype and device, "step" kept) and takes the saved groups' options.
  void load_state_dict(const OptimizerStateDict& state_dict);

  /// How many times step() ran (the schedulers' `optimizer._step_count`).
  int64_t step_count() const { return step_count_; }

 protected:
  /// `defaults` fills missing group options; a key mapped to nothing is left out of defaults and so must be
  /// set by every group (PyTorch's `required`, SGD's lr): `required` names those keys.
  Optimizer(std::string type_name, std::vector<ParamGroup> groups, Options defaults,
            std::vector<std::string> required = {});
  /// Calls the closure with grad mode on; an undefined tensor without one.
  static Tensor evaluate(const LossClosure& closure);
  /// Counts a step (for the schedulers).
  void count_step() { ++step_count_; }

 private:
  std::string type_name_;
  Options defaults_;
  std::vector<std::string> required_;
  std::vector<ParamGroup> groups_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
  int64_t step_count_ = 0;
};

/// Wraps a flat parameter list as the single group PyTorch makes of it.
std::vector<ParamGroup> single_group(std::vector<Tensor> params);

/// A state entry of the expected kind; throws a named error when absent or of another kind.
template <class T>
T& state_get(ParamState& state, std::string_view key) {
  auto it = state.find(key);
  TD_CHECK(it != state.end(), ErrorCode::kNotFound, "[optim] parameter state has no '", key, "'");
  T* v = std::get_if<T>(&it->second);
  TD_CHECK(v, ErrorCode::kInvalidArgument, "[optim] parameter state '", key, "' has another type");
  return *v;
}

/// A state entry of the expected kind, default-made (an undefined tensor, 0) when absent.
template <class T>
T& state_get_or(ParamState& state, std::string_view key) {
  auto it = state.find(key);
  if (it == state.end()) it = state.emplace(std::string(key), T{}).first;
  T* v = std::get_if<T>(&it->second);
  TD_CHECK(v, ErrorCode::kInvalidArgument, "[optim] parameter state '", key, "' has another type");
  return *v;
}

}  // namespace td::optim
