// td::profiler: torch.profiler for tensord (PyTorch 1.13's semantics and output formats).
//
//   td::profiler::ProfilerOptions opts;
//   opts.record_shapes = true;
//   {
//     td::profiler::profile prof(opts);            // records from here ...
//     { td::profiler::record_function r("step"); y = model(x); }
//     prof.stop();                                 // ... to here (or the end of the scope)
//     std::cout << prof.key_averages().table("self_cpu_time_total", 10);
//     prof.export_chrome_trace("trace.json");      // chrome://tracing, Perfetto
//   }
//
// Every registry op call is an event ("aten::mm", as PyTorch names ops, so traces compare side by side), as
// is every record_function range and, when autograd runs, every backward node
// ("autograd::engine::evaluate_function: MulBackward0"). Events nest per thread; self time is total minus
// the children's totals. CPU times are host (steady_clock) times: a CUDA op's CPU time covers its launch.
// With ProfilerActivity::kCUDA on a machine with a GPU, each CUDA op, range and backward node also records
// a CUDA event on its device's current stream at its start and end, as PyTorch's legacy (use_cuda=True)
// profiler did: the span between them is its CUDA time (its kernels, and any wait of the device for the
// host's next launch inside it), and the table gains PyTorch's CUDA columns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace td::profiler {

namespace detail {
struct Trace;
struct ThreadStash;
}  // namespace detail

/// What to record (torch.profiler.ProfilerActivity). kCUDA adds CUDA-event timing of CUDA work; without a
/// GPU it records nothing more.
enum class ProfilerActivity : uint8_t { kCPU, kCUDA };

/// What a schedule asks of a step (torch.profiler.ProfilerAction).
enum class ProfilerAction : uint8_t { kNone, kWarmup, kRecord, kRecordAndSave };

/// torch.profiler.schedule: skip `skip_first` steps, then cycles of `wait` idle, `warmup` and `active`
/// recorded steps; `repeat` cycles (0: forever). Each cycle's trace is handed to on_trace_ready at its end.
struct Schedule {
  int64_t wait = 0;
  int64_t warmup = 0;
  int64_t active = 1;
  int64_t repeat = 0;
  int64_t skip_first = 0;
  /// The action for step number `step` (PyTorch's schedule_fn, same arithmetic).
  ProfilerAction operator()(int64_t step) const;
};

/// torch.profiler.schedule(wait=, warmup=, active=, repeat=, skip_first=).
Schedule schedule(int64_t wait, int64_t warmup, int64_t active, int64_t repeat = 0, int64_t skip_first = 0);

class profile;

/// torch.profiler.profile's arguments.
struct ProfilerOptions {
  std::vector<ProfilerActivity> activities = {ProfilerActivity::kCPU};
  bool record_shapes = false;
  bool profile_memory = false;
  /// Accepted for PyTorch's signature; C++ call stacks are not recorded.
  bool with_stack = false;
  bool with_flops = false;
  /// Records nn::Module calls: events of their own and the dotted module name on every op inside.
  bool with_modules = false;
  /// Without a schedule, everything between start and stop is one trace.
  std::optional<Schedule> schedule;
  /// Called with the profiler each time a trace is complete (end of an active cycle, or stop).
  std::function<void(profile&)> on_trace_ready;
  /// Records only the threads bound to it (profile::bind_thread), not every thread. Such profiles may run
  /// alongside each other and alongside one process-wide profile: a server runs one per session.
  bool thread_bound = false;
};

/// The kinds of event.
enum class EventKind : uint8_t {
  kOp,         // a registry op call
  kUserRange,  // record_function, ProfilerStep#N
  kBackward,   // an autograd node run by the engine
  kModule,     // an nn::Module call (with_modules); in the trace, not in key_averages
};

/// One recorded event (PyTorch's FunctionEvent). Times are nanoseconds from the profile's start.
struct Event {
  int64_t id = 0;
  /// The enclosing op/range on the same thread (PyTorch's cpu_parent), or -1. Module events do not parent.
  int64_t parent_id = -1;
  std::string name;
  EventKind kind = EventKind::kOp;
  /// The device of the op's first tensor input, else its first output, else "cpu".
  std::string device = "cpu";
  /// A small per-process thread number (1 for the first thread that recorded).
  uint32_t thread = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  /// One entry per argument of the op's signature: the tensor's sizes, [] for other arguments
  /// (record_shapes).
  std::vector<std::vector<int64_t>> input_shapes;
  /// Floating point operations (with_flops; mm, addmm, bmm, baddbmm, convolution, mul, add).
  int64_t flops = 0;
  /// Dotted name of the innermost module in progress ("features.0"; "" for the root or none); with_modules.
  std::string module;
  /// Bytes allocated minus freed on `device`'s kind while this event and not a child was innermost.
  int64_t self_cpu_memory_usage = 0;
  int64_t self_cuda_memory_usage = 0;

