// Checkpoints of server-held state (issue 7): a run saved mid-training and loaded into a fresh session
// continues exactly as the uninterrupted run; download and upload; paths confined to the user's folder of the
// data directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/remote.h"
#include "client/remote_nn.h"
#include "core/serialize.h"
#include "server/auth.h"
#include "server/server.h"
#include "tests/core/test_util.h"
#include "tests/server/server_test_util.h"

namespace td {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using remote::Tensor;
using testing::TempDir;
using testing::write_file;
namespace rnn = remote::nn;

// A client-side model of server-held layers, as users write them.
struct Mlp : rnn::Module {
  explicit Mlp(remote::Session& s) : Module("Mlp") {
    body = register_module("body", std::make_shared<rnn::Sequential>(std::vector<std::shared_ptr<rnn::Module>>{
                                       rnn::layer(s, "Linear", {Scalar(4), Scalar(8)}), rnn::layer(s, "Tanh"),
                                       rnn::layer(s, "Linear", {Scalar(8), Scalar(1)})}));
  }
  Tensor forward(const Tensor& x) override { return (*body)(x); }
  std::shared_ptr<rnn::Sequential> body;
};

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_.path / "tokens.json", R"({"users": [
      {"name": "alice", "tokens": [")" + server::token_hash("alice-token") + R"("]},
      {"name": "bob", "tokens": [")" + server::token_hash("bob-token") + R"("]}]})");
    server::Options options = testing::loopback_server_options();
    options.tokens_file = (dir_.path / "tokens.json").string();
    options.data_dir = (dir_.path / "data").string();
    server_ = std::make_unique<server::Server>(options);
  }
  std::unique_ptr<remote::Client> client(const std::string& token) {
    remote::ClientOptions o;
    o.token = token;
    return std::make_unique<remote::Client>("127.0.0.1:" + std::to_string(server_->port()), o);
  }
  TempDir dir_;
  std::unique_ptr<server::Server> server_;
};

struct TrainingRun {
  explicit TrainingRun(remote::Session& s)
      : model(s),
        opt(s, "Adam", model.parameters(), {{"lr", Scalar(0.01)}}),
        sched(opt, "StepLR", {{"step_size", Scalar(3)}, {"gamma", Scalar(0.5)}}),
        x(s.tensor<float>({0.1f, -0.2f, 0.3f, 0.4f, 0.5f, 0.6f, -0.7f, 0.8f}, {2, 4})),
        y(s.tensor<float>({1.0f, -1.0f}, {2, 1})) {}
  void steps(int n) {
    for (int i = 0; i < n; ++i) {
      opt.zero_grad();
      model(x).sub(y).pow(2.0).mean().backward();
      opt.step();
      sched.step();
    }
  }
  std::vector<float> params() {
    std::vector<float> out;
    for (const Tensor& p : model.parameters()) {
      for (float v : p.to_vector<float>()) out.push_back(v);
    }
    return out;
  }
  remote::Checkpoint parts() { return {{{"model", &model}}, {{"optimizer", &opt}}, {{"scheduler", &sched}}}; }
  Mlp model;
  remote::optim::Optimizer opt;
  remote::optim::LRScheduler sched;
  Tensor x, y;
};

TEST_F(CheckpointTest, ALoadedRunContinuesExactlyAsTheUninterruptedOne) {
  auto alice = client("alice-token");
  remote::Session s = alice->create_session("first", "cpu");
  TrainingRun first(s);
  first.steps(4);
  remote::save_checkpoint(s, "runs/mlp.safetensors", first.parts());
  first.steps(4);
  const std::vector<float> expected = first.params();
  // A new session, a model initialised differently: loading puts back the parameters, Adam's moments and
  // step counts, and the scheduler's epoch.
  remote::Session s2 = alice->create_session("resumed", "cpu");
  TrainingRun resumed(s2);
  remote::load_checkpoint(s2, "runs/mlp.safetensors", resumed.parts());
  resumed.steps(4);
  EXPECT_EQ(resumed.params(), expected);
  EXPECT_EQ(resumed.opt.lr(), first.opt.lr());  // 0.01 * 0.5 ** (8 // 3)
  // The file is a safetensors file PyTorch reads: model.<layer>.<name>, the optimizer's tensors.
  EXPECT_TRUE(fs::exists(dir_.path / "data" / "alice" / "runs" / "mlp.safetensors"));
  const NamedTensors saved = td::load((dir_.path / "data" / "alice" / "runs" / "mlp.safetensors").string());
  std::vector<std::string> names;
  for (const auto& [n, t] : saved) names.push_back(n);
  EXPECT_THAT(names, ::testing::Contains("model.body.0.weight"));
  EXPECT_THAT(names, ::testing::Contains("model.body.2.bias"));
  EXPECT_THAT(names, ::testing::Contains("optimizer.state.0.exp_avg"));
}

