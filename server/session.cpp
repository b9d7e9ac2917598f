#include "server/session.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>
#include <limits>


#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/nn/module.h"
#include "core/profiler/profiler.h"
#include "core/tensor_impl.h"
#include "core/threads.h"
#include "server/event_bus.h"

namespace td::server {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string_view command_kind(const pb::Command& cmd) {
  switch (cmd.kind_case()) {
    case pb::Command::kOp: return cmd.op().op();
    case pb::Command::kPut: return "put";
    case pb::Command::kFetch: return "fetch";
    case pb::Command::kRelease: return "release";
    case pb::Command::kBackward: return "backward";
    case pb::Command::kRegisterHook: return "register_hook";
    case pb::Command::kRemoveHook: return "remove_hook";
    case pb::Command::kHookReply: return "hook_reply";
    case pb::Command::kSync: return "sync";
    case pb::Command::kGrad: return "grad";
    case pb::Command::kCreateModule: return "create_module";
    case pb::Command::kCallModule: return "call_module";
    case pb::Command::kModuleTensor: return "module_tensor";
    case pb::Command::kModuleTrain: return "module_train";
    case pb::Command::kDescribeModule: return "describe_module";
    case pb::Command::kLoadStateDict: return "load_state_dict";
    case pb::Command::kReleaseModule: return "release_module";
    case pb::Command::kCreateOptimizer: return "create_optimizer";
    case pb::Command::kOptimizerStep: return "optimizer_step";
    case pb::Command::kZeroGrad: return "zero_grad";
    case pb::Command::kCreateScheduler: return "create_scheduler";
    case pb::Command::kSchedulerStep: return "scheduler_step";
    case pb::Command::kDescribeOptimizer: return "describe_optimizer";
    case pb::Command::kReleaseOptimizer: return "release_optimizer";
    case pb::Command::kRegisterModuleHook: return "register_module_hook";
    case pb::Command::kProfiler: return "profiler";
    case pb::Command::kCheckpoint: return "checkpoint";
    case pb::Command::kSetGradMode: return "set_grad_mode";
    case pb::Command::kSetDualLevel: return "set_dual_level";
    case pb::Command::kModuleHookScope: return "module_hook_scope";
    default: return "unknown";
  }
}

uint64_t request_id_of(const pb::Command& cmd) {
  switch (cmd.kind_case()) {
    case pb::Command::kFetch: return cmd.fetch().request_id();
    case pb::Command::kBackward: return cmd.backward().request_id();
    case pb::Command::kSync: return cmd.sync().request_id();
    case pb::Command::kDescribeModule: return cmd.describe_module().request_id();
    case pb::Command::kDescribeOptimizer: return cmd.describe_optimizer().request_id();
    case pb::Command::kProfiler: return cmd.profiler().request_id();
    case pb::Command::kCheckpoint: return cmd.checkpoint().request_id();
    default: return 0;
  }
}
}  // namespace

UserUsage::UserUsage(std::string user)
    : name(std::move(user)), memory(std::make_shared<MemoryAccount>(0, nullptr, str("memory quota of user '", name, "'"))) {}

Session::Session(std::string id, SessionOptions options, boost::asio::thread_pool& pool, SessionObserver* observer)
    : id_(std::move(id)),
      options_(std::move(options)),
      observer_(observer),
      strand_(pool.get_executor()),
      account_(std::make_shared<MemoryAccount>(options_.memory_limit,
                                               options_.usage ? options_.usage->memory : nullptr)) {}

Session::~Session() { close_dual_level(); }

void Session::set_dual_level(bool open) {
  {
    std::lock_guard lock(mu_);
    // A hook callback's commands run nested inside the hooked command, whose level they would swap under it.
    TD_CHECK(hooks_waiting_ == 0, ErrorCode::kFailedPrecondition,
             "[set_dual_level] a dual level cannot be opened or closed from a hook callback");
  }
  if (open) {
    autograd::forward_ad::enter_dual_level();  // "Nested forward mode AD is not supported" when one is open
  } else {
    autograd::forward_ad::exit_dual_level();
  }
}

void Session::close_dual_level() {
  if (!dual_level_) return;
  autograd::forward_ad::detail::LevelScope scope(dual_level_);
  autograd::forward_ad::exit_dual_level();
}

void Session::attach(EventSink* sink, std::string credential, uint64_t last_event) {
  std::lock_guard lock(mu_);
  TD_CHECK(!closed_, ErrorCode::kNotFound, "session ", id_, " is closed");
  std::lock_guard send_lock(send_mu_);
  if (sink_) sink_->cancel();  // a stream its client has given up on; that handler's detach() leaves us be
  sink_ = sink;
  credential_ = std::move(credential);
  pb::ServerMessage m;
  m.mutable_attached()->set_session_id(id_);
  m.mutable_attached()->set_last_seq(last_seq_received_.load());
  m.mutable_attached()->set_events_lost(last_event < replay_dropped_through_);
  sink_->send(m);
  for (const pb::ServerMessage& held : replay_) {
    if (held.event_seq() > last_event) sink_->send(held);
  }
}

