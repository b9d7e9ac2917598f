// td::remote::nn and td::remote::optim: modules, optimizers and lr schedulers held by the server session,
// driven from the client with PyTorch's names. A remote layer is created by class name and arguments
// (nn::create_module on the server); the client composes layers in its own Module classes whose forward
// issues remote ops, as one writes an nn.Module in PyTorch:
//
//   struct CNN : td::remote::nn::Module {
//     CNN(td::remote::Session& s) : Module("CNN") {
//       features = register_module("features", std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
//           layer(s, "Conv2d", {1, 32, 3, 1, 1}), layer(s, "ReLU"), layer(s, "MaxPool2d", {2, 2}), ...}));
//     }
//     Tensor forward(const Tensor& x) override { ... (*features)[0](x) ... }
//   };
//   td::remote::optim::Optimizer opt(s, "SGD", model.parameters(), {{"lr", 0.05}, {"momentum", 0.9}});
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/remote.h"

namespace td::remote::nn {

/// Keyword arguments by name (`padding=1` is {"padding", 1}).
using Kwargs = std::vector<std::pair<std::string, Value>>;

class Layer;

/// A client-side module (nn.Module): children in registration order, the parameters they hold, train/eval,
/// state_dict. Subclasses define forward in remote ops and layers.
class Module {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The computation of a module with one input and one output.
  virtual Tensor forward(const Tensor& input);
  /// The computation with several inputs or outputs; by default forward(inputs[0]).
  virtual std::vector<Tensor> call(const std::vector<Tensor>& inputs);
  /// Runs the module as nn.Module.__call__ does: forward pre-hooks, call(), forward hooks.
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs);
  Tensor operator()(const Tensor& input);

  /// Hooks around this module's call, run here on the client, where a composite module's forward runs (see
  /// RemoteModuleHook for what each sees and may replace; `blocking` does not apply: they run inline). A
  /// Layer's run where the server runs the layer (Layer's overrides).
  virtual RemoteHookHandle register_forward_pre_hook(RemoteModuleHook hook, bool blocking = true);
  virtual RemoteHookHandle register_forward_hook(RemoteModuleHook hook, bool blocking = true);
  /// Full backward hooks and backward pre-hooks. A composite module's run on the server, through a stand-in
  /// layer whose hook nodes the server puts around the forward run here (PyTorch's BackwardHook, as for a
  /// layer), so they see the module's grad_input and grad_output and may replace them.
  virtual RemoteHookHandle register_full_backward_hook(RemoteModuleHook hook, bool blocking = true);
  virtual RemoteHookHandle register_full_backward_pre_hook(RemoteModuleHook hook, bool blocking = true);

  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }

  /// Parameters by dotted name, this module's then each child's, as PyTorch lists them.
  virtual std::vector<std::pair<std::string, Tensor>> named_parameters(const std::string& prefix = "");
  std::vector<Tensor> parameters();
  /// Parameters and buffers by dotted name (the tensors themselves; fetch() downloads them).
  virtual std::vector<std::pair<std::string, Tensor>> state_dict(const std::string& prefix = "");
  /// Copies tensors (remote ones, uploaded first where needed) into the parameters and buffers of the same
  /// names; strict refuses missing and unexpected names.
  virtual void load_state_dict(const std::vector<std::pair<std::string, Tensor>>& state, bool strict = true);
  /// Training mode here and in every child.
  virtual void train(bool mode = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  const std::string& type_name() const { return type_name_; }
  /// PyTorch's repr, with each server-held layer's own.
  virtual std::string repr();

 protected:
  bool training_ = true;

 private:
  std::string type_name_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  struct BackwardHook {
    uint64_t id;
    bool pre;  // a backward pre-hook
    RemoteModuleHook hook;
    bool blocking;
    RemoteHookHandle on_stand_in;  // once registered on the stand-in
    bool registered = false;
  };
  struct LocalHooks {
    uint64_t next = 1;
    std::vector<std::pair<uint64_t, RemoteModuleHook>> pre, post;  // in registration order
    std::vector<BackwardHook> backward;
    std::shared_ptr<Layer> stand_in;  // made at the first call with backward hooks, in that call's session
  };
  RemoteHookHandle add_backward_hook(bool pre, RemoteModuleHook hook, bool blocking);
  /// Registers the backward hooks on the stand-in (made in `session` first if need be).
  void attach_backward_hooks(SessionState& session);
  std::shared_ptr<LocalHooks> hooks_ = std::make_shared<LocalHooks>();  // handles hold it weakly
};

