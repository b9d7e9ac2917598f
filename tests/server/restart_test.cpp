// A server restart with --checkpoint-sessions and --restore (issue 7): a session saved at shutdown comes back
// with its handles (views still viewing), modules, optimizer and scheduler state and hooks; the client
// re-attaches by itself and every command, including those sent while the server was down, runs exactly
// once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "client/remote.h"
#include "client/remote_nn.h"
#include "server/auth.h"
#include "server/server.h"
#include "server/sessions.h"
#include "tests/core/test_util.h"
#include "tests/server/hooked_run.h"
#include "tests/server/server_test_util.h"

namespace td {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using remote::Tensor;
using testing::HookedRun;
using testing::TempDir;
using testing::write_file;

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_.path / "tokens.json", R"({"users": [
      {"name": "alice", "tokens": [")" + server::token_hash("alice-token") + R"("]}]})");
    start("127.0.0.1:0");
  }
  void start(const std::string& listen, bool checkpoint = true) {
    server::Options options = testing::loopback_server_options();
    options.listen = listen;
    options.tokens_file = (dir_.path / "tokens.json").string();
    options.data_dir = (dir_.path / "data").string();
    options.checkpoint_sessions = checkpoint;
    options.restore = true;
    options.shutdown_grace = std::chrono::seconds(5);
    server_ = std::make_unique<server::Server>(options);
    port_ = server_->port();
  }
  /// SIGTERM's path, then a new server on the same port that restores what the old one saved.
  std::vector<std::string> restart() {
    server_->shutdown();
    std::vector<std::string> log = server_->take_log();
    server_.reset();
    start("127.0.0.1:" + std::to_string(port_));
    for (std::string& line : server_->take_log()) log.push_back(std::move(line));
    return log;
  }
  std::unique_ptr<remote::Client> client() {
    remote::ClientOptions o;
    o.token = "alice-token";
    o.reconnect_timeout = std::chrono::seconds(60);
    return std::make_unique<remote::Client>("127.0.0.1:" + std::to_string(port_), o);
  }
  TempDir dir_;
  std::unique_ptr<server::Server> server_;
  int port_ = 0;
};

TEST_F(RestartTest, ASavedSessionComesBackWholeAndItsCommandsRunExactlyOnce) {
  auto alice = client();
  remote::Session s = alice->create_session("train", "cpu");
  HookedRun run(s);
  run.model.eval();  // the mode comes back too
  run.steps(3);
  remote::save_checkpoint(s, "step3", run.parts());  // the reference run starts from here
  const Tensor weight = run.model.parameters().front();
  const Tensor row = weight.select(0, 1);  // a view: it must still view the weight after the restart
  const Tensor leaf = s.tensor<float>({1.0f, 2.0f}, {2}).requires_grad_(true);
  leaf.mul(3.0).sum().backward();  // leaf.grad = [3, 3]
  const Tensor bad = s.tensor<float>({1.0f}, {1}).matmul(s.tensor<float>({1.0f, 2.0f}, {2}));  // poisoned
  EXPECT_THAT(testing::error_of([&] { (void)bad.to_vector<float>(); }).what(), HasSubstr("matmul"));

  // The restart happens while this thread keeps training: what the server had not taken when it sealed
  // is sent again to the restored session, and nothing runs twice. A backward waits for its hook round
  // trip, so the step in flight when the server goes waits for the restored session.
  std::vector<std::string> log;
  std::atomic<bool> restarted{false};
  std::thread restarter([&] {
    log = restart();
    restarted = true;
  });
  int steps = 0;
  for (; !restarted.load() || steps < 2; ++steps) run.steps(1);
  restarter.join();
  const std::vector<float> got = run.params();
  EXPECT_THAT(log, ::testing::Contains(HasSubstr("saved")));
  EXPECT_THAT(log, ::testing::Contains(HasSubstr("restored")));
  EXPECT_EQ(run.hook_calls.load(), 3 + steps);  // the hook fired in every backward, before and after

  // The same steps from the step-3 checkpoint in a fresh session of the new server.
  remote::Session ref_session = alice->create_session("reference", "cpu");
  HookedRun ref(ref_session);
  remote::load_checkpoint(ref_session, "step3", ref.parts());
  ref.model.eval();
  ref.steps(steps);
  EXPECT_EQ(got, ref.params());
  EXPECT_EQ(run.opt.lr(), ref.opt.lr());
  EXPECT_EQ(row.to_vector<float>(), weight.select(0, 1).to_vector<float>());
  EXPECT_EQ(leaf.grad().to_vector<float>(), (std::vector<float>{3.0f, 3.0f}));
  EXPECT_THAT(testing::error_of([&] { (void)bad.to_vector<float>(); }).what(), HasSubstr("matmul"));
  EXPECT_FALSE(fs::exists(dir_.path / "data" / ".sessions" / s.id()));  // consumed by the restore
}

TEST_F(RestartTest, WithoutCheckpointingTheSessionEndsWithTheServer) {
  server_.reset();
  start("127.0.0.1:0", /*checkpoint=*/false);
  auto alice = client();
  remote::Session s = alice->create_session("a", "cpu");
  Tensor t = s.tensor<float>({1.0f}, {1});
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>{1.0f});
  server_->shutdown();
  server_.reset();
  start("127.0.0.1:" + std::to_string(port_));  // with --restore, but nothing was saved
  Error e = testing::error_of([&] { (void)t.add(1.0).to_vector<float>(); });
  EXPECT_THAT(e.what(), HasSubstr("shutting down"));
  EXPECT_EQ(server_->sessions().size(), 0u);
}

TEST_F(RestartTest, ASnapshotThatCannotBeReadIsSetAsideAndNamed) {
  fs::create_directories(dir_.path / "data" / ".sessions" / "0123");
  write_file(dir_.path / "data" / ".sessions" / "0123" / "snapshot.pb", "not a snapshot");
  server_.reset();
  start("127.0.0.1:0");
  const std::vector<std::string> log = server_->take_log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_THAT(log[0], HasSubstr("0123 was not restored"));
  EXPECT_TRUE(fs::exists(dir_.path / "data" / ".sessions" / "0123.failed"));
}

}  // namespace
}  // namespace td
