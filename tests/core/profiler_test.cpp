// td::profiler: what is recorded (ops, ranges, backward nodes, modules, memory, FLOPs, shapes), the schedule,
// the Chrome trace, and the key_averages table against PyTorch 1.13's own table code
// (tests/golden/profiler/generate_tables.py).
#include "core/profiler/profiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/cuda.h"
#include "core/nn/functional.h"
#include "core/nn/modules.h"
#include "core/tensor_impl.h"
#include "tests/core/golden_json.h"
#include "tests/core/profiler_events.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using profiler::Event;
using profiler::EventKind;
using profiler::EventList;
using profiler::ProfilerAction;
using profiler::ProfilerActivity;
using profiler::ProfilerOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::count_named;
using testing::first_named;

TEST(Profiler, OffRecordsNothing) {
  Tensor a = ones({8}), b = ones({8});
  EXPECT_FALSE(profiler::is_recording());
  (void)a.add(b);  // before any profiler: nothing to record into
  ProfilerOptions options;
  options.record_shapes = options.profile_memory = options.with_flops = options.with_modules = true;
  profiler::profile prof(options);
  EXPECT_TRUE(profiler::is_recording());
  prof.stop();
  EXPECT_FALSE(profiler::is_recording());
  (void)a.mul(b).sum();  // after stop
  { profiler::record_function range("after"); }
  EXPECT_EQ(prof.events().size(), 0u);
  EXPECT_EQ(prof.key_averages().table(), "");
}

TEST(Profiler, RecordsEveryOpCallByName) {
  Tensor a = ones({4, 4}), b = ones({4, 4});
  profiler::profile prof;
  (void)a.add(b);
  (void)a.mul(b);
  (void)a.add(b);
  prof.stop();
  const EventList& events = prof.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].name, "aten::add");
  EXPECT_EQ(events[1].name, "aten::mul");
  EXPECT_EQ(events[2].name, "aten::add");
  for (const Event& e : events) {
    EXPECT_EQ(e.kind, EventKind::kOp);
    EXPECT_EQ(e.device, "cpu");
    EXPECT_EQ(e.parent_id, -1);
    EXPECT_GE(e.end_ns, e.start_ns);
    EXPECT_GT(e.thread, 0u);
    EXPECT_TRUE(e.input_shapes.empty());  // record_shapes is off
  }
  EXPECT_LE(events[0].end_ns, events[1].start_ns);
  profiler::KeyAverages avg = prof.key_averages();
  ASSERT_EQ(avg.rows().size(), 2u);
  EXPECT_EQ(avg.find("aten::add")->count, 2);
  EXPECT_EQ(avg.find("aten::mul")->count, 1);
}

TEST(Profiler, NestingGivesChildrenAndSelfTime) {
  Tensor a = ones({3, 4}), b = ones({4, 5});
  profiler::profile prof;
  {
    profiler::record_function range("outer");
    (void)a.matmul(b).relu();
  }
  prof.stop();
  const EventList& events = prof.events();
  const Event& outer = first_named(events, "outer");
  EXPECT_EQ(outer.kind, EventKind::kUserRange);
  EXPECT_EQ(outer.parent_id, -1);
  // matmul is written in other ops: mm runs inside it, and both inside the range.
  const Event& matmul = first_named(events, "aten::matmul");
  const Event& mm = first_named(events, "aten::mm");
  EXPECT_EQ(matmul.parent_id, outer.id);
  EXPECT_EQ(mm.parent_id, matmul.id);
  EXPECT_EQ(first_named(events, "aten::relu").parent_id, outer.id);
  for (const Event& e : events) {
    int64_t children_total = 0;
    for (int64_t id : e.children) {
      const Event* child = events.by_id(id);
      ASSERT_NE(child, nullptr);
      EXPECT_EQ(child->parent_id, e.id);
      EXPECT_GE(child->start_ns, e.start_ns);
      EXPECT_LE(child->end_ns, e.end_ns);
      children_total += child->cpu_time_total_ns();
    }
    EXPECT_EQ(e.self_cpu_time_ns, e.cpu_time_total_ns() - children_total) << e.name;
    EXPECT_GE(e.self_cpu_time_ns, 0) << e.name;
  }
  // key_averages: the self times of all rows add up to the top-level events' totals.
  profiler::KeyAverages avg = prof.key_averages();
  EXPECT_NEAR(avg.self_cpu_time_total(), outer.cpu_time_total_ns() / 1000.0, 1e-6);
  EXPECT_EQ(avg.find("outer")->count, 1);
}

