// A session: all server state of one client (DESIGN.md invariant 7) and the ordered executor of its
// commands (invariant 5). Knows protobuf messages but nothing of gRPC, so tests drive it directly.
#pragma once

#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

#include "core/autograd/forward_ad.h"
#include "core/cuda.h"
#include "core/error.h"
#include "core/memory_account.h"
#include "core/tensor.h"
#include "proto/codec.h"

namespace td::server {
/// One client message parsed into its own arena: its commands are executed in place and freed together
/// when the last of them has run, not moved and freed one by one (a batch of small ops is mostly such
/// allocations otherwise).
struct Arrived {
  Arrived();
  static google::protobuf::ArenaOptions arena_options();
  google::protobuf::Arena arena;
  ::tensord::v1::ClientMessage* msg;  // on `arena`
};
}  // namespace td::server

namespace td::nn {
class Module;
class BackwardHookScope;
}
namespace td::profiler {
class profile;
class record_function;
class EventList;
}
namespace td::optim {
class Optimizer;
class LRScheduler;
}

namespace tensord::v1 {
class SessionSnapshot;
}

namespace td::server {

namespace pb = ::tensord::v1;
class EventBus;

/// Where a session's events go: the attached stream in the server, a vector in tests.
class EventSink {
 public:
  virtual ~EventSink() = default;
  /// Sends one event; false if the peer is gone.
  virtual bool send(const pb::ServerMessage& message) = 0;
  /// Ends the stream from the server's side (its credentials were revoked); the session stays.
  virtual void cancel() {}
};

/// Told about each executed command, backward and hook event, for metrics. Called on the session's executor
/// thread.
class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  /// `name` is the op name for op commands, else the command kind ("put", "fetch", "backward", ...);
  /// `device` is the session's device type.
  virtual void on_command(std::string_view name, bool is_op, DeviceType device, double seconds, bool ok) = 0;
  /// Publishes what on_command gathered on this thread (it may keep counts per thread between calls). The
  /// session calls it at the end of each drain and before each event it sends, so that whatever a client
  /// has learned of is counted.
  virtual void flush() {}
  /// A backward command ran to its end or failed; its time includes the hooks it waited for.
  virtual void on_backward(DeviceType device, double seconds) = 0;
  /// A hook fired: `kind` is "tensor", "module" or "builtin"; blocking hooks wait for a reply, observe-only
  /// hooks do not.
  virtual void on_hook_event(std::string_view kind, bool blocking) = 0;
  /// A blocking hook's wait ended: with the reply (kOk) or with the error that failed the backward.
  virtual void on_hook_reply(double round_trip_seconds, ErrorCode code) = 0;
};

/// One user's running totals over their sessions, checked against their quota (0: no limit). Shared by the
/// user's sessions; the session manager keeps one per user.
struct UserUsage {
  explicit UserUsage(std::string user);
  const std::string name;
  /// The parent of the user's sessions' accounts; its limit is the device_bytes quota.
  const std::shared_ptr<MemoryAccount> memory;
  std::atomic<int64_t> handles{0};
  std::atomic<int64_t> queued{0};
  std::atomic<int64_t> handle_quota{0};
  std::atomic<int64_t> ops_in_flight_quota{0};
};

/// How a session is set up.
struct SessionOptions {
  std::string name;
  /// Who owns it (the authenticated user; "anonymous" without authentication): only they reach it.
  std::string user = "anonymous";
  /// Their totals and quotas (null: none kept, as in tests of one session).
  std::shared_ptr<UserUsage> usage;
  /// Where the session's error and hook events are also published, for watchers (null: nowhere).
  EventBus* events = nullptr;
  /// Where checkpoints go (each user has a folder in it); empty: checkpoint commands fail.
  std::string data_dir;
  Device device = kCPU;
  /// The most bytes of tensor storage the session may hold on each device type (0: no limit); an allocation
  /// past it fails its command with RESOURCE_EXHAUSTED.
  int64_t memory_limit = 0;
  /// How long a blocking hook may wait for its reply before the backward fails with DEADLINE_EXCEEDED.
  std::chrono::milliseconds hook_timeout{std::chrono::seconds(60)};
};

/// Handles at or above this id are assigned by the server (hook gradients); clients use ids below it.
inline constexpr uint64_t kServerHandleBit = uint64_t{1} << 63;

