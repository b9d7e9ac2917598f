// nn::Module: registration, traversal, state_dict, printing, and the hook machinery around call().
//
// Full backward hooks follow torch.utils.hooks.BackwardHook: the inputs pass through one identity node
// (BackwardHookFunctionBackward) before forward and the outputs through another after it. The outputs' node
// sees grad_output first (backward pre-hooks may replace it); the inputs' node then has every grad_input at
// once, calls the hooks with both, and passes on what they leave. With no input requiring grad the hooks run
// from the outputs' node with undefined grad_inputs, and may not replace them.
#include "core/nn/module.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/profiler/hooks.h"
#include "core/tensor_impl.h"

namespace td::nn {

namespace {

template <class Hook>
std::shared_ptr<ModuleHookList<Hook>> new_list() {
  return std::make_shared<ModuleHookList<Hook>>();
}

template <class Hook>
HookHandle add_hook(const std::shared_ptr<ModuleHookList<Hook>>& list, Hook hook, std::mutex* mu = nullptr) {
  std::unique_lock<std::mutex> lock;
  if (mu) lock = std::unique_lock<std::mutex>(*mu);
  const uint64_t id = list->next_id++;
  list->hooks.emplace_back(id, std::move(hook));
  std::weak_ptr<ModuleHookList<Hook>> weak = list;
  return HookHandle([weak, id, mu] {
    std::unique_lock<std::mutex> relock;
    if (mu) relock = std::unique_lock<std::mutex>(*mu);
    if (auto l = weak.lock()) l->hooks.remove_if([id](const auto& h) { return h.first == id; });
  });
}

// The global hooks (shared by every module and thread; registering is locked, calls run on snapshots).
struct GlobalHooks {
  std::mutex mu;
  std::shared_ptr<ModuleHookList<ForwardPreHook>> forward_pre = new_list<ForwardPreHook>();
  std::shared_ptr<ModuleHookList<ForwardHook>> forward = new_list<ForwardHook>();
  std::shared_ptr<ModuleHookList<BackwardHook>> backward = new_list<BackwardHook>();
  std::shared_ptr<ModuleHookList<BackwardPreHook>> backward_pre = new_list<BackwardPreHook>();
};
GlobalHooks& global_hooks() {
  static GlobalHooks hooks;
  return hooks;
}

// The hooks of one call, global ones first, copied so that a hook may remove hooks while they run.
template <class Hook>
std::vector<Hook> snapshot(const ModuleHookList<Hook>& global, const ModuleHookList<Hook>& own) {
  std::vector<Hook> out;
  {
    std::lock_guard<std::mutex> lock(global_hooks().mu);
    for (const auto& [id, h] : global.hooks) out.push_back(h);
  }
  for (const auto& [id, h] : own.hooks) out.push_back(h);
  return out;
}

// An identity over several tensors whose backward hands the gradients to a callback (PyTorch's
// BackwardHookFunction).
struct BackwardHookNode : autograd::Node {
  std::function<TensorList(TensorList&&)> fn;
  std::string name() const override { return "BackwardHookFunctionBackward"; }
  TensorList apply(TensorList&& grads) override { return fn(std::move(grads)); }
};

// Routes the tensors that require grad through a new BackwardHookNode; the others pass unchanged. Returns the
// node, or null when no tensor requires grad.
std::shared_ptr<BackwardHookNode> route_through_node(TensorList& tensors) {
  bool any = false;
  for (const Tensor& t : tensors) any = any || (t.defined() && t.requires_grad());
  if (!any) return nullptr;
  auto node = std::make_shared<BackwardHookNode>();
  for (size_t i = 0; i < tensors.size(); ++i) {
    Tensor& t = tensors[i];
    node->next_edges.push_back(t.defined() ? autograd::gradient_edge(t) : autograd::Edge{});
    node->output_meta.push_back(t.defined() ? autograd::TensorMeta::of(t) : autograd::TensorMeta{});
    if (t.defined() && t.requires_grad()) {
      Tensor alias = t.detach();
      autograd::set_history(alias, node, static_cast<uint32_t>(i));
      t = alias;
    }
  }
  return node;
}

void assign_data(Tensor& t, const Tensor& value) {
  TensorImpl& dst = t.impl();
  const TensorImpl& src = value.impl();
  dst.storage = src.storage;
  dst.sizes = src.sizes;
  dst.strides = src.strides;
  dst.offset = src.offset;
  dst.dtype = src.dtype;
}

std::string join_quoted(const std::vector<std::string>& keys) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? ", \"" : "\"") + keys[i] + "\"";
  return out;
}