TEST(Profiler, RecordFunctionRangesNest) {
  profiler::profile prof;
  {
    profiler::record_function a("a");
    { profiler::record_function b("b"); }
    { profiler::record_function b("b"); }
  }
  prof.stop();
  ASSERT_EQ(prof.events().size(), 3u);
  const Event& a = first_named(prof.events(), "a");
  EXPECT_EQ(a.children.size(), 2u);
  EXPECT_EQ(prof.key_averages().find("b")->count, 2);
}

TEST(Profiler, RecordsShapesAndGroupsByThem) {
  Tensor a = ones({2, 3}), b = ones({3}), c = ones({4});
  ProfilerOptions options;
  options.record_shapes = true;
  profiler::profile prof(options);
  (void)a.add(b);
  (void)a.add(b);
  (void)c.add(c);
  prof.stop();
  // One entry per signature argument: add(Tensor self, Tensor other, *, Scalar alpha=1).
  EXPECT_THAT(prof.events()[0].input_shapes,
              ElementsAre(std::vector<int64_t>{2, 3}, std::vector<int64_t>{3}, std::vector<int64_t>{}));
  EXPECT_EQ(prof.key_averages().rows().size(), 1u);
  profiler::KeyAverages grouped = prof.key_averages(/*group_by_input_shape=*/true);
  ASSERT_EQ(grouped.rows().size(), 2u);
  EXPECT_EQ(grouped.rows()[0].input_shapes, "[[2, 3], [3], []]");
  EXPECT_EQ(grouped.rows()[0].count, 2);
  EXPECT_EQ(grouped.rows()[1].input_shapes, "[[4], [4], []]");
  EXPECT_EQ(grouped.rows()[1].count, 1);
  EXPECT_THAT(grouped.table(), HasSubstr("Input Shapes"));
  EXPECT_THAT(grouped.table(), HasSubstr("[[4], [4], []]"));
  EXPECT_THAT(prof.key_averages().table(), ::testing::Not(HasSubstr("Input Shapes")));
}

TEST(Profiler, CountsFlopsOfMatrixProductsAndConvolutions) {
  const int64_t M = 8, K = 16, N = 4;
  Tensor a = ones({M, K}), b = ones({K, N});
  Tensor x = ones({1, 3, 8, 8}), w = ones({6, 3, 3, 3});
  Tensor batch1 = ones({2, M, K}), batch2 = ones({2, K, N});
  ProfilerOptions options;
  options.with_flops = true;
  profiler::profile prof(options);
  (void)a.matmul(b);
  (void)nn::functional::conv2d(x, w, {}, 1, 1);
  (void)batch1.matmul(batch2);
  (void)a.mul(a);
  prof.stop();
  // As PyTorch 1.13: the product's FLOPs sit on mm (2*M*N*K), matmul itself counts none.
  EXPECT_EQ(first_named(prof.events(), "aten::mm").flops, 2 * M * N * K);
  EXPECT_EQ(first_named(prof.events(), "aten::matmul").flops, 0);
  // conv: 2 * output elements (1*6*8*8) * C_in * kH * kW, PyTorch's 20736 for these shapes.
  EXPECT_EQ(first_named(prof.events(), "aten::convolution").flops, 20736);
  EXPECT_EQ(first_named(prof.events(), "aten::mul").flops, M * K);
  int64_t batched = 0;
  for (const Event& e : prof.events()) {
    if (e.name == "aten::bmm") batched += e.flops;
  }
  EXPECT_EQ(batched, 2 * 2 * M * N * K);
  // The smallest count (mul's 128) picks the unit, as in PyTorch.
  EXPECT_THAT(prof.key_averages().table(), HasSubstr("Total FLOPs"));
}