TEST_F(CheckpointTest, DownloadAndUploadCarryTheFileAndRefuseAnythingElse) {
  auto alice = client("alice-token");
  remote::Session s = alice->create_session("a", "cpu");
  TrainingRun run(s);
  run.steps(2);
  remote::save_checkpoint(s, "ck.safetensors", run.parts());
  const std::string local = (dir_.path / "local.safetensors").string();
  remote::download_checkpoint(s, "ck.safetensors", local);
  EXPECT_EQ(load_metadata(local).at("format"), "tensord checkpoint 1");
  remote::upload_checkpoint(s, local, "copies/ck2.safetensors");
  remote::Session s2 = alice->create_session("b", "cpu");
  TrainingRun other(s2);
  remote::load_checkpoint(s2, "copies/ck2.safetensors", other.parts());
  EXPECT_EQ(other.params(), run.params());
  write_file(dir_.path / "junk.bin", "not a checkpoint");
  Error junk = testing::error_of([&] { remote::upload_checkpoint(s, (dir_.path / "junk.bin").string(), "junk"); });
  EXPECT_EQ(junk.code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_.path / "data" / "alice" / "junk"));  // refused and removed
}

TEST_F(CheckpointTest, PathsStayInTheUsersOwnFolder) {
  auto alice = client("alice-token");
  remote::Session s = alice->create_session("a", "cpu");
  TrainingRun run(s);
  for (const std::string bad : {"../bob/x", "/etc/passwd", "a/../../x", "a//b", "./x", "x y", ""}) {
    Error e = testing::error_of([&] { remote::save_checkpoint(s, bad, run.parts()); });
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad << ": " << e.what();
  }
  // A symbolic link inside the folder that leads out of it.
  fs::create_directories(dir_.path / "data" / "alice");
  fs::create_directory_symlink(dir_.path, dir_.path / "data" / "alice" / "out");
  Error escape = testing::error_of([&] { remote::save_checkpoint(s, "out/x", run.parts()); });
  EXPECT_EQ(escape.code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(escape.what(), HasSubstr("leads outside your folder"));
  // Bob's "mine" is in his own folder: Alice's checkpoint of that name is not his.
  remote::save_checkpoint(s, "mine", run.parts());
  auto bob = client("bob-token");
  remote::Session b = bob->create_session("b", "cpu");
  TrainingRun his(b);
  EXPECT_EQ(testing::error_of([&] { remote::load_checkpoint(b, "mine", his.parts()); }).code(), ErrorCode::kNotFound);
  // A part that the file does not hold, or of another kind, is refused by name.
  remote::optim::Optimizer sgd(s, "SGD", run.model.parameters(), {{"lr", Scalar(0.1)}});
  Error kind = testing::error_of([&] { remote::load_checkpoint(s, "mine", {{}, {{"optimizer", &sgd}}, {}}); });
  EXPECT_EQ(kind.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(kind.what(), HasSubstr("holds a Adam optimizer's state, not a SGD's"));
}

TEST(CheckpointWithoutDataDir, IsAFailedPrecondition) {
  server::Server server(testing::loopback_server_options());
  remote::Client client("127.0.0.1:" + std::to_string(server.port()));
  remote::Session s = client.create_session("x", "cpu");
  TrainingRun run(s);
  Error e = testing::error_of([&] { remote::save_checkpoint(s, "x", run.parts()); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(), HasSubstr("--data-dir"));
}

}  // namespace
}  // namespace td
