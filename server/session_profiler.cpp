// The session's profiler: a thread-bound td::profiler::profile that drain() binds its thread to, so it records
// this session's commands and nothing of the other sessions running beside it.
#include "core/profiler/profiler.h"
#include "server/session.h"

namespace td::server {

namespace {

constexpr size_t kPerMessage = 2048;  // events or memory records, ~100 bytes each: well under 1 MiB

void to_proto(const profiler::Event& e, pb::ProfilerEvent* out) {
  out->set_id(e.id);
  out->set_parent_id(e.parent_id);
  out->set_name(e.name);
  out->set_kind(static_cast<int32_t>(e.kind));
  out->set_device(e.device);
  out->set_thread(e.thread);
  out->set_start_ns(e.start_ns);
  out->set_end_ns(e.end_ns);
  for (const auto& shape : e.input_shapes) {
    auto* list = out->add_input_shapes();
    for (int64_t d : shape) list->add_values(d);
  }
  out->set_flops(e.flops);
  out->set_module(e.module);
  out->set_self_cpu_memory_usage(e.self_cpu_memory_usage);
  out->set_self_cuda_memory_usage(e.self_cuda_memory_usage);
  out->set_cuda_time_ns(e.cuda_time_ns);
  out->set_cuda_start_ns(e.cuda_start_ns);
  out->set_cuda_device(e.cuda_device);
  out->set_cuda_stream(e.cuda_stream);
}

profiler::ProfilerOptions options_of(const pb::ProfilerSettings& s) {
  profiler::ProfilerOptions o;
  o.record_shapes = s.record_shapes();
  o.profile_memory = s.profile_memory();
  o.with_flops = s.with_flops();
  o.with_modules = s.with_modules();
  if (s.cuda()) o.activities.push_back(profiler::ProfilerActivity::kCUDA);
  if (s.has_schedule()) o.schedule = profiler::schedule(s.wait(), s.warmup(), s.active(), s.repeat(), s.skip_first());
  o.thread_bound = true;
  return o;
}

}  // namespace

void Session::run_profiler(const pb::ProfilerCommand& cmd) {
  using A = pb::ProfilerCommand;
  auto running = [&](const char* what) -> profiler::profile& {
    TD_CHECK(profiler_, ErrorCode::kFailedPrecondition, "[profiler] ", what, ": no profiler runs on this session");
    TD_CHECK(cmd.profiler() == profiler_id_, ErrorCode::kFailedPrecondition, "[profiler] ", what, ": profiler ",
             cmd.profiler(), " is not the one running on this session (", profiler_id_, ")");
    return *profiler_;
  };
  switch (cmd.action()) {
    case A::PROFILER_START: {
      TD_CHECK(!profiler_, ErrorCode::kFailedPrecondition, "[profiler] start: a profiler already runs on this session");
      profiler::ProfilerOptions options = options_of(cmd.settings());
      options.on_trace_ready = [this](profiler::profile& p) { ready_traces_.push_back(p.events()); };
      profiler_ = std::make_shared<profiler::profile>(std::move(options));
      profiler_id_ = cmd.profiler();
      break;
    }
    case A::PROFILER_STEP: running("step").step(); break;
    case A::PROFILER_STOP: {
      profiler::profile& p = running("stop");
      {
        auto bound = p.bind_thread();  // a no-op inside drain(), which bound this thread already
        ranges_.clear();               // ranges the client left open end with the profiler
        p.stop();
      }
      send_traces(cmd.request_id());
      profiler_.reset();
      break;
    }
    case A::PROFILER_TRACES:
      running("traces");
      send_traces(cmd.request_id());
      break;
    case A::RANGE_ENTER:
      TD_CHECK_ARG(!cmd.name().empty(), "[profiler] record_function needs a name");
      ranges_.push_back(std::make_unique<profiler::record_function>(cmd.name()));
      break;
    case A::RANGE_EXIT:
      TD_CHECK(!ranges_.empty(), ErrorCode::kFailedPrecondition, "[profiler] range exit with no open range");
      ranges_.pop_back();
      break;
    default:
      throw Error(ErrorCode::kInvalidArgument, str("[profiler] unknown action ", static_cast<int>(cmd.action())));
  }
}

void Session::send_traces(uint64_t request_id) {
  std::vector<profiler::EventList> traces = std::move(ready_traces_);
  ready_traces_.clear();
  const bool memory = profiler_ && profiler_->options().profile_memory;
  const bool flops = profiler_ && profiler_->options().with_flops;
  auto reply = [&] {
    pb::ServerMessage m;
    auto* t = m.mutable_profiler_trace();
    t->set_request_id(request_id);
    t->set_profile_memory(memory);
    t->set_with_flops(flops);
    return m;
  };
  for (size_t i = 0; i < traces.size(); ++i) {
    const auto& events = traces[i].events();
    const auto& memory = traces[i].memory_records();
    size_t sent = 0, sent_memory = 0;
    do {
      pb::ServerMessage m = reply();
      auto* t = m.mutable_profiler_trace();
      for (const size_t end = std::min(events.size(), sent + kPerMessage); sent < end; ++sent) {
        to_proto(events[sent], t->add_events());
      }
      for (const size_t end = std::min(memory.size(), sent_memory + kPerMessage); sent_memory < end; ++sent_memory) {
        const profiler::MemoryRecord& r = memory[sent_memory];
        auto* p = t->add_memory();
        p->set_time_ns(r.time_ns);
        p->set_bytes(r.bytes);
        p->set_total_allocated(r.total_allocated);
        p->set_device(r.device);
        p->set_thread(r.thread);
      }
      t->set_last(sent == events.size() && sent_memory == memory.size());
      t->set_complete(t->last() && i + 1 == traces.size());
      send(m);
    } while (sent < events.size() || sent_memory < memory.size());
  }
  if (traces.empty()) {
    pb::ServerMessage m = reply();
    m.mutable_profiler_trace()->set_complete(true);
    send(m);
  }
}

}  // namespace td::server
