// Recording (the hooks of hooks.h), CUDA-event timing, the profile's schedule, the EventList's derived fields
// and key_averages, and Chrome trace JSON (Kineto's fields). The table is in table.cpp.
#include "core/profiler/profiler.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/backend.h"
#include "core/device_runtime.h"
#include "core/error.h"
#include "core/nn/module.h"
#include "core/ops/registry.h"
#include "core/profiler/hooks.h"
#include "core/tensor_impl.h"

namespace td::profiler {

namespace detail {

std::atomic<int> g_recording{0};
std::atomic<int> g_memory{0};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A trace being recorded: the process-wide profile's, or a thread-bound profile's own. Settings are written
// before `active` is set (release) and read after it is seen (acquire), so a recording thread never sees half
// of them. `generation` changes at every start and stop: an event left open across them is dropped.
struct Trace {
  std::mutex mu;
  std::vector<Event> finished;         // guarded by mu
  std::vector<MemoryRecord> timeline;  // guarded by mu
  int64_t memory_sum = 0;              // guarded by mu: the records' running sum
  std::atomic<int64_t> next_id{1};
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> active{false};
  int64_t origin_ns = 0;
  bool record_shapes = false;
  bool with_flops = false;
  bool memory = false;
  bool modules = false;
  bool thread_bound = false;
  // CUDA-event timing (a kCUDA trace on a machine with a GPU): the runtime, one reference event per device
  // recorded at the start (with its host time), and the marker pairs of finished events, resolved at the end.
  bool cuda = false;
  std::vector<std::pair<uint64_t, int64_t>> cuda_refs;  // per device: {event, host ns from origin}
  struct Marks {
    size_t index;  // in finished
    int device;
    uint64_t start, end;
  };
  std::vector<Marks> cuda_marks;  // guarded by mu
};

namespace {
Trace g_process_trace;
std::atomic<bool> g_profile_exists{false};
std::atomic<uint32_t> g_next_thread{1};
}  // namespace

// An event open on a thread, in the trace it belongs to.
struct Open {
  Event event;
  Trace* trace;
  uint64_t generation;
  int64_t conv_flops_per_output = 0;  // convolution: FLOPs per output element, known once the output is
  bool flops_per_output = false;      // mul, add: one FLOP per output element
  uint64_t cuda_start = 0;            // the start marker (CUDA event), 0 when the event is not timed
};
struct ModuleFrame {
  const nn::Module* module;
  std::string path;
  Event event;
  Trace* trace;
  uint64_t generation;
};
// A thread's open events. A thread bound to a profile (ThreadBinding) swaps in the profile's own state, so
// the profile's ranges and module frames follow it from pool thread to pool thread.
struct ThreadState {
  uint32_t thread = 0;
  std::vector<Open> stack;
  std::vector<ModuleFrame> modules;
  Trace* bound = nullptr;  // the thread-bound profile's trace: events go there only (or nowhere)
};
struct ThreadStash {
  ThreadState state;
};

namespace {
thread_local ThreadState t_state;

uint32_t thread_number() {
  if (t_state.thread == 0) t_state.thread = g_next_thread.fetch_add(1);
  return t_state.thread;
}

// The trace this thread's events go to now, or nullptr.
Trace* current_trace() {
  Trace* t = t_state.bound ? t_state.bound : &g_process_trace;
  return t->active.load(std::memory_order_acquire) ? t : nullptr;
}

bool live(const Trace* trace, uint64_t generation) {
  return trace->active.load(std::memory_order_acquire) &&
         trace->generation.load(std::memory_order_acquire) == generation;
}

// The CUDA runtime, or nullptr without a GPU. A process-wide object: traces only say whether they use it.
DeviceRuntime* cuda_runtime() {
  static DeviceRuntime* const rt = [] {
    Backend& b = backend(DeviceType::kCUDA);
    return b.is_available() ? b.runtime() : nullptr;
  }();
  return rt;
}

// A timing event recorded now on the current stream of e's device, or 0 when that fails (the event then
// has no CUDA time; the program goes on).
uint64_t cuda_marker(Event& e) noexcept {
  DeviceRuntime* rt = cuda_runtime();
  uint64_t marker = 0;
  try {
    marker = rt->create_event(e.cuda_device, /*timing=*/true);
    e.cuda_stream = rt->current_stream(e.cuda_device);
    rt->record_event(e.cuda_device, marker, e.cuda_stream);
    return marker;
  } catch (...) {
    if (marker) rt->destroy_event(e.cuda_device, marker);
    return 0;
  }
}

// The CUDA device a range times its span on (the thread's current device), or -1 when not timing.
int range_device(const Trace& trace) noexcept {
  return trace.cuda ? cuda_runtime()->current_device() : -1;
}

// Opens an event on this thread: its parent is the innermost open op or range of the same trace.
void push(Open open) {
  Event& e = open.event;
  Trace* trace = open.trace;
  e.id = trace->next_id.fetch_add(1);
  e.thread = thread_number();
  if (!t_state.stack.empty() && t_state.stack.back().trace == trace &&
      t_state.stack.back().generation == open.generation) {
    e.parent_id = t_state.stack.back().event.id;
  }
  if (trace->modules && !t_state.modules.empty() && t_state.modules.back().trace == trace &&
      t_state.modules.back().generation == open.generation) {
    e.module = t_state.modules.back().path;
  }
  e.start_ns = now_ns() - trace->origin_ns;
  if (e.cuda_device >= 0) open.cuda_start = cuda_marker(e);
  t_state.stack.push_back(std::move(open));
}

void finish(Event&& e, Trace* trace, uint64_t generation, uint64_t cuda_start = 0) {
  if (!live(trace, generation)) {
    if (cuda_start) cuda_runtime()->destroy_event(e.cuda_device, cuda_start);
    return;
  }
  e.end_ns = now_ns() - trace->origin_ns;
  const uint64_t cuda_end = cuda_start ? cuda_marker(e) : 0;
  if (cuda_start && !cuda_end) cuda_runtime()->destroy_event(e.cuda_device, cuda_start);
  std::lock_guard<std::mutex> lock(trace->mu);
  trace->finished.push_back(std::move(e));
  if (cuda_end) trace->cuda_marks.push_back({trace->finished.size() - 1, trace->finished.back().cuda_device,
                                             cuda_start, cuda_end});
}

}  // namespace

void pop() noexcept {
  if (t_state.stack.empty()) return;
  Open open = std::move(t_state.stack.back());
  t_state.stack.pop_back();
  try {
    finish(std::move(open.event), open.trace, open.generation, open.cuda_start);
  } catch (...) {
    // Out of memory while recording: the event is lost, the program goes on.
  }
}

namespace {

// "max.dim" -> "aten::max": PyTorch's profiler names ops by aten name, without the overload.
std::string event_name(std::string_view op) {
  return "aten::" + std::string(op.substr(0, op.find('.')));
}
int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// FLOPs as PyTorch 1.13 counts them (torch/csrc/profiler/util.cpp's computeFlops): 2*M*N*K for the matrix
// products; convolutions and elementwise mul/add are finished from the output's size in set_outputs.
void count_flops(std::string_view op, const Args& args, Open& open) {
  auto shape = [&](size_t i) { return args.tensor(i).shape(); };
  if (op == "mm") {
    auto a = shape(0), b = shape(1);
    if (a.size() == 2 && b.size() == 2) open.event.flops = 2 * a[0] * a[1] * b[1];
  } else if (op == "addmm") {
    auto a = shape(1), b = shape(2);
    if (a.size() == 2 && b.size() == 2) open.event.flops = 2 * a[0] * a[1] * b[1];
  } else if (op == "bmm" || op == "baddbmm") {
    size_t first = op == "bmm" ? 0 : 1;
    auto a = shape(first), b = shape(first + 1);
    if (a.size() == 3 && b.size() == 3) open.event.flops = 2 * a[0] * a[1] * a[2] * b[2];
  } else if (op == "convolution") {
    // Each output element (input element, when transposed) takes Cin/groups * prod(kernel) multiply-adds.
    auto w = shape(1);
    if (w.empty() || w[0] == 0) return;
    int64_t per_element = 2 * (product(w) / w[0]);
    if (args.bool_at(6)) {
      open.event.flops = per_element * args.tensor(0).numel();
    } else {
      open.conv_flops_per_output = per_element;  // the output's size is known at the end
    }
  } else if (op == "mul" || op == "add") {
    open.flops_per_output = true;
  }
}

}  // namespace

void record_memory(int64_t bytes, const Device& device) {
  Trace* trace = current_trace();
  if (!trace || !trace->memory) return;
  {
    MemoryRecord r;
    r.time_ns = now_ns() - trace->origin_ns;
    r.bytes = bytes;
    r.device = device.str();
    r.thread = thread_number();
    std::lock_guard<std::mutex> lock(trace->mu);
    trace->memory_sum += bytes;
    r.total_allocated = trace->thread_bound ? trace->memory_sum : memory_allocated(device.type);
    trace->timeline.push_back(std::move(r));
  }
  if (t_state.stack.empty()) return;
  Open& top = t_state.stack.back();
  if (!top.trace->memory || !live(top.trace, top.generation)) return;
  (device.is_cuda() ? top.event.self_cuda_memory_usage : top.event.self_cpu_memory_usage) += bytes;
}

OpScope::OpScope(const OpDef& def, const Args& args) {
  Trace* trace = current_trace();
  if (!trace) return;
  Open open{Event{}, trace, trace->generation.load(std::memory_order_acquire)};
  Event& e = open.event;
  e.kind = EventKind::kOp;
  e.name = event_name(def.schema.name);
  bool device_known = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const Tensor* t = std::get_if<Tensor>(&args.value(i));
    if (trace->record_shapes) {
      e.input_shapes.push_back(t && t->defined() ? t->shape() : std::vector<int64_t>{});
    }
    if (!device_known && t && t->defined()) {
      e.device = t->device().str();
      if (trace->cuda && t->device().is_cuda()) e.cuda_device = t->device().index;
      device_known = true;
    }
  }
  if (trace->with_flops) count_flops(def.schema.name, args, open);
  push(std::move(open));
  open_ = true;
}

void OpScope::set_outputs(const std::vector<Tensor>& outputs) {
  if (!open_ || t_state.stack.empty() || outputs.empty() || !outputs[0].defined()) return;
  Open& top = t_state.stack.back();
  if (top.conv_flops_per_output) top.event.flops = top.conv_flops_per_output * outputs[0].numel();
  if (top.flops_per_output) top.event.flops = outputs[0].numel();
  if (top.event.input_shapes.empty() && top.event.device == "cpu")
    top.event.device = outputs[0].device().str();
}

OpScope::~OpScope() {
  if (open_) pop();
}

bool begin_range(EventKind kind, std::string name) {
  Trace* trace = current_trace();
  if (!trace) return false;
  Open open{Event{}, trace, trace->generation.load(std::memory_order_acquire)};
  open.event.kind = kind;
  open.event.name = std::move(name);
  open.event.cuda_device = range_device(*trace);
  push(std::move(open));
  return true;
}

RangeScope::RangeScope(Kind kind, std::string name) {
  open_ = begin_range(kind == Kind::kUser ? EventKind::kUserRange : EventKind::kBackward, std::move(name));
}

RangeScope::~RangeScope() {
  if (open_) pop();
}

ModuleScope::ModuleScope(const nn::Module& module) {
  Trace* trace = current_trace();
  if (!trace || !trace->modules) return;
  const uint64_t generation = trace->generation.load(std::memory_order_acquire);
  // The registered name comes from the module being called around this one: its named_children.
  std::string path;
  if (!t_state.modules.empty() && t_state.modules.back().trace == trace &&
      t_state.modules.back().generation == generation) {
    const ModuleFrame& parent = t_state.modules.back();
    std::string name = module.type_name();
    for (const auto& [child_name, child] : parent.module->named_children()) {
      if (child.get() == &module) {
        name = child_name;
        break;
      }
    }
    path = parent.path.empty() ? name : parent.path + "." + name;
  }
  ModuleFrame frame{&module, path, Event{}, trace, generation};
  Event& e = frame.event;
  e.id = trace->next_id.fetch_add(1);
  e.kind = EventKind::kModule;
  e.name = "nn.Module: " + module.type_name();
  e.module = path;
  e.thread = thread_number();
  e.start_ns = now_ns() - trace->origin_ns;
  t_state.modules.push_back(std::move(frame));
  open_ = true;
}

ModuleScope::~ModuleScope() {
  if (!open_ || t_state.modules.empty()) return;
  ModuleFrame frame = std::move(t_state.modules.back());
  t_state.modules.pop_back();
  try {
    finish(std::move(frame.event), frame.trace, frame.generation);
  } catch (...) {
  }
}

namespace {

void destroy_marks(const std::vector<Trace::Marks>& marks) noexcept {
  for (const Trace::Marks& m : marks) {
    cuda_runtime()->destroy_event(m.device, m.start);
    cuda_runtime()->destroy_event(m.device, m.end);
  }
}

// With kCUDA and a GPU: waits for each device's current stream and records a reference event on it, whose
// host time is known (the device is idle there), so device times can be placed on the trace's timeline.
void begin_cuda_timing(Trace& trace, const ProfilerOptions& options) {
  trace.cuda = false;
  trace.cuda_refs.clear();
  if (std::find(options.activities.begin(), options.activities.end(), ProfilerActivity::kCUDA) ==
      options.activities.end()) {
    return;
  }
  DeviceRuntime* rt = cuda_runtime();
  if (!rt) return;
  try {
    for (int d = 0; d < backend(DeviceType::kCUDA).device_count(); ++d) {
      const uint64_t stream = rt->current_stream(d);
      rt->synchronize_stream(d, stream);
      trace.cuda_refs.emplace_back(rt->create_event(d, /*timing=*/true), now_ns() - trace.origin_ns);
      rt->record_event(d, trace.cuda_refs.back().first, stream);
    }
    trace.cuda = true;
  } catch (const Error&) {
    for (size_t d = 0; d < trace.cuda_refs.size(); ++d) {
      rt->destroy_event(static_cast<int>(d), trace.cuda_refs[d].first);
    }
    trace.cuda_refs.clear();
  }
}

// Turns the marker pairs into CUDA times (waiting for the device to pass them) and releases the events.
void resolve_cuda_times(Trace& trace, std::vector<Event>& events, const std::vector<Trace::Marks>& marks) {
  if (marks.empty() && trace.cuda_refs.empty()) return;
  DeviceRuntime* rt = cuda_runtime();
  for (const Trace::Marks& m : marks) {
    if (m.index >= events.size() || static_cast<size_t>(m.device) >= trace.cuda_refs.size()) continue;
    Event& e = events[m.index];
    try {
      // start and end may have been recorded on different streams: both must have passed.
      rt->synchronize_event(m.device, m.start);
      rt->synchronize_event(m.device, m.end);
      e.cuda_time_ns = std::llround(static_cast<double>(rt->elapsed_ms(m.device, m.start, m.end)) * 1e6);
      const auto& [ref, ref_ns] = trace.cuda_refs[static_cast<size_t>(m.device)];
      e.cuda_start_ns = ref_ns + std::llround(static_cast<double>(rt->elapsed_ms(m.device, ref, m.start)) * 1e6);
    } catch (const Error&) {
      e.cuda_time_ns = 0;  // the device failed meanwhile: the event keeps its CPU time only
    }
  }
  destroy_marks(marks);
  for (size_t d = 0; d < trace.cuda_refs.size(); ++d) rt->destroy_event(static_cast<int>(d), trace.cuda_refs[d].first);
  trace.cuda_refs.clear();
}

void begin_trace(Trace& trace, const ProfilerOptions& options) {
  {
    std::lock_guard<std::mutex> lock(trace.mu);
    trace.finished.clear();
    trace.timeline.clear();
    trace.memory_sum = 0;
    destroy_marks(trace.cuda_marks);  // events that finished after the last stop
    trace.cuda_marks.clear();
  }
  trace.record_shapes = options.record_shapes;
  trace.with_flops = options.with_flops;
  trace.memory = options.profile_memory;
  trace.modules = options.with_modules;
  trace.origin_ns = now_ns();
  begin_cuda_timing(trace, options);
  trace.generation.fetch_add(1, std::memory_order_acq_rel);
  trace.active.store(true, std::memory_order_release);
  if (trace.memory) g_memory.fetch_add(1, std::memory_order_acq_rel);
  g_recording.fetch_add(1, std::memory_order_acq_rel);
}

struct TraceResult {
  std::vector<Event> events;
  std::vector<MemoryRecord> memory;
};

TraceResult end_trace(Trace& trace) {
  if (!trace.active.load(std::memory_order_acquire)) return {};
  trace.active.store(false, std::memory_order_release);
  g_recording.fetch_sub(1, std::memory_order_acq_rel);
  if (trace.memory) g_memory.fetch_sub(1, std::memory_order_acq_rel);
  trace.generation.fetch_add(1, std::memory_order_acq_rel);
  TraceResult result;
  std::vector<Trace::Marks> marks;
  {
    std::lock_guard<std::mutex> lock(trace.mu);
    result = {std::move(trace.finished), std::move(trace.timeline)};
    marks = std::move(trace.cuda_marks);
    trace.finished.clear();
    trace.cuda_marks.clear();
  }
  resolve_cuda_times(trace, result.events, marks);
  return result;
}

}  // namespace
}  // namespace detail

