// Server-held modules, optimizers and schedulers (td::remote::nn, td::remote::optim) against a real tensord
// on loopback: the users' reference CNN with its gradient alarm written as a client-side module over remote
// layers trains 300 SGD steps to the same parameters as the same model trained in-process, and every misuse
// gets its status while the session goes on working.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "client/remote.h"
#include "client/remote_nn.h"
#include "core/nn/functional.h"
#include "core/nn/module.h"
#include "core/optim/optimizers.h"
#include "core/random/generator.h"
#include "examples/reference_cnn.h"
#include "examples/remote_cnn.h"
#include "server/server.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using remote::Tensor;
namespace rnn = remote::nn;

class RemoteNnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::Options options;
    options.listen = "127.0.0.1:0";
    options.metrics_listen = "";
    options.threads = 2;
    server_ = std::make_unique<server::Server>(options);
    client_ = std::make_unique<remote::Client>("127.0.0.1:" + std::to_string(server_->port()));
  }
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<remote::Client> client_;
};

Tensor upload(remote::Session& s, const td::Tensor& t) {
  td::Tensor c = t.contiguous();
  return s.from_bytes(c.data_ptr(), static_cast<size_t>(c.nbytes()), c.dtype(), c.shape(), false);
}

TEST_F(RemoteNnTest, SeedNotesCnnTrainsRemotelyAsItDoesLocally) {
  constexpr int64_t kBatch = 8;
  constexpr int kSteps = 300;
  remote::Session s = client_->create_session("remote-cnn", "cpu");
  manual_seed(3);
  auto local = std::make_shared<examples::CNN>(10, 1, 28, 28);
  examples::RemoteCNN model(s, 10, 1, 28, 28);
  std::vector<std::string> alarms;
  model.report = [&](const std::string& line) { alarms.push_back(line); };
  EXPECT_EQ(model.repr(), local->repr());
  // The same initial parameters on both sides, through load_state_dict.
  std::vector<std::pair<std::string, Tensor>> state;
  for (const auto& [name, t] : local->state_dict()) state.emplace_back(name, upload(s, t));
  model.load_state_dict(state);
  std::vector<std::string> names;
  for (const auto& [name, t] : model.named_parameters()) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
                                 "classifier.0.weight", "classifier.0.bias", "classifier.2.weight",
                                 "classifier.2.bias"));

  remote::optim::Optimizer opt(s, "SGD", model.parameters(), {{"lr", Scalar(0.01)}, {"momentum", Scalar(0.9)}});
  optim::SGD local_opt(local->parameters(), {.lr = 0.01, .momentum = 0.9});
  auto loss_fn = rnn::layer(s, "CrossEntropyLoss");
  // A few fixed batches, cycled.
  std::vector<td::Tensor> xs, ys;
  std::vector<Tensor> rxs, rys;
  for (int b = 0; b < 4; ++b) {
    xs.push_back(random::randn({kBatch, 1, 28, 28}));
    ys.push_back(random::randint(0, 10, {kBatch}));
    rxs.push_back(upload(s, xs.back()));
    rys.push_back(upload(s, ys.back()));
  }
  double remote_loss = 0, local_loss = 0;
  for (int step = 0; step < kSteps; ++step) {
    const size_t b = static_cast<size_t>(step % 4);
    opt.zero_grad();
    Tensor loss = loss_fn->call({model(rxs[b]), rys[b]})[0];
    loss.backward();
    opt.step();
    local_opt.zero_grad();
    td::Tensor l = nn::functional::cross_entropy((*local)(xs[b]), ys[b]);
    l.backward();
    local_opt.step();
    if (step == kSteps - 1) {
      remote_loss = loss.item<double>();
      local_loss = l.item<double>();
    }
  }
  EXPECT_EQ(model.checks, 2 * kSteps);
  EXPECT_TRUE(alarms.empty());
  EXPECT_NEAR(remote_loss, local_loss, 1e-5);
  EXPECT_LT(remote_loss, 0.5);  // it learned the four batches
  auto remote_params = model.parameters();
  auto local_params = local->parameters();
  ASSERT_EQ(remote_params.size(), local_params.size());
  for (size_t i = 0; i < local_params.size(); ++i) {
    std::vector<float> r = remote_params[i].to_vector<float>();
    td::Tensor lc = local_params[i].contiguous();
    double worst = 0;
    for (size_t k = 0; k < r.size(); ++k) worst = std::max(worst, std::abs(static_cast<double>(r[k] - lc.data<float>()[k])));
    EXPECT_LT(worst, 1e-5) << names[i];
  }
  EXPECT_EQ(opt.steps(), kSteps);
}

