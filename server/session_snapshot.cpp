// Checkpointing a whole session at shutdown and bringing it back at start (tensord --checkpoint-sessions,
// --restore). The snapshot keeps what a client can name: every handle, the tensors behind them with their
// storage sharing (a handle on `w[0]` still views the module's `w`), .grad and requires_grad, the modules
// (made again from their arguments, then given their tensors), optimizers and schedulers with their state,
// hooks, unfinished uploads, and the protocol counters that make commands run exactly once across the
// restart. Autograd graphs and the session's profiler are not kept (docs/security.md, "Restarts").
#include <boost/asio/post.hpp>

#include <fstream>
#include <future>
#include <map>

#include "core/autograd/grad_mode.h"
#include "core/memory_account.h"
#include "core/nn/module.h"
#include "core/optim/factory.h"
#include "core/optim/lr_scheduler.h"
#include "core/optim/optimizer.h"
#include "core/serialize.h"
#include "core/tensor_impl.h"
#include "server/checkpoint.h"
#include "server/session.h"
#include "tensord/v1/snapshot.pb.h"

namespace td::server {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "tensord session 1";

std::string storage_name(size_t k) { return str("s", k); }
std::string optimizer_name(uint64_t id) { return str("o", id); }
std::string scheduler_name(uint64_t id) { return str("c", id); }

/// One past the last element a strided view reaches (its offset for an empty one).
int64_t view_end(const Tensor& t) {
  if (t.numel() == 0) return t.storage_offset();
  int64_t end = t.storage_offset() + 1;
  for (int64_t d = 0; d < t.dim(); ++d) end += (t.size(d) - 1) * t.stride(d);
  return end;
}

/// The tensors a snapshot names, each once by identity, with ids (index + 1) in the order they were met.
class TensorTable {
 public:
  /// 0 for an undefined tensor (a handle may hold one: an op's missing optional output).
  uint32_t id_of(const Tensor& t) {
    if (!t.defined()) return 0;
    auto [it, added] = ids_.try_emplace(&t.impl(), 0);
    if (!added) return it->second;
    tensors_.push_back(t);
    grads_.push_back(0);
    const uint32_t id = static_cast<uint32_t>(tensors_.size());
    it->second = id;
    if (Tensor g = t.grad(); g.defined()) grads_[id - 1] = id_of(g);
    return id;
  }

  /// Fills the snapshot's storages and tensors, and adds each storage span to `out` as "s<k>".
  void write(pb::SessionSnapshot& snap, NamedTensors& out) const {
    // Tensors on one storage and of one dtype share a span; an empty tensor has one of its own.
    std::map<std::pair<const Storage*, DType>, std::vector<size_t>> groups;
    std::vector<std::vector<size_t>> spans;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Tensor& t = tensors_[i];
      if (t.numel() == 0) {
        spans.push_back({i});
      } else {
        groups[{t.impl().storage.get(), t.dtype()}].push_back(i);
      }
    }
    for (auto& [key, members] : groups) spans.push_back(std::move(members));
    for (auto& members : spans) {
      int64_t begin = INT64_MAX, end = 0;
      for (size_t i : members) {
        begin = std::min(begin, tensors_[i].storage_offset());
        end = std::max(end, view_end(tensors_[i]));
      }
      const Tensor& first = tensors_[members.front()];
      const size_t k = static_cast<size_t>(snap.storages_size());
      auto* storage = snap.add_storages();
      storage->set_device(first.device().str());
      storage->set_dtype(codec::to_proto(first.dtype()));
      storage->set_numel(std::max<int64_t>(0, end - begin));
      out.emplace_back(storage_name(k), first.detach().as_strided({storage->numel()}, {1}, begin));
      for (size_t i : members) {
        const Tensor& t = tensors_[i];
        auto* st = snap.mutable_tensors(static_cast<int>(i));
        st->set_storage(static_cast<uint32_t>(k));
        st->set_offset(t.numel() == 0 ? 0 : t.storage_offset() - begin);
      }
    }
  }