bool is_recording() {
  return detail::recording();
}

// ---- schedule ----

ProfilerAction Schedule::operator()(int64_t step) const {
  TD_CHECK_ARG(step >= 0, "[profiler] schedule step must be >= 0, got ", step);
  if (step < skip_first) return ProfilerAction::kNone;
  step -= skip_first;
  int64_t num_steps = wait + warmup + active;
  if (repeat > 0 && step / num_steps >= repeat) return ProfilerAction::kNone;
  int64_t mod_step = step % num_steps;
  if (mod_step < wait) return ProfilerAction::kNone;
  if (mod_step < wait + warmup) return ProfilerAction::kWarmup;
  return mod_step < num_steps - 1 ? ProfilerAction::kRecord : ProfilerAction::kRecordAndSave;
}

Schedule schedule(int64_t wait, int64_t warmup, int64_t active, int64_t repeat, int64_t skip_first) {
  TD_CHECK_ARG(wait >= 0 && warmup >= 0 && active > 0 && repeat >= 0 && skip_first >= 0,
               "[profiler] Invalid profiler schedule arguments: wait=", wait, ", warmup=", warmup,
               ", active=", active, ", repeat=", repeat, ", skip_first=", skip_first);
  return Schedule{wait, warmup, active, repeat, skip_first};
}

