// The session layer without gRPC: commands in, events out through a capturing sink.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "core/tensor_impl.h"
#include "server/session.h"
#include "tests/server/server_test_util.h"

namespace td::server {
namespace {

using ::testing::HasSubstr;

using testing::CaptureSink;

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : session_(std::make_shared<Session>("s1", SessionOptions{}, pool_, nullptr)) {
    session_->attach(&sink_);
  }
  ~SessionTest() override { pool_.join(); }

  void run(std::initializer_list<pb::Command> cmds) {
    pb::CommandBatch batch;
    for (const auto& c : cmds) *batch.add_commands() = c;
    session_->run_inline(batch);
  }

  static pb::Command put(uint64_t seq, uint64_t handle, std::vector<float> values, std::vector<int64_t> shape) {
    pb::Command c;
    c.set_seq(seq);
    auto* p = c.mutable_put();
    p->set_handle(handle);
    p->set_dtype(pb::DTYPE_FLOAT32);
    for (int64_t s : shape) p->add_shape(s);
    p->set_data(values.data(), values.size() * sizeof(float));
    p->set_last(true);
    return c;
  }
  static pb::Command op(uint64_t seq, std::string name, std::vector<uint64_t> inputs, uint64_t out) {
    pb::Command c;
    c.set_seq(seq);
    c.mutable_op()->set_op(std::move(name));
    for (uint64_t h : inputs) c.mutable_op()->add_args()->set_tensor(h);
    c.mutable_op()->add_outputs(out);
    return c;
  }
  static pb::Command fetch(uint64_t seq, uint64_t handle, uint64_t request) {
    pb::Command c;
    c.set_seq(seq);
    c.mutable_fetch()->set_handle(handle);
    c.mutable_fetch()->set_request_id(request);
    return c;
  }

  boost::asio::thread_pool pool_{1};
  CaptureSink sink_;
  std::shared_ptr<Session> session_;
};

TEST_F(SessionTest, AttachSendsAttachedFirst) {
  ASSERT_FALSE(sink_.events.empty());
  EXPECT_EQ(sink_.events[0].attached().session_id(), "s1");
  // One stream at a time: a second attach (the client lost the first and came back) replaces it.
  CaptureSink other;
  session_->attach(&other);
  ASSERT_EQ(other.events.size(), 1u);
  EXPECT_EQ(other.events[0].attached().session_id(), "s1");
  session_->detach(&sink_);  // the replaced stream's end leaves the new one attached
  EXPECT_TRUE(session_->attached());
}

TEST_F(SessionTest, OpsRunInOrderAndFetchReturnsValues) {
  run({put(1, 1, {1, 2, 3}, {3}), op(2, "add", {1, 1}, 2), fetch(3, 2, 77)});
  const auto& v = sink_.events.back().value();
  EXPECT_EQ(v.request_id(), 77u);
  EXPECT_TRUE(v.last());
  ASSERT_EQ(v.data().size(), 3 * sizeof(float));
  const auto* f = reinterpret_cast<const float*>(v.data().data());
  EXPECT_EQ(f[0], 2);
  EXPECT_EQ(f[2], 6);
  EXPECT_EQ(session_->handle_count(), 2u);
  EXPECT_EQ(session_->bytes_held(), 24);
}

TEST_F(SessionTest, FailedOpSendsErrorWithSeqAndPoisonsItsOutput) {
  run({put(1, 1, {1, 2, 3, 4, 5, 6}, {2, 3}), op(2, "mm", {1, 1}, 2), op(3, "neg", {2}, 3)});
  std::vector<pb::ErrorEvent> errors;
  for (const auto& e : sink_.events) {
    if (e.has_error()) errors.push_back(e.error());
  }
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].seq(), 2u);
  EXPECT_EQ(errors[0].code(), static_cast<int>(ErrorCode::kInvalidArgument));
  EXPECT_THAT(errors[0].message(), HasSubstr("[mm] mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"));
  EXPECT_EQ(errors[1].seq(), 3u);
  EXPECT_THAT(errors[1].message(), HasSubstr("poisoned by command 2"));
}

TEST_F(SessionTest, ReleaseDropsHandlesAndBadHandlesAreNotFound) {
  run({put(1, 1, {1}, {1})});
  pb::Command rel;
  rel.set_seq(2);
  rel.mutable_release()->add_handles(1);
  run({rel, fetch(3, 1, 9)});
  const auto& e = sink_.events.back().error();
  EXPECT_EQ(e.code(), static_cast<int>(ErrorCode::kNotFound));
  EXPECT_EQ(e.request_id(), 9u);
  EXPECT_EQ(session_->handle_count(), 0u);
}