// PyTorch's _addindent: every line after the first indented by n spaces.
std::string add_indent(const std::string& s, int n) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out += std::string(static_cast<size_t>(n), ' ');
  }
  return out;
}

std::string torch_size(const Tensor& t) {
  std::string s = "torch.Size([";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "])";
}

}  // namespace

Module::Module(std::string type_name)
    : type_name_(std::move(type_name)),
      forward_pre_hooks_(new_list<ForwardPreHook>()),
      forward_hooks_(new_list<ForwardHook>()),
      backward_hooks_(new_list<BackwardHook>()),
      backward_pre_hooks_(new_list<BackwardPreHook>()) {}

Module::~Module() = default;

// The state one call of a module with backward hooks shares between its two nodes.
struct BackwardHookCall {
  std::shared_ptr<Module> keep_alive;  // null when the module is not owned by a shared_ptr
  Module* module = nullptr;
  std::vector<BackwardHook> hooks;
  std::vector<BackwardPreHook> pre_hooks;
  size_t n_inputs = 0;
  bool inputs_routed = false;
  TensorList grad_outputs;

  void run_hooks_without_inputs() {
    for (const auto& hook : hooks) {
      TensorList grad_input(n_inputs);
      hook(*module, grad_input, grad_outputs);
      for (const Tensor& g : grad_input) {
        TD_CHECK(!g.defined(), ErrorCode::kInvalidArgument, "[", module->type_name(),
                 "] Backward hook for Modules where no input requires gradient should always return None or None "
                 "for all gradients.");
      }
    }
  }

  TensorList on_grad_inputs(TensorList&& grad_input) {
    for (const auto& hook : hooks) {
      TensorList replaced = grad_input;
      hook(*module, replaced, grad_outputs);
      TD_CHECK_ARG(replaced.size() == n_inputs, "[", module->type_name(),
                   "] Backward hook returned an invalid number of grad_input, got ", replaced.size(),
                   ", but expected ", n_inputs);
      for (size_t i = 0; i < n_inputs; ++i) {
        if (!replaced[i].defined() || !grad_input[i].defined()) continue;
        TD_CHECK_ARG(replaced[i].shape() == grad_input[i].shape(), "[", module->type_name(),
                     "] Backward hook returned a grad_input of shape ", shape_str(replaced[i].shape()),
                     " for an input of shape ", shape_str(grad_input[i].shape()));
      }
      grad_input = std::move(replaced);
    }
    grad_outputs.clear();
    return std::move(grad_input);
  }

  TensorList on_grad_outputs(TensorList&& grads) {
    grad_outputs = std::move(grads);
    for (const auto& hook : pre_hooks) hook(*module, grad_outputs);
    TensorList pass = grad_outputs;
    if (!inputs_routed) {
      run_hooks_without_inputs();
      grad_outputs.clear();
    }
    return pass;
  }
};

std::shared_ptr<BackwardHookScope> BackwardHookScope::begin(Module& module, TensorList& inputs) {
  if (!autograd::GradMode::is_enabled()) return nullptr;
  GlobalHooks& global = global_hooks();
  auto hooks = snapshot(*global.backward, *module.backward_hooks_);
  auto pre_hooks = snapshot(*global.backward_pre, *module.backward_pre_hooks_);
  if (hooks.empty() && pre_hooks.empty()) return nullptr;
  auto bw = std::make_shared<BackwardHookCall>();
  bw->keep_alive = module.weak_from_this().lock();
  bw->module = &module;
  bw->hooks = std::move(hooks);
  bw->pre_hooks = std::move(pre_hooks);
  bw->n_inputs = inputs.size();
  if (auto node = route_through_node(inputs)) {
    bw->inputs_routed = true;
    node->fn = [bw](TensorList&& g) { return bw->on_grad_inputs(std::move(g)); };
  }
  auto scope = std::make_shared<BackwardHookScope>();
  scope->call_ = std::move(bw);
  return scope;
}

void BackwardHookScope::end(TensorList& outputs) {
  if (auto node = route_through_node(outputs)) {
    node->fn = [bw = call_](TensorList&& g) { return bw->on_grad_outputs(std::move(g)); };
  }
}

