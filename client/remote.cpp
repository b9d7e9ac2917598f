#include "client/remote.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "client/remote_internal.h"
#include "proto/codec.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace td::remote {

namespace pb = ::tensord::v1;

namespace {
// Flush a batch once it holds this many commands or bytes, even before a sync point. Larger batches mean fewer
// writes and wake-ups of the server's reader: pipelined small ops ran ~10% faster at 2048 than at 512.
constexpr int kFlushCommands = kBatchCommands;
constexpr size_t kFlushBytes = 1 << 20;
constexpr int kMaxMessageBytes = 8 << 20;
/// The most bytes of sent, unacknowledged commands kept for a re-attach.
constexpr size_t kMaxUnackedBytes = size_t{256} << 20;

// The hook event whose callback this thread is running (0: none): commands it issues are tagged with it.
thread_local uint64_t current_hook_event = 0;
struct HookEventScope {
  explicit HookEventScope(uint64_t event) : previous(current_hook_event) { current_hook_event = event; }
  ~HookEventScope() { current_hook_event = previous; }
  uint64_t previous;
};

Error from_status(const grpc::Status& s) {
  return Error(static_cast<ErrorCode>(static_cast<int>(s.error_code())), s.error_message());
}
}  // namespace

struct Client::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Tensord::Stub> stub;
  std::string token;
  std::chrono::milliseconds reconnect_timeout{30000};
  /// Carries the caller's credentials ("authorization: Bearer <token>") on every call.
  void authorize(grpc::ClientContext& ctx) const {
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  }
};

// Owns one handle: the last copy of a remote::Tensor releases it on the server.
struct Tensor::Ref {
  Ref(std::weak_ptr<SessionState> s, SessionState* raw, uint64_t h) : session(std::move(s)), state(raw), handle(h) {}
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  ~Ref();
  std::weak_ptr<SessionState> session;
  SessionState* state;  // session's, for a use checked with expired() (a load, where lock() is two atomic updates)
  uint64_t handle;
};

/// The client side of one session: pending batch, reader thread, waiters, hooks.
class SessionState : public std::enable_shared_from_this<SessionState> {
 public:
  SessionState(std::shared_ptr<Client::Impl> client, pb::SessionInfo info)
      : client_(std::move(client)), info_(std::move(info)) {}

  ~SessionState() { shutdown(); }

  void open() {
    Attachment a = attach_stream(0);
    if (!a.stream) throw from_status(a.status);
    stream_ = std::move(a.stream);
    context_ = std::move(a.context);
    reader_ = std::thread([this] { read_loop(); });
  }