// A blocking hook takes its callback's commands and its reply from wherever they sit in a later batch: here
// from the middle of one run of queued commands, ahead of an untagged command that arrived first and runs
// after the backward, once.
TEST_F(SessionTest, AHookTakesItsCommandsFromTheMiddleOfABatchAndTheRestRunAfter) {
  auto batch_of = [](std::vector<pb::Command> cmds) {
    pb::CommandBatch b;
    for (auto& c : cmds) *b.add_commands() = std::move(c);
    return b;
  };
  auto wait_for = [&](auto&& found) {
    for (int i = 0; i < 2000; ++i) {
      {
        std::lock_guard lock(sink_.mu);
        for (const auto& e : sink_.events) {
          if (found(e)) return e;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "no such event";
    return pb::ServerMessage();
  };
  pb::Command a = put(1, 1, {1, 2, 3}, {3});
  a.mutable_put()->set_requires_grad(true);
  pb::Command hook;
  hook.set_seq(4);
  hook.mutable_register_hook()->set_hook_id(7);
  hook.mutable_register_hook()->set_tensor(2);
  pb::Command backward;
  backward.set_seq(6);
  backward.mutable_backward()->set_tensor(3);
  backward.mutable_backward()->set_request_id(40);
  session_->enqueue(batch_of({a, op(2, "mul", {1, 1}, 2), op(3, "sum", {2}, 3), hook, backward}));
  const pb::HookEvent ev = wait_for([](const pb::ServerMessage& e) { return e.has_hook(); }).hook();
  ASSERT_EQ(ev.hook_id(), 7u);

  pb::Command untagged = op(7, "neg", {1}, 20);  // arrived first, not the callback's: waits for the backward
  pb::Command doubled;  // the callback's: grad + grad
  doubled.set_seq(8);
  doubled.set_hook_event(ev.event_id());
  doubled.mutable_op()->set_op("add");
  doubled.mutable_op()->add_args()->set_tensor(ev.grad());
  doubled.mutable_op()->add_args()->set_tensor(ev.grad());
  doubled.mutable_op()->add_outputs(21);
  pb::Command reply;
  reply.set_seq(9);
  reply.mutable_hook_reply()->set_event_id(ev.event_id());
  reply.mutable_hook_reply()->set_replacement(21);
  pb::Command grad;
  grad.set_seq(10);
  grad.mutable_grad()->set_tensor(1);
  grad.mutable_grad()->set_output(22);
  session_->enqueue(batch_of({untagged, doubled, reply, grad, fetch(11, 22, 41), fetch(12, 20, 42)}));

  auto value = [&](uint64_t request) {
    const pb::ServerMessage m = wait_for([&](const pb::ServerMessage& e) {
      return (e.has_value() && e.value().request_id() == request) || (e.has_error() && e.error().request_id() == request);
    });
    EXPECT_TRUE(m.has_value()) << m.error().message();
    const auto* f = reinterpret_cast<const float*>(m.value().data().data());
    return std::vector<float>(f, f + m.value().data().size() / sizeof(float));
  };
  EXPECT_EQ(value(41), (std::vector<float>{4, 8, 12}));  // d(sum a*a)/da = 2a, doubled by the hook
  EXPECT_EQ(value(42), (std::vector<float>{-1, -2, -3}));
  wait_for([](const pb::ServerMessage& e) { return e.has_done() && e.done().request_id() == 40; });
  EXPECT_EQ(session_->queued_commands(), 0u);
  std::lock_guard lock(sink_.mu);
  for (const auto& e : sink_.events) EXPECT_FALSE(e.has_error()) << e.error().message();
}

TEST_F(SessionTest, AMemoryLimitFailsTheOpThatPassesItAndTheSessionGoesOn) {
  SessionOptions options;
  options.memory_limit = 64;
  session_ = std::make_shared<Session>("limited", options, pool_, nullptr);
  CaptureSink sink;
  session_->attach(&sink);
  pb::CommandBatch batch;
  *batch.add_commands() = put(1, 1, {1, 2, 3, 4, 5, 6}, {6});  // 24 bytes
  *batch.add_commands() = op(2, "add", {1, 1}, 2);             // 48
  *batch.add_commands() = op(3, "mul", {2, 2}, 3);             // 72: over
  session_->run_inline(batch);
  const pb::ErrorEvent& e = sink.events.back().error();
  EXPECT_EQ(e.seq(), 3u);
  EXPECT_EQ(e.code(), static_cast<int>(ErrorCode::kResourceExhausted));
  EXPECT_EQ(e.message(), "[mul] session memory limit: allocating 24 bytes on cpu would hold 72 bytes there, over the "
                         "limit of 64 bytes");
  EXPECT_EQ(session_->bytes_held(), 48);
  // Freeing makes room: the same op then runs.
  pb::CommandBatch more;
  pb::Command rel;
  rel.set_seq(4);
  rel.mutable_release()->add_handles(2);
  *more.add_commands() = rel;
  *more.add_commands() = op(5, "mul", {1, 1}, 3);
  const size_t events = sink.events.size();
  session_->run_inline(more);
  EXPECT_EQ(sink.events.size(), events);  // no error this time
  EXPECT_EQ(session_->bytes_held(), 48);
  EXPECT_EQ(session_->bytes_held(DeviceType::kCPU), 48);
  session_->close();
  pool_.join();
  EXPECT_EQ(session_->bytes_held(), 0);  // close frees everything the session held
}

// Found by the command fuzzer: autograd reference cycles a client can make must not outlive the session.
TEST_F(SessionTest, ClosingFreesTensorsCaughtInAutogradCycles) {
  const int64_t before = memory_allocated(DeviceType::kCPU);
  auto with_grad = [](pb::Command c) {
    c.mutable_put()->set_requires_grad(true);
    return c;
  };
  pb::Command backward;  // x.backward(x, create_graph=True): x.grad's graph holds x
  backward.set_seq(3);
  backward.mutable_backward()->set_tensor(1);
  backward.mutable_backward()->set_gradient(1);
  backward.mutable_backward()->set_create_graph(true);
  pb::Command inplace = op(5, "addcmul_", {3, 3, 4}, 3);  // y.addcmul_(y, z): y's grad_fn saves y
  run({with_grad(put(1, 1, {1, 2, 3}, {3})), put(2, 2, {1}, {1}), backward, op(4, "exp", {1}, 3),
       put(6, 4, {2, 2, 2}, {3}), inplace});
  for (const auto& e : sink_.events) EXPECT_FALSE(e.has_error()) << e.error().message();
  pb::Command release;  // the handles go: only the cycles hold the tensors now
  release.set_seq(7);
  release.mutable_release()->add_handles(1);
  release.mutable_release()->add_handles(3);
  run({release});
  EXPECT_GT(memory_allocated(DeviceType::kCPU), before + 4);  // the cycles
  session_->close();
  pool_.join();
  EXPECT_EQ(memory_allocated(DeviceType::kCPU), before);
}

TEST_F(SessionTest, ServerHandleIdsAreReservedAndTruncatedUploadsFail) {
  run({put(1, kServerHandleBit + 1, {1}, {1})});
  EXPECT_EQ(sink_.events.back().error().code(), static_cast<int>(ErrorCode::kInvalidArgument));
  pb::Command c = put(2, 5, {1, 2}, {3});  // 8 bytes for a 12-byte tensor
  run({c});
  EXPECT_THAT(sink_.events.back().error().message(), HasSubstr("needs more"));
}

}  // namespace
}  // namespace td::server

namespace td::server {
namespace {

TEST_F(SessionTest, AbsurdShapesFailAsResourceExhaustedNotACrash) {
  pb::Command c = put(1, 1, {}, {int64_t{1} << 40, int64_t{1} << 40});
  c.mutable_put()->set_last(false);
  run({c});
  EXPECT_EQ(sink_.events.back().error().code(), static_cast<int>(ErrorCode::kResourceExhausted));
  pb::Command z;
  z.set_seq(2);
  z.mutable_op()->set_op("zeros");
  auto* list = z.mutable_op()->add_args()->mutable_int_list();
  list->add_values(int64_t{1} << 40);
  list->add_values(int64_t{1} << 40);
  z.mutable_op()->add_outputs(2);
  run({z});
  EXPECT_EQ(sink_.events.back().error().code(), static_cast<int>(ErrorCode::kResourceExhausted));
  EXPECT_THAT(sink_.events.back().error().message(), HasSubstr("[empty]"));
}

}  // namespace
}  // namespace td::server

namespace td::server {
namespace {

TEST_F(SessionTest, HugeCreationRequestsFailWithoutTakingTheServerDown) {
  // arange over 2^40 int64 values (8 TiB) and randperm of as many: RESOURCE_EXHAUSTED, and the session goes on.
  for (std::string op : {"arange", "randperm"}) {
    pb::Command c;
    c.set_seq(1);
    c.mutable_op()->set_op(op);
    c.mutable_op()->add_args()->set_int_value(int64_t{1} << 40);
    c.mutable_op()->add_outputs(1);
    run({c});
    ASSERT_TRUE(sink_.events.back().has_error()) << op;
    EXPECT_EQ(sink_.events.back().error().code(), static_cast<int>(ErrorCode::kResourceExhausted)) << op;
  }
  run({put(2, 2, {1, 2}, {2}), fetch(3, 2, 5)});
  EXPECT_TRUE(sink_.events.back().has_value());
}

}  // namespace
}  // namespace td::server

namespace td::server {
namespace {

// `count` commands from seq `first`: neg of handle 1 into handle 2, over and over.
pb::CommandBatch negations(uint64_t first, int count) {
  pb::CommandBatch b;
  for (int i = 0; i < count; ++i) {
    pb::Command* c = b.add_commands();
    c->set_seq(first + static_cast<uint64_t>(i));
    c->mutable_op()->set_op("neg");
    c->mutable_op()->add_args()->set_tensor(1);
    c->mutable_op()->add_outputs(2);
  }
  return b;
}

bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return done();
}

TEST_F(SessionTest, TheStreamReaderWaitsWhileTheInboxIsFullAndGoesOnAsItDrains) {
  run({put(1, 1, {1, 2}, {2})});
  std::promise<void> gate;
  boost::asio::post(pool_, [opened = gate.get_future().share()] { opened.wait(); });  // the executor is busy
  constexpr int kBatches = 24, kBatch = 512;
  std::atomic<int> sent{0};
  std::thread reader([&] {
    for (int b = 0; b < kBatches; ++b, ++sent) session_->enqueue(negations(2 + uint64_t{b} * kBatch, kBatch));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The batch that went past the mark is queued and its reader waits: nothing more is read.
  EXPECT_EQ(sent.load(), Session::kMaxQueuedCommands / kBatch);
  EXPECT_GT(session_->queued_commands(), static_cast<size_t>(Session::kMaxQueuedCommands));
  EXPECT_LE(session_->queued_commands(), static_cast<size_t>(Session::kMaxQueuedCommands + kBatch));
  gate.set_value();
  reader.join();
  EXPECT_TRUE(eventually([&] { return session_->idle(); }));
  EXPECT_EQ(session_->ops_executed(), uint64_t{kBatches} * kBatch);
  for (const auto& e : sink_.events) EXPECT_FALSE(e.has_error()) << e.error().message();
}

// A blocking hook's reply comes through the same reader: while a hook waits, the reader never waits for
// room, however full the inbox.
TEST_F(SessionTest, AWaitingHookKeepsTheReaderGoingPastTheInboxMark) {
  pb::Command a = put(1, 1, {1, 2}, {2});
  a.mutable_put()->set_requires_grad(true);
  pb::Command y = op(2, "mul", {1, 1}, 3), total = op(3, "sum", {3}, 4);
  pb::Command hook;
  hook.set_seq(4);
  hook.mutable_register_hook()->set_hook_id(1);
  hook.mutable_register_hook()->set_tensor(3);
  pb::Command backward;
  backward.set_seq(5);
  backward.mutable_backward()->set_tensor(4);
  pb::CommandBatch first;
  for (const auto& c : {a, y, total, hook, backward}) *first.add_commands() = c;
  session_->enqueue(first);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(sink_.mu);
    return std::any_of(sink_.events.begin(), sink_.events.end(), [](const auto& e) { return e.has_hook(); });
  }));
  uint64_t event = 0;
  {
    std::lock_guard lock(sink_.mu);
    for (const auto& e : sink_.events) {
      if (e.has_hook()) event = e.hook().event_id();
    }
  }
  constexpr int kBatches = 24, kBatch = 512;
  std::atomic<bool> read_all{false};
  std::thread reader([&] {
    for (int b = 0; b < kBatches; ++b) session_->enqueue(negations(6 + uint64_t{b} * kBatch, kBatch));
    read_all = true;
  });
  EXPECT_TRUE(eventually([&] { return read_all.load(); }));
  EXPECT_GT(session_->queued_commands(), static_cast<size_t>(Session::kMaxQueuedCommands));
  pb::CommandBatch reply;
  pb::Command* r = reply.add_commands();
  r->set_seq(6 + uint64_t{kBatches} * kBatch);
  r->mutable_hook_reply()->set_event_id(event);
  session_->enqueue(reply);
  reader.join();
  EXPECT_TRUE(eventually([&] { return session_->idle(); }));
  EXPECT_EQ(session_->queued_commands(), 0u);
  for (const auto& e : sink_.events) EXPECT_FALSE(e.has_error()) << e.error().message();
}

}  // namespace
}  // namespace td::server