void Session::cancel_stream_unless(const std::function<bool(const std::string&)>& still_valid) {
  std::lock_guard lock(mu_);
  if (sink_ && !still_valid(credential_)) sink_->cancel();  // its reader ends; detach() follows
}

void Session::detach(EventSink* sink) {
  {
    std::lock_guard lock(mu_);
    std::lock_guard send_lock(send_mu_);
    if (sink_ != sink) return;  // replaced by a re-attach
    sink_ = nullptr;
    detached_at_ = Clock::now();
  }
  inbox_cv_.notify_all();
}

bool Session::attached() const {
  std::lock_guard lock(mu_);
  return sink_ != nullptr;
}

Clock::duration Session::detached_for() const {
  std::lock_guard lock(mu_);
  return sink_ ? Clock::duration::zero() : Clock::now() - detached_at_;
}

Arrived::Arrived() : arena(arena_options()), msg(google::protobuf::Arena::CreateMessage<pb::ClientMessage>(&arena)) {}

google::protobuf::ArenaOptions Arrived::arena_options() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 8 << 10;  // grows to 64 KiB blocks: a batch of 2048 small ops parses into ~150 KiB
  o.max_block_size = 64 << 10;   // under glibc's mmap threshold
  return o;
}

void Session::push_commands(std::shared_ptr<const Arrived> message) {
  {
    std::lock_guard lock(mu_);
    // A sealed session drops what arrives (the client sends it again after the restart), except while a
    // blocking hook waits: its reply, and the callback's commands, must come in for the session to go idle
    // and be saved. Whole batches, so the received-up-to mark stays exact.
    if (closed_ || (sealed_ && hooks_waiting_ == 0)) return;
    const pb::CommandBatch& batch = message->msg->batch();
    UserUsage* usage = options_.usage.get();
    const int64_t quota = usage ? usage->ops_in_flight_quota.load() : 0;
    const int64_t n = batch.commands_size();
    // Over the quota, the whole batch is refused (hook replies excepted: a hook must be able to finish).
    const bool refuse = quota > 0 && usage->queued.load() + n > quota;
    uint64_t last = last_seq_received_.load();
    int64_t counted = 0, bytes = 0;
    for (const pb::Command& c : batch.commands()) {
      if (c.has_put()) bytes += static_cast<int64_t>(c.put().data().size());
    }
    for (int i = 0; i < n;) {
      // A command sent again after a re-attach that this session has already received: exactly once.
      auto fresh = [&](int k) {
        const uint64_t seq = batch.commands(k).seq();
        return seq == 0 || seq > last;
      };
      if (!fresh(i)) {
        ++i;
        continue;
      }
      Run run{message, i, i, std::exchange(bytes, 0), refuse};
      for (; run.end < n && fresh(run.end); ++run.end) {
        last = std::max(last, batch.commands(run.end).seq());
        if (!run.rejected(run.end)) ++counted;
      }
      i = run.end;
      queued_ += run.end - run.next;
      queued_bytes_ += run.bytes;
      inbox_.push_back(std::move(run));
    }
    if (usage) usage->queued += counted;
    last_seq_received_ = last;
  }
  inbox_cv_.notify_all();
}

void Session::enqueue(std::shared_ptr<const Arrived> message) {
  const pb::CommandBatch& batch = message->msg->batch();
  if (batch.ack_event()) acknowledge(batch.ack_event());
  push_commands(std::move(message));
  acknowledge_commands();
  schedule_drain();
  wait_for_room();
}

void Session::wait_for_room() {
  std::unique_lock lock(mu_);
  if (queued_ <= kMaxQueuedCommands && queued_bytes_ <= kMaxQueuedBytes) return;
  reader_waiting_ = true;
  room_cv_.wait(lock, [&] {
    return closed_ || sealed_ || hooks_waiting_ > 0 ||
           (queued_ <= kLowQueuedCommands && queued_bytes_ <= kLowQueuedBytes);
  });
  reader_waiting_ = false;
}

namespace {
std::shared_ptr<const Arrived> arrived(pb::CommandBatch batch) {
  auto m = std::make_shared<Arrived>();
  *m->msg->mutable_batch() = std::move(batch);
  return m;
}
}  // namespace

void Session::enqueue(pb::CommandBatch batch) { enqueue(arrived(std::move(batch))); }

void Session::schedule_drain() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    // A drain that used its time slice with commands left goes to the back of the pool's queue, behind the
    // other sessions' work: a heavy session cannot keep a pool thread from them.
    if (self->drain(kTimeSlice)) self->schedule_drain();
  });
}

void Session::run_inline(const pb::CommandBatch& batch) {
  push_commands(arrived(batch));
  drain(std::nullopt);
}