  void describe(pb::SessionSnapshot& snap) const {
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Tensor& t = tensors_[i];
      auto* st = snap.add_tensors();
      for (int64_t d : t.shape()) st->add_shape(d);
      for (int64_t d = 0; d < t.dim(); ++d) st->add_strides(t.stride(d));
      st->set_requires_grad(t.requires_grad());
      st->set_grad(grads_[i]);
    }
  }

 private:
  std::unordered_map<const TensorImpl*, uint32_t> ids_;
  std::vector<Tensor> tensors_;
  std::vector<uint32_t> grads_;
};

/// Rebuilds a snapshot's tensors: each storage span once, on its device, with its tensors as views of it.
class TensorRebuilder {
 public:
  TensorRebuilder(const pb::SessionSnapshot& snap, const std::map<std::string, Tensor>& file)
      : snap_(snap), file_(file), tensors_(static_cast<size_t>(snap.tensors_size())) {
    members_.resize(static_cast<size_t>(snap.storages_size()));
    for (int i = 0; i < snap.tensors_size(); ++i) {
      const uint32_t k = snap.tensors(i).storage();
      TD_CHECK_ARG(k < members_.size(), "[restore] tensor ", i + 1, " names storage ", k, " of ", members_.size());
      members_[k].push_back(static_cast<size_t>(i));
    }
    built_.assign(members_.size(), false);
  }

  /// The tensor with this id (1-based), building its storage span the first time.
  const Tensor& at(uint32_t id) {
    TD_CHECK_ARG(id >= 1 && id <= tensors_.size(), "[restore] no tensor ", id, " in the snapshot");
    const uint32_t k = snap_.tensors(static_cast<int>(id - 1)).storage();
    if (!built_[k]) build(k, Tensor(), 0);
    return tensors_[id - 1];
  }

  /// Makes `owned` (a module's parameter or buffer, already the right shape) the tensor with this id: its
  /// storage becomes the span's, so the other tensors of the span view it, as they viewed it when saved.
  /// When the span was built already, or does not fit the module's storage, the values are copied in and
  /// the sharing with the span's other tensors is lost.
  void adopt(uint32_t id, const Tensor& owned, const std::string& name) {
    TD_CHECK_ARG(id >= 1 && id <= tensors_.size(), "[restore] no tensor ", id, " in the snapshot");
    const pb::SnapshotTensor& st = snap_.tensors(static_cast<int>(id - 1));
    const std::vector<int64_t> shape(st.shape().begin(), st.shape().end());
    TD_CHECK_ARG(owned.shape() == shape, "[restore] ", name, " has shape ", shape_str(owned.shape()),
                 " now but ", shape_str(shape), " in the snapshot");
    const uint32_t k = st.storage();
    const pb::SnapshotStorage& storage = snap_.storages(static_cast<int>(k));
    const int64_t base = owned.storage_offset() - st.offset();
    const bool fits = !built_[k] && owned.dtype() == codec::from_proto(storage.dtype()) &&
                      owned.device().str() == storage.device() && base >= 0 &&
                      static_cast<size_t>((base + storage.numel()) * static_cast<int64_t>(itemsize(owned.dtype()))) <=
                          owned.impl().storage->nbytes;
    if (fits) {
      tensors_[id - 1] = owned;
      build(k, owned, base);
    } else {
      const Tensor saved = at(id);
      autograd::NoGradGuard no_grad;
      owned.detach().copy_(saved);
      tensors_[id - 1] = owned;
    }
    if (Tensor leaf = owned; leaf.requires_grad() != st.requires_grad() && leaf.is_leaf()) {
      leaf.requires_grad_(st.requires_grad());  // a parameter the client froze stays frozen
    }
  }

  /// Every tensor built.
  const std::vector<Tensor>& tensors() const { return tensors_; }

  /// Sets each tensor's .grad once every tensor is built.
  void set_grads() {
    for (int i = 0; i < snap_.tensors_size(); ++i) {
      if (uint32_t g = snap_.tensors(i).grad()) {
        Tensor t = at(static_cast<uint32_t>(i + 1));
        t.set_grad(at(g));
      }
    }
  }