  // Filled in by EventList from the parent links:
  std::vector<int64_t> children;  // ids
  int64_t cpu_memory_usage = 0;   // self plus every descendant's
  int64_t cuda_memory_usage = 0;
  int64_t self_cpu_time_ns = 0;  // total minus the children's totals
  int64_t self_cuda_time_ns = 0;  // cuda_time_ns minus the children's

  /// CUDA time (kCUDA traces): the device time between the event's start and end markers on its stream, 0
  /// when it was not timed (a CPU op, no GPU).
  int64_t cuda_time_ns = 0;
  /// Where the span starts on the device's timeline, in nanoseconds from the profile's start (-1: not timed).
  int64_t cuda_start_ns = -1;
  int cuda_device = -1;
  /// The stream the markers were recorded on (0: the default stream).
  uint64_t cuda_stream = 0;

  int64_t cpu_time_total_ns() const { return end_ns - start_ns; }
};

/// One allocation or free seen while a profile_memory trace recorded: the memory timeline. Times are
/// nanoseconds from the profile's start.
struct MemoryRecord {
  int64_t time_ns = 0;
  /// Bytes allocated (> 0) or freed (< 0).
  int64_t bytes = 0;
  /// Bytes allocated on the device type after this record: the process's total for a process-wide profile;
  /// for a thread-bound one, the running sum of its own records (it sees no other thread's memory).
  int64_t total_allocated = 0;
  /// "cpu", "cuda:0".
  std::string device = "cpu";
  uint32_t thread = 0;
};

/// One row of key_averages (PyTorch's FunctionEventAvg). Times in microseconds, as PyTorch's.
struct FunctionEventAvg {
  std::string key;
  int64_t count = 0;
  double cpu_time_total = 0;
  double self_cpu_time_total = 0;
  int64_t cpu_memory_usage = 0;
  int64_t self_cpu_memory_usage = 0;
  int64_t cuda_memory_usage = 0;
  int64_t self_cuda_memory_usage = 0;
  int64_t flops = 0;
  double cuda_time_total = 0;
  double self_cuda_time_total = 0;
  /// Python's str() of the shapes when grouped by input shape ("[[64, 32], [32, 16]]"), else "".
  std::string input_shapes;
  /// Average time per call (cpu_time_total / count).
  double cpu_time() const { return count ? cpu_time_total / static_cast<double>(count) : 0.0; }
  double cuda_time() const { return count ? cuda_time_total / static_cast<double>(count) : 0.0; }
};

/// Options of KeyAverages::table, with PyTorch's defaults.
struct TableOptions {
  /// A FunctionEventAvg field to sort by, descending: self_cpu_time_total, cpu_time_total, cpu_time, count,
  /// cpu_memory_usage, self_cpu_memory_usage, flops, cuda_time_total, self_cuda_time_total, cuda_time,
  /// cuda_memory_usage, self_cuda_memory_usage. Empty: first seen first.
  std::string sort_by;
  int64_t row_limit = 100;
  int64_t max_name_column_width = 55;
  int64_t max_shapes_column_width = 80;
  std::optional<std::string> header;
};

/// key_averages()'s result: rows, and the table PyTorch prints.
class KeyAverages {
 public:
  KeyAverages(std::vector<FunctionEventAvg> rows, bool profile_memory, bool with_flops)
      : rows_(std::move(rows)), profile_memory_(profile_memory), with_flops_(with_flops) {}
  const std::vector<FunctionEventAvg>& rows() const { return rows_; }
  /// The row named `key` (the first, when grouped by shape), or nullptr.
  const FunctionEventAvg* find(std::string_view key) const;
  /// PyTorch 1.13's EventList.table(), character for character.
  std::string table(const TableOptions& options) const;
  std::string table(std::string_view sort_by = "", int64_t row_limit = 100) const;
  /// Sum of the rows' self CPU time, in microseconds.
  double self_cpu_time_total() const;

 private:
  std::vector<FunctionEventAvg> rows_;
  bool profile_memory_;
  bool with_flops_;
};