// ---- record_function ----

record_function::record_function(std::string name) {
  open_ = detail::begin_range(EventKind::kUserRange, std::move(name));
}

record_function::~record_function() {
  if (open_) detail::pop();
}

// ---- profile ----

profile::profile(ProfilerOptions options) : options_(std::move(options)) {
  action_ = options_.schedule ? (*options_.schedule)(0) : ProfilerAction::kRecord;
  if (options_.thread_bound) {
    bound_trace_ = std::make_unique<detail::Trace>();
    bound_trace_->thread_bound = true;
    stash_ = std::make_unique<detail::ThreadStash>();
    stash_->state.thread = detail::g_next_thread.fetch_add(1);
    stash_->state.bound = bound_trace_.get();
  }
  start();
}

profile::~profile() {
  try {
    stop();
  } catch (...) {
    // A throwing on_trace_ready must not escape a destructor.
  }
}

profile::ThreadBinding::ThreadBinding(profile* p) {
  if (!p->options_.thread_bound || detail::t_state.bound == p->bound_trace_.get()) return;  // nothing to do
  profile_ = p;
  saved_ = std::make_unique<detail::ThreadStash>();
  saved_->state = std::move(detail::t_state);
  detail::t_state = std::move(p->stash_->state);
}

profile::ThreadBinding::ThreadBinding(ThreadBinding&& other) noexcept
    : profile_(std::exchange(other.profile_, nullptr)), saved_(std::move(other.saved_)) {}