TEST_F(RemoteNnTest, OptimizerSchedulerAndLayerDescriptions) {
  remote::Session s = client_->create_session("optim", "cpu");
  auto fc = rnn::layer(s, "Linear", {Scalar(3), Scalar(2)}, {{"bias", Scalar(false)}});
  EXPECT_EQ(fc->repr(), "Linear(in_features=3, out_features=2, bias=False)");
  ASSERT_EQ(fc->parameters().size(), 1u);
  remote::optim::Optimizer opt(s, "Adam", fc->parameters(), {{"lr", Scalar(0.1)}});
  remote::optim::LRScheduler sched(opt, "StepLR", {{"step_size", Scalar(1)}, {"gamma", Scalar(0.5)}});
  sched.step();
  sched.step();
  EXPECT_THAT(opt.lr(), ElementsAre(0.025));
  // A pooling layer with return_indices gives two outputs.
  auto pool = rnn::layer(s, "MaxPool2d", {Scalar(2)}, {{"return_indices", Scalar(true)}});
  Tensor x = s.tensor<float>({1, 5, 2, 0, 3, 4, 8, 7, 0, 1, 2, 3, 9, 6, 4, 5}, {1, 1, 4, 4});
  auto out = pool->call({x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0].to_vector<float>(), ElementsAre(5, 8, 9, 5));
  EXPECT_THAT(out[1].to_vector<int64_t>(), ElementsAre(1, 6, 12, 15));
  // eval() reaches the server: dropout passes values through.
  auto drop = rnn::layer(s, "Dropout", {Scalar(0.9)});
  drop->eval();
  EXPECT_THAT((*drop)(x).to_vector<float>()[1], 5.0f);
}

TEST_F(RemoteNnTest, ModuleHooksRunOnTheClientAndMayReplace) {
  remote::Session s = client_->create_session("module-hooks", "cpu");
  // y = x W^T with W = [[1, 2, 3]] (no bias): for x = [1, 1, 1], y = 6.
  auto fc = rnn::layer(s, "Linear", {Scalar(3), Scalar(1)}, {{"bias", Scalar(false)}});
  fc->load_state_dict({{"weight", s.tensor<float>({1, 2, 3}, {1, 3})}});
  std::vector<std::string> order;
  auto pre = fc->register_forward_pre_hook([&](const std::vector<Tensor>& in, const std::vector<Tensor>&) {
    order.push_back("pre");
    // Inputs may be replaced: doubling x doubles y.
    return std::optional<std::vector<Tensor>>{{in[0].mul(2)}};
  });
  fc->register_forward_hook([&](const std::vector<Tensor>& in, const std::vector<Tensor>& out) {
    order.push_back("forward:" + std::to_string(out[0].item<double>()));  // a hook may read values
    return std::optional<std::vector<Tensor>>{{out[0].add(1)}};           // and replace the output
  });
  double seen_grad_output = 0;
  fc->register_full_backward_hook([&](const std::vector<Tensor>& grad_input, const std::vector<Tensor>& grad_output) {
    order.push_back("backward");
    seen_grad_output = grad_output[0].item<double>();
    EXPECT_EQ(grad_input.size(), 1u);
    return std::optional<std::vector<Tensor>>{{grad_input[0].mul(10)}};
  });
  Tensor x = s.tensor<float>({1, 1, 1}, {1, 3}, /*requires_grad=*/true);
  Tensor y = (*fc)(x);
  EXPECT_DOUBLE_EQ(y.item<double>(), 13.0);  // (2x) W^T + 1
  y.mul(3).sum().backward();
  EXPECT_DOUBLE_EQ(seen_grad_output, 3.0);
  // dL/dx = 3 * 2 * W, then the backward hook's factor 10 on the module's input gradient (the 2x happens
  // before the module, so the hook sees dL/d(2x) = 3 W and the factor 2 applies after it).
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(60, 120, 180));
  EXPECT_THAT(order, ElementsAre("pre", "forward:12.000000", "backward"));
  // A removed hook no longer fires.
  pre.remove();
  order.clear();
  EXPECT_DOUBLE_EQ((*fc)(x).item<double>(), 7.0);
  EXPECT_THAT(order, ElementsAre("forward:6.000000"));
}

// A client-side composite module (forward written here) takes forward pre-hooks and forward hooks like any
// nn.Module, also as a child of a Sequential; they run here, inline.
struct Doubler : rnn::Module {
  Doubler() : Module("Doubler") {}
  Tensor forward(const Tensor& x) override { return x.mul(2); }
};