TEST(Profiler, CountsMemoryAllocatedAndFreedInsideEvents) {
  Tensor a = ones({1000}), b = ones({1000});
  ProfilerOptions options;
  options.profile_memory = true;
  profiler::profile prof(options);
  Tensor kept;
  {
    profiler::record_function range("range");
    kept = a.add(b);            // 4000 bytes stay
    { Tensor tmp = a.mul(b); }  // 4000 bytes allocated by mul, freed in the range
  }
  prof.stop();
  const Event& add = first_named(prof.events(), "aten::add");
  EXPECT_EQ(add.self_cpu_memory_usage, 4000);
  EXPECT_EQ(first_named(prof.events(), "aten::mul").cpu_memory_usage, 4000);
  const Event& range = first_named(prof.events(), "range");
  EXPECT_EQ(range.self_cpu_memory_usage, -4000);
  EXPECT_EQ(range.cpu_memory_usage, 4000);
  std::string table = prof.key_averages().table();
  EXPECT_THAT(table, HasSubstr("Self CPU Mem"));
  EXPECT_THAT(table, HasSubstr("3.91 Kb"));
}

TEST(Profiler, MemoryTimelineHasEveryAllocationAndFreeInOrder) {
  Tensor a = ones({1000}), b = ones({1000});
  const int64_t before = memory_allocated(DeviceType::kCPU);
  ProfilerOptions options;
  options.profile_memory = true;
  profiler::profile prof(options);
  Tensor kept = a.add(b);     // +4000
  { Tensor tmp = a.mul(b); }  // +4000, then -4000 outside any op
  kept = Tensor();            // -4000
  prof.stop();
  const auto& records = prof.events().memory_records();
  ASSERT_EQ(records.size(), 4u);
  std::vector<int64_t> bytes;
  for (const auto& r : records) bytes.push_back(r.bytes);
  EXPECT_THAT(bytes, ElementsAre(4000, 4000, -4000, -4000));
  EXPECT_EQ(records[1].total_allocated, before + 8000);  // a process-wide profile reports the process's total
  EXPECT_EQ(records[3].total_allocated, before);
  EXPECT_EQ(records[0].device, "cpu");
  EXPECT_LE(records[0].time_ns, records[3].time_ns);
  // The Chrome trace carries them as Kineto's "[memory]" instants and as a counter track.
  const auto trace = nlohmann::json::parse(prof.events().chrome_trace());
  std::vector<int64_t> instant_bytes, counter;
  for (const auto& e : trace["traceEvents"]) {
    if (e["name"] == "[memory]") instant_bytes.push_back(e["args"]["Bytes"].get<int64_t>());
    if (e["ph"] == "C") counter.push_back(e["args"]["bytes"].get<int64_t>() - before);
  }
  EXPECT_THAT(instant_bytes, ElementsAre(4000, 4000, -4000, -4000));
  EXPECT_THAT(counter, ElementsAre(4000, 8000, 4000, 0));
}

TEST(Profiler, ABoundProfilesMemoryTimelineCountsItsOwnThreadsOnly) {
  Tensor a = ones({250});
  ProfilerOptions options;
  options.profile_memory = options.thread_bound = true;
  profiler::profile prof(options);
  Tensor unbound = a.neg();  // this thread is not bound: not in the timeline
  {
    auto binding = prof.bind_thread();
    Tensor t = a.exp();
  }
  prof.stop();
  const auto& records = prof.events().memory_records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].total_allocated, 1000);  // its own running sum: no other thread's memory shows
  EXPECT_EQ(records[1].total_allocated, 0);
}

// A model like PyTorch's examples: features (Sequential) then a classifier.
struct Net : nn::Module {
  Net() : Module("Net") {
    features = register_module(
        "features", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                        std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>()}));
    classifier = register_module("classifier", std::make_shared<nn::Linear>(8, 2));
  }
  Tensor forward(const Tensor& x) override { return (*classifier)((*features)(x)); }
  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Linear> classifier;
};