 private:
  /// Builds span k: on `host`'s storage from element `base` (a module's tensor), else on a new storage.
  void build(uint32_t k, const Tensor& host, int64_t base) {
    const pb::SnapshotStorage& storage = snap_.storages(static_cast<int>(k));
    auto it = file_.find(storage_name(k));
    TD_CHECK_ARG(it != file_.end(), "[restore] the tensor file lacks storage ", storage_name(k));
    const DType dtype = codec::from_proto(storage.dtype());
    TD_CHECK_ARG(it->second.dtype() == dtype && it->second.numel() == storage.numel(), "[restore] storage ",
                 storage_name(k), " does not match its description");
    Tensor span;
    if (host.defined()) {
      span = host.detach().as_strided({storage.numel()}, {1}, base);
      autograd::NoGradGuard no_grad;
      span.copy_(it->second);
    } else {
      span = it->second.to(storage.device());  // each tensor td::load gives has a storage of its own
    }
    built_[k] = true;
    bool whole_used = host.defined();
    for (size_t i : members_[k]) {
      if (tensors_[i].defined()) continue;  // adopted
      const pb::SnapshotTensor& st = snap_.tensors(static_cast<int>(i));
      const std::vector<int64_t> shape(st.shape().begin(), st.shape().end());
      const std::vector<int64_t> strides(st.strides().begin(), st.strides().end());
      Tensor t;
      if (!whole_used && st.offset() == 0 && shape == std::vector<int64_t>{storage.numel()} &&
          strides == std::vector<int64_t>{1}) {
        t = span;  // the span itself, when a tensor is all of it
        whole_used = true;
      } else {
        t = span.detach().as_strided(shape, strides, (host.defined() ? base : 0) + st.offset());
      }
      if (st.requires_grad()) t.requires_grad_(true);
      tensors_[i] = std::move(t);
    }
  }

  const pb::SessionSnapshot& snap_;
  const std::map<std::string, Tensor>& file_;
  std::vector<Tensor> tensors_;
  std::vector<std::vector<size_t>> members_;
  std::vector<bool> built_;
};

void write_file(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  TD_CHECK(out.good(), ErrorCode::kInternal, "[checkpoint] writing ", file.string(), " failed");
}

}  // namespace

void Session::save(const fs::path& dir) {
  // On the strand, so no command is mid-flight while the state is read; the result comes back through a
  // shared promise, since a timed-out wait leaves the task queued.
  auto result = std::make_shared<std::promise<void>>();
  std::future<void> done = result->get_future();
  boost::asio::post(strand_, [self = shared_from_this(), dir, result] {
    try {
      self->write_snapshot(dir);
      result->set_value();
    } catch (...) {
      result->set_exception(std::current_exception());
    }
  });
  TD_CHECK(done.wait_for(std::chrono::seconds(60)) == std::future_status::ready, ErrorCode::kDeadlineExceeded,
           "[checkpoint] session ", id_, ": its executor stayed busy for 60 s");
  done.get();
}

