// create_module (core/nn/factory.h): modules built by PyTorch's class name and arguments print as the same
// call in PyTorch does, positional and keyword arguments bind as in Python, and every misuse is an error
// naming the module and argument.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/nn/factory.h"
#include "core/optim/factory.h"
#include "core/optim/optimizers.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::HasSubstr;
using testing::error_of;

std::string repr_of(std::string_view name, std::vector<Value> args, const nn::Kwargs& kwargs = {}) {
  return nn::create_module(name, std::move(args), kwargs)->repr();
}

TEST(ModuleFactoryTest, BuildsAsPyTorchCallsDo) {
  // Each expected string is PyTorch 1.13's repr of the same call.
  EXPECT_EQ(repr_of("Conv2d", {Scalar(1), Scalar(32), Scalar(3)}, {{"padding", Scalar(1)}}),
            "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  EXPECT_EQ(repr_of("Conv1d", {Scalar(4), Scalar(6), Scalar(3)}, {{"padding", std::string("same")},
                                                                  {"padding_mode", std::string("circular")}}),
            "Conv1d(4, 6, kernel_size=(3,), stride=(1,), padding=same, padding_mode=circular)");
  EXPECT_EQ(repr_of("ConvTranspose2d", {Scalar(4), Scalar(6), int_list({3, 2})},
                    {{"stride", Scalar(2)}, {"output_padding", Scalar(1)}}),
            "ConvTranspose2d(4, 6, kernel_size=(3, 2), stride=(2, 2), output_padding=(1, 1))");
  EXPECT_EQ(repr_of("MaxPool2d", {Scalar(2), Scalar(2)}),
            "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(repr_of("AvgPool1d", {Scalar(3)}), "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))");
  EXPECT_EQ(repr_of("Linear", {Scalar(6272), Scalar(64)}), "Linear(in_features=6272, out_features=64, bias=True)");
  EXPECT_EQ(repr_of("Linear", {Scalar(3), Scalar(2)}, {{"bias", Scalar(false)}}),
            "Linear(in_features=3, out_features=2, bias=False)");
  EXPECT_EQ(repr_of("LeakyReLU", {Scalar(0.2)}), "LeakyReLU(negative_slope=0.2)");
  EXPECT_EQ(repr_of("ReLU", {}), "ReLU()");
  EXPECT_EQ(repr_of("CrossEntropyLoss", {}, {{"label_smoothing", Scalar(0.1)}}), "CrossEntropyLoss()");
  EXPECT_EQ(repr_of("Flatten", {}), "Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(repr_of("AdaptiveAvgPool2d", {int_list({5, 7})}), "AdaptiveAvgPool2d(output_size=(5, 7))");
  EXPECT_EQ(repr_of("BatchNorm2d", {Scalar(32)}), "BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(repr_of("LayerNorm", {Scalar(512)}), "LayerNorm((512,), eps=1e-05, elementwise_affine=True)");
  EXPECT_EQ(repr_of("Embedding", {Scalar(10), Scalar(3)}, {{"padding_idx", Scalar(0)}}), "Embedding(10, 3, padding_idx=0)");
  EXPECT_EQ(repr_of("LSTM", {Scalar(10), Scalar(20)}, {{"num_layers", Scalar(2)}, {"batch_first", Scalar(true)},
                                                       {"bidirectional", Scalar(true)}}),
            "LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)");
  // The built module works: a Linear without bias has one parameter.
  auto fc = nn::create_module("Linear", {Scalar(3), Scalar(2), Scalar(false)});
  EXPECT_EQ(fc->parameters().size(), 1u);
  EXPECT_EQ((*fc)(ones({4, 3})).shape(), (std::vector<int64_t>{4, 2}));
}

TEST(ModuleFactoryTest, ArgumentErrorsNameTheModuleAndArgument) {
  auto message = [](std::string_view name, std::vector<Value> args, const nn::Kwargs& kwargs = {}) {
    return std::string(error_of([&] { nn::create_module(name, args, kwargs); }).what());
  };
  EXPECT_THAT(message("Conv2d", {Scalar(1), Scalar(32)}), HasSubstr("[Conv2d] __init__() missing required argument: 'kernel_size'"));
  EXPECT_THAT(message("Linear", {Scalar(1), Scalar(2)}, {{"in_features", Scalar(3)}}),
              HasSubstr("[Linear] __init__() got multiple values for argument 'in_features'"));
  EXPECT_THAT(message("Linear", {Scalar(1), Scalar(2)}, {{"bais", Scalar(false)}}),
              HasSubstr("[Linear] __init__() got an unexpected keyword argument 'bais'"));
  EXPECT_THAT(message("ReLU", {Scalar(false), Scalar(1)}), HasSubstr("[ReLU] __init__() takes 1 positional arguments but 2 were given"));
  EXPECT_THAT(message("Linear", {Scalar(1.5), Scalar(2)}), HasSubstr("[Linear] argument 'in_features' must be int, not number"));
  EXPECT_THAT(message("Conv2d", {Scalar(1), Scalar(2), std::string("3")}),
              HasSubstr("[Conv2d] argument 'kernel_size' must be int or tuple of ints, not str"));
  EXPECT_EQ(error_of([] { nn::create_module("Conv4d"); }).code(), ErrorCode::kNotFound);
  // Errors of the module's own constructor come through.
  EXPECT_THAT(message("Conv2d", {Scalar(3), Scalar(4), Scalar(3)}, {{"groups", Scalar(2)}}),
              HasSubstr("in_channels must be divisible by groups"));
}

TEST(ModuleFactoryTest, ListsSignatures) {
  const auto sigs = nn::module_signatures();
  EXPECT_GT(sigs.size(), 60u);
  EXPECT_THAT(sigs, ::testing::Contains("Linear(in_features, out_features, bias=True)"));
  // Every module whose parameters all have defaults builds from them alone.
  int built = 0;
  for (const std::string& s : sigs) {
    const std::string params = s.substr(s.find('(') + 1, s.rfind(')') - s.find('(') - 1);
    bool all_default = true;
    size_t pos = 0;
    while (!params.empty() && pos <= params.size()) {
      size_t end = params.find(", ", pos);
      if (end == std::string::npos) end = params.size();
      if (params.substr(pos, end - pos).find('=') == std::string::npos) all_default = false;
      pos = end + 2;
    }
    if (!all_default) continue;
    const std::string name = s.substr(0, s.find('('));
    EXPECT_NO_THROW(nn::create_module(name)) << s;
    ++built;
  }
  EXPECT_GT(built, 30);
}

}  // namespace
}  // namespace td

