// td::remote::profiler: torch.profiler for a remote session. The profiler runs on the server and records
// that session's commands only (its ops, backward nodes, module calls and the client's record_function
// ranges); traces come back to the client as td::profiler::EventList, so key_averages() tables and Chrome
// traces read as they do for local profiling.
//
//   td::remote::profiler::ProfilerOptions opts;
//   opts.record_shapes = true;
//   opts.schedule = td::profiler::schedule(/*wait=*/1, /*warmup=*/1, /*active=*/3);
//   opts.on_trace_ready = [](auto& prof) { std::cout << prof.key_averages().table("self_cpu_time_total", 10); };
//   td::remote::profiler::profile prof(session, opts);
//   for (...) { train_step(); prof.step(); }
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/remote.h"
#include "core/profiler/profiler.h"

namespace td::remote::profiler {

class profile;

/// torch.profiler.profile's arguments. With ProfilerActivity::kCUDA, a server with a GPU also times the
/// session's CUDA work with CUDA events (the events' cuda_time_ns, the table's CUDA columns).
struct ProfilerOptions {
  std::vector<td::profiler::ProfilerActivity> activities = {td::profiler::ProfilerActivity::kCPU};
  bool record_shapes = false;
  bool profile_memory = false;
  bool with_flops = false;
  bool with_modules = false;
  /// Without a schedule, everything between start and stop is one trace.
  std::optional<td::profiler::Schedule> schedule;
  /// Called on the client, with the trace in events(), each time one is complete.
  std::function<void(profile&)> on_trace_ready;
};

/// Starts the session's profiler on construction (or start()) and stops it on stop() or destruction.
/// One per session at a time (FAILED_PRECONDITION otherwise).
class profile {
 public:
  explicit profile(Session& session, ProfilerOptions options = {});
  ~profile();
  profile(const profile&) = delete;
  profile& operator=(const profile&) = delete;

  void start();
  /// Ends recording: the last trace comes back (a sync point) and goes to on_trace_ready.
  void stop();
  /// Marks the end of a training step; when the step completes a scheduled trace, fetches it (a sync point).
  void step();
  int64_t step_num() const { return step_num_; }

  /// The latest complete trace.
  const td::profiler::EventList& events() const { return events_; }
  td::profiler::KeyAverages key_averages(bool group_by_input_shape = false) const {
    return events_.key_averages(group_by_input_shape);
  }
  void export_chrome_trace(const std::string& path) const { events_.export_chrome_trace(path); }

 private:
  /// Receives the traces a stop or traces request returns, each handed to on_trace_ready.
  void fetch(int action);

  SessionState* state_;
  uint64_t id_;
  ProfilerOptions options_;
  bool started_ = false;
  int64_t step_num_ = 0;
  td::profiler::EventList events_;
};

/// torch.profiler.record_function on the session: a named range over the commands issued in its scope.
class record_function {
 public:
  record_function(Session& session, std::string name);
  ~record_function();
  record_function(const record_function&) = delete;
  record_function& operator=(const record_function&) = delete;

 private:
  SessionState* state_;
};

}  // namespace td::remote::profiler
