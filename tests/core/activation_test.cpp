// Activations and dropout: float64 gradchecks of first and second order for every activation (values and
// gradients against PyTorch are in tests/golden/activation.json), dropout's statistics and eval identity,
// the layers' reprs, and one test per class of bad argument.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/autograd/gradcheck.h"
#include "core/nn/activation.h"
#include "core/nn/modules.h"
#include "core/random/generator.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::HasSubstr;
using testing::error_of;
namespace F = nn::functional;

class ActivationTest : public testing::DeviceTest {};
TD_INSTANTIATE_DEVICES(ActivationTest);

TD_DEVICE_TEST(ActivationTest, GradcheckEveryActivation) {
  // Values away from the joins of the piecewise functions (a finite difference across one is meaningless).
  Tensor x = make64({-4.3, -2.6, -1.2, -0.4, 0.3, 0.9, 1.7, 2.4, 3.6, 5.1, -0.7, 0.45}, {3, 4}).requires_grad_();
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> fns = {
      {"leaky_relu", [](const Tensor& t) { return F::leaky_relu(t, 0.2); }},
      {"elu", [](const Tensor& t) { return F::elu(t, 1.3); }},
      {"selu", [](const Tensor& t) { return F::selu(t); }},
      {"celu", [](const Tensor& t) { return F::celu(t, 0.7); }},
      {"gelu", [](const Tensor& t) { return F::gelu(t); }},
      {"gelu_tanh", [](const Tensor& t) { return F::gelu(t, "tanh"); }},
      {"silu", [](const Tensor& t) { return F::silu(t); }},
      {"mish", [](const Tensor& t) { return F::mish(t); }},
      {"hardtanh", [](const Tensor& t) { return F::hardtanh(t, -2, 2); }},
      {"relu6", [](const Tensor& t) { return F::relu6(t); }},
      {"hardswish", [](const Tensor& t) { return F::hardswish(t); }},
      {"hardsigmoid", [](const Tensor& t) { return F::hardsigmoid(t); }},
      {"softplus", [](const Tensor& t) { return F::softplus(t, 2, 6); }},
      {"softsign", [](const Tensor& t) { return F::softsign(t); }},
      {"threshold", [](const Tensor& t) { return F::threshold(t, 0.5, -2); }},
      {"glu", [](const Tensor& t) { return F::glu(t, 1); }},
      {"logsigmoid", [](const Tensor& t) { return F::logsigmoid(t); }},
      {"tanhshrink", [](const Tensor& t) { return F::tanhshrink(t); }},
      {"softshrink", [](const Tensor& t) { return F::softshrink(t, 0.6); }},
      {"hardshrink", [](const Tensor& t) { return F::hardshrink(t, 0.6); }},
      {"rrelu_eval", [](const Tensor& t) { return F::rrelu(t, 0.1, 0.3, false); }},
      {"softmin", [](const Tensor& t) { return F::softmin(t, 1); }},
      {"transposed_silu", [](const Tensor& t) { return F::silu(t.t()); }},
  };
  for (const auto& [name, fn] : fns) {
    expect_gradcheck(name, [&fn](const std::vector<Tensor>& in) { return fn(in[0]); }, {x});
  }
  Tensor w = make64({0.1, 0.2, 0.3, 0.4}, {4}).requires_grad_();
  auto prelu = [](const std::vector<Tensor>& in) { return F::prelu(in[0], in[1]); };
  expect_gradcheck("prelu", prelu, {x, w});
}

TD_DEVICE_TEST(ActivationTest, ExtremeInputsStayFiniteWithFiniteGradients) {
  Tensor x = make64({-1000, -50, 0, 50, 1000}, {5}).requires_grad_();
  for (const auto& fn : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& t) { return F::softplus(t); }, [](const Tensor& t) { return F::logsigmoid(t); },
           [](const Tensor& t) { return F::mish(t); }, [](const Tensor& t) { return F::elu(t); },
           [](const Tensor& t) { return F::selu(t); }}) {
    x.set_grad(Tensor());
    Tensor y = fn(x);
    y.sum().backward();
    EXPECT_FALSE(y.isnan().any().item<bool>()) << y.str();
    EXPECT_TRUE(x.grad().isfinite().all().item<bool>()) << x.grad().str();
  }
  EXPECT_NEAR(F::logsigmoid(make64({-1000}, {1})).item<double>(), -1000, 1e-9);
}

// NaN propagates as in PyTorch 1.13: every activation gives NaN for NaN, except softshrink, which gives 0.
TD_DEVICE_TEST(ActivationTest, NaNGoesThroughAsInPyTorch) {
  Tensor nan = make64({std::nan("")}, {1});
  const std::vector<std::pair<std::string, Tensor>> results = {
      {"leaky_relu", F::leaky_relu(nan)}, {"elu", F::elu(nan)},         {"selu", F::selu(nan)},
      {"celu", F::celu(nan)},             {"gelu", F::gelu(nan)},       {"silu", F::silu(nan)},
      {"mish", F::mish(nan)},             {"hardtanh", F::hardtanh(nan)}, {"relu6", F::relu6(nan)},
      {"hardswish", F::hardswish(nan)},   {"hardsigmoid", F::hardsigmoid(nan)}, {"softplus", F::softplus(nan)},
      {"softsign", F::softsign(nan)},     {"threshold", F::threshold(nan, 0.5, -3)},
      {"logsigmoid", F::logsigmoid(nan)}, {"tanhshrink", F::tanhshrink(nan)}, {"hardshrink", F::hardshrink(nan)},
      {"rrelu_eval", F::rrelu(nan)}};
  for (const auto& [name, y] : results) EXPECT_TRUE(std::isnan(y.item<double>())) << name;
  EXPECT_EQ(F::softshrink(nan).item<double>(), 0.0);
}