void Session::write_snapshot(const fs::path& dir) {
  pb::SessionSnapshot snap;
  snap.set_format(kFormat);
  snap.set_id(id_);
  snap.set_name(options_.name);
  snap.set_user(options_.user);
  snap.set_device(options_.device.str());
  snap.set_next_server_handle(next_server_handle_);
  snap.set_next_event(next_event_);
  snap.set_grad_disabled(!grad_enabled_);
  TensorTable table;
  auto id_of = [&](const Tensor& t) -> uint64_t { return table.id_of(t); };
  auto encode_kwargs = [&](const NamedValues& kwargs, google::protobuf::RepeatedPtrField<pb::NamedValue>* out) {
    for (const auto& [key, v] : kwargs) {
      auto* kw = out->Add();
      kw->set_name(key);
      codec::encode_value(v, kw->mutable_value(), id_of);
    }
  };
  NamedTensors tensors;
  std::map<std::string, std::string> metadata{{"format", kFormat}};

  auto sorted = [](const auto& map) {
    std::vector<uint64_t> keys;
    for (const auto& entry : map) keys.push_back(entry.first);
    std::sort(keys.begin(), keys.end());
    return keys;
  };
  for (uint64_t id : sorted(modules_)) {
    nn::Module& m = *modules_.at(id);
    auto* sm = snap.add_modules();
    auto* spec = sm->mutable_spec();
    spec->set_module(id);
    const MadeWith& made = module_specs_.at(id);
    spec->set_type(made.type);
    for (const Value& v : made.args) codec::encode_value(v, spec->add_args(), id_of);
    encode_kwargs(made.kwargs, spec->mutable_kwargs());
    auto add_tensor = [&](const std::string& name, const Tensor& t) {
      if (!t.defined()) return;
      sm->add_tensor_names(name);
      sm->add_tensors(table.id_of(t));
    };
    for (const auto& [name, t] : m.named_parameters()) add_tensor(name, t);
    for (const auto& [name, t] : m.named_buffers()) add_tensor(name, t);
    for (const auto& [name, sub] : m.named_modules()) {
      if (!sub->is_training()) sm->add_eval_modules(name);
    }
  }
  for (uint64_t h : sorted(handles_)) {
    auto* sh = snap.add_handles();
    sh->set_handle(h);
    const Slot& slot = handles_.at(h);
    if (const auto* t = std::get_if<Tensor>(&slot)) {
      sh->set_tensor(table.id_of(*t));
    } else {
      const Poison& p = std::get<Poison>(slot);
      sh->mutable_poison()->set_seq(p.seq);
      sh->mutable_poison()->set_code(static_cast<int>(p.error.code()));
      sh->mutable_poison()->set_message(p.error.what());
    }
  }
  for (uint64_t id : sorted(optimizers_)) {
    const optim::Optimizer& opt = *optimizers_.at(id);
    // As made (defaults, each group's own options), with each group's parameters by tensor id; the
    // options' current values come back with the optimizer's state.
    const MadeWith& made = optimizer_specs_.at(id);
    TD_CHECK(made.group_options.size() == opt.param_groups().size(), ErrorCode::kInternal, "[checkpoint] optimizer ",
             id, " has ", opt.param_groups().size(), " groups, made with ", made.group_options.size());
    pb::CreateOptimizerCommand* spec = snap.add_optimizers()->mutable_spec();
    spec->set_optimizer(id);
    spec->set_type(made.type);
    encode_kwargs(made.kwargs, spec->mutable_defaults());
    for (size_t i = 0; i < made.group_options.size(); ++i) {
      auto* group = spec->add_groups();
      for (const Tensor& p : opt.param_groups()[i].params) group->add_params(table.id_of(p));
      encode_kwargs(made.group_options[i], group->mutable_options());
    }
    save_optimizer(opt, optimizer_name(id), tensors, metadata);
  }
  for (uint64_t id : sorted(schedulers_)) {
    const SchedulerSlot& slot = schedulers_.at(id);
    pb::CreateSchedulerCommand* spec = snap.add_schedulers();
    spec->set_scheduler(id);
    spec->set_optimizer(slot.optimizer_id);
    spec->set_type(slot.spec.type);
    encode_kwargs(slot.spec.kwargs, spec->mutable_kwargs());
    save_scheduler(*slot.scheduler, scheduler_name(id), metadata);
  }
  for (uint64_t id : sorted(hooks_)) {
    const Hook& hook = hooks_.at(id);
    if (!hook.spec) continue;
    if (hook.spec->has_register_hook()) {
      const auto impl = hook.tensor.lock();
      if (!impl) continue;  // its tensor is gone: the hook can never fire again
      pb::RegisterHookCommand c = hook.spec->register_hook();
      c.set_tensor(table.id_of(Tensor(impl)));
      *snap.add_tensor_hooks() = std::move(c);
    } else if (modules_.contains(hook.spec->register_module_hook().module())) {
      *snap.add_module_hooks() = hook.spec->register_module_hook();
    }
  }
  for (uint64_t h : sorted(uploads_)) {
    const Upload& up = uploads_.at(h);
    auto* chunk = snap.add_uploads();
    chunk->set_handle(h);
    chunk->set_dtype(codec::to_proto(up.host.dtype()));
    for (int64_t d : up.host.shape()) chunk->add_shape(d);
    chunk->set_device(up.device.str());
    chunk->set_requires_grad(up.requires_grad);
    chunk->set_data(static_cast<const char*>(up.host.data_ptr()), up.received);
  }
  table.describe(snap);
  table.write(snap, tensors);
  {
    std::lock_guard lock(send_mu_);
    snap.set_last_seq(last_seq_received_.load());
    snap.set_next_event_seq(next_event_seq_);
    snap.set_replay_dropped_through(replay_dropped_through_);
    for (const pb::ServerMessage& m : replay_) *snap.add_replay() = m;
  }

  // Written beside the target and renamed over it: a crash mid-write leaves the old snapshot or none.
  const fs::path tmp = dir.string() + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  td::save(tensors, (tmp / "tensors.safetensors").string(), metadata);
  std::string bytes;
  TD_CHECK(snap.SerializeToString(&bytes), ErrorCode::kInternal, "[checkpoint] session ", id_, " did not serialise");
  write_file(tmp / "snapshot.pb", bytes);
  fs::remove_all(dir);
  fs::rename(tmp, dir);
}