namespace {
// While anomaly mode is on, keeps this call on the thread's module stack (autograd::anomaly_module_stack),
// named as the profiler names it: by its parent's named_children.
class AnomalyModuleCall {
 public:
  explicit AnomalyModuleCall(const Module& module) {
    auto& stack = autograd::anomaly_module_stack();
    std::string path;
    if (!stack.empty()) {
      const auto* parent = static_cast<const Module*>(stack.back().module);
      std::string name = module.type_name();
      for (const auto& [child_name, child] : parent->named_children()) {
        if (child.get() == &module) {
          name = child_name;
          break;
        }
      }
      path = stack.back().path.empty() ? name : stack.back().path + "." + name;
    }
    stack.push_back({&module, std::move(path), module.type_name()});
  }
  ~AnomalyModuleCall() { autograd::anomaly_module_stack().pop_back(); }
  AnomalyModuleCall(const AnomalyModuleCall&) = delete;
  AnomalyModuleCall& operator=(const AnomalyModuleCall&) = delete;
};
}  // namespace

TensorList Module::call(TensorList inputs) {
  std::optional<profiler::detail::ModuleScope> profiled;
  if (profiler::detail::recording()) [[unlikely]] profiled.emplace(*this);
  std::optional<AnomalyModuleCall> anomaly;
  if (autograd::AnomalyMode::is_enabled()) [[unlikely]] anomaly.emplace(*this);
  GlobalHooks& global = global_hooks();
  for (const auto& hook : snapshot(*global.forward_pre, *forward_pre_hooks_)) hook(*this, inputs);
  std::shared_ptr<BackwardHookScope> bw = BackwardHookScope::begin(*this, inputs);
  TensorList outputs = forward_list(inputs);
  for (const auto& hook : snapshot(*global.forward, *forward_hooks_)) hook(*this, inputs, outputs);
  if (bw) bw->end(outputs);
  return outputs;
}

Tensor Module::operator()(const Tensor& input) {
  TensorList out = call({input});
  TD_CHECK_ARG(out.size() == 1, "[", type_name_, "] returned ", out.size(),
               " outputs; use call() for modules with several outputs");
  return out[0];
}

TensorList Module::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(inputs.size() == 1, "[", type_name_, "] forward() takes 1 input but ", inputs.size(),
               " were given");
  return {forward(inputs[0])};
}

Tensor Module::forward(const Tensor&) {
  throw Error(ErrorCode::kUnimplemented, str("[", type_name_, "] Module is missing the required \"forward\" function"));
}

void Module::check_new_name(const std::string& kind, const std::string& name) const {
  TD_CHECK_ARG(!name.empty(), "[", type_name_, "] ", kind, " name can't be empty string \"\"");
  TD_CHECK_ARG(name.find('.') == std::string::npos, "[", type_name_, "] ", kind, " name can't contain \".\", got: ",
               name);
  auto has = [&](const auto& v) {
    return std::any_of(v.begin(), v.end(), [&](const auto& e) { return e.first == name; });
  };
  TD_CHECK_ARG(!has(params_) && !has(buffers_) && !has(children_), "[", type_name_, "] attribute '", name,
               "' already exists");
}

Tensor& Module::register_parameter(const std::string& name, Tensor param, bool requires_grad) {
  check_new_name("parameter", name);
  if (param.defined()) {
    TD_CHECK_ARG(param.is_leaf(), "[", type_name_, "] Cannot assign non-leaf Tensor to parameter '", name,
                 "'. Model parameters must be created explicitly; compute them from other tensors in forward.");
    param.requires_grad_(requires_grad);
  }
  params_.emplace_back(name, std::move(param));
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor buffer, bool persistent) {
  check_new_name("buffer", name);
  if (!persistent) non_persistent_.push_back(name);
  buffers_.emplace_back(name, std::move(buffer));
  return buffers_.back().second;
}