TD_DEVICE_TEST(ActivationTest, DropoutZeroesAndRescalesInTrainingOnly) {
  manual_seed(7);
  Tensor x = ones({200, 500}, {DType::kFloat32, device_});
  Tensor y = F::dropout(x, 0.3, true);
  const double kept = y.ne(0).to(DType::kFloat64).mean().item<double>();
  EXPECT_NEAR(kept, 0.7, 0.01);  // 100k Bernoulli draws: the standard deviation is 0.0015
  EXPECT_TRUE(y.where(y.ne(0), 1.0f / 0.7f).eq(1.0f / 0.7f).all().item<bool>());
  EXPECT_TRUE(F::dropout(x, 0.3, false).is_same(x));
  EXPECT_EQ(F::dropout(x, 1.0, true).abs().sum().item<double>(), 0.0);
  // Whole channels: each (n, c) plane is all zero or all 1/(1-p).
  Tensor planes = F::dropout2d(ones({8, 16, 3, 3}, {DType::kFloat32, device_}), 0.5, true).reshape({128, 9});
  Tensor lo = planes.amin({1}), hi = planes.amax({1});
  EXPECT_TRUE(lo.eq(hi).all().item<bool>());
  // Alpha dropout keeps a standard normal input's mean and variance.
  Tensor n = random::randn({400, 500}).to(device_.str());
  Tensor a = F::alpha_dropout(n, 0.2, true);
  EXPECT_NEAR(a.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(a.var().item<double>(), 1.0, 0.03);
  // The gradient flows only through the kept elements, scaled.
  Tensor leaf = ones({1000}, {DType::kFloat64, device_}).requires_grad_();
  Tensor d = F::dropout(leaf, 0.5, true);
  d.sum().backward();
  EXPECT_TRUE(leaf.grad().eq(d.detach()).all().item<bool>());
}

TEST(ActivationLayers, ReprAndModes) {
  EXPECT_EQ(nn::LeakyReLU()->repr(), "LeakyReLU(negative_slope=0.01)");
  EXPECT_EQ(nn::ELU()->repr(), "ELU(alpha=1.0)");
  EXPECT_EQ(nn::GELU("tanh")->repr(), "GELU(approximate='tanh')");
  EXPECT_EQ(nn::Hardtanh()->repr(), "Hardtanh(min_val=-1.0, max_val=1.0)");
  EXPECT_EQ(nn::Softshrink()->repr(), "Softshrink(0.5)");
  EXPECT_EQ(nn::PReLU(3).repr(), "PReLU(num_parameters=3)");
  EXPECT_EQ(nn::Dropout(0.25).repr(), "Dropout(p=0.25, inplace=False)");
  EXPECT_EQ(nn::Dropout2d()->repr(), "Dropout2d(p=0.5, inplace=False)");
  nn::PReLU prelu(1);
  EXPECT_EQ(prelu.weight.item<float>(), 0.25f);
  EXPECT_EQ(prelu.parameters().size(), 1u);
  auto drop = std::make_shared<nn::Dropout>(0.5);
  Tensor x = ones({100});
  drop->eval();
  EXPECT_TRUE((*drop)(x).is_same(x));
  drop->train();
  EXPECT_TRUE((*drop)(x).eq(0).any().item<bool>());
}

TD_DEVICE_TEST(ActivationTest, BadArgumentsNameTheOp) {
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_THAT(error_of([&] { (void)F::glu(x, 1); }).what(),
              HasSubstr("[glu] Halving dimension must be even, but dimension 1 is size 3"));
  EXPECT_THAT(error_of([&] { (void)F::prelu(x, make({0.1f, 0.2f}, {2})); }).what(),
              HasSubstr("[prelu] Mismatch of parameter numbers and input channel size. Found parameter numbers = 2 "
                        "and channel size = 3."));
  EXPECT_THAT(error_of([&] { (void)F::dropout(x, 1.5, true); }).what(),
              HasSubstr("[dropout] dropout probability has to be between 0 and 1, but got 1.5"));
  EXPECT_THAT(error_of([&] { (void)F::leaky_relu(tensor(std::vector<int64_t>{1, 2}, {2}, device_)); }).what(),
              HasSubstr("[leaky_relu] \"leaky_relu\" not implemented for 'int64'"));
  EXPECT_THAT(error_of([&] { (void)F::gelu(x, "fast"); }).what(),
              HasSubstr("[gelu] approximate argument must be either none or tanh"));
  EXPECT_THAT(error_of([&] { (void)F::hardtanh(x, 2, 1); }).what(),
              HasSubstr("[hardtanh] min_val cannot be greater than max_val"));
  EXPECT_THAT(error_of([&] { (void)F::dropout2d(ones({2, 3}), 0.5, true); }).what(),
              HasSubstr("[dropout2d] dropout2d: Expected 3D or 4D input, but received a 2D input"));
  EXPECT_THAT(error_of([&] { (void)F::softshrink(x, -1); }).what(),
              HasSubstr("[softshrink] lambda must be greater or equal to 0, but found to be -1."));
}

}  // namespace
}  // namespace td