/// A trace: events sorted by start (longer first on ties), with children, self times and memory totals
/// derived from the parent links. Can be built from events made by hand (tests, other sources).
class EventList {
 public:
  EventList() = default;
  EventList(std::vector<Event> events, bool profile_memory = false, bool with_flops = false,
            std::vector<MemoryRecord> memory = {});
  const std::vector<Event>& events() const { return events_; }
  /// The memory timeline (profile_memory), in time order.
  const std::vector<MemoryRecord>& memory_records() const { return memory_; }
  size_t size() const { return events_.size(); }
  const Event& operator[](size_t i) const { return events_[i]; }
  std::vector<Event>::const_iterator begin() const { return events_.begin(); }
  std::vector<Event>::const_iterator end() const { return events_.end(); }
  /// The event with this id, or nullptr.
  const Event* by_id(int64_t id) const;
  /// Averages over events of the same name (and input shapes); module events are left out, as PyTorch
  /// leaves out Python function events.
  KeyAverages key_averages(bool group_by_input_shape = false) const;
  /// Chrome trace JSON (the Trace Event Format's "X" events; Perfetto and chrome://tracing open it). With
  /// profile_memory, each memory record is also a "[memory]" instant event with Kineto's args and a point of
  /// a "Memory Allocated (<device>)" counter track, which the viewers plot as the memory timeline. Events
  /// with CUDA time also appear on their GPU's track (pid: the device index, tid: "stream N"), as Kineto's
  /// gpu_user_annotation spans.
  std::string chrome_trace() const;
  void export_chrome_trace(const std::string& path) const;

 private:
  std::vector<Event> events_;
  bool profile_memory_ = false;
  bool with_flops_ = false;
  std::vector<MemoryRecord> memory_;
};

/// torch.profiler.profile: records from construction (or start()) to stop() or destruction. One at a time in
/// a process; ops on every thread are recorded while it records (but threads bound to a thread_bound profile
/// record into that one only).
class profile {
 public:
  /// While alive, the calling thread records into this thread_bound profile only, and carries the profile's
  /// open ranges: a range (a step, a record_function) may open on one thread and close on another, as a
  /// server session's commands run on whichever pool thread is free. The profile must outlive it.
  class ThreadBinding {
   public:
    ThreadBinding(ThreadBinding&& other) noexcept;
    ThreadBinding& operator=(ThreadBinding&&) = delete;
    ~ThreadBinding();

   private:
    friend class profile;
    explicit ThreadBinding(profile* p);  // no-op unless thread_bound and not bound to it already
    profile* profile_ = nullptr;
    std::unique_ptr<detail::ThreadStash> saved_;  // the thread's own state while bound
  };

  explicit profile(ProfilerOptions options = {});
  ~profile();
  profile(const profile&) = delete;
  profile& operator=(const profile&) = delete;

  /// Starts recording (the constructor calls it); throws FAILED_PRECONDITION if a process-wide profiler
  /// already runs.
  void start();
  /// Binds the calling thread to this profile (options().thread_bound) until the binding goes.
  ThreadBinding bind_thread();
  /// Ends recording; the trace in progress becomes events() and goes to on_trace_ready.
  void stop();
  /// Marks the end of a training step: moves along the schedule (a ProfilerStep#N range covers each step).
  void step();
  /// The schedule's step number.
  int64_t step_num() const { return step_num_; }
  /// The current schedule action.
  ProfilerAction current_action() const { return action_; }

  /// The latest complete trace.
  const EventList& events() const { return events_; }
  KeyAverages key_averages(bool group_by_input_shape = false) const {
    return events_.key_averages(group_by_input_shape);
  }
  void export_chrome_trace(const std::string& path) const { events_.export_chrome_trace(path); }
  const ProfilerOptions& options() const { return options_; }

 private:
  void transit(ProfilerAction from, std::optional<ProfilerAction> to);
  void start_trace();
  void stop_trace();
  void open_step_range();
  void close_step_range();
  detail::Trace& trace();

  ProfilerOptions options_;
  std::unique_ptr<detail::Trace> bound_trace_;   // thread_bound: its own trace
  std::unique_ptr<detail::ThreadStash> stash_;   // thread_bound: its open events while no thread is bound
  bool started_ = false;
  bool tracing_ = false;
  int64_t step_num_ = 0;
  ProfilerAction action_ = ProfilerAction::kRecord;
  std::unique_ptr<class record_function> step_range_;
  EventList events_;
};

/// torch.profiler.record_function: a named range over the code in its scope, recorded as an event whose
/// children are the ops run inside.
class record_function {
 public:
  explicit record_function(std::string name);
  ~record_function();
  record_function(const record_function&) = delete;
  record_function& operator=(const record_function&) = delete;

 private:
  bool open_ = false;
};

/// Whether a profiler is recording now.
bool is_recording();

}  // namespace td::profiler
