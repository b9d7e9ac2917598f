// A small training run against a server, shared by the restart tests (restart_test.cpp in-process, and
// restart_client.cpp against a real tensord that is restarted under it): Adam + StepLR on an MLP whose last
// bias has a blocking client hook that halves its gradient.
#pragma once

#include <atomic>
#include <optional>
#include <vector>

#include "client/remote.h"
#include "client/remote_nn.h"

namespace td::testing {

namespace rnn = remote::nn;

struct Mlp : rnn::Module {
  explicit Mlp(remote::Session& s) : Module("Mlp") {
    body = register_module("body", std::make_shared<rnn::Sequential>(std::vector<std::shared_ptr<rnn::Module>>{
                                       rnn::layer(s, "Linear", {Scalar(4), Scalar(8)}), rnn::layer(s, "Tanh"),
                                       rnn::layer(s, "Dropout", {Scalar(0.0)}),
                                       rnn::layer(s, "Linear", {Scalar(8), Scalar(1)})}));
  }
  remote::Tensor forward(const remote::Tensor& x) override { return (*body)(x); }
  std::shared_ptr<rnn::Sequential> body;
};

struct HookedRun {
  explicit HookedRun(remote::Session& s)
      : model(s),
        opt(s, "Adam", model.parameters(), {{"lr", Scalar(0.01)}}),
        sched(opt, "StepLR", {{"step_size", Scalar(3)}, {"gamma", Scalar(0.5)}}),
        x(s.tensor<float>({0.1f, -0.2f, 0.3f, 0.4f, 0.5f, 0.6f, -0.7f, 0.8f}, {2, 4})),
        y(s.tensor<float>({1.0f, -1.0f}, {2, 1})) {
    hook = model.parameters().back().register_hook([this](const remote::Tensor& g) -> std::optional<remote::Tensor> {
      ++hook_calls;
      return g.mul(0.5);
    });
  }
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
    for (const remote::Tensor& p : model.parameters()) {
      for (float v : p.to_vector<float>()) out.push_back(v);
    }
    return out;
  }
  remote::Checkpoint parts() { return {{{"model", &model}}, {{"optimizer", &opt}}, {{"scheduler", &sched}}}; }
  Mlp model;
  remote::optim::Optimizer opt;
  remote::optim::LRScheduler sched;
  remote::Tensor x, y;
  std::atomic<int> hook_calls{0};
  remote::RemoteHookHandle hook;
};

}  // namespace td::testing