void Module::replace_module(const std::string& name, std::shared_ptr<Module> module) {
  TD_CHECK_ARG(module != nullptr, "[", type_name_, "] replace_module('", name, "') got a null module");
  for (auto& [child_name, child] : children_) {
    if (child_name == name) {
      child = std::move(module);
      return;
    }
  }
  TD_CHECK(false, ErrorCode::kNotFound, "[", type_name_, "] no submodule named '", name, "' to replace");
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name("module", name);
  TD_CHECK_ARG(module != nullptr, "[", type_name_, "] register_module('", name, "') got a null module");
  children_.emplace_back(name, std::move(module));
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(const std::string& prefix, bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> seen;  // a parameter shared by two modules is listed once
  auto visit = [&](const Module& m, const std::string& pre, auto&& self) -> void {
    for (const auto& [name, t] : m.params_) {
      if (!t.defined() || !seen.insert(&t.impl()).second) continue;
      out.emplace_back(pre + name, t);
    }
    if (!recurse) return;
    for (const auto& [name, child] : m.children_) self(*child, pre + name + ".", self);
  };
  visit(*this, prefix.empty() ? "" : prefix + ".", visit);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters("", recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(const std::string& prefix, bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  auto visit = [&](const Module& m, const std::string& pre, auto&& self) -> void {
    for (const auto& [name, t] : m.buffers_) {
      if (t.defined()) out.emplace_back(pre + name, t);
    }
    if (!recurse) return;
    for (const auto& [name, child] : m.children_) self(*child, pre + name + ".", self);
  };
  visit(*this, prefix.empty() ? "" : prefix + ".", visit);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers("", recurse)) out.push_back(t);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [name, child] : children_) out.push_back(child);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module*>> out;
  std::unordered_set<const Module*> seen;  // a module reachable twice is listed once
  auto visit = [&](Module& m, const std::string& name, auto&& self) -> void {
    if (!seen.insert(&m).second) return;
    out.emplace_back(name, &m);
    for (const auto& [child_name, child] : m.children_) {
      self(*child, name.empty() ? child_name : name + "." + child_name, self);
    }
  };
  visit(*this, prefix, visit);
  return out;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out;
  for (auto& [name, m] : named_modules()) out.push_back(m);
  return out;
}

Module& Module::get_submodule(const std::string& dotted_name) {
  Module* m = this;
  std::string path;
  std::istringstream parts(dotted_name);
  for (std::string part; std::getline(parts, part, '.');) {
    auto it = std::find_if(m->children_.begin(), m->children_.end(), [&](const auto& c) { return c.first == part; });
    TD_CHECK(it != m->children_.end(), ErrorCode::kNotFound, "[", type_name_, "] ", m->type_name_,
             (path.empty() ? "" : " " + path), " has no attribute `", part, "`");
    path += (path.empty() ? "" : ".") + part;
    m = it->second.get();
  }
  return *m;
}

Tensor& Module::get_tensor(const std::string& dotted_name) {
  const size_t dot = dotted_name.rfind('.');
  Module& owner = dot == std::string::npos ? *this : get_submodule(dotted_name.substr(0, dot));
  const std::string leaf = dot == std::string::npos ? dotted_name : dotted_name.substr(dot + 1);
  for (auto* list : {&owner.params_, &owner.buffers_}) {
    for (auto& [name, t] : *list) {
      if (name == leaf) return t;
    }
  }
  throw Error(ErrorCode::kNotFound, str("[", type_name_, "] no parameter or buffer named '", dotted_name, "'"));
}

Module& Module::train(bool mode) {
  for (Module* m : modules()) m->training_ = mode;
  return *this;
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      autograd::NoGradGuard no_grad;
      p.set_grad(g.detach().zero_());
    }
  }
}

void Module::convert(const std::function<Tensor(const Tensor&)>& fn) {
  autograd::NoGradGuard no_grad;
  for (Module* m : modules()) {
    for (auto* list : {&m->params_, &m->buffers_}) {
      for (auto& [name, t] : *list) {
        if (!t.defined()) continue;
        Tensor moved = fn(t);
        if (!moved.is_same(t)) assign_data(t, moved);
        if (Tensor g = t.grad(); g.defined()) t.set_grad(fn(g));
      }
    }
  }
}

Module& Module::to(const Device& device) {
  convert([&](const Tensor& t) { return t.to(device.str()); });
  return *this;
}

Module& Module::to(DType dtype) {
  convert([&](const Tensor& t) { return is_floating(t.dtype()) || is_complex(t.dtype()) ? t.to(dtype) : t; });
  return *this;
}

Module& Module::to(const Device& device, DType dtype) {
  to(device);
  return to(dtype);
}