/// A module held by the server: torch.nn.<type>(*args, **kwargs) there.
class Layer : public Module {
 public:
  Layer(Session& session, const std::string& type, std::vector<Value> args = {}, const Kwargs& kwargs = {});
  Layer(SessionState& session, const std::string& type, std::vector<Value> args = {}, const Kwargs& kwargs = {});
  ~Layer() override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs) override;
  Tensor forward(const Tensor& input) override { return call({input}).at(0); }
  std::vector<std::pair<std::string, Tensor>> named_parameters(const std::string& prefix = "") override;
  std::vector<std::pair<std::string, Tensor>> state_dict(const std::string& prefix = "") override;
  void load_state_dict(const std::vector<std::pair<std::string, Tensor>>& state, bool strict = true) override;
  void train(bool mode = true) override;
  std::string repr() override;
  /// How many outputs call() returns (2 for a pooling layer with return_indices).
  void set_outputs(size_t n) { outputs_ = n; }
  /// The server's id for it.
  uint64_t id() const { return id_; }
  /// Module hooks that run here, on the client, when the server-held module fires them (see
  /// RemoteModuleHook for what each sees and may replace). Blocking hooks hold the server until they return
  /// and may issue ops and read values; observe-only ones cannot replace anything.
  RemoteHookHandle register_forward_pre_hook(RemoteModuleHook hook, bool blocking = true) override;
  RemoteHookHandle register_forward_hook(RemoteModuleHook hook, bool blocking = true) override;
  RemoteHookHandle register_full_backward_hook(RemoteModuleHook hook, bool blocking = true) override;
  RemoteHookHandle register_full_backward_pre_hook(RemoteModuleHook hook, bool blocking = true) override;

 private:
  struct Description {
    std::string repr;
    std::vector<std::string> parameters, buffers;
  };
  const Description& describe();
  Tensor tensor_named(const std::string& name);
  RemoteHookHandle add_hook(int kind, RemoteModuleHook hook, bool blocking);

  SessionState* state_;
  std::weak_ptr<SessionState> weak_;
  uint64_t id_;
  size_t outputs_ = 1;
  std::optional<Description> description_;
  std::vector<std::pair<std::string, Tensor>> tensors_;  // by name, fetched once (they alias the server's)
};

/// A server-held layer, as nn.Conv2d(1, 32, 3, padding=1) is layer(s, "Conv2d", {1, 32, 3}, {{"padding", 1}}).
std::shared_ptr<Layer> layer(Session& session, const std::string& type, std::vector<Value> args = {},
                             const Kwargs& kwargs = {});

/// Children called in order (nn.Sequential), indexable as features[0](x).
class Sequential : public Module {
 public:
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  std::vector<Tensor> call(const std::vector<Tensor>& inputs) override;
  Module& operator[](size_t i) const { return *named_children().at(i).second; }
  size_t size() const { return named_children().size(); }
};

}  // namespace td::remote::nn

namespace td::remote::optim {

using Kwargs = nn::Kwargs;

/// A server-held optimizer: torch.optim.<type>(params, **defaults). step() and zero_grad() are single
/// pipelined commands.
class Optimizer {
 public:
  Optimizer(Session& session, const std::string& type, const std::vector<Tensor>& params, const Kwargs& defaults = {});
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  void step();
  /// Clears gradients; set_to_none as PyTorch 1.13's default, false.
  void zero_grad(bool set_to_none = false);
  /// The learning rate of each parameter group (a sync point).
  std::vector<double> lr();
  /// How many steps have run (a sync point).
  int64_t steps();
  uint64_t id() const { return id_; }
  SessionState& state() const { return *state_; }

 private:
  SessionState* state_;
  std::weak_ptr<SessionState> weak_;
  uint64_t id_;
};

/// A server-held lr scheduler: torch.optim.lr_scheduler.<type>(optimizer, **kwargs).
class LRScheduler {
 public:
  LRScheduler(Optimizer& optimizer, const std::string& type, const Kwargs& kwargs = {});
  void step();
  uint64_t id() const { return id_; }

 private:
  SessionState* state_;
  uint64_t id_;
};

}  // namespace td::remote::optim

namespace td::remote {

/// What a checkpoint holds, each part under a name, as torch.save({"model": model.state_dict(),
/// "optimizer": opt.state_dict()}, path). A client-side module stands for its server-held layers
/// ("model.features.0.weight", ...).
struct Checkpoint {
  std::vector<std::pair<std::string, nn::Module*>> modules;
  std::vector<std::pair<std::string, optim::Optimizer*>> optimizers;
  std::vector<std::pair<std::string, optim::LRScheduler*>> schedulers;
};

/// Saves the parts' state as a safetensors file at `path` in the user's folder of the server's data
/// directory (paths are relative to it; the server refuses any that leads out). A sync point.
void save_checkpoint(Session& session, const std::string& path, const Checkpoint& parts);
/// Loads the parts' state from `path` (strict: each module's missing and unexpected keys refused). A sync point.
void load_checkpoint(Session& session, const std::string& path, const Checkpoint& parts, bool strict = true);
/// Copies the server's checkpoint file at `path` to `local_file` on this machine.
void download_checkpoint(Session& session, const std::string& path, const std::string& local_file);
/// Copies `local_file` to `path` on the server (which refuses a file that is not a safetensors checkpoint).
void upload_checkpoint(Session& session, const std::string& local_file, const std::string& path);

}  // namespace td::remote