TEST(Profiler, RecordsModuleScopesWithTheirNames) {
  auto net = std::make_shared<Net>();
  Tensor x = ones({3, 4});
  ProfilerOptions options;
  options.with_modules = true;
  profiler::profile prof(options);
  (void)(*net)(x);
  prof.stop();
  std::map<std::string, std::string> module_of_event;
  std::vector<std::string> modules;
  for (const Event& e : prof.events()) {
    if (e.kind == EventKind::kModule) modules.push_back(e.name + " " + e.module);
  }
  EXPECT_THAT(modules,
              ElementsAre("nn.Module: Net ", "nn.Module: Sequential features", "nn.Module: Linear features.0",
                          "nn.Module: ReLU features.1", "nn.Module: Linear classifier"));
  EXPECT_EQ(first_named(prof.events(), "aten::relu").module, "features.1");
  std::vector<std::string> linear_modules;
  for (const Event& e : prof.events()) {
    if (e.name == "aten::addmm") linear_modules.push_back(e.module);
  }
  EXPECT_THAT(linear_modules, ElementsAre("features.0", "classifier"));
  // Module events stay out of key_averages, as PyTorch's Python function events do.
  EXPECT_EQ(prof.key_averages().find("nn.Module: Linear"), nullptr);
}

TEST(Profiler, RecordsAutogradNodes) {
  Tensor x = ones({4}).requires_grad_();
  profiler::profile prof;
  Tensor y = (x * 2.0).sum();
  y.backward();
  prof.stop();
  const Event& node = first_named(prof.events(), "autograd::engine::evaluate_function: MulBackward0");
  EXPECT_EQ(node.kind, EventKind::kBackward);
  EXPECT_FALSE(node.children.empty());  // the formula's ops
  EXPECT_EQ(count_named(prof.events(), "autograd::engine::evaluate_function: SumBackward0"), 1);
}

TEST(Profiler, ScheduleMatchesPyTorch) {
  // torch.profiler.schedule(wait=1, warmup=1, active=2, repeat=1, skip_first=1) for steps 0..6.
  profiler::Schedule s = profiler::schedule(1, 1, 2, 1, 1);
  std::vector<ProfilerAction> actions;
  for (int step = 0; step < 7; ++step) actions.push_back(s(step));
  using A = ProfilerAction;
  EXPECT_THAT(actions,
              ElementsAre(A::kNone, A::kNone, A::kWarmup, A::kRecord, A::kRecordAndSave, A::kNone, A::kNone));
  EXPECT_THROW(profiler::schedule(0, 0, 0), Error);
}

TEST(Profiler, ScheduleRecordsOnlyActiveStepsAndHandsEachCycleOver) {
  Tensor a = ones({2});
  ProfilerOptions options;
  options.schedule = profiler::schedule(/*wait=*/1, /*warmup=*/1, /*active=*/2, /*repeat=*/2);
  std::vector<std::vector<std::string>> traces;
  options.on_trace_ready = [&](profiler::profile& p) {
    std::vector<std::string> names;
    for (const Event& e : p.events()) {
      if (e.parent_id == -1) names.push_back(e.name);
    }
    traces.push_back(names);
  };
  {
    profiler::profile prof(options);
    for (int step = 0; step < 10; ++step) {
      for (int i = 0; i <= step; ++i) (void)a.neg();  // step n runs n + 1 ops
      prof.step();
    }
  }
  // Cycles of 4 steps: wait (0, 4), warmup (1, 5), active (2-3, 6-7); then nothing (repeat=2).
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_THAT(traces[0], ElementsAre("ProfilerStep#2", "ProfilerStep#3"));
  EXPECT_THAT(traces[1], ElementsAre("ProfilerStep#6", "ProfilerStep#7"));
}

