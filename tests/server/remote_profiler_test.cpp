// The session profiler (td::remote::profiler) against a real tensord on loopback: it records its own
// session's commands and none of another session's running beside it, its schedule hands each cycle's trace
// to the client as the local profiler does, and misuse gets FAILED_PRECONDITION while the session goes on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "client/remote.h"
#include "client/remote_profiler.h"
#include "core/cuda.h"
#include "server/server.h"
#include "tests/core/profiler_events.h"
#include "tests/server/server_test_util.h"

namespace td {
namespace {

using ::testing::HasSubstr;
using remote::Tensor;
using td::profiler::Event;
using td::profiler::EventList;
namespace rprof = remote::profiler;

class RemoteProfilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<server::Server>(testing::loopback_server_options());
    client_ = std::make_unique<remote::Client>("127.0.0.1:" + std::to_string(server_->port()));
  }
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<remote::Client> client_;
};

using testing::count_named;
using testing::first_named;

TEST_F(RemoteProfilerTest, RecordsItsOwnSessionOnlyWithRangesShapesAndMemory) {
  remote::Session s = client_->create_session("profiled", "cpu");
  remote::Session other = client_->create_session("busy neighbour", "cpu");
  Tensor a = s.tensor<float>(std::vector<float>(6, 1.0f), {2, 3});
  Tensor b = s.tensor<float>(std::vector<float>(12, 2.0f), {3, 4});
  s.sync();
  std::atomic<bool> done{false};
  std::atomic<int> neighbour_steps{0};
  std::thread neighbour([&] {  // another session's ops, on the same server pool, all through the profile
    Tensor x = other.tensor<float>({1, 2, 3}, {3});
    while (!done) {
      (void)x.exp().sum().item<float>();
      ++neighbour_steps;
    }
  });
  rprof::ProfilerOptions options;
  options.record_shapes = true;
  options.profile_memory = true;
  EventList trace;
  int ready = 0;
  options.on_trace_ready = [&](rprof::profile& p) {
    ++ready;
    trace = p.events();
  };
  {
    rprof::profile prof(s, options);
    s.sync();
    const int before = neighbour_steps;
    for (int i = 0; i < 3; ++i) {
      rprof::record_function range(s, "forward");
      (void)a.mm(b).relu().sum().item<float>();
    }
    while (neighbour_steps < before + 3) std::this_thread::yield();  // the neighbour ran while we recorded
    prof.stop();
  }
  done = true;
  neighbour.join();
  ASSERT_EQ(ready, 1);
  EXPECT_EQ(count_named(trace, "forward"), 3);
  EXPECT_EQ(count_named(trace, "aten::mm"), 3);
  EXPECT_EQ(count_named(trace, "aten::exp"), 0);  // the neighbour's ops are not in this session's trace
  const Event& forward = first_named(trace, "forward");
  const Event& mm = first_named(trace, "aten::mm");
  EXPECT_EQ(mm.parent_id, forward.id);
  EXPECT_EQ(mm.input_shapes, (std::vector<std::vector<int64_t>>{{2, 3}, {3, 4}}));
  EXPECT_EQ(mm.self_cpu_memory_usage, 2 * 4 * 4);  // its float32 [2, 4] output
  // The memory timeline: this session's allocations and frees only, summed from zero.
  ASSERT_FALSE(trace.memory_records().empty());
  int64_t sum = 0;
  for (const auto& r : trace.memory_records()) {
    sum += r.bytes;
    EXPECT_EQ(r.total_allocated, sum);
    EXPECT_EQ(r.device, "cpu");
  }
  EXPECT_EQ(trace.memory_records().front().bytes, 2 * 4 * 4);  // the first mm's output comes first
  // The outputs local profiling has: the key_averages table and a Chrome trace.
  const std::string table = trace.key_averages().table("self_cpu_time_total", 10);
  EXPECT_THAT(table, HasSubstr("aten::mm"));
  EXPECT_THAT(table, HasSubstr("Self CPU Mem"));
  const auto chrome = nlohmann::json::parse(trace.chrome_trace());
  int64_t mm_events = 0;
  for (const auto& e : chrome["traceEvents"]) mm_events += e.value("name", "") == "aten::mm";
  EXPECT_EQ(mm_events, 3);
}