  /// One Attach call: a stream whose first reply was `attached`, or (stream null) the call's status.
  struct Attachment {
    std::unique_ptr<grpc::ClientContext> context;  // declared first: it must outlive the stream
    std::unique_ptr<grpc::ClientReaderWriter<pb::ClientMessage, pb::ServerMessage>> stream;
    pb::ServerMessage first;
    grpc::Status status;
  };
  Attachment attach_stream(uint64_t last_event) {
    Attachment a;
    a.context = std::make_unique<grpc::ClientContext>();
    client_->authorize(*a.context);
    a.stream = client_->stub->Attach(a.context.get());
    pb::ClientMessage attach;
    attach.mutable_attach()->set_session_id(info_.id());
    attach.mutable_attach()->set_last_event(last_event);
    if (!a.stream->Write(attach) || !a.stream->Read(&a.first) || !a.first.has_attached()) {
      a.status = a.stream->Finish();
      if (a.status.ok()) a.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "[attach] no attach reply");
      a.stream.reset();
    }
    return a;
  }

  void shutdown() {
    {
      std::lock_guard lock(write_mu_);
      if (!stream_ || finished_) return;
      finished_ = true;
      if (!closing_ && !stream_finished_ && !writes_ended_) {  // after a Goodbye the writes are ended already
        flush_locked();
        closing_ = true;
        stream_->WritesDone();
      }
    }
    if (reader_.joinable()) reader_.join();
    std::lock_guard lock(write_mu_);
    if (!stream_finished_) stream_->Finish();  // the reader may have finished it, giving up on a re-attach
    stream_finished_ = true;
  }

  const pb::SessionInfo& info() const { return info_; }

  /// Frees the session on the server now rather than at its expiry.
  void close_on_server() {
    grpc::ClientContext ctx;
    client_->authorize(ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    pb::CloseSessionRequest req;
    req.set_id(info_.id());
    pb::CloseSessionResponse resp;
    client_->stub->CloseSession(&ctx, req, &resp);
  }

  uint64_t new_handle() {
    std::lock_guard lock(write_mu_);
    return next_handle_++;
  }

  /// Sets the session's grad mode (a command, when it changes); returns the previous one.
  bool set_grad_enabled(bool enabled) {
    const bool previous = grad_enabled_.exchange(enabled);
    if (previous != enabled) {
      pb::Command cmd;
      cmd.mutable_set_grad_mode()->set_enabled(enabled);
      push(std::move(cmd));
    }
    return previous;
  }

  /// Appends a command; flushes when the batch is large. A command issued by a hook callback carries the
  /// event it answers, so the server runs it while the hook waits.
  void push(pb::Command cmd) {
    std::lock_guard lock(write_mu_);
    auto* owned = new pb::Command(std::move(cmd));  // the arena takes it over, uncopied (an upload's chunk)
    pending().batch->mutable_commands()->AddAllocated(owned);
    pushed_locked(*owned);
  }

  /// Appends a command that `fill` writes straight into the batch's arena (under the write lock, so `fill`
  /// may take handles with next_handle_locked()); flushes when the batch is large.
  template <class Fill>
  void push_with(Fill&& fill) {
    std::lock_guard lock(write_mu_);
    pb::Command* cmd = pending().batch->add_commands();
    try {
      fill(*cmd);
    } catch (...) {
      pending_.batch->mutable_commands()->RemoveLast();  // a bad argument leaves nothing half-built behind
      throw;
    }
    pushed_locked(*cmd);
  }

  uint64_t next_handle_locked() { return next_handle_++; }

  /// At least the command's encoded size: an op's from its fields' counts (no walk of the message, which a
  /// stream of small ops would pay once more on top of the write's), any other command's exactly.
  static size_t size_bound(const pb::Command& cmd) {
    if (!cmd.has_op()) return cmd.ByteSizeLong();
    const pb::OpCommand& op = cmd.op();
    size_t n = 48 + op.op().size() + 11 * static_cast<size_t>(op.outputs_size());
    for (const pb::Value& v : op.args()) {
      switch (v.kind_case()) {
        case pb::Value::kIntList: n += 16 + 11 * static_cast<size_t>(v.int_list().values_size()); break;
        case pb::Value::kTensorList: n += 16 + 11 * static_cast<size_t>(v.tensor_list().handles_size()); break;
        case pb::Value::kStringValue: n += 16 + v.string_value().size(); break;
        default: n += 16; break;  // a tag, a length and one varint or double
      }
    }
    return n;
  }

  /// Numbers a command just added to the batch and flushes when the batch is large.
  void pushed_locked(pb::Command& cmd) {
    cmd.set_seq(next_seq_++);
    if (current_hook_event != 0) cmd.set_hook_event(current_hook_event);
    batch_bytes_ += size_bound(cmd);
    if (pending_.batch->commands_size() >= kFlushCommands || batch_bytes_ >= kFlushBytes) flush_locked();
  }

  void flush() {
    std::lock_guard lock(write_mu_);
    flush_locked();
  }

  void release(uint64_t handle) {
    std::lock_guard lock(write_mu_);
    if (closing_) return;
    pb::Command* cmd = pending().batch->add_commands();
    cmd->set_seq(next_seq_++);
    cmd->mutable_release()->add_handles(handle);
  }

  uint64_t new_request() {
    std::lock_guard lock(mu_);
    uint64_t id = next_request_++;
    waiters_[id];
    return id;
  }

  struct Waiter {
    bool done = false;
    std::optional<Error> error;
    std::optional<codec::ChunkAssembler> value;
    std::optional<pb::ServerMessage> info;  // a ModuleInfo or OptimizerInfo reply
    std::vector<pb::ProfilerTrace> traces;   // a profiler reply's traces, the last one open until `last`
    bool trace_open = false;
  };

  /// Flushes and waits for a request, running hook callbacks that arrive meanwhile on this thread.
  Waiter wait(uint64_t request_id) {
    flush();
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return waiters_[request_id].done || !hook_events_.empty() || broken_; });
      // Hook events that arrived before the completion run first: they came earlier on the stream.
      if (!hook_events_.empty()) {
        pb::ServerMessage ev = std::move(hook_events_.front());
        hook_events_.pop_front();
        lock.unlock();
        if (ev.has_hook()) {
          run_hook(ev.hook());
        } else if (ev.has_module_hook()) {
          run_module_hook(ev.module_hook());
        } else {
          run_stats_hook(ev.grad_stats());
        }
        lock.lock();
        continue;
      }
      if (waiters_[request_id].done) break;
      throw Error(ErrorCode::kUnavailable, str("[session] the stream to the server broke: ", broken_message_));
    }
    Waiter w = std::move(waiters_[request_id]);
    waiters_.erase(request_id);
    // A request's own error wins; otherwise report the first asynchronous error since the last sync point.
    if (w.error) {
      async_error_.reset();
      throw *w.error;
    }
    if (async_error_) {
      Error e = std::move(*async_error_);
      async_error_.reset();
      throw e;
    }
    return w;
  }

  uint64_t add_hook(RemoteTensorHook fn) {
    std::lock_guard lock(mu_);
    uint64_t id = next_hook_++;
    hooks_[id] = std::move(fn);
    return id;
  }
  uint64_t add_stats_hook(GradStatsCallback fn) {
    std::lock_guard lock(mu_);
    uint64_t id = next_hook_++;
    stats_hooks_[id] = std::move(fn);
    return id;
  }
  uint64_t add_module_hook(RemoteModuleHook fn) {
    std::lock_guard lock(mu_);
    uint64_t id = next_hook_++;
    module_hooks_[id] = std::move(fn);
    return id;
  }
  void remove_hook(uint64_t id) {
    {
      std::lock_guard lock(mu_);
      hooks_.erase(id);
      module_hooks_.erase(id);
      stats_hooks_.erase(id);
    }
    pb::Command cmd;
    cmd.mutable_remove_hook()->set_hook_id(id);
    push(std::move(cmd));
  }

 private:
  void flush_locked() {
    // While the server restarts (a Goodbye with restore), commands wait in the batch for the new stream.
    if (!pending_.batch || pending_.batch->commands_size() == 0 || !stream_ || closing_ || stream_finished_ ||
        writes_ended_) {
      return;
    }
    // Sent batches are kept until the server acknowledges their last command (ack_seq), so a re-attach can
    // send again what the server had not received; they are moved in after the write, not copied.
    const uint64_t acked = acked_seq_.load();
    while (!unacked_.empty() && unacked_.front().last_seq <= acked) {
      unacked_bytes_ -= unacked_.front().bytes;
      unacked_.pop_front();
    }
    const size_t bytes = batch_bytes_;
    Outgoing out = std::move(pending_);
    pending_ = Outgoing{};
    batch_bytes_ = 0;
    out.batch->set_ack_event(last_event_.load());
    stream_->Write(*out.message);  // a failed write shows up as a broken stream in the reader, which re-attaches
    if (client_->reconnect_timeout.count() > 0) {
      const uint64_t last_seq = out.batch->commands(out.batch->commands_size() - 1).seq();
      unacked_bytes_ += bytes;
      unacked_.push_back(SentBatch{std::move(out), bytes, last_seq});
      // A long upload with no reply in between would keep all of it: past the cap the batches go, and a
      // re-attach is possible again once the server has acknowledged what was dropped.
      if (unacked_bytes_ > kMaxUnackedBytes) {
        unresendable_through_ = last_seq;
        unacked_.clear();
        unacked_bytes_ = 0;
      }
    }
  }

  /// After the stream broke: attaches again (for up to the reconnect timeout), hears which commands the
  /// session has, sends the rest again, and lets the server replay the events this client missed. False
  /// when the session is gone, the credentials are refused, the client is closing, or time ran out.
  bool reconnect() {
    {
      std::lock_guard lock(mu_);
      if (!goodbye_.empty()) return false;
    }
    {
      std::lock_guard lock(write_mu_);
      if (closing_ || client_->reconnect_timeout.count() <= 0) return false;
      const grpc::Status old = stream_->Finish();
      stream_finished_ = true;  // no more writes or Finish on it
      if (old.error_code() == grpc::StatusCode::UNAUTHENTICATED) return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + client_->reconnect_timeout;
    auto backoff = std::chrono::milliseconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      Attachment a = attach_stream(last_event_.load());
      const pb::ServerMessage& first = a.first;
      if (a.stream) {
        std::lock_guard lock(write_mu_);
        if (closing_) return false;
        if (first.attached().last_seq() < unresendable_through_) {
          std::lock_guard events_lock(mu_);
          goodbye_ = str("the stream dropped while more than ", kMaxUnackedBytes >> 20,
                         " MiB of commands were unacknowledged, and they cannot be sent again");
          return false;
        }
        stream_ = std::move(a.stream);
        context_ = std::move(a.context);
        ++stream_generation_;
        stream_finished_ = false;
        writes_ended_ = false;
        restore_pending_ = false;
        pb::ClientMessage again;
        for (const SentBatch& sent : unacked_) {
          for (const pb::Command& c : sent.out.batch->commands()) {
            if (c.seq() <= first.attached().last_seq()) continue;
            *again.mutable_batch()->add_commands() = c;
            if (again.batch().commands_size() == kFlushCommands) {
              stream_->Write(again);
              again.Clear();
            }
          }
        }
        if (again.batch().commands_size() > 0) stream_->Write(again);
        flush_locked();  // what was batched while the stream was down
        if (first.attached().events_lost()) {
          std::lock_guard events_lock(mu_);
          const Error lost(ErrorCode::kUnavailable,
                           "[session] the connection dropped and the server no longer had every event this client "
                           "missed; values and hook events may be lost");
          for (auto& [id, w] : waiters_) {
            w.error = lost;
            w.done = true;
          }
          if (!async_error_) async_error_ = lost;
          cv_.notify_all();
        }
        return true;
      }
      const grpc::Status& st = a.status;
      const auto code = st.error_code();
      if (code == grpc::StatusCode::NOT_FOUND || code == grpc::StatusCode::UNAUTHENTICATED ||
          code == grpc::StatusCode::PERMISSION_DENIED ||
          (code == grpc::StatusCode::UNAVAILABLE && st.error_message().find("shutting down") != std::string::npos &&
           !restore_pending_.load())) {
        std::lock_guard lock(mu_);
        goodbye_ = st.error_message();  // why the session is gone, for the next sync point
        return false;
      }
      // Wait, in short steps so that a close does not hang on it.
      for (auto until = std::chrono::steady_clock::now() + backoff; std::chrono::steady_clock::now() < until;) {
        {
          std::lock_guard lock(write_mu_);
          if (closing_) return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
    return false;
  }

  void run_hook(const pb::HookEvent& ev) {
    RemoteTensorHook fn;
    {
      std::lock_guard lock(mu_);
      if (auto it = hooks_.find(ev.hook_id()); it != hooks_.end()) fn = it->second;
    }
    Tensor grad(std::make_shared<Tensor::Ref>(weak_from_this(), this, ev.grad()));
    std::optional<Tensor> replacement;
    std::exception_ptr failure;
    try {
      HookEventScope scope(ev.event_id());
      if (fn) replacement = fn(grad);
    } catch (...) {
      failure = std::current_exception();  // still reply first, so the server's backward is not left waiting
    }
    if (ev.mode() == pb::HOOK_MODE_BLOCKING) {
      pb::Command reply;
      reply.mutable_hook_reply()->set_event_id(ev.event_id());
      if (replacement && replacement->defined()) reply.mutable_hook_reply()->set_replacement(replacement->handle());
      push(std::move(reply));
      flush();
    }
    if (failure) std::rethrow_exception(failure);
  }

  void run_stats_hook(const pb::GradStatsEvent& ev) {
    GradStatsCallback fn;
    {
      std::lock_guard lock(mu_);
      if (auto it = stats_hooks_.find(ev.hook_id()); it != stats_hooks_.end()) fn = it->second;
    }
    if (!fn) return;
    GradStats st;
    st.shape.assign(ev.shape().begin(), ev.shape().end());
    st.min = ev.min();
    st.max = ev.max();
    st.mean = ev.mean();
    st.abs_max = ev.abs_max();
    st.norm = ev.norm();
    st.nan_count = ev.nan_count();
    st.inf_count = ev.inf_count();
    fn(st);
  }

  void run_module_hook(const pb::ModuleHookEvent& ev) {
    RemoteModuleHook fn;
    {
      std::lock_guard lock(mu_);
      if (auto it = module_hooks_.find(ev.hook_id()); it != module_hooks_.end()) fn = it->second;
    }
    auto list = [&](const google::protobuf::RepeatedField<uint64_t>& handles) {
      std::vector<Tensor> out;
      for (uint64_t h : handles) out.push_back(h ? Tensor(std::make_shared<Tensor::Ref>(weak_from_this(), this, h)) : Tensor());
      return out;
    };
    std::optional<std::vector<Tensor>> replacement;
    std::exception_ptr failure;
    try {
      HookEventScope scope(ev.event_id());
      if (fn) replacement = fn(list(ev.inputs()), list(ev.outputs()));
    } catch (...) {
      failure = std::current_exception();  // reply first, so the server is not left waiting
    }
    if (ev.mode() == pb::HOOK_MODE_BLOCKING) {
      pb::Command reply;
      reply.mutable_hook_reply()->set_event_id(ev.event_id());
      if (replacement) {
        for (const Tensor& t : *replacement) reply.mutable_hook_reply()->add_replacements(t.defined() ? t.handle() : 0);
      }
      push(std::move(reply));
      flush();
    }
    if (failure) std::rethrow_exception(failure);
  }

  void read_loop() {
    do {
      pb::ServerMessage msg;
      while (stream_->Read(&msg)) handle_event(msg);
    } while (reconnect());
    std::lock_guard lock(mu_);
    broken_ = true;
    broken_message_ = !goodbye_.empty() ? goodbye_ : closing_ ? "session closed" : "stream ended";
    cv_.notify_all();
  }

  void handle_event(pb::ServerMessage& msg) {
    if (msg.event_seq() != 0) {
      if (msg.event_seq() <= last_event_.load()) return;  // replayed after a re-attach, and seen already
      last_event_ = msg.event_seq();
    }
    if (msg.ack_seq() > acked_seq_.load()) acked_seq_ = msg.ack_seq();
    {
      std::lock_guard lock(mu_);
      switch (msg.kind_case()) {
        case pb::ServerMessage::kError: {
          const auto& e = msg.error();
          Error err(static_cast<ErrorCode>(e.code()), e.message());
          if (e.request_id() && waiters_.contains(e.request_id())) {
            auto& w = waiters_[e.request_id()];
            w.error = err;
            w.done = true;
          } else if (!async_error_) {
            async_error_ = err;
          }
          break;
        }
        case pb::ServerMessage::kValue: {
          const auto& v = msg.value();
          auto& w = waiters_[v.request_id()];
          try {
            if (v.offset() == 0) {
              // The server's header sizes the buffer at once: one allocation, however large the tensor.
              w.value.emplace(codec::from_proto(v.dtype()), std::vector<int64_t>(v.shape().begin(), v.shape().end()),
                              SIZE_MAX);
            }
            if (w.value) w.value->add(v.offset(), v.data());
          } catch (const Error& e) {
            w.error = e;
          } catch (const std::exception& e) {  // a tensor too large for this client's memory
            w.value.reset();
            w.error = Error(ErrorCode::kResourceExhausted, str("[fetch] the tensor does not fit in memory here: ", e.what()));
          }
          if (v.last()) w.done = true;
          break;
        }
        case pb::ServerMessage::kDone: waiters_[msg.done().request_id()].done = true; break;
        case pb::ServerMessage::kModuleInfo:
        case pb::ServerMessage::kOptimizerInfo: {
          const uint64_t id = msg.has_module_info() ? msg.module_info().request_id() : msg.optimizer_info().request_id();
          auto& w = waiters_[id];
          w.info = msg;
          w.done = true;
          break;
        }
        case pb::ServerMessage::kProfilerTrace: {
          auto& trace = *msg.mutable_profiler_trace();
          auto& w = waiters_[trace.request_id()];
          if (trace.events_size() > 0 || trace.memory_size() > 0 || trace.last()) {
            if (!w.trace_open) w.traces.emplace_back();
            w.traces.back().MergeFrom(trace);
            w.trace_open = !trace.last();
          }
          if (trace.complete()) w.done = true;
          break;
        }
        case pb::ServerMessage::kGoodbye:
          // With restore, the server saved the session: the stream ends and reconnect() attaches again once
          // the server is back (UNAVAILABLE "shutting down" then means "not yet").
          if (msg.goodbye().restore()) {
            restore_pending_ = true;
          } else {
            goodbye_ = msg.goodbye().reason();
          }
          // Half-close (off this lock: writes take write_mu_); the server then ends the call.
          std::thread([self = shared_from_this(), restore = msg.goodbye().restore(), generation = stream_generation_] {
            self->end_writes(generation, restore);
          }).detach();
          break;
        case pb::ServerMessage::kHook:
        case pb::ServerMessage::kModuleHook:
        case pb::ServerMessage::kGradStats: hook_events_.push_back(msg); break;
        default: break;
      }
      cv_.notify_all();
    }
  }

  /// Ends the client's half of the stream of that generation (after a Goodbye on it); the session stays open on
  /// this side when the server will restore it.
  void end_writes(uint64_t generation, bool restore) {
    std::lock_guard lock(write_mu_);
    // A re-attach may have replaced the stream the Goodbye came on before this thread ran: the new one stays.
    if (generation != stream_generation_) return;
    if (!stream_ || closing_ || stream_finished_ || writes_ended_) return;
    if (restore) {
      writes_ended_ = true;
    } else {
      closing_ = true;
    }
    stream_->WritesDone();
  }

  std::shared_ptr<Client::Impl> client_;
  pb::SessionInfo info_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::ClientMessage, pb::ServerMessage>> stream_;
  std::thread reader_;

  std::mutex write_mu_;  // the batch, seq/handle counters, and stream writes
  /// A batch being filled or sent: built in its own arena, so its commands are allocated and freed in a
  /// few blocks rather than one by one.
  struct Outgoing {
    std::unique_ptr<google::protobuf::Arena> arena;
    pb::ClientMessage* message = nullptr;  // on arena
    pb::CommandBatch* batch = nullptr;     // message's
  };
  Outgoing& pending() {
    if (!pending_.batch) {
      google::protobuf::ArenaOptions o;
      o.start_block_size = 8 << 10;
      o.max_block_size = 64 << 10;  // under glibc's mmap threshold
      pending_.arena = std::make_unique<google::protobuf::Arena>(o);
      pending_.message = google::protobuf::Arena::CreateMessage<pb::ClientMessage>(pending_.arena.get());
      pending_.batch = pending_.message->mutable_batch();
    }
    return pending_;
  }
  Outgoing pending_;
  size_t batch_bytes_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t next_handle_ = 1;
  bool closing_ = false;
  bool finished_ = false;         // shutdown() ran
  bool stream_finished_ = false;  // Finish() was called on stream_ (the reader gave up on it)
  bool writes_ended_ = false;     // WritesDone() on stream_ after a Goodbye with restore
  // Which stream stream_ is: a re-attach counts up (written by the reader thread under write_mu_).
  uint64_t stream_generation_ = 0;
  std::atomic<bool> restore_pending_{false};  // the server said it restarts with this session
  struct SentBatch {
    Outgoing out;
    size_t bytes;
    uint64_t last_seq;
  };
  std::deque<SentBatch> unacked_;  // sent, not yet wholly acknowledged by the server (for a re-attach)
  size_t unacked_bytes_ = 0;
  uint64_t unresendable_through_ = 0;  // commands up to this seq were sent and not kept
  std::atomic<uint64_t> acked_seq_{0};
  std::atomic<uint64_t> last_event_{0};  // the last event processed
  std::atomic<bool> grad_enabled_{true};  // as the commands sent so far leave it on the server

  std::mutex mu_;  // waiters, hooks, events, errors
  std::condition_variable cv_;
  std::unordered_map<uint64_t, Waiter> waiters_;
  std::unordered_map<uint64_t, RemoteTensorHook> hooks_;
  std::unordered_map<uint64_t, RemoteModuleHook> module_hooks_;
  std::unordered_map<uint64_t, GradStatsCallback> stats_hooks_;
  std::deque<pb::ServerMessage> hook_events_;  // HookEvent and ModuleHookEvent messages, in arrival order
  std::optional<Error> async_error_;
  uint64_t next_request_ = 1;
  uint64_t next_hook_ = 1;
  bool broken_ = false;
  std::string broken_message_;
  std::string goodbye_;  // the server's reason, once it said goodbye
};

// ---- the interface of client/remote_internal.h ----

namespace internal {
uint64_t new_handle(SessionState& s) { return s.new_handle(); }
void push(SessionState& s, pb::Command cmd) { s.push(std::move(cmd)); }
pb::ServerMessage request(SessionState& s, const std::function<void(pb::Command&, uint64_t request_id)>& fill) {
  const uint64_t id = s.new_request();
  pb::Command cmd;
  fill(cmd, id);
  s.push(std::move(cmd));
  auto w = s.wait(id);
  TD_CHECK(w.info.has_value(), ErrorCode::kInternal, "[session] request ", id, " was answered without its info");
  return std::move(*w.info);
}
void request_done(SessionState& s, const std::function<void(pb::Command&, uint64_t request_id)>& fill) {
  const uint64_t id = s.new_request();
  pb::Command cmd;
  fill(cmd, id);
  s.push(std::move(cmd));
  (void)s.wait(id);
}
std::vector<pb::ProfilerTrace> request_traces(SessionState& s,
                                              const std::function<void(pb::Command&, uint64_t request_id)>& fill) {
  const uint64_t id = s.new_request();
  pb::Command cmd;
  fill(cmd, id);
  s.push(std::move(cmd));
  return std::move(s.wait(id).traces);
}
std::weak_ptr<SessionState> weak_of(SessionState& s) { return s.weak_from_this(); }
uint64_t add_module_hook(SessionState& s, RemoteModuleHook fn) { return s.add_module_hook(std::move(fn)); }
Tensor tensor_of(SessionState& s, uint64_t handle) {
  return Tensor(std::make_shared<Tensor::Ref>(s.weak_from_this(), &s, handle));
}
}  // namespace internal

// ---- Tensor ----

Tensor::Ref::~Ref() {
  if (auto s = session.lock()) s->release(handle);
}

namespace {
Tensor make_tensor(SessionState& s, uint64_t handle) {
  return Tensor(std::make_shared<Tensor::Ref>(s.weak_from_this(), &s, handle));
}

void encode(const Value& v, pb::Value* out) {
  codec::encode_value(v, out, [](const Tensor& t) { return t.handle(); });
}

}  // namespace

void internal::encode_value(const Value& v, pb::Value* out) { encode(v, out); }

namespace {
std::vector<Tensor> send_op(SessionState& s, std::string_view name, const std::vector<Value>& args, size_t n) {
  uint64_t first = 0;
  s.push_with([&](pb::Command& cmd) {
    auto* op = cmd.mutable_op();
    op->set_op(name.data(), name.size());
    for (const Value& v : args) encode(v, op->add_args());
    first = s.next_handle_locked();
    op->add_outputs(first);
    for (size_t i = 1; i < n; ++i) op->add_outputs(s.next_handle_locked());
  });
  std::vector<Tensor> results;
  results.reserve(n);
  for (size_t i = 0; i < n; ++i) results.push_back(make_tensor(s, first + i));
  return results;
}

Tensor send_op(SessionState& s, std::string_view name, const std::vector<Value>& args) {
  return std::move(send_op(s, name, args, 1)[0]);
}
}  // namespace

uint64_t Tensor::handle() const {
  TD_CHECK_ARG(ref_, "[remote] use of an undefined remote tensor");
  return ref_->handle;
}

SessionState& Tensor::state() const {
  TD_CHECK_ARG(ref_, "[remote] use of an undefined remote tensor");
  TD_CHECK(!ref_->session.expired(), ErrorCode::kFailedPrecondition, "[remote] the tensor's session is closed");
  return *ref_->state;
}

Tensor Tensor::invoke_op(std::string_view op, std::vector<Value> args) const { return send_op(state(), op, args); }

std::vector<Tensor> Tensor::invoke_op_n(std::string_view op, std::vector<Value> args, size_t n) const {
  return send_op(state(), op, args, n);
}

HostTensor Tensor::fetch() const {
  SessionState& s = state();
  uint64_t req = s.new_request();
  pb::Command cmd;
  cmd.mutable_fetch()->set_handle(handle());
  cmd.mutable_fetch()->set_request_id(req);
  s.push(std::move(cmd));
  auto w = s.wait(req);
  TD_CHECK(w.value && w.value->complete(), ErrorCode::kDataLoss, "[fetch] incomplete tensor data for handle ",
           handle());
  HostTensor h;
  h.dtype = w.value->dtype();
  h.shape = w.value->shape();
  h.bytes = w.value->take_bytes();
  return h;
}

Scalar Tensor::item() const {
  HostTensor h = fetch();
  size_t n = h.bytes.size() / itemsize(h.dtype);
  TD_CHECK_ARG(n == 1, "[item] a Tensor with ", n, " elements cannot be converted to Scalar");
  if (h.dtype == DType::kBool) return Scalar(h.values<int64_t>()[0] != 0);
  if (is_integral(h.dtype)) return Scalar(h.values<int64_t>()[0]);
  return Scalar(h.values<double>()[0]);
}

template <class T>
T Tensor::item() const {
  return item().to<T>();
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;

const Tensor& Tensor::requires_grad_(bool requires_grad) const {
  // The op returns self; its extra output handle is dropped (and released) at once.
  (void)send_op(state(), "requires_grad_", {*this, Scalar(requires_grad)});
  return *this;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  SessionState& s = state();
  uint64_t req = s.new_request();
  pb::Command cmd;
  auto* b = cmd.mutable_backward();
  b->set_tensor(handle());
  if (gradient.defined()) b->set_gradient(gradient.handle());
  b->set_retain_graph(retain_graph);
  b->set_create_graph(create_graph);
  b->set_request_id(req);
  s.push(std::move(cmd));
  s.wait(req);
}

Tensor Tensor::grad() const {
  SessionState& s = state();
  uint64_t out = s.new_handle();
  pb::Command cmd;
  cmd.mutable_grad()->set_tensor(handle());
  cmd.mutable_grad()->set_output(out);
  Tensor g = make_tensor(s, out);
  s.push(std::move(cmd));
  return g;
}

RemoteHookHandle Tensor::register_hook(RemoteTensorHook hook, bool blocking) const {
  SessionState& s = state();
  uint64_t id = s.add_hook(std::move(hook));
  pb::Command cmd;
  cmd.mutable_register_hook()->set_hook_id(id);
  cmd.mutable_register_hook()->set_tensor(handle());
  cmd.mutable_register_hook()->set_mode(blocking ? pb::HOOK_MODE_BLOCKING : pb::HOOK_MODE_OBSERVE);
  s.push(std::move(cmd));
  return RemoteHookHandle(s.weak_from_this(), id);
}

namespace {
RemoteHookHandle builtin_hook(const Tensor& t, uint64_t id, pb::BuiltinHook kind, double clip_value, double max_norm) {
  pb::Command cmd;
  auto* c = cmd.mutable_register_hook();
  c->set_hook_id(id);
  c->set_tensor(t.handle());
  c->set_mode(pb::HOOK_MODE_OBSERVE);
  c->set_builtin(kind);
  c->set_clip_value(clip_value);
  c->set_max_norm(max_norm);
  t.state().push(std::move(cmd));
  return RemoteHookHandle(t.state().weak_from_this(), id);
}
}  // namespace

RemoteHookHandle Tensor::register_grad_stats_hook(GradStatsCallback fn) const {
  return builtin_hook(*this, state().add_stats_hook(std::move(fn)), pb::BUILTIN_GRAD_STATS, 0, 0);
}
RemoteHookHandle Tensor::register_nan_guard() const {
  return builtin_hook(*this, state().add_hook(nullptr), pb::BUILTIN_NAN_GUARD, 0, 0);
}
RemoteHookHandle Tensor::register_clip_value_hook(double clip_value) const {
  return builtin_hook(*this, state().add_hook(nullptr), pb::BUILTIN_CLIP_VALUE, clip_value, 0);
}
RemoteHookHandle Tensor::register_clip_norm_hook(double max_norm) const {
  return builtin_hook(*this, state().add_hook(nullptr), pb::BUILTIN_CLIP_NORM, 0, max_norm);
}

RemoteHookHandle::RemoteHookHandle(std::weak_ptr<SessionState> session, uint64_t hook_id)
    : remove_([session = std::move(session), hook_id] {
        if (auto s = session.lock()) s->remove_hook(hook_id);
      }) {}

void RemoteHookHandle::remove() {
  if (auto fn = std::exchange(remove_, nullptr)) fn();
}

template <class T>
std::vector<T> HostTensor::values() const {
  size_t n = bytes.size() / itemsize(dtype);
  std::vector<T> out(n);
  auto convert = [&](auto tag) {
    using S = decltype(tag);
    const auto* p = reinterpret_cast<const S*>(bytes.data());
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<T>(p[i]);
  };
  switch (dtype) {
    case DType::kBool:
    case DType::kUInt8: convert(uint8_t{}); break;
    case DType::kInt8: convert(int8_t{}); break;
    case DType::kInt16: convert(int16_t{}); break;
    case DType::kInt32: convert(int32_t{}); break;
    case DType::kInt64: convert(int64_t{}); break;
    case DType::kFloat32: convert(float{}); break;
    case DType::kFloat64: convert(double{}); break;
    default: throw Error(ErrorCode::kUnimplemented, str("[fetch] no host conversion from ", dtype_name(dtype)));
  }
  return out;
}
template std::vector<float> HostTensor::values<float>() const;
template std::vector<double> HostTensor::values<double>() const;
template std::vector<int64_t> HostTensor::values<int64_t>() const;

// ---- Session and Client ----

GradModeGuard::GradModeGuard(Session& session, bool enabled)
    : session_(session), previous_(session.state().set_grad_enabled(enabled)) {}

GradModeGuard::~GradModeGuard() { session_.state().set_grad_enabled(previous_); }

Session::~Session() {
  if (state_) close();
}

const std::string& Session::id() const { return state_->info().id(); }
const std::string& Session::device() const { return state_->info().device(); }

Tensor Session::from_bytes(const void* data, size_t nbytes, DType dtype, std::vector<int64_t> shape,
                           bool requires_grad) {
  uint64_t handle = state_->new_handle();
  const char* p = static_cast<const char*>(data);
  codec::for_each_chunk(nbytes, [&](size_t offset, size_t size, bool last) {
    pb::Command cmd;
    auto* put = cmd.mutable_put();
    put->set_handle(handle);
    if (offset == 0) {
      put->set_dtype(codec::to_proto(dtype));
      for (int64_t s : shape) put->add_shape(s);
      put->set_requires_grad(requires_grad);
    }
    put->set_offset(offset);
    if (size) put->set_data(p + offset, size);
    put->set_last(last);
    state_->push(std::move(cmd));
  });
  return make_tensor(*state_, handle);
}

Tensor Session::op(std::string_view name, std::vector<Value> args) { return send_op(*state_, name, args); }

void Session::sync() {
  uint64_t req = state_->new_request();
  pb::Command cmd;
  cmd.mutable_sync()->set_request_id(req);
  state_->push(std::move(cmd));
  state_->wait(req);
}

void Session::close() {
  if (!state_) return;
  state_->shutdown();
  state_->close_on_server();  // best effort: the server also expires detached sessions
  state_.reset();
}

Client::Client(const std::string& target, const ClientOptions& options) : impl_(std::make_shared<Impl>()) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, codec::kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, codec::kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = options.tls_root_certs;  // empty: the system's roots
    credentials = grpc::SslCredentials(tls);
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  }
  impl_->token = options.token;
  impl_->reconnect_timeout = options.reconnect_timeout;
  impl_->channel = grpc::CreateCustomChannel(target, credentials, args);
  impl_->stub = pb::Tensord::NewStub(impl_->channel);
}

Client::~Client() = default;

Session Client::create_session(const std::string& name, const std::string& device) {
  grpc::ClientContext ctx;
  impl_->authorize(ctx);
  pb::CreateSessionRequest req;
  req.set_name(name);
  req.set_device(device);
  pb::SessionInfo info;
  grpc::Status s = impl_->stub->CreateSession(&ctx, req, &info);
  if (!s.ok()) throw from_status(s);
  auto state = std::make_shared<SessionState>(impl_, info);
  state->open();
  return Session(std::move(state));
}

}  // namespace td::remote