TEST_F(RemoteNnTest, CompositeModulesTakeForwardHooksOnTheClient) {
  remote::Session s = client_->create_session("composite-hooks", "cpu");
  auto inner = std::make_shared<Doubler>();
  rnn::Sequential seq({inner, rnn::layer(s, "ReLU")});
  std::vector<std::string> order;
  auto pre = inner->register_forward_pre_hook([&](const std::vector<Tensor>& in, const std::vector<Tensor>& none) {
    order.push_back("pre");
    EXPECT_TRUE(none.empty());
    return std::optional<std::vector<Tensor>>{{in[0].add(1)}};  // x + 1 goes in
  });
  auto post = inner->register_forward_hook([&](const std::vector<Tensor>& in, const std::vector<Tensor>& out) {
    order.push_back("forward:" + std::to_string(in[0].item<double>()) + "->" + std::to_string(out[0].item<double>()));
    return std::optional<std::vector<Tensor>>{{Tensor()}};  // an undefined entry keeps the output
  });
  seq.register_forward_hook([&](const std::vector<Tensor>&, const std::vector<Tensor>& out) {
    order.push_back("seq");
    return std::optional<std::vector<Tensor>>{{out[0].neg()}};
  });
  Tensor x = s.tensor<float>({-3}, {1});
  EXPECT_DOUBLE_EQ(seq(x).item<double>(), -0.0);  // relu(2 * (-3 + 1)) = 0, negated
  EXPECT_THAT(order, ElementsAre("pre", "forward:-2.000000->-4.000000", "seq"));
  pre.remove();
  post.remove();
  order.clear();
  EXPECT_DOUBLE_EQ(seq(s.tensor<float>({3}, {1})).item<double>(), -6.0);
  EXPECT_THAT(order, ElementsAre("seq"));
  // A hook's list must match.
  inner->register_forward_hook([](const std::vector<Tensor>&, const std::vector<Tensor>& out) {
    return std::optional<std::vector<Tensor>>{{out[0], out[0]}};
  });
  EXPECT_THAT(testing::error_of([&] { (void)seq(x); }).what(), HasSubstr("returned 2 tensors for 1"));
}

// A composite module's full backward hooks: the server routes its inputs and outputs through a stand-in's
// hook nodes around the forward run here, so the hooks see the module's grad_input and grad_output, as a
// local nn.Module's do, and may replace grad_input.
TEST_F(RemoteNnTest, CompositeModulesTakeFullBackwardHooksThroughAStandIn) {
  remote::Session s = client_->create_session("composite-backward-hooks", "cpu");
  auto doubler = std::make_shared<Doubler>();
  std::vector<std::string> order;
  std::vector<double> grad_in, grad_out;
  auto hook = doubler->register_full_backward_hook([&](const std::vector<Tensor>& gi, const std::vector<Tensor>& go) {
    order.push_back("backward");
    grad_in = gi[0].to_vector<double>();
    grad_out = go[0].to_vector<double>();
    return std::optional<std::vector<Tensor>>{{gi[0].mul(10)}};
  });
  doubler->register_full_backward_pre_hook([&](const std::vector<Tensor>& none, const std::vector<Tensor>& go) {
    order.push_back("pre:" + std::to_string(go.size()) + (none.empty() ? "" : "?"));
    return std::optional<std::vector<Tensor>>{};
  });
  Tensor x = s.tensor<double>({1, 2}, {2}, /*requires_grad=*/true);
  (*doubler)(x).mul(3).sum().backward();
  EXPECT_THAT(order, ElementsAre("pre:1", "backward"));
  EXPECT_THAT(grad_out, ElementsAre(3, 3));     // d(3y)/dy
  EXPECT_THAT(grad_in, ElementsAre(6, 6));      // through y = 2x
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(60, 60));  // the hook's factor 10

  // The same module in-process gives the same gradient.
  struct LocalDoubler : td::nn::Module {
    LocalDoubler() : Module("Doubler") {}
    td::Tensor forward(const td::Tensor& x) override { return x.mul(2.0); }
  };
  auto local = std::make_shared<LocalDoubler>();
  local->register_full_backward_hook([](td::nn::Module&, td::nn::TensorList& gi, const td::nn::TensorList&) {
    gi[0] = gi[0].mul(10.0);
  });
  td::Tensor lx = td::tensor(std::vector<double>{1, 2}, {2}).requires_grad_();
  (*local)(lx).mul(3.0).sum().backward();
  EXPECT_EQ(lx.grad().to_vector<double>(), x.grad().to_vector<double>());

  // Removed, it fires no more; without grad there is nothing to route.
  hook.remove();
  order.clear();
  (*doubler)(x).sum().backward();
  EXPECT_THAT(order, ElementsAre("pre:1"));
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(62, 62));
  {
    remote::NoGradGuard no_grad(s);
    EXPECT_THAT((*doubler)(x).to_vector<double>(), ElementsAre(2, 4));
  }
}