Session::Inbound Session::take_locked(std::deque<Run>::iterator run, int i) {
  Inbound in{run->message, &run->at(i), run->rejected(i)};
  if (options_.usage && !in.rejected) --options_.usage->queued;
  --queued_;
  if (i == run->next) {
    if (++run->next == run->end) {
      queued_bytes_ -= run->bytes;
      inbox_.erase(run);
    }
  } else if (i + 1 == run->end) {
    run->end = i;
  } else {  // from the middle (a hook's reply): the run splits around it
    Run rest{run->message, i + 1, run->end, 0, run->refused};
    run->end = i;
    inbox_.insert(std::next(run), std::move(rest));
  }
  if (reader_waiting_ && queued_ <= kLowQueuedCommands && queued_bytes_ <= kLowQueuedBytes) room_cv_.notify_all();
  return in;
}

std::optional<Session::Inbound> Session::next_command(std::optional<Clock::time_point> deadline, uint64_t event) {
  std::unique_lock lock(mu_);
  if (!deadline) {
    if (inbox_.empty()) return std::nullopt;
    return take_locked(inbox_.begin(), inbox_.front().next);
  }
  // Inside a blocking hook: wait for the commands its callback issues, the reply among them; other commands
  // stay queued in order.
  std::deque<Run>::iterator run;
  int at = 0;
  auto ours = [&] {
    for (run = inbox_.begin(); run != inbox_.end(); ++run) {
      for (at = run->next; at < run->end; ++at) {
        const pb::Command& c = run->at(at);
        if (c.has_hook_reply() || (event && c.hook_event() == event)) return true;
      }
    }
    return false;
  };
  if (!inbox_cv_.wait_until(lock, *deadline, [&] { return ours() || closed_; }) || run == inbox_.end()) {
    return std::nullopt;
  }
  return take_locked(run, at);
}

Clock::time_point Session::run_inbound(const Inbound& in, Clock::time_point start) {
  if (!in.rejected) return execute(*in.cmd, start);
  const UserUsage& u = *options_.usage;
  fail(*in.cmd, Error(ErrorCode::kResourceExhausted,
                      str("[", command_kind(*in.cmd), "] ops-in-flight quota of user '", u.name, "' (",
                          u.ops_in_flight_quota.load(), " commands waiting at once): its batch came when the quota "
                          "was full and was refused; wait for results (sync) before sending more")));
  return Clock::now();
}

void Session::sync_handle_usage() {
  const auto size = static_cast<int64_t>(handles_.size());
  if (options_.usage) options_.usage->handles += size - handles_counted_;
  handles_counted_ = size;
}

bool Session::idle() const {
  std::lock_guard lock(mu_);
  return inbox_.empty() && !draining_.load();
}

void Session::say_goodbye(const std::string& reason, bool restore) {
  std::lock_guard lock(mu_);
  std::lock_guard send_lock(send_mu_);
  if (!sink_) return;
  // Unnumbered and not kept for replay: a restored session numbers its next event as if this had not been.
  pb::ServerMessage m;
  m.mutable_goodbye()->set_reason(reason);
  m.mutable_goodbye()->set_restore(restore);
  m.set_ack_seq(last_seq_received_.load());
  sink_->send(m);
}

void Session::seal() {
  std::lock_guard lock(mu_);
  sealed_ = true;
  room_cv_.notify_all();
}

size_t Session::queued_commands() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(queued_);
}

bool Session::drain(std::optional<Clock::duration> slice) {
  auto now = Clock::now();
  const auto until = now + slice.value_or(Clock::duration::zero());
  bool more = false;
  draining_ = true;
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{draining_};
  MemoryAccount::Scope charged(account_);  // what the commands allocate is the session's
  const auto stream_guard = on_stream();
  sync_num_threads();  // a pool thread: the process's intra-op thread count (td::set_num_threads)
  // While the session profiles, this thread records into the session's profiler only (and carries its open
  // ranges, which earlier drains on other threads may have opened).
  std::shared_ptr<profiler::profile> bound;
  std::optional<profiler::profile::ThreadBinding> binding;
  while (auto cmd = next_command(std::nullopt)) {
    if (profiler_ != bound) {
      binding.reset();
      bound = profiler_;
      if (bound) binding.emplace(bound->bind_thread());
    }
    now = run_inbound(*cmd, now);
    if (slice && now >= until) {
      std::lock_guard lock(mu_);
      more = !inbox_.empty();
      if (more) break;
    }
  }
  binding.reset();
  if (observer_) observer_->flush();
  update_counters();
  return more;
}

std::optional<cuda::StreamGuard> Session::on_stream() {
  if (!cuda::is_available()) return std::nullopt;
  if (!stream_) stream_.emplace();
  return std::optional<cuda::StreamGuard>(std::in_place, *stream_);
}

