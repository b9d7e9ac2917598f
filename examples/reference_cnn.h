// The users' reference CNN (../shared/seed-notes.txt): two conv-relu-maxpool blocks and a two-layer
// classifier, with the exploding/vanishing gradient alarm hooked on each conv output inside forward, as the
// notes write it. Shared by examples/train_fashion_mnist.cpp, the CNN step benchmark and its test.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "core/nn/conv.h"
#include "core/nn/modules.h"
#include "core/nn/pooling.h"

namespace td::examples {

/// check_grad of the notes: a message when a gradient's largest magnitude is above explode_th or below
/// vanish_th. Messages go to `report` (stdout by default).
struct GradientAlarm {
  double explode_th = 1e3, vanish_th = 1e-7;
  std::function<void(const std::string&)> report = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
  int64_t alarms = 0;

  void check(const std::string& name, const Tensor& grad) {
    const double maxv = grad.abs().max().item<double>();
    char line[160];
    if (maxv > explode_th) {
      std::snprintf(line, sizeof line, "[Exploding Gradient] %s: max=%.4e", name.c_str(), maxv);
      ++alarms;
      report(line);
    }
    if (maxv < vanish_th) {
      std::snprintf(line, sizeof line, "[Vanishing Gradient] %s: max=%.4e", name.c_str(), maxv);
      ++alarms;
      report(line);
    }
  }
};

/// CNN(num_class, channels, high, weight) of the notes: features = Conv2d(channels, 32, 3, 1, 1), ReLU,
/// MaxPool2d(2, 2), Conv2d(32, 128, 3, 1, 1), ReLU, MaxPool2d(2, 2); classifier = Linear(128 * h/4 * w/4, 64),
/// ReLU, Linear(64, num_class).
class CNN : public nn::Module {
 public:
  CNN(int64_t num_class, int64_t channels, int64_t high, int64_t weight) : Module("CNN") {
    const int64_t linear_1 = 128 * (high / 4) * (weight / 4);
    const nn::ConvOptions same{.stride = 1, .padding = 1};
    features = register_module("features", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<Module>>{
        std::make_shared<nn::Conv2d>(channels, 32, 3, same), std::make_shared<nn::ReLU>(), nn::MaxPool2d(2, 2),
        std::make_shared<nn::Conv2d>(32, 128, 3, same), std::make_shared<nn::ReLU>(), nn::MaxPool2d(2, 2)}));
    classifier = register_module("classifier", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<Module>>{
        std::make_shared<nn::Linear>(linear_1, 64), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(64, num_class)}));
  }

  Tensor forward(const Tensor& input) override {
    Tensor x = (*features)[0](input);
    if (alarm && x.requires_grad()) x.register_hook([this](const Tensor& g) {
      alarm->check("Conv1", g);
      return Tensor();
    });
    x = (*features)[1](x);
    x = (*features)[2](x);
    x = (*features)[3](x);
    if (alarm && x.requires_grad()) x.register_hook([this](const Tensor& g) {
      alarm->check("Conv2", g);
      return Tensor();
    });
    x = (*features)[4](x);
    x = (*features)[5](x);
    x = x.view({x.size(0), -1});
    return (*classifier)(x);
  }

  std::shared_ptr<nn::Sequential> features, classifier;
  /// The gradient alarm hooked in forward (when the output records a graph: not under no_grad, where
  /// register_hook refuses, as in PyTorch); none when null.
  std::shared_ptr<GradientAlarm> alarm;
};

}  // namespace td::examples