profile::ThreadBinding::~ThreadBinding() {
  if (!profile_) return;
  profile_->stash_->state = std::move(detail::t_state);
  detail::t_state = std::move(saved_->state);
}

profile::ThreadBinding profile::bind_thread() {
  TD_CHECK(options_.thread_bound, ErrorCode::kFailedPrecondition,
           "[profiler] bind_thread() needs a profile created with thread_bound = true");
  return ThreadBinding(this);
}

void profile::start() {
  if (started_) return;
  if (!options_.thread_bound) {
    bool expected = false;
    TD_CHECK(detail::g_profile_exists.compare_exchange_strong(expected, true), ErrorCode::kFailedPrecondition,
             "[profiler] a profiler is already running in this process");
  }
  ThreadBinding bound(this);  // a thread-bound profile's step ranges open on its own stack
  started_ = true;
  transit(ProfilerAction::kNone, action_);
  if (options_.schedule) open_step_range();
}

void profile::stop() {
  if (!started_) return;
  ThreadBinding bound(this);
  close_step_range();
  started_ = false;
  if (!options_.thread_bound) detail::g_profile_exists.store(false);
  transit(action_, std::nullopt);
}

void profile::step() {
  TD_CHECK(started_, ErrorCode::kFailedPrecondition, "[profiler] step() called on a stopped profiler");
  ThreadBinding bound(this);
  close_step_range();
  ProfilerAction prev = action_;
  ++step_num_;
  action_ = options_.schedule ? (*options_.schedule)(step_num_) : ProfilerAction::kRecord;
  transit(prev, action_);
  // PyTorch 1.13 names this range after the previous step (a bug fixed in 2.0); the step's own number is
  // used.
  if (options_.schedule) open_step_range();
}