void Session::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (sink_) sink_->cancel();  // an attached client learns at once (its stream ends)
    for (const Run& run : inbox_) {
      for (int i = run.next; i < run.end; ++i) {
        if (options_.usage && !run.rejected(i)) --options_.usage->queued;
      }
    }
    inbox_.clear();
    queued_ = 0;
    queued_bytes_ = 0;
  }
  inbox_cv_.notify_all();
  room_cv_.notify_all();
  // Free state on the strand so no command is mid-flight while it goes.
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->profiler_) {
      auto bound = self->profiler_->bind_thread();  // the ranges close on the profiler's own stack
      self->ranges_.clear();
    }
    self->profiler_.reset();
    self->ready_traces_.clear();
    // Break the reference cycles autograd state can close, so that closing frees all the session made:
    // backward(create_graph=True) makes a leaf's gradient a graph that holds the leaf (PyTorch's documented
    // cycle), and an in-place op that saves its own input (y.addcmul_(y, z)) makes y's grad_fn hold y.
    // Every tensor that needed grad and had a handle is remembered; dropping its autograd state breaks both.
    auto forget_autograd = [](const std::shared_ptr<TensorImpl>& impl) {
      if (impl) impl->autograd.reset();
    };
    for (const auto& weak : self->grad_holders_) forget_autograd(weak.lock());
    self->grad_holders_.clear();
    for (auto& [id, m] : self->modules_) {
      for (const Tensor& p : m->parameters()) forget_autograd(p.impl_ptr());
    }
    for (auto& [id, hook] : self->hooks_) hook.handle.remove();
    self->hooks_.clear();
    self->schedulers_.clear();
    self->optimizers_.clear();
    self->optimizer_specs_.clear();
    self->hook_scopes_.clear();
    self->modules_.clear();
    self->module_specs_.clear();
    self->handles_.clear();
    self->close_dual_level();
    self->sync_handle_usage();
    self->uploads_.clear();
    self->update_counters();
  });
}

void Session::send(pb::ServerMessage message) {
  if (observer_) observer_->flush();
  std::lock_guard lock(send_mu_);
  message.set_event_seq(next_event_seq_++);
  message.set_ack_seq(last_seq_received_.load());
  ack_sent_ = message.ack_seq();
  replay_bytes_ += message.ByteSizeLong();
  if (options_.events) options_.events->publish(id_, options_.user, message);
  replay_.push_back(message);
  while (replay_bytes_ > kReplayBytes && replay_.size() > 1) {
    replay_dropped_through_ = replay_.front().event_seq();
    replay_bytes_ -= replay_.front().ByteSizeLong();
    replay_.pop_front();
  }
  if (sink_) sink_->send(message);
}

void Session::acknowledge_commands() {
  std::lock_guard lock(send_mu_);
  const uint64_t received = last_seq_received_.load();
  if (!sink_ || received < ack_sent_ + kAckEvery) return;
  pb::ServerMessage m;  // no kind, no event_seq: not an event, not kept for replay
  m.set_ack_seq(received);
  ack_sent_ = received;
  sink_->send(m);
}

void Session::acknowledge(uint64_t event_seq) {
  std::lock_guard lock(send_mu_);
  while (!replay_.empty() && replay_.front().event_seq() <= event_seq) {
    replay_bytes_ -= replay_.front().ByteSizeLong();
    replay_.pop_front();
  }
}

void Session::update_counters() {
  sync_handle_usage();
  handle_count_ = handles_.size();
}

// ---- commands ----