void Session::restore(const pb::SessionSnapshot& snap, const fs::path& dir) {
  TD_CHECK_ARG(snap.format() == kFormat, "[restore] snapshot format '", snap.format(), "', this server reads '",
               kFormat, "'");
  MemoryAccount::Scope charged(account_);  // what the restore allocates is the session's, as for commands
  const auto stream_guard = on_stream();
  const std::string file = (dir / "tensors.safetensors").string();
  const NamedTensors loaded = td::load(file, kCPU);
  const std::map<std::string, Tensor> by_name(loaded.begin(), loaded.end());
  const std::map<std::string, std::string> metadata = load_metadata(file);
  TensorRebuilder rebuilt(snap, by_name);

  // Values in the snapshot name tensors by id; everything else decodes as a command's would.
  auto decode_saved = [&](const pb::Value& v, std::string_view what, size_t i) -> Value {
    if (v.has_tensor()) return rebuilt.at(static_cast<uint32_t>(v.tensor()));
    if (v.has_tensor_list()) {
      std::vector<Tensor> list;
      for (uint64_t id : v.tensor_list().handles()) list.push_back(id ? rebuilt.at(static_cast<uint32_t>(id)) : Tensor());
      return list;
    }
    return decode(v, what, i);
  };
  auto kwargs_saved = [&](const google::protobuf::RepeatedPtrField<pb::NamedValue>& named, std::string_view what) {
    std::vector<std::pair<std::string, Value>> out;
    for (int i = 0; i < named.size(); ++i) out.emplace_back(named[i].name(), decode_saved(named[i].value(), what, static_cast<size_t>(i)));
    return out;
  };

  for (const pb::SnapshotModule& sm : snap.modules()) {
    const pb::CreateModuleCommand& c = sm.spec();
    MadeWith spec{c.type(), {}, kwargs_saved(c.kwargs(), c.type()), {}};
    for (int i = 0; i < c.args_size(); ++i) spec.args.push_back(decode_saved(c.args(i), c.type(), static_cast<size_t>(i)));
    std::shared_ptr<nn::Module> m = make_module(spec);
    TD_CHECK_ARG(sm.tensor_names_size() == sm.tensors_size(), "[restore] module ", c.module(), ": names and tensors differ");
    for (int i = 0; i < sm.tensors_size(); ++i) {
      rebuilt.adopt(sm.tensors(i), m->get_tensor(sm.tensor_names(i)), str(c.type(), " ", sm.tensor_names(i)));
    }
    // Pre-order, each recursively: every module ends with its own mode.
    for (const auto& [name, sub] : m->named_modules()) {
      sub->train(std::find(sm.eval_modules().begin(), sm.eval_modules().end(), name) == sm.eval_modules().end());
    }
    modules_.emplace(c.module(), std::move(m));
    module_specs_.emplace(c.module(), std::move(spec));
  }
  for (const pb::SnapshotHandle& sh : snap.handles()) {
    if (sh.has_poison()) {
      const pb::ErrorEvent& p = sh.poison();
      handles_.insert_or_assign(sh.handle(), Poison{Error(static_cast<ErrorCode>(p.code()), p.message()), p.seq()});
      continue;
    }
    handles_.insert_or_assign(sh.handle(), sh.tensor() ? rebuilt.at(sh.tensor()) : Tensor());
  }
  rebuilt.set_grads();
  // As for the tensors commands made: closing drops their autograd state, which breaks any cycle through
  // .grad (a tensor that is its own gradient), wherever the tensors went.
  for (const Tensor& t : rebuilt.tensors()) {
    if (t.defined() && (t.requires_grad() || t.grad().defined())) grad_holders_.push_back(t.impl_ptr());
  }

  // Optimizers and schedulers are made first (a scheduler sets its optimizer's lr as it starts), then given
  // their saved state.
  for (const pb::SnapshotOptimizer& so : snap.optimizers()) {
    const pb::CreateOptimizerCommand& c = so.spec();
    MadeWith spec{c.type(), {}, kwargs_saved(c.defaults(), c.type()), {}};
    std::vector<std::vector<Tensor>> params;
    for (const auto& g : c.groups()) {
      params.emplace_back();
      for (uint64_t id : g.params()) params.back().push_back(rebuilt.at(static_cast<uint32_t>(id)));
      spec.group_options.push_back(kwargs_saved(g.options(), c.type()));
    }
    add_optimizer(c.optimizer(), std::move(spec), std::move(params));
  }
  for (const pb::CreateSchedulerCommand& c : snap.schedulers()) {
    TD_CHECK_ARG(optimizers_.contains(c.optimizer()), "[restore] scheduler ", c.scheduler(), " has no optimizer ",
                 c.optimizer());
    add_scheduler(c.scheduler(), c.optimizer(), MadeWith{c.type(), {}, kwargs_saved(c.kwargs(), c.type()), {}});
  }
  for (const pb::SnapshotOptimizer& so : snap.optimizers()) {
    load_optimizer(*optimizers_.at(so.spec().optimizer()), optimizer_name(so.spec().optimizer()), by_name, metadata);
  }
  for (const pb::CreateSchedulerCommand& c : snap.schedulers()) {
    load_scheduler(*schedulers_.at(c.scheduler()).scheduler, scheduler_name(c.scheduler()), metadata);
  }
  for (const pb::RegisterHookCommand& c : snap.tensor_hooks()) {
    // A hook outlives its tensor's requires_grad_(false), as in PyTorch; registering needs the flag, so a
    // restored leaf that lost it gets it back for the moment.
    Tensor t = rebuilt.at(static_cast<uint32_t>(c.tensor()));
    const bool lent = !t.requires_grad() && t.is_leaf() && is_floating(t.dtype());
    if (lent) t.requires_grad_(true);
    add_tensor_hook(t, c);
    if (lent) t.requires_grad_(false);
  }
  for (const pb::RegisterModuleHookCommand& c : snap.module_hooks()) register_module_hook(c);
  for (const pb::PutChunk& chunk : snap.uploads()) put(chunk);

  grad_enabled_ = !snap.grad_disabled();
  next_server_handle_ = snap.next_server_handle();
  next_event_ = snap.next_event();
  {
    std::lock_guard lock(send_mu_);
    last_seq_received_ = snap.last_seq();
    next_event_seq_ = snap.next_event_seq();
    replay_dropped_through_ = snap.replay_dropped_through();
    for (const pb::ServerMessage& m : snap.replay()) {
      replay_bytes_ += m.ByteSizeLong();
      replay_.push_back(m);
    }
  }
  update_counters();
}

}  // namespace td::server