TEST_F(RemoteNnTest, MisuseGetsItsStatusAndTheSessionGoesOn) {
  remote::Session s = client_->create_session("nn-errors", "cpu");
  auto expect_error = [&](ErrorCode code, const std::string& text) {
    try {
      s.sync();
      FAIL() << "expected an error containing " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_THAT(e.what(), HasSubstr(text));
    }
  };
  auto unknown = rnn::layer(s, "Conv4d", {Scalar(1)});
  expect_error(ErrorCode::kNotFound, "no module named 'Conv4d'");
  auto typo = rnn::layer(s, "Linear", {Scalar(3), Scalar(2)}, {{"bais", Scalar(false)}});
  expect_error(ErrorCode::kInvalidArgument, "[Linear] __init__() got an unexpected keyword argument 'bais'");
  // Calling a module whose creation failed names it as missing; its output is poisoned.
  Tensor x = s.tensor<float>({1, 2, 3}, {1, 3});
  Tensor y = (*typo)(x);
  expect_error(ErrorCode::kNotFound, "[call_module] no module");
  auto fc = rnn::layer(s, "Linear", {Scalar(4), Scalar(2)});
  Tensor z = (*fc)(x);
  expect_error(ErrorCode::kInvalidArgument, "[Linear] mat1 and mat2 shapes cannot be multiplied (input [1, 3], weight [2, 4])");
  remote::optim::Optimizer bad(s, "SGD", fc->parameters(), {{"lr", Scalar(-1.0)}});
  expect_error(ErrorCode::kInvalidArgument, "Invalid learning rate: -1");
  // The session still works.
  auto good = rnn::layer(s, "Linear", {Scalar(3), Scalar(1)});
  EXPECT_EQ((*good)(x).to_vector<float>().size(), 1u);
}

}  // namespace
}  // namespace td

namespace td {
namespace {

class BuiltinHookTest : public RemoteNnTest {};

TEST_F(BuiltinHookTest, StatsGuardAndClippingRunOnTheServer) {
  remote::Session s = client_->create_session("builtin-hooks", "cpu");
  Tensor x = s.tensor<float>({1, -2, 3, -4}, {4}, /*requires_grad=*/true);
  Tensor y = x.mul(x);  // dL/dy = w for L = sum(y * w)
  std::vector<remote::GradStats> seen;
  y.register_grad_stats_hook([&](const remote::GradStats& st) { seen.push_back(st); });
  Tensor w = s.tensor<float>({0.5f, -3, 1, 2}, {4});
  y.mul(w).sum().backward();
  s.sync();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_THAT(seen[0].shape, ElementsAre(4));
  EXPECT_DOUBLE_EQ(seen[0].min, -3);
  EXPECT_DOUBLE_EQ(seen[0].max, 2);
  EXPECT_DOUBLE_EQ(seen[0].mean, 0.125);
  EXPECT_DOUBLE_EQ(seen[0].abs_max, 3);
  EXPECT_DOUBLE_EQ(seen[0].norm, std::sqrt(0.25 + 9 + 1 + 4));
  EXPECT_EQ(seen[0].nan_count, 0);

  // Clipping by value: dL/dy = w clamped to [-1, 1], then dL/dx = 2 x dL/dy.
  Tensor a = s.tensor<float>({1, -2, 3, -4}, {4}, true);
  Tensor b = a.mul(a);
  b.register_clip_value_hook(1.0);
  b.mul(w).sum().backward();
  EXPECT_THAT(a.grad().to_vector<float>(), ElementsAre(1, 4, 6, -8));
  // Clipping by norm: the gradient w has norm 3.775; scaled to 1.
  Tensor c = s.tensor<float>({1, 1, 1, 1}, {4}, true);
  Tensor d = c.mul(1.0);
  d.register_clip_norm_hook(1.0);
  d.mul(w).sum().backward();
  EXPECT_NEAR(c.grad().norm().item<double>(), 1.0, 1e-5);

  // The NaN guard fails the backward and names the counts; the session goes on.
  Tensor e = s.tensor<float>({1, 0}, {2}, true);
  Tensor f = e.mul(1.0);
  f.register_nan_guard();
  try {
    f.log().mul(0.0).sum().backward();  // 0 * -inf: a NaN gradient into f
    FAIL() << "the guard must fail the backward";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(err.what(), HasSubstr("NaN guard"));
    EXPECT_THAT(err.what(), HasSubstr("holds 1 NaN and 0 Inf values"));
  }
  EXPECT_DOUBLE_EQ(x.sum().item<double>(), -2.0);
}

}  // namespace
}  // namespace td