StateDict Module::state_entries() const {
  StateDict out;
  auto visit = [&](const Module& m, const std::string& pre, auto&& self) -> void {
    for (const auto& [name, t] : m.params_) {
      if (t.defined()) out.emplace_back(pre + name, t);
    }
    for (const auto& [name, t] : m.buffers_) {
      const bool persistent = std::find(m.non_persistent_.begin(), m.non_persistent_.end(), name) ==
                              m.non_persistent_.end();
      if (t.defined() && persistent) out.emplace_back(pre + name, t);
    }
    for (const auto& [name, child] : m.children_) self(*child, pre + name + ".", self);
  };
  visit(*this, "", visit);
  return out;
}

StateDict Module::state_dict() const {
  StateDict out = state_entries();
  for (auto& [name, t] : out) t = t.detach();
  return out;
}

IncompatibleKeys Module::load_state_dict(const StateDict& state, bool strict) {
  std::unordered_map<std::string, const Tensor*> given;
  for (const auto& [name, t] : state) given.emplace(name, &t);
  IncompatibleKeys result;
  std::vector<std::string> size_errors;
  std::unordered_set<std::string> known;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  for (const auto& [name, current] : state_entries()) {
    known.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      result.missing_keys.push_back(name);
      continue;
    }
    const Tensor& src = *it->second;
    if (src.shape() != current.shape()) {
      size_errors.push_back(str("size mismatch for ", name, ": copying a param with shape ", torch_size(src),
                                " from checkpoint, the shape in current model is ", torch_size(current), "."));
      continue;
    }
    copies.emplace_back(current, &src);
  }
  for (const auto& [name, t] : state) {
    if (!known.count(name)) result.unexpected_keys.push_back(name);
  }
  std::vector<std::string> errors;
  if (strict && !result.missing_keys.empty()) {
    errors.push_back("Missing key(s) in state_dict: " + join_quoted(result.missing_keys) + ". ");
  }
  if (strict && !result.unexpected_keys.empty()) {
    errors.push_back("Unexpected key(s) in state_dict: " + join_quoted(result.unexpected_keys) + ". ");
  }
  errors.insert(errors.end(), size_errors.begin(), size_errors.end());
  if (!errors.empty()) {
    std::string message = "[load_state_dict] Error(s) in loading state_dict for " + type_name_ + ":";
    for (const auto& e : errors) message += "\n\t" + e;
    throw Error(ErrorCode::kInvalidArgument, message);
  }
  // The registered handles share their TensorImpl with the user's: copying into them reaches both.
  autograd::NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.detach().copy_(*src);
  return result;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  for (const auto& [name, child] : children_) child->apply(fn);
  fn(*this);
  return *this;
}

std::string Module::repr() const {
  std::vector<std::string> lines;
  const std::string extra = extra_repr();
  size_t extra_lines = 0;
  if (!extra.empty()) {
    std::istringstream in(extra);
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
      ++extra_lines;
    }
  }
  for (const auto& [name, child] : children_) lines.push_back("(" + name + "): " + add_indent(child->repr(), 2));
  std::string out = type_name_ + "(";
  if (extra_lines == 1 && children_.empty()) {
    out += lines[0];
  } else if (!lines.empty()) {
    out += "\n";
    for (const auto& line : lines) out += "  " + line + "\n";
  }
  return out + ")";
}

HookHandle Module::register_forward_pre_hook(ForwardPreHook hook) { return add_hook(forward_pre_hooks_, std::move(hook)); }
HookHandle Module::register_forward_hook(ForwardHook hook) { return add_hook(forward_hooks_, std::move(hook)); }
HookHandle Module::register_full_backward_hook(BackwardHook hook) {
  return add_hook(backward_hooks_, std::move(hook));
}
HookHandle Module::register_full_backward_pre_hook(BackwardPreHook hook) {
  return add_hook(backward_pre_hooks_, std::move(hook));
}

HookHandle register_module_forward_pre_hook(ForwardPreHook hook) {
  return add_hook(global_hooks().forward_pre, std::move(hook), &global_hooks().mu);
}
HookHandle register_module_forward_hook(ForwardHook hook) {
  return add_hook(global_hooks().forward, std::move(hook), &global_hooks().mu);
}
HookHandle register_module_full_backward_hook(BackwardHook hook) {
  return add_hook(global_hooks().backward, std::move(hook), &global_hooks().mu);
}
HookHandle register_module_full_backward_pre_hook(BackwardPreHook hook) {
  return add_hook(global_hooks().backward_pre, std::move(hook), &global_hooks().mu);
}

}  // namespace td::nn
