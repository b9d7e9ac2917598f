// The users' reference CNN (../shared/seed-notes.txt) as a remote client writes it: the layers are held by
// the server session, forward issues remote ops, and the gradient alarm (check_grad) is a blocking hook on
// each conv output, registered inside forward as in the notes; it runs on the client during the server's
// backward and may read values. Used by examples/remote_train.cpp and tests/server/remote_nn_test.cpp.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/remote_nn.h"

namespace td::examples {

class RemoteCNN : public remote::nn::Module {
 public:
  RemoteCNN(remote::Session& s, int64_t num_class, int64_t channels, int64_t high, int64_t weight)
      : Module("CNN") {
    using remote::nn::layer;
    const int64_t linear_1 = 128 * (high / 4) * (weight / 4);
    features = register_module("features", std::make_shared<remote::nn::Sequential>(std::vector<std::shared_ptr<Module>>{
        layer(s, "Conv2d", {Scalar(channels), Scalar(32), Scalar(3), Scalar(1), Scalar(1)}), layer(s, "ReLU"),
        layer(s, "MaxPool2d", {Scalar(2), Scalar(2)}),
        layer(s, "Conv2d", {Scalar(32), Scalar(128), Scalar(3), Scalar(1), Scalar(1)}), layer(s, "ReLU"),
        layer(s, "MaxPool2d", {Scalar(2), Scalar(2)})}));
    classifier = register_module("classifier", std::make_shared<remote::nn::Sequential>(std::vector<std::shared_ptr<Module>>{
        layer(s, "Linear", {Scalar(linear_1), Scalar(64)}), layer(s, "ReLU"),
        layer(s, "Linear", {Scalar(64), Scalar(num_class)})}));
  }

  remote::Tensor forward(const remote::Tensor& input) override {
    remote::Tensor x = (*features)[0](input);
    if (alarm) x.register_hook([this](const remote::Tensor& g) { return check_grad("Conv1", g); });
    x = (*features)[1](x);
    x = (*features)[2](x);
    x = (*features)[3](x);
    if (alarm) x.register_hook([this](const remote::Tensor& g) { return check_grad("Conv2", g); });
    x = (*features)[4](x);
    x = (*features)[5](x);
    x = x.flatten(1);
    return (*classifier)(x);
  }

  /// check_grad(name, grad, explode_th=1e3, vanish_th=1e-7) of the notes; messages go to `report`.
  std::optional<remote::Tensor> check_grad(const std::string& name, const remote::Tensor& grad) {
    const double maxv = grad.abs().max().item<double>();
    char line[160];
    if (maxv > explode_th) {
      std::snprintf(line, sizeof line, "[Exploding Gradient] %s: max=%.4e", name.c_str(), maxv);
      report(line);
    }
    if (maxv < vanish_th) {
      std::snprintf(line, sizeof line, "[Vanishing Gradient] %s: max=%.4e", name.c_str(), maxv);
      report(line);
    }
    ++checks;
    return std::nullopt;
  }

  std::shared_ptr<remote::nn::Sequential> features, classifier;
  /// Whether forward hooks the alarm (off for evaluation, where nothing runs backward).
  bool alarm = true;
  double explode_th = 1e3, vanish_th = 1e-7;
  std::function<void(const std::string&)> report = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
  int64_t checks = 0;
};

}  // namespace td::examples