void profile::open_step_range() {
  step_range_ = std::make_unique<record_function>("ProfilerStep#" + std::to_string(step_num_));
}

void profile::close_step_range() {
  step_range_.reset();
}

detail::Trace& profile::trace() {
  return options_.thread_bound ? *bound_trace_ : detail::g_process_trace;
}

void profile::start_trace() {
  if (tracing_) return;
  detail::begin_trace(trace(), options_);
  tracing_ = true;
}

void profile::stop_trace() {
  if (!tracing_) return;
  tracing_ = false;
  detail::TraceResult result = detail::end_trace(trace());
  events_ = EventList(std::move(result.events), options_.profile_memory, options_.with_flops, std::move(result.memory));
}

// PyTorch's action_map: warmup records nothing here (it exists to warm up CUPTI), so WARMUP -> RECORD starts
// the trace and a trace never holds warmup steps.
void profile::transit(ProfilerAction from, std::optional<ProfilerAction> to) {
  using A = ProfilerAction;
  auto recording = [](A a) { return a == A::kRecord || a == A::kRecordAndSave; };
  auto save = [&] {
    stop_trace();
    if (options_.on_trace_ready) options_.on_trace_ready(*this);
  };
  if (!to) {
    if (recording(from)) save();
    return;
  }
  if (from == A::kRecordAndSave) {
    save();
    if (recording(*to)) start_trace();
  } else if (recording(from)) {
    if (!recording(*to)) stop_trace();
  } else if (recording(*to)) {
    start_trace();
  }
}