Clock::time_point Session::execute(const pb::Command& cmd, Clock::time_point start) {
  bool ok = true;
  autograd::GradModeGuard grad_mode(grad_enabled_);
  // The session's dual level (forward-mode AD), on this pool thread for the command, when it has one.
  std::optional<autograd::forward_ad::detail::LevelScope> dual_level;
  if (dual_level_ || cmd.has_set_dual_level()) dual_level.emplace(dual_level_);
  try {
    switch (cmd.kind_case()) {
      case pb::Command::kOp: run_op(cmd); break;
      case pb::Command::kPut: put(cmd.put()); break;
      case pb::Command::kFetch: fetch(cmd.fetch()); break;
      case pb::Command::kRelease:
        for (uint64_t h : cmd.release().handles()) handles_.erase(h);
        break;
      case pb::Command::kBackward: backward(cmd); break;
      case pb::Command::kRegisterHook: register_hook(cmd.register_hook()); break;
      case pb::Command::kRemoveHook:
        if (auto it = hooks_.find(cmd.remove_hook().hook_id()); it != hooks_.end()) {
          it->second.handle.remove();
          hooks_.erase(it);
        }
        break;
      case pb::Command::kHookReply:
        hook_replies_[cmd.hook_reply().event_id()] =
            HookReplyValue{cmd.hook_reply().replacement(),
                           {cmd.hook_reply().replacements().begin(), cmd.hook_reply().replacements().end()}};
        break;
      case pb::Command::kSync: {
        pb::ServerMessage m;
        m.mutable_done()->set_request_id(cmd.sync().request_id());
        m.mutable_done()->set_seq(cmd.seq());
        send(m);
        break;
      }
      case pb::Command::kGrad: grad(cmd.grad()); break;
      case pb::Command::kCreateModule:
      case pb::Command::kCallModule:
      case pb::Command::kModuleTensor:
      case pb::Command::kModuleTrain:
      case pb::Command::kDescribeModule:
      case pb::Command::kLoadStateDict:
      case pb::Command::kReleaseModule:
      case pb::Command::kCreateOptimizer:
      case pb::Command::kOptimizerStep:
      case pb::Command::kZeroGrad:
      case pb::Command::kCreateScheduler:
      case pb::Command::kSchedulerStep:
      case pb::Command::kDescribeOptimizer:
      case pb::Command::kReleaseOptimizer: run_nn(cmd); break;
      case pb::Command::kRegisterModuleHook: register_module_hook(cmd.register_module_hook()); break;
      case pb::Command::kProfiler: run_profiler(cmd.profiler()); break;
      case pb::Command::kCheckpoint: checkpoint(cmd); break;
      case pb::Command::kSetGradMode: grad_enabled_ = cmd.set_grad_mode().enabled(); break;
      case pb::Command::kSetDualLevel: set_dual_level(cmd.set_dual_level().open()); break;
      case pb::Command::kModuleHookScope: module_hook_scope(cmd.module_hook_scope()); break;
      default: throw Error(ErrorCode::kInvalidArgument, str("command ", cmd.seq(), " has no kind"));
    }
  } catch (const Error& e) {
    ok = false;
    // Errors raised below the ops (a memory limit, an allocator) name no op: they get the command's.
    if (std::string_view(e.what()).starts_with("[")) {
      fail(cmd, e);
    } else {
      fail(cmd, Error(e.code(), str("[", command_kind(cmd), "] ", e.what())));
    }
  } catch (const std::exception& e) {
    ok = false;
    fail(cmd, Error(ErrorCode::kInternal, str("[", command_kind(cmd), "] internal error: ", e.what())));
  }
  if (cmd.kind_case() == pb::Command::kOp) ++ops_executed_;
  // A release, the commonest and cheapest command, is not timed (its metric is a count): the clock is the
  // next command's start as well, and a clock read costs about as much as a release on some VMs.
  const auto end = cmd.kind_case() == pb::Command::kRelease && ok ? start : Clock::now();
  if (observer_) {
    observer_->on_command(command_kind(cmd), cmd.kind_case() == pb::Command::kOp, options_.device.type,
                          std::chrono::duration<double>(end - start).count(), ok);
  }
  return end;
}

void Session::fail(const pb::Command& cmd, const Error& error) {
  poison_outputs(cmd, error);
  pb::ServerMessage m;
  auto* err = m.mutable_error();
  err->set_seq(cmd.seq());
  err->set_code(static_cast<int>(error.code()));
  err->set_message(error.what());
  err->set_request_id(request_id_of(cmd));
  send(m);
}

const Tensor& Session::resolve(uint64_t handle, std::string_view op, std::string_view what, bool allow_undefined,
                               int64_t index) {
  auto named = [&] { return index >= 0 ? str(what, " ", index) : std::string(what); };
  auto it = handles_.find(handle);
  TD_CHECK(it != handles_.end(), ErrorCode::kNotFound, "[", op, "] ", named(), ": unknown tensor handle ", handle);
  if (const auto* poison = std::get_if<Poison>(&it->second)) {
    throw Error(poison->error.code(),
                str(poison->error.what(), " (handle ", handle, " was poisoned by command ", poison->seq, ")"));
  }
  const Tensor& t = std::get<Tensor>(it->second);
  TD_CHECK_ARG(allow_undefined || t.defined(), "[", op, "] ", named(), ": handle ", handle,
               " holds no tensor (an output the op did not produce, as PyTorch's None)");
  return t;
}

void Session::bind_output(uint64_t handle, Slot slot, std::string_view op) {
  TD_CHECK_ARG(handle != 0 && handle < kServerHandleBit, "[", op, "] output handle ", handle,
               " is reserved (0 and ids with the top bit set are not for clients)");
  if (UserUsage* u = options_.usage.get(); u && u->handle_quota.load() > 0 && !handles_.contains(handle)) {
    const int64_t held = u->handles.load() + static_cast<int64_t>(handles_.size()) - handles_counted_;
    TD_CHECK(held < u->handle_quota.load(), ErrorCode::kResourceExhausted, "[", op, "] handle quota of user '",
             u->name, "': ", held, " handles held, the most allowed (release some)");
  }
  if (const auto* t = std::get_if<Tensor>(&slot); t && t->defined() && t->requires_grad()) {
    grad_holders_.push_back(t->impl_ptr());
    if (grad_holders_.size() >= 2 * grad_holders_compacted_) {  // amortised: drop the ones already gone
      std::erase_if(grad_holders_, [](const std::weak_ptr<TensorImpl>& w) { return w.expired(); });
      grad_holders_compacted_ = std::max<size_t>(64, grad_holders_.size());
    }
  }
  handles_.insert_or_assign(handle, std::move(slot));
}