using TensorList = std::vector<Tensor>;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::string id, SessionOptions options, boost::asio::thread_pool& pool, SessionObserver* observer);
  ~Session();

  const std::string& id() const { return id_; }
  const SessionOptions& options() const { return options_; }

  /// Connects the event sink of a newly attached stream: sends it `attached` (with the last command seq
  /// received), then every held event after `last_event` (a re-attach's replay). A stream still attached
  /// is cut and replaced (its client lost it and came back first). `credential` names what the stream
  /// authenticated with (a token hash).
  void attach(EventSink* sink, std::string credential = "", uint64_t last_event = 0);
  /// Ends the attached stream if it authenticated with a credential `still_valid` refuses now.
  void cancel_stream_unless(const std::function<bool(const std::string& credential)>& still_valid);
  /// Disconnects the sink (that stream ended) unless another replaced it. Blocking hooks waiting on it fail
  /// with UNAVAILABLE.
  void detach(EventSink* sink);
  bool attached() const;
  /// Time since the last detach (zero while attached).
  std::chrono::steady_clock::duration detached_for() const;

  /// Queues the commands of a message from the stream (a batch) and schedules them on the session's strand.
  /// Thread-safe.
  void enqueue(std::shared_ptr<const Arrived> message);
  void enqueue(pb::CommandBatch batch);
  /// Queues commands and runs them on the calling thread instead of the strand: for tests and embedding,
  /// never mixed with enqueue() on one session.
  void run_inline(const pb::CommandBatch& batch);
  /// Frees all state; queued commands are dropped and waiting hooks fail with CANCELLED.
  void close();

  /// Counters for ListSessions; safe from any thread.
  uint64_t handle_count() const { return handle_count_.load(); }
  /// Bytes of tensor storage the session holds on all devices: everything its commands allocated that is
  /// still alive (tensors behind handles, modules' parameters and buffers, optimizer state, autograd graphs).
  int64_t bytes_held() const { return account_->total(); }
  /// The same on one device type.
  int64_t bytes_held(DeviceType type) const { return account_->bytes(type); }
  uint64_t ops_executed() const { return ops_executed_.load(); }
  /// Commands received and not yet started.
  size_t queued_commands() const;
  /// No command queued or running.
  bool idle() const;
  /// Tells the attached client the server is going away (a Goodbye, unnumbered). With `restore` (the
  /// session was saved), the stream is ended too, and the client attaches again once the server is back.
  void say_goodbye(const std::string& reason, bool restore = false);

  // ---- checkpointing at shutdown (session_snapshot.cpp) ----
  /// Takes no more commands: batches that arrive later are dropped unacknowledged, so the client sends them
  /// again to the restored session. Commands already received still run, and while a blocking hook waits its
  /// client's batches still come in (the reply among them), so the session can go idle and be saved.
  void seal();
  /// Writes the whole session to `dir` (snapshot.pb and tensors.safetensors, through temporaries): its
  /// handles, tensors with their views and .grad, modules, optimizers, schedulers, hooks, unfinished
  /// uploads and unacknowledged events. Autograd graphs and the profiler are not saved. Call it sealed and
  /// idle; it runs on the session's strand and waits for it.
  void save(const std::filesystem::path& dir);
  /// Rebuilds a saved session's state into this new, empty one (made with the saved id and options), on the
  /// calling thread, charging its memory to the session as commands do. Throws on a snapshot it cannot use.
  void restore(const pb::SessionSnapshot& snapshot, const std::filesystem::path& dir);
  std::chrono::steady_clock::time_point created() const { return created_; }

  /// Backpressure: past this many queued commands or bytes of uploads, the stream's reader waits (and gRPC's
  /// flow control stops the client) until the executor has brought them under the low marks; a client that
  /// outruns its executor does not pile its commands up in server memory. Not while a hook waits (its reply
  /// must get in).
  static constexpr int64_t kMaxQueuedCommands = 8192, kLowQueuedCommands = 4096;
  static constexpr int64_t kMaxQueuedBytes = int64_t{64} << 20, kLowQueuedBytes = int64_t{32} << 20;

 private:
  /// Queued commands of one message: those in [next, end) of its batch (a run has no command that had
  /// arrived before; one message may give several runs).
  struct Run {
    std::shared_ptr<const Arrived> message;
    int next;
    int end;
    int64_t bytes;  // of uploads in the message, on its first run
    /// Refused on arrival (the user's ops-in-flight quota), hook replies excepted: the executor fails them
    /// in their turn.
    bool refused;
    const pb::Command& at(int i) const { return message->msg->batch().commands(i); }
    bool rejected(int i) const { return refused && !at(i).has_hook_reply(); }
  };
  /// A command taken from the inbox.
  struct Inbound {
    std::shared_ptr<const Arrived> message;  // holds `cmd`
    const pb::Command* cmd;
    bool rejected = false;
  };
  /// Takes the command at `i` of `*run`, removing what is left empty; mu_ held.
  Inbound take_locked(std::deque<Run>::iterator run, int i);
  struct Poison {
    Error error;
    uint64_t seq;
  };
  using Slot = std::variant<Tensor, Poison>;
  /// An upload under way: its bytes land in a host tensor charged to the session (so its memory limit and
  /// quota apply from the first chunk), which moves to `device` once complete.
  struct Upload {
    Tensor host;
    size_t received = 0;
    Device device;
    bool requires_grad;
  };
  struct Hook {
    HookHandle handle;
    pb::HookMode mode;
    // How it was registered, to register it again in a restored session: a tensor hook's command and
    // tensor, or a module hook's command.
    std::shared_ptr<const pb::Command> spec;
    std::weak_ptr<TensorImpl> tensor;
  };
  using NamedValues = std::vector<std::pair<std::string, Value>>;
  /// How a module, optimizer or scheduler was made (its arguments decoded, tensors included), to make it
  /// again in a restored session.
  struct MadeWith {
    std::string type;
    std::vector<Value> args;
    NamedValues kwargs;                      // an optimizer's defaults
    std::vector<NamedValues> group_options;  // an optimizer's groups' own options
  };
  struct HookReplyValue {
    uint64_t replacement = 0;            // a tensor hook's (0 = keep)
    std::vector<uint64_t> replacements;  // a module hook's (empty = keep)
  };

  /// How long one drain on the pool may run before it yields to other sessions' work.
  static constexpr std::chrono::milliseconds kTimeSlice{10};
  /// Runs queued commands (on the strand, or inline for run_inline): all of them, or with a time slice
  /// until it is used up; true if commands are left.
  bool drain(std::optional<std::chrono::steady_clock::duration> slice);
  /// Posts a drain to the strand.
  void schedule_drain();
  /// Queues the message's commands in the inbox; they stay in the message's arena.
  void push_commands(std::shared_ptr<const Arrived> message);
  /// On the stream's reader: waits while the inbox is over kMaxQueued* (see there).
  void wait_for_room();
  /// Runs one command that started at `start`; returns when it ended (one clock read a command: the next
  /// command's start).
  std::chrono::steady_clock::time_point execute(const pb::Command& cmd, std::chrono::steady_clock::time_point start);
  void set_dual_level(bool open);
  /// Closes the session's dual level, if open (at close and destruction).
  void close_dual_level();
  void run_op(const pb::Command& cmd);
  void put(const pb::PutChunk& chunk);
  void fetch(const pb::FetchCommand& cmd);
  void backward(const pb::Command& cmd);
  void register_hook(const pb::RegisterHookCommand& cmd);
  /// Registers a tensor hook on `t` (register_hook's body, also used by a restore).
  void add_tensor_hook(const Tensor& t, const pb::RegisterHookCommand& cmd);
  void grad(const pb::GradCommand& cmd);
  // Server-held modules, optimizers and schedulers (session_nn.cpp).
  void run_nn(const pb::Command& cmd);
  void create_module(const pb::CreateModuleCommand& cmd);
  /// A module from its spec, on the session's device.
  std::shared_ptr<nn::Module> make_module(const MadeWith& spec);
  /// An optimizer from its spec over these groups of parameters.
  void add_optimizer(uint64_t id, MadeWith spec, std::vector<std::vector<Tensor>> params);
  /// A scheduler from its spec, for optimizer `optimizer`.
  void add_scheduler(uint64_t id, uint64_t optimizer, MadeWith spec);
  void call_module(const pb::CallModuleCommand& cmd);
  void describe_module(const pb::DescribeModuleCommand& cmd);
  void load_state_dict(const pb::LoadStateDictCommand& cmd);
  void create_optimizer(const pb::CreateOptimizerCommand& cmd);
  void create_scheduler(const pb::CreateSchedulerCommand& cmd);
  void checkpoint(const pb::Command& cmd);
  /// save()'s body, on the strand.
  void write_snapshot(const std::filesystem::path& dir);
  nn::Module& module_at(uint64_t id, std::string_view command);
  // The session's profiler (session_profiler.cpp).
  void run_profiler(const pb::ProfilerCommand& cmd);
  /// Sends the traces completed and not yet sent as the reply to `request_id`.
  void send_traces(uint64_t request_id);
  optim::Optimizer& optimizer_at(uint64_t id, std::string_view command);

  /// The tensor a handle names; fails with the original error for poisoned handles.
  /// A handle may hold an undefined tensor (an op's missing optional output): an op argument takes it as
  /// None (`allow_undefined`); everything else refuses it with INVALID_ARGUMENT.
  /// `what` names the argument in errors, followed by `index` when it is one of several (>= 0); nothing is
  /// formatted unless there is an error.
  const Tensor& resolve(uint64_t handle, std::string_view op, std::string_view what, bool allow_undefined = false,
                        int64_t index = -1);
  Value decode(const pb::Value& v, std::string_view op, size_t index);
  void bind_output(uint64_t handle, Slot slot, std::string_view op);
  void poison_outputs(const pb::Command& cmd, const Error& error);
  /// A failed command: poisons its outputs and sends the error event.
  void fail(const pb::Command& cmd, const Error& error);
  /// The gradient hook body: sends the event and, for blocking hooks, runs commands until the reply.
  Tensor on_hook(uint64_t hook_id, pb::HookMode mode, const Tensor& grad);
  /// A built-in hook's body (statistics, NaN guard, clipping), run by the server with no round trip.
  Tensor on_builtin_hook(uint64_t hook_id, const pb::RegisterHookCommand& spec, const Tensor& grad);
  /// Runs this client's commands until the reply to event_id arrives; fails after the hook timeout or when
  /// the client goes, erasing `temporaries` (the event's server handles) first.
  HookReplyValue wait_hook_reply(uint64_t event_id, uint64_t hook_id, std::string_view what,
                                 const std::vector<uint64_t>& temporaries);
  void register_module_hook(const pb::RegisterModuleHookCommand& cmd);
  void module_hook_scope(const pb::ModuleHookScopeCommand& cmd);
  /// A module hook firing: sends the event with the tensors under new server handles and, for blocking
  /// hooks, puts the reply's replacements into *replace.
  void on_module_hook(uint64_t hook_id, pb::ModuleHookKind kind, pb::HookMode mode, const TensorList& inputs,
                      const TensorList& outputs, TensorList* replace);
  /// Numbers the event, keeps a copy for replay and writes it to the attached stream, if any.
  void send(pb::ServerMessage message);
  /// Drops held events up to `event_seq` (the client has them).
  void acknowledge(uint64_t event_seq);
  /// Sends ack_seq alone when kAckEvery commands arrived since the last acknowledgement went out.
  void acknowledge_commands();
  static constexpr uint64_t kAckEvery = 1024;
  void update_counters();
  /// The next queued command; inside a blocking hook (deadline set), the next one issued for `event` (or a
  /// hook reply), waiting for it until the deadline.
  std::optional<Inbound> next_command(std::optional<std::chrono::steady_clock::time_point> deadline,
                                      uint64_t event = 0);
  /// Runs a command taken from the inbox, or fails it if it was refused on arrival; returns when it ended.
  std::chrono::steady_clock::time_point run_inbound(const Inbound& in, std::chrono::steady_clock::time_point start);
  /// Adds the change in this session's handle count to the user's total.
  void sync_handle_usage();

  const std::string id_;
  const SessionOptions options_;
  SessionObserver* observer_;
  boost::asio::strand<boost::asio::thread_pool::executor_type> strand_;
  const std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();

  // Guarded by mu_: the inbox, the sink and attach state.
  mutable std::mutex mu_;
  std::condition_variable inbox_cv_;
  std::deque<Run> inbox_;  // runs of commands, oldest first
  int64_t queued_ = 0;        // commands in inbox_
  int64_t queued_bytes_ = 0;  // upload bytes in inbox_
  std::condition_variable room_cv_;
  bool reader_waiting_ = false;
  int hooks_waiting_ = 0;  // blocking hooks waiting for their reply (nested ones too)
  EventSink* sink_ = nullptr;
  std::string credential_;  // the attached stream's
  bool closed_ = false;
  bool sealed_ = false;  // seal(): batches are dropped unacknowledged, unless a blocking hook waits
  std::chrono::steady_clock::time_point detached_at_ = std::chrono::steady_clock::now();
  std::mutex send_mu_;  // serialises writes to the sink; guards the replay buffer
  /// Events sent and not yet acknowledged, for a re-attach to replay (at most kReplayBytes).
  static constexpr size_t kReplayBytes = size_t{64} << 20;
  std::deque<pb::ServerMessage> replay_;
  size_t replay_bytes_ = 0;
  uint64_t next_event_seq_ = 1;
  uint64_t replay_dropped_through_ = 0;  // events up to this seq left the buffer unacknowledged
  uint64_t ack_sent_ = 0;                // the last ack_seq sent (guarded by send_mu_)
  std::atomic<uint64_t> last_seq_received_{0};

  // Executor-only state (touched only while draining, which the strand serialises).
  std::unordered_map<uint64_t, Slot> handles_;
  std::unordered_map<uint64_t, Upload> uploads_;
  std::unordered_map<uint64_t, Hook> hooks_;
  std::unordered_map<uint64_t, HookReplyValue> hook_replies_;  // by event id
  std::unordered_map<uint64_t, std::shared_ptr<nn::Module>> modules_;
  /// Composite modules' backward hook scopes between their ENTER and EXIT (module_hook_scope).
  std::unordered_map<uint64_t, std::shared_ptr<nn::BackwardHookScope>> hook_scopes_;
  std::unordered_map<uint64_t, MadeWith> module_specs_;
  std::unordered_map<uint64_t, std::shared_ptr<optim::Optimizer>> optimizers_;
  std::unordered_map<uint64_t, MadeWith> optimizer_specs_;
  struct SchedulerSlot {
    std::shared_ptr<optim::Optimizer> optimizer;  // kept alive while its scheduler is
    std::shared_ptr<optim::LRScheduler> scheduler;
    uint64_t optimizer_id;
    MadeWith spec;
  };
  std::unordered_map<uint64_t, SchedulerSlot> schedulers_;
  std::shared_ptr<profiler::profile> profiler_;                 // thread-bound: drain() binds its thread to it
  uint64_t profiler_id_ = 0;                                     // the client's id for it
  std::vector<std::unique_ptr<profiler::record_function>> ranges_;  // the client's open ranges, innermost last
  std::vector<profiler::EventList> ready_traces_;                // completed, not yet sent
  /// Every tensor requiring grad that a handle held (weakly): at close their autograd state is dropped,
  /// which breaks the reference cycles through .grad and grad_fn (session.cpp, close), wherever the handles
  /// went since.
  std::vector<std::weak_ptr<TensorImpl>> grad_holders_;
  size_t grad_holders_compacted_ = 64;
  bool grad_enabled_ = true;  // the client's torch.set_grad_enabled, applied to each command
  /// The session's open dual level (forward-mode AD), installed on the pool thread for each command.
  autograd::forward_ad::detail::LevelState* dual_level_ = nullptr;
  uint64_t next_server_handle_ = kServerHandleBit;
  uint64_t next_event_ = 1;

  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> handle_count_{0};
  int64_t handles_counted_ = 0;  // executor-only: how many of handles_ the user's total already has
  /// What the session's commands allocate is charged here (drain() makes it the thread's account).
  const std::shared_ptr<MemoryAccount> account_;
  /// On a machine with a GPU, the session's own CUDA stream (a pool stream, taken at its first command):
  /// drain() and restore() make it current, so one session's kernels do not queue behind another's, and
  /// the caching allocator keeps its blocks to it.
  std::optional<cuda::Stream> stream_;
  /// Makes the session's stream current on this thread until the guard goes (nothing without a GPU).
  std::optional<cuda::StreamGuard> on_stream();
  std::atomic<uint64_t> ops_executed_{0};
};

}  // namespace td::server
