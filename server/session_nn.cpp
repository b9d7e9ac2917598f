// The session's server-held modules, optimizers and lr schedulers: each command builds or drives one
// through the core's factories (nn::create_module, optim::create_optimizer, optim::create_scheduler), so
// every layer, optimizer and scheduler of the core is reachable with no per-class code here.
#include "core/nn/factory.h"
#include "core/nn/module.h"
#include "core/optim/factory.h"
#include "core/optim/lr_scheduler.h"
#include "core/optim/optimizer.h"
#include "core/serialize.h"
#include "server/checkpoint.h"
#include "server/session.h"

#include <filesystem>
#include <fstream>

namespace td::server {

namespace {
std::vector<std::pair<std::string, Value>> kwargs_of(
    const google::protobuf::RepeatedPtrField<pb::NamedValue>& named,
    const std::function<Value(const pb::Value&, size_t)>& decode) {
  std::vector<std::pair<std::string, Value>> out;
  for (int i = 0; i < named.size(); ++i) out.emplace_back(named[i].name(), decode(named[i].value(), static_cast<size_t>(i)));
  return out;
}
}  // namespace

nn::Module& Session::module_at(uint64_t id, std::string_view command) {
  auto it = modules_.find(id);
  TD_CHECK(it != modules_.end(), ErrorCode::kNotFound, "[", command, "] no module ", id, " in this session");
  return *it->second;
}

optim::Optimizer& Session::optimizer_at(uint64_t id, std::string_view command) {
  auto it = optimizers_.find(id);
  TD_CHECK(it != optimizers_.end(), ErrorCode::kNotFound, "[", command, "] no optimizer ", id, " in this session");
  return *it->second;
}

void Session::run_nn(const pb::Command& cmd) {
  switch (cmd.kind_case()) {
    case pb::Command::kCreateModule: create_module(cmd.create_module()); break;
    case pb::Command::kCallModule: call_module(cmd.call_module()); break;
    case pb::Command::kModuleTensor: {
      const auto& c = cmd.module_tensor();
      bind_output(c.output(), module_at(c.module(), "module_tensor").get_tensor(c.name()), "module_tensor");
      break;
    }
    case pb::Command::kModuleTrain: module_at(cmd.module_train().module(), "module_train").train(cmd.module_train().mode()); break;
    case pb::Command::kDescribeModule: describe_module(cmd.describe_module()); break;
    case pb::Command::kLoadStateDict: load_state_dict(cmd.load_state_dict()); break;
    case pb::Command::kReleaseModule:
      modules_.erase(cmd.release_module().module());
      module_specs_.erase(cmd.release_module().module());
      break;
    case pb::Command::kCreateOptimizer: create_optimizer(cmd.create_optimizer()); break;
    case pb::Command::kOptimizerStep: optimizer_at(cmd.optimizer_step().optimizer(), "optimizer_step").step(); break;
    case pb::Command::kZeroGrad:
      optimizer_at(cmd.zero_grad().optimizer(), "zero_grad").zero_grad(cmd.zero_grad().set_to_none());
      break;
    case pb::Command::kCreateScheduler: create_scheduler(cmd.create_scheduler()); break;
    case pb::Command::kSchedulerStep: {
      auto it = schedulers_.find(cmd.scheduler_step().scheduler());
      TD_CHECK(it != schedulers_.end(), ErrorCode::kNotFound, "[scheduler_step] no lr scheduler ",
               cmd.scheduler_step().scheduler(), " in this session");
      it->second.scheduler->step();
      break;
    }
    case pb::Command::kDescribeOptimizer: {
      const auto& c = cmd.describe_optimizer();
      optim::Optimizer& opt = optimizer_at(c.optimizer(), "describe_optimizer");
      pb::ServerMessage m;
      auto* info = m.mutable_optimizer_info();
      info->set_request_id(c.request_id());
      for (const auto& g : opt.param_groups()) info->add_lr(g.number("lr"));
      info->set_steps(opt.step_count());
      send(m);
      break;
    }
    case pb::Command::kReleaseOptimizer: {
      auto it = optimizers_.find(cmd.release_optimizer().optimizer());
      if (it == optimizers_.end()) break;
      std::erase_if(schedulers_, [&](const auto& entry) { return entry.second.optimizer == it->second; });
      optimizer_specs_.erase(it->first);
      optimizers_.erase(it);
      break;
    }
    default: break;
  }
}

void Session::create_module(const pb::CreateModuleCommand& c) {
  TD_CHECK_ARG(!modules_.count(c.module()), "[create_module] module id ", c.module(), " is already in use");
  auto decode_arg = [&](const pb::Value& v, size_t i) { return decode(v, c.type(), i); };
  MadeWith spec{c.type(), {}, kwargs_of(c.kwargs(), decode_arg), {}};
  for (int i = 0; i < c.args_size(); ++i) spec.args.push_back(decode_arg(c.args(i), static_cast<size_t>(i)));
  modules_.emplace(c.module(), make_module(spec));
  module_specs_.emplace(c.module(), std::move(spec));
}

std::shared_ptr<nn::Module> Session::make_module(const MadeWith& spec) {
  std::shared_ptr<nn::Module> m = nn::create_module(spec.type, spec.args, spec.kwargs);
  // Parameters and buffers live on the session's device, as tensors the client uploads do by default.
  if (!options_.device.is_cpu()) m->to(options_.device);
  return m;
}

void Session::call_module(const pb::CallModuleCommand& c) {
  nn::Module& m = module_at(c.module(), "call_module");
  nn::TensorList inputs;
  for (int i = 0; i < c.inputs_size(); ++i) inputs.push_back(resolve(c.inputs(i), m.type_name(), "input", false, i));
  nn::TensorList outs = m.call(std::move(inputs));
  TD_CHECK_ARG(static_cast<size_t>(c.outputs_size()) == outs.size(), "[", m.type_name(), "] returns ", outs.size(),
               " tensors but ", c.outputs_size(), " output handles were given");
  for (size_t i = 0; i < outs.size(); ++i) bind_output(c.outputs(static_cast<int>(i)), std::move(outs[i]), m.type_name());
}

void Session::describe_module(const pb::DescribeModuleCommand& c) {
  nn::Module& m = module_at(c.module(), "describe_module");
  pb::ServerMessage msg;
  auto* info = msg.mutable_module_info();
  info->set_request_id(c.request_id());
  info->set_repr(m.repr());
  for (const auto& [name, t] : m.named_parameters()) info->add_parameters(name);
  for (const auto& [name, t] : m.state_dict()) {
    bool is_param = false;
    for (const auto& p : info->parameters()) is_param = is_param || p == name;
    if (!is_param) info->add_buffers(name);
  }
  info->set_training(m.is_training());
  send(msg);
}

void Session::load_state_dict(const pb::LoadStateDictCommand& c) {
  nn::Module& m = module_at(c.module(), "load_state_dict");
  TD_CHECK_ARG(c.names_size() == c.tensors_size(), "[load_state_dict] ", c.names_size(), " names but ",
               c.tensors_size(), " tensors");
  nn::StateDict state;
  for (int i = 0; i < c.names_size(); ++i) state.emplace_back(c.names(i), resolve(c.tensors(i), "load_state_dict", c.names(i)));
  m.load_state_dict(state, c.strict());
}

void Session::create_optimizer(const pb::CreateOptimizerCommand& c) {
  TD_CHECK_ARG(!optimizers_.count(c.optimizer()), "[create_optimizer] optimizer id ", c.optimizer(),
               " is already in use");
  auto decode_arg = [&](const pb::Value& v, size_t i) { return decode(v, c.type(), i); };
  MadeWith spec{c.type(), {}, kwargs_of(c.defaults(), decode_arg), {}};
  std::vector<std::vector<Tensor>> params;
  for (const auto& g : c.groups()) {
    params.emplace_back();
    for (uint64_t h : g.params()) params.back().push_back(resolve(h, c.type(), "a parameter"));
    spec.group_options.push_back(kwargs_of(g.options(), decode_arg));
  }
  add_optimizer(c.optimizer(), std::move(spec), std::move(params));
}

void Session::add_optimizer(uint64_t id, MadeWith spec, std::vector<std::vector<Tensor>> params) {
  std::vector<optim::GroupSpec> groups;
  for (size_t i = 0; i < params.size(); ++i) groups.push_back({std::move(params[i]), spec.group_options.at(i)});
  optimizers_.emplace(id, optim::create_optimizer(spec.type, std::move(groups), spec.kwargs));
  optimizer_specs_.emplace(id, std::move(spec));
}

void Session::create_scheduler(const pb::CreateSchedulerCommand& c) {
  TD_CHECK_ARG(!schedulers_.count(c.scheduler()), "[create_scheduler] scheduler id ", c.scheduler(), " is already in use");
  optimizer_at(c.optimizer(), "create_scheduler");
  auto decode_arg = [&](const pb::Value& v, size_t i) { return decode(v, c.type(), i); };
  add_scheduler(c.scheduler(), c.optimizer(), MadeWith{c.type(), {}, kwargs_of(c.kwargs(), decode_arg), {}});
}

void Session::add_scheduler(uint64_t id, uint64_t optimizer, MadeWith spec) {
  std::shared_ptr<optim::Optimizer> opt = optimizers_.at(optimizer);
  std::shared_ptr<optim::LRScheduler> sched = optim::create_scheduler(spec.type, *opt, spec.kwargs);
  schedulers_.emplace(id, SchedulerSlot{std::move(opt), std::move(sched), optimizer, std::move(spec)});
}

}  // namespace td::server