// ---- EventList ----

EventList::EventList(std::vector<Event> events, bool profile_memory, bool with_flops, std::vector<MemoryRecord> memory)
    : events_(std::move(events)), profile_memory_(profile_memory), with_flops_(with_flops), memory_(std::move(memory)) {
  std::stable_sort(memory_.begin(), memory_.end(),
                   [](const MemoryRecord& a, const MemoryRecord& b) { return a.time_ns < b.time_ns; });
  // PyTorch sorts by start, the longer (outer) event first on ties.
  std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return a.start_ns != b.start_ns ? a.start_ns < b.start_ns : a.end_ns > b.end_ns;
  });
  std::unordered_map<int64_t, size_t> index;
  for (size_t i = 0; i < events_.size(); ++i) {
    Event& e = events_[i];
    index[e.id] = i;
    e.children.clear();
    e.cpu_memory_usage = e.self_cpu_memory_usage;
    e.cuda_memory_usage = e.self_cuda_memory_usage;
    e.self_cpu_time_ns = e.cpu_time_total_ns();
    e.self_cuda_time_ns = e.cuda_time_ns;
  }
  for (Event& e : events_) {
    if (e.parent_id < 0) continue;
    auto it = index.find(e.parent_id);
    if (it == index.end()) continue;  // the parent began before the trace
    Event& parent = events_[it->second];
    parent.children.push_back(e.id);
    parent.self_cpu_time_ns -= e.cpu_time_total_ns();
    parent.self_cuda_time_ns -= e.cuda_time_ns;
  }
  // Memory totals: children first. A child starts no earlier than its parent, so a reverse walk of the
  // start order visits it first.
  for (size_t i = events_.size(); i-- > 0;) {
    Event& e = events_[i];
    if (e.parent_id < 0) continue;
    auto it = index.find(e.parent_id);
    if (it == index.end()) continue;
    events_[it->second].cpu_memory_usage += e.cpu_memory_usage;
    events_[it->second].cuda_memory_usage += e.cuda_memory_usage;
  }
}