void Session::poison_outputs(const pb::Command& cmd, const Error& error) {
  auto poison = [&](uint64_t h) {
    if (h != 0 && h < kServerHandleBit) handles_.insert_or_assign(h, Poison{error, cmd.seq()});
  };
  if (cmd.has_op()) {
    for (uint64_t h : cmd.op().outputs()) poison(h);
  } else if (cmd.has_put()) {
    uploads_.erase(cmd.put().handle());
    poison(cmd.put().handle());
  } else if (cmd.has_grad()) {
    poison(cmd.grad().output());
  } else if (cmd.has_call_module()) {
    for (uint64_t h : cmd.call_module().outputs()) poison(h);
  } else if (cmd.has_module_tensor()) {
    poison(cmd.module_tensor().output());
  } else if (cmd.has_module_hook_scope()) {
    for (uint64_t h : cmd.module_hook_scope().outputs()) poison(h);
  } else if (cmd.has_checkpoint() && cmd.checkpoint().action() == pb::CheckpointCommand::CHECKPOINT_READ) {
    poison(cmd.checkpoint().output());
  }
}

Value Session::decode(const pb::Value& v, std::string_view op, size_t index) {
  switch (v.kind_case()) {
    case pb::Value::kNone: return None{};
    case pb::Value::kTensor:
      return resolve(v.tensor(), op, "argument", /*allow_undefined=*/true, static_cast<int64_t>(index));
    case pb::Value::kBoolValue: return Scalar(v.bool_value());
    case pb::Value::kIntValue: return Scalar(static_cast<int64_t>(v.int_value()));
    case pb::Value::kFloatValue: return Scalar(v.float_value());
    case pb::Value::kIntList: return std::vector<int64_t>(v.int_list().values().begin(), v.int_list().values().end());
    case pb::Value::kStringValue: return v.string_value();
    case pb::Value::kDtype: return codec::from_proto(v.dtype());
    case pb::Value::kTensorList: {
      std::vector<Tensor> list;
      // Handle 0 is None in a `Tensor?[]` (index's); client handles start at 1.
      for (uint64_t h : v.tensor_list().handles()) {
        list.push_back(h ? resolve(h, op, "argument", /*allow_undefined=*/true, static_cast<int64_t>(index)) : Tensor());
      }
      return list;
    }
    default: throw Error(ErrorCode::kInvalidArgument, str("[", op, "] argument ", index, " has no value"));
  }
}

void Session::run_op(const pb::Command& cmd) {
  const pb::OpCommand& op = cmd.op();
  std::vector<Value> args;
  args.reserve(op.args_size());
  for (int i = 0; i < op.args_size(); ++i) args.push_back(decode(op.args(i), op.op(), static_cast<size_t>(i)));
  std::vector<Tensor> outs = call_op(op.op(), std::move(args));
  TD_CHECK_ARG(static_cast<size_t>(op.outputs_size()) == outs.size(), "[", op.op(), "] returns ", outs.size(),
               " tensors but ", op.outputs_size(), " output handles were given");
  for (size_t i = 0; i < outs.size(); ++i) bind_output(op.outputs(static_cast<int>(i)), std::move(outs[i]), op.op());
}

void Session::put(const pb::PutChunk& chunk) {
  auto it = uploads_.find(chunk.handle());
  if (chunk.offset() == 0 && it == uploads_.end()) {
    Device device = chunk.device().empty() ? options_.device : Device::parse(chunk.device());
    const DType dtype = codec::from_proto(chunk.dtype());
    std::vector<int64_t> shape(chunk.shape().begin(), chunk.shape().end());
    (void)codec::checked_nbytes(dtype, shape);  // negative or overflowing sizes, before any allocation
    it = uploads_.emplace(chunk.handle(), Upload{empty(shape, {dtype, kCPU}), 0, device, chunk.requires_grad()}).first;
  }
  TD_CHECK_ARG(it != uploads_.end(), "[put] chunk at offset ", chunk.offset(), " for handle ", chunk.handle(),
               " with no upload started");
  Upload& up = it->second;
  const size_t total = up.host.nbytes();
  TD_CHECK_ARG(chunk.offset() == up.received, "[put] chunk at offset ", chunk.offset(), " but ", up.received,
               " bytes arrived so far");
  TD_CHECK_ARG(up.received + chunk.data().size() <= total, "[put] chunks overflow a ", dtype_name(up.host.dtype()),
               " tensor of shape ", shape_str(up.host.shape()), " (", total, " bytes)");
  if (!chunk.data().empty()) {
    std::memcpy(static_cast<char*>(up.host.data_ptr()) + up.received, chunk.data().data(), chunk.data().size());
  }
  up.received += chunk.data().size();
  if (!chunk.last()) return;
  Upload done = std::move(up);
  uploads_.erase(it);
  TD_CHECK_ARG(done.received == total, "[put] upload of handle ", chunk.handle(), " ended after ", done.received,
               " bytes; a ", dtype_name(done.host.dtype()), " tensor of shape ", shape_str(done.host.shape()),
               " needs more");
  Tensor t = done.device.is_cpu() ? done.host : done.host.to(done.device.str());
  if (done.requires_grad) t.requires_grad_();
  bind_output(chunk.handle(), std::move(t), "put");
}

