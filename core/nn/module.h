// td::nn::Module: parameters, buffers and submodules with PyTorch's names, state_dict, printing, and the
// module hooks (forward-pre, forward, full-backward and backward-pre, per module and global), which wrap every
// call of a module as torch.nn.Module.__call__ does (DESIGN.md invariant 4).
//
//   struct Net : td::nn::Module {
//     Net() : Module("Net") { fc = register_module("fc", std::make_shared<td::nn::Linear>(4, 2)); }
//     td::Tensor forward(const td::Tensor& x) override { return (*fc)(x).relu(); }
//     std::shared_ptr<td::nn::Linear> fc;
//   };
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace td::nn {

class Module;
using TensorList = std::vector<Tensor>;

/// Runs before forward with the inputs; may replace them by assigning to `inputs`.
using ForwardPreHook = std::function<void(Module& module, TensorList& inputs)>;
/// Runs after forward with the inputs and outputs; may replace the outputs by assigning to `outputs`.
using ForwardHook = std::function<void(Module& module, const TensorList& inputs, TensorList& outputs)>;
/// Runs when the gradients w.r.t. the module's inputs are computed (undefined where an input needs none); may
/// replace them by assigning to `grad_input` (same length).
using BackwardHook = std::function<void(Module& module, TensorList& grad_input, const TensorList& grad_output)>;
/// Runs when the gradients w.r.t. the module's outputs are computed, before they flow into the module; may
/// replace them.
using BackwardPreHook = std::function<void(Module& module, TensorList& grad_output)>;

/// Named tensors in registration order (PyTorch's OrderedDict state_dict).
using StateDict = std::vector<std::pair<std::string, Tensor>>;

/// The most layers a stacked module (RNN, LSTM, GRU, TransformerEncoder) may have. PyTorch has no bound and
/// runs out of memory instead; a server must refuse first, since a layer's bookkeeping is not tensor memory
/// and so escapes the memory limits.
inline constexpr int64_t kMaxStackedLayers = int64_t{1} << 16;

/// What load_state_dict(strict=false) did not match (torch's _IncompatibleKeys).
struct IncompatibleKeys {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

/// Hooks with ids, in registration order; shared so a HookHandle outlives its owner safely.
template <class Hook>
struct ModuleHookList {
  std::list<std::pair<uint64_t, Hook>> hooks;
  uint64_t next_id = 0;
};

/// Base class of every layer and model (torch.nn.Module). Create modules with std::make_shared: backward hooks
/// keep the module alive until they have run, as PyTorch's do.
class BackwardHookScope;

class Module : public std::enable_shared_from_this<Module> {
 public:
  /// `type_name` is the class name shown by repr() and in error messages ("Linear", "CNN").
  explicit Module(std::string type_name = "Module");
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- calling ----
  /// Module.__call__: global then own forward pre-hooks, forward, global then own forward hooks; with any
  /// full backward (pre-)hooks, inputs and outputs pass through BackwardHookFunctionBackward nodes.
  TensorList call(TensorList inputs);
  /// call() with one input, for modules with one output.
  Tensor operator()(const Tensor& input);
  /// The computation of a module with several inputs or outputs; by default forward(inputs[0]).
  virtual TensorList forward_list(const TensorList& inputs);
  /// The computation of a module with one input and one output.
  virtual Tensor forward(const Tensor& input);

  /// The class name ("Linear").
  const std::string& type_name() const { return type_name_; }

  // ---- registration ----
  /// Adds a parameter (a leaf that requires grad unless requires_grad is false); returns the stored handle.
  Tensor& register_parameter(const std::string& name, Tensor param, bool requires_grad = true);
  /// Puts `module` in place of the submodule registered as `name`, keeping its position (libtorch's
  /// replace_module; Python's setattr of an existing child); throws NOT_FOUND if there is none.
  void replace_module(const std::string& name, std::shared_ptr<Module> module);
  /// Adds a buffer (running statistics and such); non-persistent buffers stay out of the state_dict.
  Tensor& register_buffer(const std::string& name, Tensor buffer, bool persistent = true);
  /// Adds a submodule under `name` and returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- traversal (PyTorch's order: own entries first, then each child's, depth first) ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(const std::string& prefix = "",
                                                                bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(const std::string& prefix = "", bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  /// This module and every submodule, each once.
  std::vector<Module*> modules();
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "");
  /// The parameter, buffer or submodule's tensor at a dotted path ("features.0.weight"); throws if absent.
  Tensor& get_tensor(const std::string& dotted_name);
  /// The submodule at a dotted path ("features.0"); throws if absent.
  Module& get_submodule(const std::string& dotted_name);

  // ---- state ----
  /// Sets training mode here and in every submodule (Dropout, BatchNorm read it).
  Module& train(bool mode = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }
  /// Clears the .grad of every parameter (set_to_none, PyTorch 2's default) or zeroes it in place.
  void zero_grad(bool set_to_none = true);
  /// Moves and/or converts every parameter and buffer in place: handles held elsewhere see the change, as
  /// with PyTorch's param.data = ...; floating tensors only take `dtype`.
  Module& to(const Device& device);
  Module& to(DType dtype);
  Module& to(const Device& device, DType dtype);
  /// Parameters and persistent buffers by dotted name, detached.
  StateDict state_dict() const;
  /// Copies tensors from `state` into the parameters and buffers of the same names. Shape mismatches always
  /// fail; with strict, so do missing and unexpected keys, with PyTorch's message.
  IncompatibleKeys load_state_dict(const StateDict& state, bool strict = true);
  /// Calls fn on every submodule, then on this module (Module.apply).
  Module& apply(const std::function<void(Module&)>& fn);

  // ---- printing ----
  /// PyTorch's repr: "Net(\n  (fc): Linear(in_features=4, out_features=2, bias=True)\n)".
  std::string repr() const;
  /// The module's own settings for repr ("in_features=4, out_features=2, bias=True").
  virtual std::string extra_repr() const { return ""; }

  // ---- hooks ----
  HookHandle register_forward_pre_hook(ForwardPreHook hook);
  HookHandle register_forward_hook(ForwardHook hook);
  HookHandle register_full_backward_hook(BackwardHook hook);
  HookHandle register_full_backward_pre_hook(BackwardPreHook hook);

 private:
  friend class BackwardHookScope;  // reads the backward hook lists
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& kind, const std::string& name) const;
  void convert(const std::function<Tensor(const Tensor&)>& fn);
  /// Parameters and persistent buffers by dotted name, as the registered handles (state_dict detaches them).
  StateDict state_entries() const;

  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::string> non_persistent_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::shared_ptr<ModuleHookList<ForwardPreHook>> forward_pre_hooks_;
  std::shared_ptr<ModuleHookList<ForwardHook>> forward_hooks_;
  std::shared_ptr<ModuleHookList<BackwardHook>> backward_hooks_;
  std::shared_ptr<ModuleHookList<BackwardPreHook>> backward_pre_hooks_;
};

struct BackwardHookCall;

/// The full backward hooks of one call of a module (torch.utils.hooks.BackwardHook), in two steps around a
/// forward: begin() routes the inputs through the node that will see grad_input, end() the outputs through
/// the node that sees grad_output; the module's hooks (global ones first) then fire as PyTorch fires them.
/// Module::call uses it; so does the server for a client's composite module, whose forward runs on the
/// client between the two.
class BackwardHookScope {
 public:
  /// Null when grad mode is off or the module (and the global list) has no backward or backward pre-hooks;
  /// else the inputs that require grad are replaced by their routed aliases.
  static std::shared_ptr<BackwardHookScope> begin(Module& module, TensorList& inputs);
  /// Replaces the outputs that require grad by their routed aliases.
  void end(TensorList& outputs);

 private:
  std::shared_ptr<BackwardHookCall> call_;
};

/// Hooks run around every module's call, before each module's own (torch.nn.modules.module's
/// register_module_forward_pre_hook / _forward_hook / _full_backward_hook / _full_backward_pre_hook).
HookHandle register_module_forward_pre_hook(ForwardPreHook hook);
HookHandle register_module_forward_hook(ForwardHook hook);
HookHandle register_module_full_backward_hook(BackwardHook hook);
HookHandle register_module_full_backward_pre_hook(BackwardPreHook hook);

}  // namespace td::nn