const Event* EventList::by_id(int64_t id) const {
  for (const Event& e : events_) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

namespace {

// Python's str() of a list of int lists: "[[64, 32], []]".
std::string shapes_str(const std::vector<std::vector<int64_t>>& shapes) {
  std::string out = "[";
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (i) out += ", ";
    out += "[";
    for (size_t j = 0; j < shapes[i].size(); ++j) {
      if (j) out += ", ";
      out += std::to_string(shapes[i][j]);
    }
    out += "]";
  }
  return out + "]";
}

}  // namespace

KeyAverages EventList::key_averages(bool group_by_input_shape) const {
  std::vector<FunctionEventAvg> rows;
  std::unordered_map<std::string, size_t> by_key;
  std::unordered_map<int64_t, size_t> index;
  for (size_t i = 0; i < events_.size(); ++i) index[events_[i].id] = i;
  // Microseconds as PyTorch computes them (end_us - start_us, self = total - the children's totals, in
  // floating point and in the same order), so the table rounds exactly as PyTorch's would.
  auto total_us = [](const Event& e) {
    return static_cast<double>(e.end_ns) / 1000.0 - static_cast<double>(e.start_ns) / 1000.0;
  };
  for (const Event& e : events_) {
    if (e.kind == EventKind::kModule) continue;
    std::string shapes = group_by_input_shape ? shapes_str(e.input_shapes) : "";
    std::string key = e.name + '\0' + shapes;
    auto [it, fresh] = by_key.try_emplace(key, rows.size());
    if (fresh) {
      rows.emplace_back();
      rows.back().key = e.name;
      rows.back().input_shapes = shapes;
    }
    FunctionEventAvg& row = rows[it->second];
    row.count += 1;
    double children_us = 0, children_cuda_us = 0;
    for (int64_t child : e.children) {
      children_us += total_us(events_[index.at(child)]);
      children_cuda_us += static_cast<double>(events_[index.at(child)].cuda_time_ns) / 1000.0;
    }
    row.cpu_time_total += total_us(e);
    row.self_cpu_time_total += total_us(e) - children_us;
    // The legacy profiler's rule: an event's CUDA time is its own span; self is that minus the children's.
    const double cuda_us = static_cast<double>(e.cuda_time_ns) / 1000.0;
    row.cuda_time_total += cuda_us;
    row.self_cuda_time_total += cuda_us - children_cuda_us;
    row.cpu_memory_usage += e.cpu_memory_usage;
    row.self_cpu_memory_usage += e.self_cpu_memory_usage;
    row.cuda_memory_usage += e.cuda_memory_usage;
    row.self_cuda_memory_usage += e.self_cuda_memory_usage;
    row.flops += e.flops;
  }
  return KeyAverages(std::move(rows), profile_memory_, with_flops_);
}

// ---- Chrome trace ----

namespace {

const char* category(EventKind kind) {
  switch (kind) {
    case EventKind::kOp:
      return "cpu_op";
    case EventKind::kUserRange:
      return "user_annotation";
    case EventKind::kBackward:
      return "cpu_op";
    case EventKind::kModule:
      return "python_function";
  }
  return "cpu_op";
}

// A GPU track's number: the default stream is 0, the others 1, 2, ... in the order first seen on their device.
int stream_track(const std::vector<std::pair<int, uint64_t>>& tracks,
                 std::vector<std::pair<int, uint64_t>>::const_iterator track) {
  if (track->second == 0) return 0;
  int n = 0;
  for (auto it = tracks.begin(); it != track; ++it) n += it->first == track->first && it->second != 0;
  return n + 1;
}

}  // namespace

