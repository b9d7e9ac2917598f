// td::remote::nn and td::remote::optim over the session stream: every call is one pipelined command; only
// describing a layer (its parameter names, once) and reading an optimizer's lr wait for the server.
#include "client/remote_nn.h"

#include <algorithm>
#include <fstream>

#include <sstream>

#include "client/remote_internal.h"

namespace td::remote::nn {

namespace pb = ::tensord::v1;

namespace {
void encode_kwargs(const Kwargs& kwargs, google::protobuf::RepeatedPtrField<pb::NamedValue>* out) {
  for (const auto& [name, value] : kwargs) {
    auto* nv = out->Add();
    nv->set_name(name);
    internal::encode_value(value, nv->mutable_value());
  }
}

std::string indent(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\n' ? std::string("\n  ") : std::string(1, c);
  return out;
}
}  // namespace

// ---- Module ----

Tensor Module::forward(const Tensor&) {
  throw Error(ErrorCode::kUnimplemented, str("[", type_name_, "] Module is missing the required \"forward\" function"));
}

std::vector<Tensor> Module::call(const std::vector<Tensor>& inputs) {
  TD_CHECK_ARG(inputs.size() == 1, "[", type_name_, "] forward() takes 1 input but ", inputs.size(), " were given");
  return {forward(inputs[0])};
}

namespace {
// A hook's returned list replaces `list` entry by entry (an undefined entry keeps its tensor).
void apply_replacement(const std::string& type, const char* what, std::vector<Tensor>& list,
                       const std::optional<std::vector<Tensor>>& replacement) {
  if (!replacement) return;
  TD_CHECK_ARG(replacement->size() == list.size(), "[", type, "] a ", what, " hook returned ", replacement->size(),
               " tensors for ", list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    if ((*replacement)[i].defined()) list[i] = (*replacement)[i];
  }
}
}  // namespace

std::vector<Tensor> Module::operator()(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> in = inputs;
  // Copies: a hook may remove itself or register another.
  const auto pre = hooks_->pre;
  for (const auto& [id, hook] : pre) apply_replacement(type_name_, "forward pre-", in, hook(in, {}));
  // Backward hooks: the server routes the inputs, then the outputs, through the stand-in's hook nodes
  // around the forward that runs here.
  SessionState* session = nullptr;
  uint64_t scope = 0;
  auto route = [&](pb::ModuleHookScopeCommand::Action action, std::vector<Tensor>& tensors) {
    pb::Command cmd;
    auto* c = cmd.mutable_module_hook_scope();
    c->set_module(hooks_->stand_in->id());
    c->set_action(action);
    c->set_scope(scope);
    std::vector<Tensor> routed;
    for (const Tensor& t : tensors) {
      c->add_tensors(t.handle());
      const uint64_t h = internal::new_handle(*session);
      c->add_outputs(h);
      routed.push_back(internal::tensor_of(*session, h));
    }
    internal::push(*session, std::move(cmd));
    tensors = std::move(routed);
  };
  if (!hooks_->backward.empty() && !in.empty() &&
      std::all_of(in.begin(), in.end(), [](const Tensor& t) { return t.defined(); })) {
    session = &in[0].state();
    attach_backward_hooks(*session);
    scope = internal::new_handle(*session);
    route(pb::ModuleHookScopeCommand::ENTER, in);
  }
  std::vector<Tensor> out = call(in);
  const auto post = hooks_->post;
  for (const auto& [id, hook] : post) apply_replacement(type_name_, "forward", out, hook(in, out));
  if (session && std::all_of(out.begin(), out.end(), [](const Tensor& t) { return t.defined(); })) {
    route(pb::ModuleHookScopeCommand::EXIT, out);
  }
  return out;
}

RemoteHookHandle Module::register_full_backward_hook(RemoteModuleHook hook, bool blocking) {
  return add_backward_hook(false, std::move(hook), blocking);
}

RemoteHookHandle Module::register_full_backward_pre_hook(RemoteModuleHook hook, bool blocking) {
  return add_backward_hook(true, std::move(hook), blocking);
}

RemoteHookHandle Module::add_backward_hook(bool pre, RemoteModuleHook hook, bool blocking) {
  const uint64_t id = hooks_->next++;
  hooks_->backward.push_back(BackwardHook{id, pre, std::move(hook), blocking, {}});
  return RemoteHookHandle([weak = std::weak_ptr<LocalHooks>(hooks_), id] {
    auto h = weak.lock();
    if (!h) return;
    for (auto& entry : h->backward) {
      if (entry.id == id) entry.on_stand_in.remove();
    }
    std::erase_if(h->backward, [&](const BackwardHook& e) { return e.id == id; });
  });
}

void Module::attach_backward_hooks(SessionState& session) {
  if (!hooks_->stand_in) hooks_->stand_in = std::make_shared<Layer>(session, "Identity");
  for (BackwardHook& entry : hooks_->backward) {
    if (entry.registered) continue;
    entry.on_stand_in = entry.pre ? hooks_->stand_in->register_full_backward_pre_hook(entry.hook, entry.blocking)
                                  : hooks_->stand_in->register_full_backward_hook(entry.hook, entry.blocking);
    entry.registered = true;
  }
}

RemoteHookHandle Module::register_forward_pre_hook(RemoteModuleHook hook, bool) {
  const uint64_t id = hooks_->next++;
  hooks_->pre.emplace_back(id, std::move(hook));
  return RemoteHookHandle([weak = std::weak_ptr<LocalHooks>(hooks_), id] {
    if (auto h = weak.lock()) std::erase_if(h->pre, [&](const auto& e) { return e.first == id; });
  });
}

RemoteHookHandle Module::register_forward_hook(RemoteModuleHook hook, bool) {
  const uint64_t id = hooks_->next++;
  hooks_->post.emplace_back(id, std::move(hook));
  return RemoteHookHandle([weak = std::weak_ptr<LocalHooks>(hooks_), id] {
    if (auto h = weak.lock()) std::erase_if(h->post, [&](const auto& e) { return e.first == id; });
  });
}

Tensor Module::operator()(const Tensor& input) {
  std::vector<Tensor> out = (*this)(std::vector<Tensor>{input});
  TD_CHECK_ARG(out.size() == 1, "[", type_name_, "] returned ", out.size(), " outputs; use call()");
  return out[0];
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, child] : children_) {
    auto sub = child->named_parameters(prefix + name + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<Tensor> Module::parameters() {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::state_dict(const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, child] : children_) {
    auto sub = child->state_dict(prefix + name + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

void Module::load_state_dict(const std::vector<std::pair<std::string, Tensor>>& state, bool strict) {
  std::vector<std::string> used;
  for (const auto& [name, child] : children_) {
    const std::string prefix = name + ".";
    std::vector<std::pair<std::string, Tensor>> sub;
    for (const auto& [key, t] : state) {
      if (key.rfind(prefix, 0) == 0) {
        sub.emplace_back(key.substr(prefix.size()), t);
        used.push_back(key);
      }
    }
    child->load_state_dict(sub, strict);
  }
  if (strict) {
    for (const auto& [key, t] : state) {
      TD_CHECK_ARG(std::find(used.begin(), used.end(), key) != used.end(), "[", type_name_,
                   "] Error(s) in loading state_dict: Unexpected key(s) in state_dict: \"", key, "\".");
    }
  }
}

void Module::train(bool mode) {
  training_ = mode;
  for (const auto& [name, child] : children_) child->train(mode);
}

std::string Module::repr() {
  if (children_.empty()) return type_name_ + "()";
  std::string s = type_name_ + "(";
  for (const auto& [name, child] : children_) s += "\n  (" + name + "): " + indent(child->repr());
  return s + "\n)";
}

// ---- Layer ----

Layer::Layer(Session& session, const std::string& type, std::vector<Value> args, const Kwargs& kwargs)
    : Layer(session.state(), type, std::move(args), kwargs) {}

Layer::Layer(SessionState& session, const std::string& type, std::vector<Value> args, const Kwargs& kwargs)
    : Module(type), state_(&session), weak_(internal::weak_of(session)), id_(internal::new_handle(session)) {
  pb::Command cmd;
  auto* c = cmd.mutable_create_module();
  c->set_module(id_);
  c->set_type(type);
  for (const Value& v : args) internal::encode_value(v, c->add_args());
  encode_kwargs(kwargs, c->mutable_kwargs());
  internal::push(*state_, std::move(cmd));
  for (const auto& [k, v] : kwargs) {
    if (k == "return_indices" && std::holds_alternative<Scalar>(v) && std::get<Scalar>(v).to_int() != 0) outputs_ = 2;
  }
}

Layer::~Layer() {
  if (auto s = weak_.lock()) {
    pb::Command cmd;
    cmd.mutable_release_module()->set_module(id_);
    internal::push(*s, std::move(cmd));
  }
}

std::vector<Tensor> Layer::call(const std::vector<Tensor>& inputs) {
  pb::Command cmd;
  auto* c = cmd.mutable_call_module();
  c->set_module(id_);
  for (const Tensor& t : inputs) c->add_inputs(t.handle());
  std::vector<Tensor> out;
  for (size_t i = 0; i < outputs_; ++i) {
    const uint64_t h = internal::new_handle(*state_);
    c->add_outputs(h);
    out.push_back(internal::tensor_of(*state_, h));
  }
  internal::push(*state_, std::move(cmd));
  return out;
}

const Layer::Description& Layer::describe() {
  if (!description_) {
    pb::ServerMessage m = internal::request(*state_, [&](pb::Command& cmd, uint64_t id) {
      cmd.mutable_describe_module()->set_module(id_);
      cmd.mutable_describe_module()->set_request_id(id);
    });
    const auto& info = m.module_info();
    description_ = Description{info.repr(), {info.parameters().begin(), info.parameters().end()},
                               {info.buffers().begin(), info.buffers().end()}};
  }
  return *description_;
}

Tensor Layer::tensor_named(const std::string& name) {
  for (const auto& [n, t] : tensors_) {
    if (n == name) return t;
  }
  const uint64_t h = internal::new_handle(*state_);
  pb::Command cmd;
  cmd.mutable_module_tensor()->set_module(id_);
  cmd.mutable_module_tensor()->set_name(name);
  cmd.mutable_module_tensor()->set_output(h);
  internal::push(*state_, std::move(cmd));
  Tensor t = internal::tensor_of(*state_, h);
  tensors_.emplace_back(name, t);
  return t;
}

std::vector<std::pair<std::string, Tensor>> Layer::named_parameters(const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const std::string& name : describe().parameters) out.emplace_back(prefix + name, tensor_named(name));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Layer::state_dict(const std::string& prefix) {
  auto out = named_parameters(prefix);
  for (const std::string& name : describe().buffers) out.emplace_back(prefix + name, tensor_named(name));
  return out;
}

void Layer::load_state_dict(const std::vector<std::pair<std::string, Tensor>>& state, bool strict) {
  pb::Command cmd;
  auto* c = cmd.mutable_load_state_dict();
  c->set_module(id_);
  c->set_strict(strict);
  for (const auto& [name, t] : state) {
    c->add_names(name);
    c->add_tensors(t.handle());
  }
  internal::push(*state_, std::move(cmd));
}

void Layer::train(bool mode) {
  training_ = mode;
  pb::Command cmd;
  cmd.mutable_module_train()->set_module(id_);
  cmd.mutable_module_train()->set_mode(mode);
  internal::push(*state_, std::move(cmd));
}

std::string Layer::repr() { return describe().repr; }

RemoteHookHandle Layer::add_hook(int kind, RemoteModuleHook hook, bool blocking) {
  const uint64_t hook_id = internal::add_module_hook(*state_, std::move(hook));
  pb::Command cmd;
  auto* c = cmd.mutable_register_module_hook();
  c->set_hook_id(hook_id);
  c->set_module(id_);
  c->set_kind(static_cast<pb::ModuleHookKind>(kind));
  c->set_mode(blocking ? pb::HOOK_MODE_BLOCKING : pb::HOOK_MODE_OBSERVE);
  internal::push(*state_, std::move(cmd));
  return RemoteHookHandle(weak_, hook_id);
}
RemoteHookHandle Layer::register_forward_pre_hook(RemoteModuleHook hook, bool blocking) {
  return add_hook(pb::MODULE_HOOK_FORWARD_PRE, std::move(hook), blocking);
}
RemoteHookHandle Layer::register_forward_hook(RemoteModuleHook hook, bool blocking) {
  return add_hook(pb::MODULE_HOOK_FORWARD, std::move(hook), blocking);
}
RemoteHookHandle Layer::register_full_backward_hook(RemoteModuleHook hook, bool blocking) {
  return add_hook(pb::MODULE_HOOK_FULL_BACKWARD, std::move(hook), blocking);
}
RemoteHookHandle Layer::register_full_backward_pre_hook(RemoteModuleHook hook, bool blocking) {
  return add_hook(pb::MODULE_HOOK_FULL_BACKWARD_PRE, std::move(hook), blocking);
}

std::shared_ptr<Layer> layer(Session& session, const std::string& type, std::vector<Value> args, const Kwargs& kwargs) {
  return std::make_shared<Layer>(session, type, std::move(args), kwargs);
}

// ---- Sequential ----

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) : Module("Sequential") {
  for (size_t i = 0; i < modules.size(); ++i) register_module(std::to_string(i), modules[i]);
}

std::vector<Tensor> Sequential::call(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> x = inputs;
  for (const auto& [name, m] : named_children()) x = (*m)(x);
  return x;
}

}  // namespace td::remote::nn

namespace td::remote::optim {

namespace pb = ::tensord::v1;

Optimizer::Optimizer(Session& session, const std::string& type, const std::vector<Tensor>& params,
                     const Kwargs& defaults)
    : state_(&session.state()), weak_(internal::weak_of(session.state())), id_(internal::new_handle(session.state())) {
  pb::Command cmd;
  auto* c = cmd.mutable_create_optimizer();
  c->set_optimizer(id_);
  c->set_type(type);
  auto* group = c->add_groups();
  for (const Tensor& p : params) group->add_params(p.handle());
  for (const auto& [name, value] : defaults) {
    auto* nv = c->add_defaults();
    nv->set_name(name);
    internal::encode_value(value, nv->mutable_value());
  }
  internal::push(*state_, std::move(cmd));
}

Optimizer::~Optimizer() {
  if (auto s = weak_.lock()) {
    pb::Command cmd;
    cmd.mutable_release_optimizer()->set_optimizer(id_);
    internal::push(*s, std::move(cmd));
  }
}

void Optimizer::step() {
  pb::Command cmd;
  cmd.mutable_optimizer_step()->set_optimizer(id_);
  internal::push(*state_, std::move(cmd));
}

void Optimizer::zero_grad(bool set_to_none) {
  pb::Command cmd;
  cmd.mutable_zero_grad()->set_optimizer(id_);
  cmd.mutable_zero_grad()->set_set_to_none(set_to_none);
  internal::push(*state_, std::move(cmd));
}

namespace {
pb::OptimizerInfo describe(SessionState& s, uint64_t id) {
  return internal::request(s, [&](pb::Command& cmd, uint64_t request) {
           cmd.mutable_describe_optimizer()->set_optimizer(id);
           cmd.mutable_describe_optimizer()->set_request_id(request);
         })
      .optimizer_info();
}
}  // namespace

std::vector<double> Optimizer::lr() {
  auto info = describe(*state_, id_);
  return {info.lr().begin(), info.lr().end()};
}

int64_t Optimizer::steps() { return describe(*state_, id_).steps(); }

LRScheduler::LRScheduler(Optimizer& optimizer, const std::string& type, const Kwargs& kwargs)
    : state_(&optimizer.state()), id_(internal::new_handle(optimizer.state())) {
  pb::Command cmd;
  auto* c = cmd.mutable_create_scheduler();
  c->set_scheduler(id_);
  c->set_optimizer(optimizer.id());
  c->set_type(type);
  for (const auto& [name, value] : kwargs) {
    auto* nv = c->add_kwargs();
    nv->set_name(name);
    internal::encode_value(value, nv->mutable_value());
  }
  internal::push(*state_, std::move(cmd));
}

void LRScheduler::step() {
  pb::Command cmd;
  cmd.mutable_scheduler_step()->set_scheduler(id_);
  internal::push(*state_, std::move(cmd));
}

}  // namespace td::remote::optim

namespace td::remote {

namespace pb = ::tensord::v1;

namespace {

// A client-side module's server-held layers, each under its dotted name.
void add_layers(nn::Module& m, const std::string& name, pb::CheckpointCommand& c) {
  if (auto* layer = dynamic_cast<nn::Layer*>(&m)) {
    auto* e = c.add_entries();
    e->set_name(name);
    e->set_module(layer->id());
    return;
  }
  for (const auto& [child, module] : m.named_children()) add_layers(*module, name + "." + child, c);
}

void checkpoint_request(Session& session, pb::CheckpointCommand::Action action, const std::string& path,
                        const Checkpoint& parts, bool strict) {
  internal::request_done(session.state(), [&](pb::Command& cmd, uint64_t request_id) {
    auto* c = cmd.mutable_checkpoint();
    c->set_action(action);
    c->set_path(path);
    c->set_request_id(request_id);
    c->set_strict(strict);
    for (const auto& [name, m] : parts.modules) add_layers(*m, name, *c);
    for (const auto& [name, o] : parts.optimizers) {
      auto* e = c->add_entries();
      e->set_name(name);
      e->set_optimizer(o->id());
    }
    for (const auto& [name, sch] : parts.schedulers) {
      auto* e = c->add_entries();
      e->set_name(name);
      e->set_scheduler(sch->id());
    }
  });
}

}  // namespace

void save_checkpoint(Session& session, const std::string& path, const Checkpoint& parts) {
  checkpoint_request(session, pb::CheckpointCommand::CHECKPOINT_SAVE, path, parts, true);
}

void load_checkpoint(Session& session, const std::string& path, const Checkpoint& parts, bool strict) {
  checkpoint_request(session, pb::CheckpointCommand::CHECKPOINT_LOAD, path, parts, strict);
}

void download_checkpoint(Session& session, const std::string& path, const std::string& local_file) {
  const uint64_t h = internal::new_handle(session.state());
  pb::Command cmd;
  cmd.mutable_checkpoint()->set_action(pb::CheckpointCommand::CHECKPOINT_READ);
  cmd.mutable_checkpoint()->set_path(path);
  cmd.mutable_checkpoint()->set_output(h);
  internal::push(session.state(), std::move(cmd));
  const HostTensor bytes = internal::tensor_of(session.state(), h).fetch();
  std::ofstream out(local_file, std::ios::binary);
  out.write(bytes.bytes.data(), static_cast<std::streamsize>(bytes.bytes.size()));
  TD_CHECK(out.good(), ErrorCode::kInvalidArgument, "[checkpoint] cannot write '", local_file, "'");
}

void upload_checkpoint(Session& session, const std::string& local_file, const std::string& path) {
  std::ifstream in(local_file, std::ios::binary);
  TD_CHECK(in.good(), ErrorCode::kNotFound, "[checkpoint] cannot read '", local_file, "'");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Tensor t = session.from_bytes(bytes.data(), bytes.size(), DType::kUInt8, {static_cast<int64_t>(bytes.size())}, false);
  internal::request_done(session.state(), [&](pb::Command& cmd, uint64_t request_id) {
    cmd.mutable_checkpoint()->set_action(pb::CheckpointCommand::CHECKPOINT_WRITE);
    cmd.mutable_checkpoint()->set_path(path);
    cmd.mutable_checkpoint()->set_tensor(t.handle());
    cmd.mutable_checkpoint()->set_request_id(request_id);
  });
}

}  // namespace td::remote
