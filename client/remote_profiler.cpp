#include "client/remote_profiler.h"

#include <algorithm>

#include "client/remote_internal.h"

namespace td::remote::profiler {

namespace pb = ::tensord::v1;

namespace {

td::profiler::EventList from_proto(const pb::ProfilerTrace& trace) {
  std::vector<td::profiler::Event> events;
  events.reserve(static_cast<size_t>(trace.events_size()));
  for (const auto& p : trace.events()) {
    td::profiler::Event e;
    e.id = p.id();
    e.parent_id = p.parent_id();
    e.name = p.name();
    e.kind = static_cast<td::profiler::EventKind>(p.kind());
    e.device = p.device();
    e.thread = p.thread();
    e.start_ns = p.start_ns();
    e.end_ns = p.end_ns();
    for (const auto& shape : p.input_shapes()) e.input_shapes.emplace_back(shape.values().begin(), shape.values().end());
    e.flops = p.flops();
    e.module = p.module();
    e.self_cpu_memory_usage = p.self_cpu_memory_usage();
    e.self_cuda_memory_usage = p.self_cuda_memory_usage();
    e.cuda_time_ns = p.cuda_time_ns();
    e.cuda_start_ns = p.cuda_start_ns();
    e.cuda_device = p.cuda_device();
    e.cuda_stream = p.cuda_stream();
    events.push_back(std::move(e));
  }
  std::vector<td::profiler::MemoryRecord> memory;
  memory.reserve(static_cast<size_t>(trace.memory_size()));
  for (const auto& p : trace.memory()) {
    memory.push_back(td::profiler::MemoryRecord{p.time_ns(), p.bytes(), p.total_allocated(), p.device(), p.thread()});
  }
  return td::profiler::EventList(std::move(events), trace.profile_memory(), trace.with_flops(), std::move(memory));
}

void push_action(SessionState& s, pb::ProfilerCommand::Action action, uint64_t id, const std::string& name = "") {
  pb::Command cmd;
  cmd.mutable_profiler()->set_action(action);
  cmd.mutable_profiler()->set_profiler(id);
  if (!name.empty()) cmd.mutable_profiler()->set_name(name);
  internal::push(s, std::move(cmd));
}

}  // namespace

profile::profile(Session& session, ProfilerOptions options)
    : state_(&session.state()), id_(internal::new_handle(session.state())), options_(std::move(options)) {
  start();
}

profile::~profile() {
  try {
    stop();
  } catch (...) {
    // A broken stream or a throwing on_trace_ready must not escape a destructor.
  }
}

void profile::start() {
  if (started_) return;
  pb::Command cmd;
  auto* p = cmd.mutable_profiler();
  p->set_action(pb::ProfilerCommand::PROFILER_START);
  p->set_profiler(id_);
  auto* s = p->mutable_settings();
  s->set_record_shapes(options_.record_shapes);
  s->set_profile_memory(options_.profile_memory);
  s->set_with_flops(options_.with_flops);
  s->set_with_modules(options_.with_modules);
  s->set_cuda(std::find(options_.activities.begin(), options_.activities.end(),
                        td::profiler::ProfilerActivity::kCUDA) != options_.activities.end());
  if (options_.schedule) {
    const td::profiler::Schedule& sch = *options_.schedule;
    s->set_has_schedule(true);
    s->set_wait(sch.wait);
    s->set_warmup(sch.warmup);
    s->set_active(sch.active);
    s->set_repeat(sch.repeat);
    s->set_skip_first(sch.skip_first);
  }
  internal::push(*state_, std::move(cmd));
  started_ = true;
  step_num_ = 0;
}

void profile::step() {
  TD_CHECK(started_, ErrorCode::kFailedPrecondition, "[profiler] step() called on a stopped profiler");
  push_action(*state_, pb::ProfilerCommand::PROFILER_STEP, id_);
  // The schedule is deterministic: the client knows which steps complete a trace without asking.
  const bool saves = options_.schedule && (*options_.schedule)(step_num_) == td::profiler::ProfilerAction::kRecordAndSave;
  ++step_num_;
  if (saves) fetch(pb::ProfilerCommand::PROFILER_TRACES);
}

void profile::stop() {
  if (!started_) return;
  started_ = false;
  fetch(pb::ProfilerCommand::PROFILER_STOP);
}

void profile::fetch(int action) {
  auto traces = internal::request_traces(*state_, [&](pb::Command& cmd, uint64_t request_id) {
    cmd.mutable_profiler()->set_action(static_cast<pb::ProfilerCommand::Action>(action));
    cmd.mutable_profiler()->set_request_id(request_id);
    cmd.mutable_profiler()->set_profiler(id_);
  });
  for (const auto& trace : traces) {
    events_ = from_proto(trace);
    if (options_.on_trace_ready) options_.on_trace_ready(*this);
  }
}

record_function::record_function(Session& session, std::string name) : state_(&session.state()) {
  push_action(*state_, pb::ProfilerCommand::RANGE_ENTER, 0, name);
}

record_function::~record_function() {
  try {
    push_action(*state_, pb::ProfilerCommand::RANGE_EXIT, 0);
  } catch (...) {
  }
}

}  // namespace td::remote::profiler