TEST(Profiler, ScheduleStepsHoldTheirOps) {
  Tensor a = ones({2});
  ProfilerOptions options;
  options.schedule = profiler::schedule(0, 1, 2, 1);
  profiler::profile prof(options);
  for (int step = 0; step < 4; ++step) {
    for (int i = 0; i <= step; ++i) (void)a.neg();
    prof.step();
  }
  prof.stop();
  // The trace saved last is steps 1 and 2: 2 + 3 neg calls, each inside its step's range.
  EXPECT_EQ(count_named(prof.events(), "aten::neg"), 5);
  EXPECT_EQ(first_named(prof.events(), "ProfilerStep#1").children.size(), 2u);
  EXPECT_EQ(first_named(prof.events(), "ProfilerStep#2").children.size(), 3u);
}

TEST(Profiler, AnOpThatThrowsIsRecordedAndLeavesNothingOpen) {
  Tensor a = ones({2, 3}), b = ones({4, 5});
  profiler::profile prof;
  EXPECT_EQ(testing::error_of([&] { (void)a.mm(b); }).code(), ErrorCode::kInvalidArgument);
  (void)a.neg();
  prof.stop();
  EXPECT_EQ(count_named(prof.events(), "aten::mm"), 1);
  EXPECT_EQ(first_named(prof.events(), "aten::neg").parent_id, -1);  // not a child of the failed mm
}

TEST(Profiler, RecordsOpsOfEveryThread) {
  Tensor a = ones({4});
  profiler::profile prof;
  (void)a.neg();
  std::thread worker([&] { (void)a.exp(); });
  worker.join();
  prof.stop();
  const Event& neg = first_named(prof.events(), "aten::neg");
  const Event& exp = first_named(prof.events(), "aten::exp");
  EXPECT_NE(neg.thread, exp.thread);
  EXPECT_EQ(exp.parent_id, -1);
}

TEST(Profiler, OneProfilerAtATime) {
  profiler::profile prof;
  EXPECT_EQ(testing::error_of([] { profiler::profile second; }).code(), ErrorCode::kFailedPrecondition);
  prof.stop();
  profiler::profile third;  // fine once the first stopped
}

TEST(Profiler, ThreadBoundProfilesRecordOnlyTheirThreadsAlongsideAProcessWideOne) {
  Tensor a = ones({4});
  ProfilerOptions bound;
  bound.thread_bound = true;
  profiler::profile first(bound), second(bound);
  profiler::profile process_wide;  // bound profiles do not count against the one process-wide profile
  std::thread t1([&] {
    auto binding = first.bind_thread();
    (void)a.neg();
  });
  std::thread t2([&] {
    auto binding = second.bind_thread();
    (void)a.exp();
    (void)a.exp();
  });
  t1.join();
  t2.join();
  (void)a.abs();  // this thread is bound to neither
  {
    auto binding = first.bind_thread();
    auto nested = first.bind_thread();  // binding again is a no-op
    (void)a.sin();
  }
  (void)a.cos();
  first.stop();
  second.stop();
  process_wide.stop();
  EXPECT_EQ(first.events().size(), 2u);
  EXPECT_EQ(count_named(first.events(), "aten::neg"), 1);
  EXPECT_EQ(count_named(first.events(), "aten::sin"), 1);
  EXPECT_EQ(second.events().size(), 2u);
  EXPECT_EQ(count_named(second.events(), "aten::exp"), 2);
  EXPECT_EQ(process_wide.events().size(), 2u);
  EXPECT_EQ(count_named(process_wide.events(), "aten::abs"), 1);
  EXPECT_EQ(count_named(process_wide.events(), "aten::cos"), 1);
  // A bound profile's events carry its own thread number, whichever OS thread ran them.
  EXPECT_EQ(first_named(first.events(), "aten::neg").thread, first_named(first.events(), "aten::sin").thread);
  EXPECT_FALSE(profiler::is_recording());
}