namespace td::server {

void Session::register_module_hook(const pb::RegisterModuleHookCommand& cmd) {
  nn::Module& m = module_at(cmd.module(), "register_module_hook");
  TD_CHECK(!hooks_.contains(cmd.hook_id()), ErrorCode::kAlreadyExists, "[register_module_hook] hook id ",
           cmd.hook_id(), " is already registered");
  const uint64_t id = cmd.hook_id();
  const pb::HookMode mode = cmd.mode();
  // Hooks live in the module (and, for backward hooks, in graphs) that may outlive the session: hold it weakly.
  std::weak_ptr<Session> weak = weak_from_this();
  HookHandle handle;
  switch (cmd.kind()) {
    case pb::MODULE_HOOK_FORWARD_PRE:
      handle = m.register_forward_pre_hook([weak, id, mode](nn::Module&, nn::TensorList& inputs) {
        if (auto self = weak.lock()) self->on_module_hook(id, pb::MODULE_HOOK_FORWARD_PRE, mode, inputs, {}, &inputs);
      });
      break;
    case pb::MODULE_HOOK_FORWARD:
      handle = m.register_forward_hook([weak, id, mode](nn::Module&, const nn::TensorList& in, nn::TensorList& out) {
        if (auto self = weak.lock()) self->on_module_hook(id, pb::MODULE_HOOK_FORWARD, mode, in, out, &out);
      });
      break;
    case pb::MODULE_HOOK_FULL_BACKWARD:
      handle = m.register_full_backward_hook(
          [weak, id, mode](nn::Module&, nn::TensorList& grad_input, const nn::TensorList& grad_output) {
            if (auto self = weak.lock()) {
              self->on_module_hook(id, pb::MODULE_HOOK_FULL_BACKWARD, mode, grad_input, grad_output, &grad_input);
            }
          });
      break;
    case pb::MODULE_HOOK_FULL_BACKWARD_PRE:
      handle = m.register_full_backward_pre_hook([weak, id, mode](nn::Module&, nn::TensorList& grad_output) {
        if (auto self = weak.lock()) {
          self->on_module_hook(id, pb::MODULE_HOOK_FULL_BACKWARD_PRE, mode, {}, grad_output, &grad_output);
        }
      });
      break;
    default:
      throw Error(ErrorCode::kInvalidArgument, str("[register_module_hook] unknown hook kind ", static_cast<int>(cmd.kind())));
  }
  pb::Command spec;
  *spec.mutable_register_module_hook() = cmd;
  hooks_.emplace(id, Hook{std::move(handle), mode, std::make_shared<const pb::Command>(std::move(spec)), {}});
}

void Session::module_hook_scope(const pb::ModuleHookScopeCommand& c) {
  const char* what = c.action() == pb::ModuleHookScopeCommand::ENTER ? "module_hook_scope enter" : "module_hook_scope exit";
  nn::Module& m = module_at(c.module(), what);
  TD_CHECK_ARG(c.tensors_size() == c.outputs_size(), "[", what, "] ", c.tensors_size(), " tensors but ",
               c.outputs_size(), " output handles");
  nn::TensorList tensors;
  for (int i = 0; i < c.tensors_size(); ++i) tensors.push_back(resolve(c.tensors(i), what, "tensor", false, i));
  if (c.action() == pb::ModuleHookScopeCommand::ENTER) {
    TD_CHECK_ARG(!hook_scopes_.contains(c.scope()), "[", what, "] scope ", c.scope(), " is already open");
    if (auto scope = nn::BackwardHookScope::begin(m, tensors)) hook_scopes_.emplace(c.scope(), std::move(scope));
  } else if (auto it = hook_scopes_.find(c.scope()); it != hook_scopes_.end()) {
    it->second->end(tensors);
    hook_scopes_.erase(it);
  }
  for (int i = 0; i < c.outputs_size(); ++i) bind_output(c.outputs(i), tensors[static_cast<size_t>(i)], what);
}

void Session::on_module_hook(uint64_t hook_id, pb::ModuleHookKind kind, pb::HookMode mode, const TensorList& inputs,
                             const TensorList& outputs, TensorList* replace) {
  const bool backward = kind == pb::MODULE_HOOK_FULL_BACKWARD || kind == pb::MODULE_HOOK_FULL_BACKWARD_PRE;
  const char* what = backward ? "backward" : "forward";
  pb::ServerMessage m;
  auto* ev = m.mutable_module_hook();
  const uint64_t event_id = next_event_++;
  ev->set_event_id(event_id);
  ev->set_hook_id(hook_id);
  ev->set_kind(kind);
  ev->set_mode(mode);
  std::vector<uint64_t> temporaries;
  auto bind = [&](const Tensor& t) -> uint64_t {
    if (!t.defined()) return 0;
    const uint64_t h = next_server_handle_++;
    // Forward tensors stay in the graph, so what the client computes from them is differentiable;
    // gradients are detached, as a tensor hook's.
    handles_.insert_or_assign(h, backward ? t.detach() : t);
    temporaries.push_back(h);
    return h;
  };
  for (const Tensor& t : inputs) ev->add_inputs(bind(t));
  for (const Tensor& t : outputs) ev->add_outputs(bind(t));
  send(m);
  if (observer_) observer_->on_hook_event("module", mode != pb::HOOK_MODE_OBSERVE);
  if (mode == pb::HOOK_MODE_OBSERVE) return;
  HookReplyValue reply = wait_hook_reply(event_id, hook_id, what, temporaries);
  if (reply.replacements.empty()) return;
  TD_CHECK_ARG(reply.replacements.size() == replace->size(), "[", what, "] module hook ", hook_id, " replied with ",
               reply.replacements.size(), " tensors for a list of ", replace->size());
  for (size_t i = 0; i < reply.replacements.size(); ++i) {
    if (reply.replacements[i] != 0) (*replace)[i] = resolve(reply.replacements[i], "hook_reply", "replacement");
  }
}

void Session::checkpoint(const pb::Command& cmd) {
  using A = pb::CheckpointCommand;
  const pb::CheckpointCommand& c = cmd.checkpoint();
  auto done = [&] {
    pb::ServerMessage m;
    m.mutable_done()->set_request_id(c.request_id());
    m.mutable_done()->set_seq(cmd.seq());
    send(m);
  };
  // Written next to the target and renamed over it, so a failed write never leaves half a checkpoint.
  auto write_atomically = [](const std::filesystem::path& file, const auto& write) {
    const std::filesystem::path tmp = file.string() + ".tmp";
    write(tmp.string());
    std::filesystem::rename(tmp, file);
  };
  auto scheduler_at = [&](uint64_t id) -> optim::LRScheduler& {
    auto it = schedulers_.find(id);
    TD_CHECK(it != schedulers_.end(), ErrorCode::kNotFound, "[checkpoint] no scheduler ", id);
    return *it->second.scheduler;
  };
  switch (c.action()) {
    case A::CHECKPOINT_SAVE: {
      const auto file = checkpoint_file(options_.data_dir, options_.user, c.path(), /*create=*/true);
      NamedTensors tensors;
      std::map<std::string, std::string> metadata{{"format", "tensord checkpoint 1"}};
      for (const auto& e : c.entries()) {
        TD_CHECK_ARG(!e.name().empty(), "[checkpoint] every entry needs a name");
        switch (e.target_case()) {
          case pb::CheckpointEntry::kModule:
            for (const auto& [key, t] : module_at(e.module(), "checkpoint").state_dict()) {
              tensors.emplace_back(e.name() + "." + key, t);
            }
            break;
          case pb::CheckpointEntry::kOptimizer:
            save_optimizer(optimizer_at(e.optimizer(), "checkpoint"), e.name(), tensors, metadata);
            break;
          case pb::CheckpointEntry::kScheduler: save_scheduler(scheduler_at(e.scheduler()), e.name(), metadata); break;
          default: throw Error(ErrorCode::kInvalidArgument, str("[checkpoint] entry '", e.name(), "' names nothing"));
        }
      }
      write_atomically(file, [&](const std::string& tmp) { td::save(tensors, tmp, metadata); });
      done();
      break;
    }
    case A::CHECKPOINT_LOAD: {
      const std::string file = checkpoint_file(options_.data_dir, options_.user, c.path(), false).string();
      const NamedTensors loaded = td::load(file, options_.device);
      const std::map<std::string, std::string> metadata = load_metadata(file);
      const std::map<std::string, Tensor> by_name(loaded.begin(), loaded.end());
      for (const auto& e : c.entries()) {
        switch (e.target_case()) {
          case pb::CheckpointEntry::kModule: {
            nn::StateDict state;
            const std::string prefix = e.name() + ".";
            for (const auto& [key, t] : loaded) {
              if (key.starts_with(prefix)) state.emplace_back(key.substr(prefix.size()), t);
            }
            module_at(e.module(), "checkpoint").load_state_dict(state, c.strict());
            break;
          }
          case pb::CheckpointEntry::kOptimizer:
            load_optimizer(optimizer_at(e.optimizer(), "checkpoint"), e.name(), by_name, metadata);
            break;
          case pb::CheckpointEntry::kScheduler: load_scheduler(scheduler_at(e.scheduler()), e.name(), metadata); break;
          default: throw Error(ErrorCode::kInvalidArgument, str("[checkpoint] entry '", e.name(), "' names nothing"));
        }
      }
      done();
      break;
    }
    case A::CHECKPOINT_READ: {
      const auto file = checkpoint_file(options_.data_dir, options_.user, c.path(), false);
      std::ifstream in(file, std::ios::binary);
      TD_CHECK(in.good(), ErrorCode::kNotFound, "[checkpoint] no checkpoint '", c.path(), "'");
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      bind_output(c.output(),
                  from_buffer(bytes.data(), {static_cast<int64_t>(bytes.size())}, DType::kUInt8, kCPU), "checkpoint");
      break;
    }
    case A::CHECKPOINT_WRITE: {
      const Tensor& t = resolve(c.tensor(), "checkpoint", "bytes");
      TD_CHECK_ARG(t.dtype() == DType::kUInt8 && t.dim() == 1, "[checkpoint] an upload is a 1-d uint8 tensor, got ",
                   dtype_name(t.dtype()), " of shape ", shape_str(t.shape()));
      const Tensor host = t.to("cpu").contiguous();
      const auto file = checkpoint_file(options_.data_dir, options_.user, c.path(), true);
      write_atomically(file, [&](const std::string& tmp) {
        std::ofstream out(tmp, std::ios::binary);
        out.write(static_cast<const char*>(host.data_ptr()), static_cast<std::streamsize>(host.nbytes()));
        TD_CHECK(out.good(), ErrorCode::kInternal, "[checkpoint] writing '", c.path(), "' failed");
      });
      // It must be a checkpoint this server can load: a malformed upload is refused and removed.
      try {
        (void)load_metadata(file.string());
      } catch (...) {
        std::filesystem::remove(file);
        throw;
      }
      done();
      break;
    }
    default: throw Error(ErrorCode::kInvalidArgument, str("[checkpoint] unknown action ", static_cast<int>(c.action())));
  }
}

}  // namespace td::server