void Session::fetch(const pb::FetchCommand& cmd) {
  Tensor t = resolve(cmd.handle(), "fetch", "tensor");
  Tensor host = t.to("cpu").contiguous();
  const char* data = static_cast<const char*>(host.data_ptr());
  codec::for_each_chunk(host.nbytes(), [&](size_t offset, size_t size, bool last) {
    pb::ServerMessage m;
    auto* v = m.mutable_value();
    v->set_request_id(cmd.request_id());
    if (offset == 0) {
      v->set_dtype(codec::to_proto(host.dtype()));
      for (int64_t s : host.sizes()) v->add_shape(s);
    }
    v->set_offset(offset);
    if (size) v->set_data(data + offset, size);
    v->set_last(last);
    send(m);
  });
}

void Session::backward(const pb::Command& cmd) {
  const auto& b = cmd.backward();
  const Tensor& t = resolve(b.tensor(), "backward", "tensor");
  Tensor gradient = b.gradient() ? resolve(b.gradient(), "backward", "gradient") : Tensor();
  const auto start = Clock::now();
  struct Timer {  // reports failed backwards too
    Session* self;
    Clock::time_point start;
    ~Timer() {
      if (self->observer_) self->observer_->on_backward(self->options_.device.type, seconds_since(start));
    }
  } timer{this, start};
  t.backward(gradient, b.retain_graph(), b.create_graph());
  pb::ServerMessage m;
  m.mutable_done()->set_request_id(b.request_id());
  m.mutable_done()->set_seq(cmd.seq());
  send(m);
}

void Session::register_hook(const pb::RegisterHookCommand& cmd) {
  const Tensor& t = resolve(cmd.tensor(), "register_hook", "tensor");
  TD_CHECK(!hooks_.contains(cmd.hook_id()), ErrorCode::kAlreadyExists, "[register_hook] hook id ", cmd.hook_id(),
           " is already registered");
  add_tensor_hook(t, cmd);
}

void Session::add_tensor_hook(const Tensor& t, const pb::RegisterHookCommand& cmd) {
  uint64_t hook_id = cmd.hook_id();
  pb::HookMode mode = cmd.mode();
  // The hook lives in the autograd graph, which may outlive the session: hold it weakly.
  std::weak_ptr<Session> weak = weak_from_this();
  HookHandle handle;
  if (cmd.builtin() == pb::BUILTIN_NONE) {
    handle = t.register_hook([weak, hook_id, mode](const Tensor& grad) -> Tensor {
      auto self = weak.lock();
      if (!self) return Tensor();
      return self->on_hook(hook_id, mode, grad);
    });
  } else {
    TD_CHECK_ARG(cmd.builtin() != pb::BUILTIN_CLIP_VALUE || cmd.clip_value() > 0,
                 "[register_hook] clip_value must be positive, got ", cmd.clip_value());
    TD_CHECK_ARG(cmd.builtin() != pb::BUILTIN_CLIP_NORM || cmd.max_norm() > 0,
                 "[register_hook] max_norm must be positive, got ", cmd.max_norm());
    handle = t.register_hook([weak, hook_id, cmd](const Tensor& grad) -> Tensor {
      auto self = weak.lock();
      if (!self) return Tensor();
      if (self->observer_) self->observer_->on_hook_event("builtin", false);
      return self->on_builtin_hook(hook_id, cmd, grad);
    });
  }
  pb::Command spec;
  *spec.mutable_register_hook() = cmd;
  hooks_.emplace(hook_id, Hook{std::move(handle), mode, std::make_shared<const pb::Command>(std::move(spec)), t.impl_ptr()});
}

Tensor Session::on_builtin_hook(uint64_t hook_id, const pb::RegisterHookCommand& spec, const Tensor& grad) {
  autograd::NoGradGuard no_grad;
  switch (spec.builtin()) {
    case pb::BUILTIN_GRAD_STATS: {
      // The counts, then the statistics of the finite entries (one mask for all of them), read back as numbers.
      const Tensor g = grad.detach().to(DType::kFloat64);
      const Tensor nan = g.isnan(), inf = g.isinf();
      const Tensor ok = nan.logical_or(inf).logical_not();
      const int64_t n_nan = nan.sum().item<int64_t>(), n_inf = inf.sum().item<int64_t>();
      const int64_t n_finite = g.numel() - n_nan - n_inf;
      pb::ServerMessage m;
      auto* ev = m.mutable_grad_stats();
      ev->set_hook_id(hook_id);
      for (int64_t d : g.shape()) ev->add_shape(d);
      ev->set_nan_count(n_nan);
      ev->set_inf_count(n_inf);
      if (n_finite > 0) {
        const Tensor finite = g.where(ok, 0.0);
        const double inf_d = std::numeric_limits<double>::infinity();
        ev->set_min(g.where(ok, inf_d).min().item<double>());
        ev->set_max(g.where(ok, -inf_d).max().item<double>());
        ev->set_mean(finite.sum().item<double>() / static_cast<double>(n_finite));
        ev->set_abs_max(finite.abs().max().item<double>());
        ev->set_norm(finite.mul(finite).sum().sqrt().item<double>());
      }
      send(m);
      return Tensor();
    }
    case pb::BUILTIN_NAN_GUARD: {
      const int64_t n_nan = grad.isnan().sum().item<int64_t>(), n_inf = grad.isinf().sum().item<int64_t>();
      TD_CHECK(n_nan == 0 && n_inf == 0, ErrorCode::kFailedPrecondition, "[backward] NaN guard (hook ", hook_id,
               "): the gradient of shape ", shape_str(grad.shape()), " holds ", n_nan, " NaN and ", n_inf, " Inf values");
      return Tensor();
    }
    case pb::BUILTIN_CLIP_VALUE: return grad.clamp(-spec.clip_value(), spec.clip_value());
    case pb::BUILTIN_CLIP_NORM: {
      const double norm = grad.detach().to(DType::kFloat64).norm().item<double>();
      if (!(norm > spec.max_norm())) return Tensor();
      return grad.mul(spec.max_norm() / (norm + 1e-6));
    }
    default:
      throw Error(ErrorCode::kInvalidArgument, str("[register_hook] unknown builtin hook ", static_cast<int>(spec.builtin())));
  }
}