TEST(Profiler, ABoundProfilesRangesFollowItAcrossThreads) {
  // A server session's steps and record_function ranges open in one command and close in a later one, which
  // may run on another pool thread.
  Tensor a = ones({2});
  ProfilerOptions options;
  options.thread_bound = true;
  options.schedule = profiler::schedule(0, 0, 2, 1);
  profiler::profile prof(options);
  auto on_thread = [&](auto&& body) {
    std::thread t([&] {
      auto binding = prof.bind_thread();
      body();
    });
    t.join();
  };
  std::unique_ptr<profiler::record_function> range;
  on_thread([&] { range = std::make_unique<profiler::record_function>("forward"); });
  on_thread([&] { (void)a.neg(); });
  on_thread([&] { range.reset(); });
  on_thread([&] { prof.step(); });
  on_thread([&] { (void)a.exp(); });
  prof.step();  // from an unbound thread: binds for the call
  prof.stop();
  const Event& step0 = first_named(prof.events(), "ProfilerStep#0");
  const Event& forward = first_named(prof.events(), "forward");
  EXPECT_EQ(forward.parent_id, step0.id);
  EXPECT_EQ(first_named(prof.events(), "aten::neg").parent_id, forward.id);
  EXPECT_EQ(first_named(prof.events(), "aten::exp").parent_id, first_named(prof.events(), "ProfilerStep#1").id);
  EXPECT_EQ(testing::error_of([] {
              profiler::profile process_wide;
              (void)process_wide.bind_thread();
            }).code(),
            ErrorCode::kFailedPrecondition);
}

TEST(Profiler, ChromeTraceHasOneCompleteEventPerOp) {
  Tensor a = ones({2, 3}), b = ones({3, 4});
  ProfilerOptions options;
  options.record_shapes = true;
  profiler::profile prof(options);
  {
    profiler::record_function range("range");
    (void)a.matmul(b).sum();
  }
  prof.stop();
  std::string path = ::testing::TempDir() + "profiler_trace.json";
  prof.export_chrome_trace(path);
  std::ifstream in(path);
  nlohmann::json trace = nlohmann::json::parse(in);
  ASSERT_TRUE(trace["traceEvents"].is_array());
  std::vector<nlohmann::json> complete;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "X") complete.push_back(e);
  }
  ASSERT_EQ(complete.size(), prof.events().size());
  for (size_t i = 0; i < complete.size(); ++i) {
    const Event& ev = prof.events()[i];
    const auto& e = complete[i];
    EXPECT_EQ(e["name"], ev.name);
    EXPECT_EQ(e["cat"], ev.kind == EventKind::kOp ? "cpu_op" : "user_annotation");
    EXPECT_TRUE(e["pid"].is_number_integer());
    EXPECT_EQ(e["tid"], ev.thread);
    EXPECT_NEAR(e["ts"].get<double>(), ev.start_ns / 1000.0, 1e-9);
    EXPECT_NEAR(e["dur"].get<double>(), ev.cpu_time_total_ns() / 1000.0, 1e-9);
    EXPECT_EQ(e["args"]["External id"], ev.id);
  }
  const auto& mm =
      *std::find_if(complete.begin(), complete.end(), [](auto& e) { return e["name"] == "aten::mm"; });
  EXPECT_EQ(mm["args"]["Input Dims"], nlohmann::json::parse("[[2, 3], [3, 4]]"));
  EXPECT_EQ(mm["args"]["Device"], "cpu");
  std::remove(path.c_str());
}

// The tables PyTorch 1.13 prints for fixed synthetic events, built here from the same events.
TEST(Profiler, KeyAveragesTableMatchesPyTorch) {
  std::ifstream in(fixture_dir() + "/profiler/tables.json");
  ASSERT_TRUE(in.good());
  nlohmann::json golden = nlohmann::json::parse(in);
  std::vector<Event> events;
  for (const auto& g : golden["events"]) {
    Event e;
    e.id = g["id"];
    e.name = g["name"];
    e.parent_id = g["parent"];
    e.kind = e.name.starts_with("aten::") ? EventKind::kOp : EventKind::kUserRange;
    e.start_ns = g["start_ns"];
    e.end_ns = g["end_ns"];
    e.input_shapes = g["input_shapes"].get<std::vector<std::vector<int64_t>>>();
    e.flops = g["flops"];
    e.self_cpu_memory_usage = g["self_cpu_memory_usage"];
    e.cuda_time_ns = g["cuda_time_ns"];
    e.thread = 1;
    events.push_back(e);
  }
  ASSERT_FALSE(golden["tables"].empty());
  int cuda_cases = 0;
  for (const auto& t : golden["tables"]) {
    std::vector<Event> case_events = events;
    if (t["cuda"]) {
      ++cuda_cases;
      EXPECT_NE(t["table"].get<std::string>().find("Self CUDA %"), std::string::npos) << t["name"];
    } else {
      for (Event& e : case_events) e.cuda_time_ns = 0;  // CPU-only events: no CUDA columns
    }
    EventList list(case_events, t["profile_memory"], t["with_flops"]);
    std::string table = list.key_averages(t["group_by_input_shape"])
                            .table(t["sort_by"].get<std::string>(), t["row_limit"].get<int64_t>());
    EXPECT_EQ(table, t["table"].get<std::string>()) << t["name"];
  }
  EXPECT_GE(cuda_cases, 3);
}