namespace td {
namespace {

TEST(OptimizerFactoryTest, MatchesTheDirectlyBuiltOptimizer) {
  // Two copies of one parameter; one optimized by a directly built SGD, one by create_optimizer's.
  Tensor a = tensor(std::vector<double>{1, -2, 3}, {3}).requires_grad_();
  Tensor b = a.detach().clone().requires_grad_();
  optim::SGD direct({a}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  auto made = optim::create_optimizer("SGD", {{{b}, {}}}, {{"lr", Scalar(0.1)}, {"momentum", Scalar(0.9)},
                                                          {"nesterov", Scalar(true)}});
  for (int i = 0; i < 3; ++i) {
    direct.zero_grad();
    made->zero_grad();
    a.mul(a).sum().backward();
    b.mul(b).sum().backward();
    direct.step();
    made->step();
  }
  EXPECT_TRUE(a.equal(b).item<bool>());
  // Adam's betas travel as a float tensor of two values; a group may override lr.
  Tensor c = ones({2}).requires_grad_();
  Tensor d = ones({2}).requires_grad_();
  auto adam = optim::create_optimizer("Adam", {{{c}, {}}, {{d}, {{"lr", Scalar(0.5)}}}},
                                      {{"betas", tensor(std::vector<double>{0.8, 0.9}, {2})}});
  EXPECT_DOUBLE_EQ(adam->param_groups()[0].number("lr"), 1e-3);
  EXPECT_DOUBLE_EQ(adam->param_groups()[1].number("lr"), 0.5);
  EXPECT_DOUBLE_EQ(adam->param_groups()[0].pair("betas").first, 0.8);
  auto sched = optim::create_scheduler("StepLR", *adam, {{"step_size", Scalar(2)}, {"gamma", Scalar(0.5)}});
  sched->step();
  sched->step();
  EXPECT_DOUBLE_EQ(sched->get_last_lr()[1], 0.25);
}

TEST(OptimizerFactoryTest, RefusesUnknownNamesAndOptions) {
  Tensor p = ones({1}).requires_grad_();
  EXPECT_THAT(std::string(error_of([&] { optim::create_optimizer("SGD", {{{p}, {}}}, {{"lr", Scalar(0.1)}, {"momentun", Scalar(0.9)}}); }).what()),
              HasSubstr("[SGD] __init__() got an unexpected keyword argument 'momentun'"));
  EXPECT_THAT(std::string(error_of([&] { optim::create_optimizer("SGD", {{{p}, {}}}, {{"lr", Scalar(-1.0)}}); }).what()),
              HasSubstr("Invalid learning rate: -1"));
  EXPECT_THAT(std::string(error_of([&] { optim::create_optimizer("Adam", {{{p}, {}}}, {{"lr", std::string("fast")}}); }).what()),
              HasSubstr("[Adam] argument 'lr' must be a number"));
  EXPECT_EQ(error_of([&] { optim::create_optimizer("Adamm", {{{p}, {}}}); }).code(), ErrorCode::kNotFound);
  EXPECT_EQ(error_of([&] { optim::create_optimizer("LBFGS", {{{p}, {}}}); }).code(), ErrorCode::kUnimplemented);
  auto sgd = optim::create_optimizer("SGD", {{{p}, {}}}, {{"lr", Scalar(0.1)}});
  EXPECT_THAT(std::string(error_of([&] { optim::create_scheduler("StepLR", *sgd, {}); }).what()),
              HasSubstr("[StepLR] __init__() missing required argument: 'step_size'"));
}

}  // namespace
}  // namespace td