Tensor Session::on_hook(uint64_t hook_id, pb::HookMode mode, const Tensor& grad) {
  if (observer_) observer_->on_hook_event("tensor", mode != pb::HOOK_MODE_OBSERVE);
  uint64_t grad_handle = next_server_handle_++;
  uint64_t event_id = next_event_++;
  handles_.insert_or_assign(grad_handle, grad.detach());
  pb::ServerMessage m;
  auto* ev = m.mutable_hook();
  ev->set_event_id(event_id);
  ev->set_hook_id(hook_id);
  ev->set_grad(grad_handle);
  ev->set_mode(mode);
  send(m);
  if (mode == pb::HOOK_MODE_OBSERVE) return Tensor();
  const uint64_t replacement = wait_hook_reply(event_id, hook_id, "backward", {grad_handle}).replacement;
  if (replacement == 0) return Tensor();
  return resolve(replacement, "hook_reply", "replacement");
}

Session::HookReplyValue Session::wait_hook_reply(uint64_t event_id, uint64_t hook_id, std::string_view what,
                                                 const std::vector<uint64_t>& temporaries) {
  // Keep executing this client's commands (its callback may issue ops and item()) until the reply. A client
  // whose stream drops may attach again within the hook timeout: the event is replayed to it and its reply
  // (or the callback's commands) sent again, so the backward goes on.
  auto start = Clock::now();
  auto deadline = start + options_.hook_timeout;
  // The reply comes through the stream's reader, which must not wait for room meanwhile.
  struct Waiting {
    Session& s;
    explicit Waiting(Session& session) : s(session) {
      std::lock_guard lock(s.mu_);
      ++s.hooks_waiting_;
      s.room_cv_.notify_all();
    }
    ~Waiting() {
      std::lock_guard lock(s.mu_);
      --s.hooks_waiting_;
    }
  } waiting(*this);
  while (!hook_replies_.contains(event_id)) {
    auto cmd = next_command(deadline, event_id);
    if (cmd) {
      run_inbound(*cmd, Clock::now());
      continue;
    }
    bool closed, detached;
    {
      std::lock_guard lock(mu_);
      closed = closed_;
      detached = !sink_;
    }
    if (!closed && Clock::now() < deadline) continue;
    for (uint64_t h : temporaries) handles_.erase(h);
    const double timeout = std::chrono::duration<double>(options_.hook_timeout).count();
    const ErrorCode code = closed ? ErrorCode::kCancelled : detached ? ErrorCode::kUnavailable : ErrorCode::kDeadlineExceeded;
    if (observer_) observer_->on_hook_reply(seconds_since(start), code);
    if (closed) throw Error(code, str("[", what, "] hook ", hook_id, " got no reply: the session was closed"));
    if (detached) {
      throw Error(code, str("[", what, "] hook ", hook_id, " got no reply: the client detached while it was running "
                            "and did not attach again within the hook timeout (", timeout, " s)"));
    }
    throw Error(code, str("[", what, "] hook ", hook_id, " got no reply within ", timeout, " s"));
  }
  HookReplyValue reply = std::move(hook_replies_[event_id]);
  hook_replies_.erase(event_id);
  if (observer_) observer_->on_hook_reply(seconds_since(start), ErrorCode::kOk);
  return reply;
}

void Session::grad(const pb::GradCommand& cmd) {
  const Tensor& t = resolve(cmd.tensor(), "grad", "tensor");
  Tensor g = t.grad();
  TD_CHECK(g.defined(), ErrorCode::kFailedPrecondition, "[grad] tensor ", cmd.tensor(),
           " has no .grad (it is not a leaf that took part in a backward, and retain_grad() was not called)");
  bind_output(cmd.output(), g, "grad");
}

}  // namespace td::server