std::string EventList::chrome_trace() const {
  using nlohmann::json;
  const int pid = static_cast<int>(::getpid());
  json trace_events = json::array();
  std::vector<uint32_t> threads;
  for (const Event& e : events_) {
    json args = json::object();
    args["External id"] = e.id;
    args["Device"] = e.device;
    if (!e.input_shapes.empty()) args["Input Dims"] = e.input_shapes;
    if (e.flops > 0) args["flops"] = e.flops;
    if (!e.module.empty()) args["Module Hierarchy"] = e.module;
    if (profile_memory_ && e.kind != EventKind::kModule) {  // memory is charged to ops and ranges only
      args["CPU Mem"] = e.cpu_memory_usage;
      args["Self CPU Mem"] = e.self_cpu_memory_usage;
    }
    trace_events.push_back(json{{"ph", "X"},
                                {"cat", category(e.kind)},
                                {"name", e.name},
                                {"pid", pid},
                                {"tid", e.thread},
                                {"ts", static_cast<double>(e.start_ns) / 1000.0},
                                {"dur", static_cast<double>(e.cpu_time_total_ns()) / 1000.0},
                                {"args", std::move(args)}});
    if (std::find(threads.begin(), threads.end(), e.thread) == threads.end()) threads.push_back(e.thread);
  }
  // The device side of events with CUDA time: one track per (device, stream), streams numbered in the
  // order seen (the default stream is 0), as Kineto's GPU tracks.
  std::vector<std::pair<int, uint64_t>> gpu_tracks;
  for (const Event& e : events_) {
    if (e.cuda_start_ns < 0) continue;
    const std::pair<int, uint64_t> track{e.cuda_device, e.cuda_stream};
    auto it = std::find(gpu_tracks.begin(), gpu_tracks.end(), track);
    if (it == gpu_tracks.end()) it = gpu_tracks.insert(gpu_tracks.end(), track);
    trace_events.push_back(json{{"ph", "X"},
                                {"cat", "gpu_user_annotation"},
                                {"name", e.name},
                                {"pid", e.cuda_device},
                                {"tid", stream_track(gpu_tracks, it)},
                                {"ts", static_cast<double>(e.cuda_start_ns) / 1000.0},
                                {"dur", static_cast<double>(e.cuda_time_ns) / 1000.0},
                                {"args", {{"External id", e.id}, {"Device", e.device}}}});
  }
  std::vector<int> gpus;
  for (auto it = gpu_tracks.begin(); it != gpu_tracks.end(); ++it) {
    if (std::find(gpus.begin(), gpus.end(), it->first) == gpus.end()) {
      gpus.push_back(it->first);
      trace_events.push_back(json{{"ph", "M"},
                                  {"name", "process_name"},
                                  {"pid", it->first},
                                  {"tid", 0},
                                  {"args", {{"name", "GPU " + std::to_string(it->first)}}}});
    }
    trace_events.push_back(json{{"ph", "M"},
                                {"name", "thread_name"},
                                {"pid", it->first},
                                {"tid", stream_track(gpu_tracks, it)},
                                {"args", {{"name", "stream " + std::to_string(stream_track(gpu_tracks, it))}}}});
  }
  for (const MemoryRecord& r : memory_) {
    const Device device = Device::parse(r.device);
    const double ts = static_cast<double>(r.time_ns) / 1000.0;
    trace_events.push_back(json{{"ph", "i"},
                                {"cat", "cpu_instant_event"},
                                {"s", "t"},
                                {"name", "[memory]"},
                                {"pid", pid},
                                {"tid", r.thread},
                                {"ts", ts},
                                {"args",
                                 {{"Device Type", device.is_cuda() ? 1 : 0},
                                  {"Device Id", device.is_cuda() ? device.index : -1},
                                  {"Bytes", r.bytes},
                                  {"Total Allocated", r.total_allocated}}}});
    trace_events.push_back(json{{"ph", "C"},
                                {"name", "Memory Allocated (" + r.device + ")"},
                                {"pid", pid},
                                {"ts", ts},
                                {"args", {{"bytes", r.total_allocated}}}});
    if (std::find(threads.begin(), threads.end(), r.thread) == threads.end()) threads.push_back(r.thread);
  }
  trace_events.push_back(
      json{{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"tid", 0}, {"args", {{"name", "tensord"}}}});
  for (uint32_t t : threads) {
    trace_events.push_back(json{{"ph", "M"},
                                {"name", "thread_name"},
                                {"pid", pid},
                                {"tid", t},
                                {"args", {{"name", "thread " + std::to_string(t)}}}});
  }
  json doc{{"schemaVersion", 1}, {"displayTimeUnit", "ms"}, {"traceEvents", std::move(trace_events)}};
  return doc.dump();
}

void EventList::export_chrome_trace(const std::string& path) const {
  std::ofstream out(path);
  TD_CHECK(out.good(), ErrorCode::kInvalidArgument, "[profiler] cannot write the trace to '", path, "'");
  out << chrome_trace();
  TD_CHECK(out.good(), ErrorCode::kInternal, "[profiler] writing the trace to '", path, "' failed");
}

}  // namespace td::profiler