TEST(Profiler, ChromeTracePutsCudaSpansOnTheirGpuStreamTracks) {
  auto event = [](int64_t id, int64_t parent, int64_t cuda_start, int64_t cuda_ns, uint64_t stream) {
    Event e;
    e.id = id;
    e.parent_id = parent;
    e.name = "aten::op" + std::to_string(id);
    e.device = "cuda:0";
    e.start_ns = id * 1000;
    e.end_ns = id * 1000 + 500;
    e.cuda_device = cuda_start < 0 ? -1 : 0;
    e.cuda_start_ns = cuda_start;
    e.cuda_time_ns = cuda_ns;
    e.cuda_stream = stream;
    e.thread = 1;
    return e;
  };
  // Two ops on the default stream, one on a pool stream, one never timed (a CPU op).
  EventList list({event(1, -1, 1200, 3000, 0), event(2, -1, 4500, 200, 0xabc0), event(3, -1, 5000, 100, 0),
                  event(4, -1, -1, 0, 0)});
  const nlohmann::json trace = nlohmann::json::parse(list.chrome_trace());
  std::map<int64_t, nlohmann::json> gpu;  // by External id
  std::vector<std::string> track_names;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "gpu_user_annotation") gpu[e["args"]["External id"]] = e;
    if (e["ph"] == "M" && e["name"] == "thread_name" && e["pid"] == 0) track_names.push_back(e["args"]["name"]);
  }
  ASSERT_EQ(gpu.size(), 3u) << "one device span per timed event, none for the CPU op";
  EXPECT_EQ(gpu[1]["pid"], 0);
  EXPECT_EQ(gpu[1]["tid"], 0) << "the default stream";
  EXPECT_EQ(gpu[2]["tid"], 1) << "the first other stream";
  EXPECT_EQ(gpu[3]["tid"], 0);
  EXPECT_NEAR(gpu[1]["ts"].get<double>(), 1.2, 1e-9);
  EXPECT_NEAR(gpu[1]["dur"].get<double>(), 3.0, 1e-9);
  EXPECT_EQ(gpu[2]["name"], "aten::op2");
  EXPECT_EQ(track_names, (std::vector<std::string>{"stream 0", "stream 1"}));
}

TEST(Profiler, CudaActivityWithoutAGpuRecordsCpuTimesOnly) {
  if (cuda::is_available()) GTEST_SKIP() << "a GPU is present (tests/cuda covers CUDA timing)";
  ProfilerOptions options;
  options.activities = {ProfilerActivity::kCPU, ProfilerActivity::kCUDA};
  profiler::profile prof(options);
  (void)ones({4, 4}).matmul(ones({4, 4}));
  prof.stop();
  ASSERT_FALSE(prof.events().events().empty());
  for (const Event& e : prof.events()) {
    EXPECT_EQ(e.cuda_time_ns, 0) << e.name;
    EXPECT_EQ(e.cuda_start_ns, -1) << e.name;
  }
  EXPECT_EQ(prof.key_averages().table().find("CUDA"), std::string::npos);
}

TEST(Profiler, TableRejectsAnUnknownSortKey) {
  Event e;
  e.id = 1;
  e.name = "a";
  e.end_ns = 10;
  EventList list({e});
  EXPECT_EQ(testing::error_of([&] { (void)list.key_averages().table("bogus"); }).code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace td