// ProfilerActivity::kCUDA travels to the server, and the events' CUDA fields travel back: on a server
// without a GPU every event says "not timed" (cuda_start_ns -1, which the proto's default 0 would not).
TEST_F(RemoteProfilerTest, CudaActivityAndTheEventsCudaFieldsTravel) {
  if (cuda::is_available()) GTEST_SKIP() << "a GPU is present: the server would time CUDA ops";
  remote::Session s = client_->create_session("cuda-profiled", "cpu");
  Tensor a = s.tensor<float>(std::vector<float>(4, 1.0f), {2, 2});
  rprof::ProfilerOptions options;
  options.activities = {td::profiler::ProfilerActivity::kCPU, td::profiler::ProfilerActivity::kCUDA};
  EventList trace;
  options.on_trace_ready = [&](rprof::profile& p) { trace = p.events(); };
  {
    rprof::profile prof(s, options);
    (void)a.mm(a).sum().item<float>();
    prof.stop();
  }
  ASSERT_EQ(count_named(trace, "aten::mm"), 1);
  for (const Event& e : trace) {
    EXPECT_EQ(e.cuda_start_ns, -1) << e.name;
    EXPECT_EQ(e.cuda_time_ns, 0) << e.name;
    EXPECT_EQ(e.cuda_device, -1) << e.name;
  }
  EXPECT_THAT(trace.key_averages().table(), ::testing::Not(HasSubstr("CUDA")));
}

TEST_F(RemoteProfilerTest, ScheduleHandsEachCycleToTheClient) {
  remote::Session s = client_->create_session("scheduled", "cpu");
  Tensor a = s.tensor<float>({1, 2}, {2});
  rprof::ProfilerOptions options;
  options.schedule = td::profiler::schedule(/*wait=*/1, /*warmup=*/1, /*active=*/2, /*repeat=*/2);
  std::vector<EventList> traces;
  options.on_trace_ready = [&](rprof::profile& p) { traces.push_back(p.events()); };
  rprof::profile prof(s, options);
  for (int step = 0; step < 10; ++step) {
    for (int i = 0; i <= step; ++i) (void)a.neg();
    prof.step();
  }
  prof.stop();
  // Cycles of 4 steps: steps 2-3 and 6-7 are recorded, each handed over when its cycle ends.
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(count_named(traces[0], "aten::neg"), 3 + 4);
  EXPECT_EQ(first_named(traces[0], "ProfilerStep#2").children.size(), 3u);
  EXPECT_EQ(count_named(traces[1], "aten::neg"), 7 + 8);
  EXPECT_EQ(first_named(traces[1], "ProfilerStep#7").children.size(), 8u);
  EXPECT_EQ(count_named(traces[1], "ProfilerStep#5"), 0);  // warmup is not recorded
}

TEST_F(RemoteProfilerTest, MisuseFailsWithFailedPreconditionAndTheSessionGoesOn) {
  remote::Session s = client_->create_session("profiler errors", "cpu");
  Tensor a = s.tensor<float>({1, 2}, {2});
  rprof::profile first(s);
  try {
    rprof::profile second(s);  // its start fails on the server; its stop names it and fails too
    s.sync();
    FAIL() << "a second profiler on one session started";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(e.what(), HasSubstr("a profiler already runs on this session"));
  }
  (void)a.neg().sum().item<float>();
  first.stop();  // the first one still runs and has the neg
  EXPECT_EQ(count_named(first.events(), "aten::neg"), 1);
  try {
    rprof::profile p(s, {});
    s.sync();
    { rprof::record_function r(s, ""); }
    s.sync();
    FAIL() << "an unnamed range was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("record_function needs a name"));
  }
  EXPECT_FLOAT_EQ(a.sum().item<float>(), 3.0f);
}

}  // namespace
}  // namespace td
