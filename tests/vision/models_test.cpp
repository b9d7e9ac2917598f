// vision/models.h against torchvision 0.14's architectures (tests/golden/modules/models.json, written by
// tests/golden/generate_models.py): reprs, state_dict keys, shapes and dtypes, parameter counts, and for
// resnet18 and mobilenet_v2 the float64 evaluation-mode output and gradients under the fixture's
// deterministic parameters; then output shapes, training-mode forward + backward, and creation through
// nn::create_module.
#include "vision/models.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/nn/factory.h"
#include "core/random/generator.h"
#include "tests/core/golden_json.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

namespace models = vision::models;
using nlohmann::json;

const json& fixture() {
  static const json j = [] {
    std::ifstream in(fixture_dir() + "/modules/models.json");
    if (!in) throw Error(ErrorCode::kNotFound, "tests/golden/modules/models.json is missing");
    return json::parse(in);
  }();
  return j;
}

const json& find_case(const char* section, const std::string& name) {
  for (const json& c : fixture().at(section)) {
    if (c.at("name") == name) return c;
  }
  throw Error(ErrorCode::kNotFound, str("no ", section, " case ", name));
}

std::shared_ptr<nn::Module> build(const std::string& name, int64_t num_classes) {
  if (name == "resnet18") return models::resnet18(num_classes);
  if (name == "resnet34") return models::resnet34(num_classes);
  if (name == "resnet50") return models::resnet50(num_classes);
  if (name == "vgg11") return models::vgg11(num_classes);
  if (name == "vgg11_bn") return models::vgg11_bn(num_classes);
  if (name == "mobilenet_v2") return models::mobilenet_v2(num_classes);
  if (name == "lenet") return models::lenet(num_classes);
  throw Error(ErrorCode::kNotFound, "no model " + name);
}

int64_t num_parameters(const nn::Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

class ModelStructureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelStructureTest, MatchesTorchvision) {
  const json& c = find_case("structure", GetParam());
  manual_seed(0);
  auto model = build(GetParam(), c.at("kwargs").at("num_classes").get<int64_t>());
  EXPECT_EQ(model->repr(), c.at("repr").get<std::string>());
  const nn::StateDict state = model->state_dict();
  const json& want = c.at("state");
  ASSERT_EQ(state.size(), want.size());
  for (size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(state[i].first, want[i][0].get<std::string>()) << "entry " << i;
    EXPECT_EQ(state[i].second.shape(), want[i][1].get<std::vector<int64_t>>()) << state[i].first;
    EXPECT_EQ(dtype_name(state[i].second.dtype()), want[i][2].get<std::string>()) << state[i].first;
  }
  EXPECT_EQ(num_parameters(*model), c.at("num_parameters").get<int64_t>());
  // And it runs: [N, num_classes] out (evaluation mode, as one image reaches BatchNorm on 1x1 maps).
  model->eval();
  autograd::NoGradGuard no_grad;
  const bool lenet = GetParam() == "lenet";
  Tensor out = (*model)(
      random::randn(lenet ? std::vector<int64_t>{2, 1, 28, 28} : std::vector<int64_t>{1, 3, 32, 32}));
  EXPECT_EQ(out.shape(),
            (std::vector<int64_t>{lenet ? 2 : 1, c.at("kwargs").at("num_classes").get<int64_t>()}));
}

INSTANTIATE_TEST_SUITE_P(Models, ModelStructureTest,
                         ::testing::Values("resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn",
                                           "mobilenet_v2", "lenet"));

// generate_models.py's pattern_state: integer arithmetic, so both sides hold the same float64 values.
void load_pattern_state(nn::Module& model) {
  nn::StateDict state = model.state_dict();
  int64_t t = 0;
  for (auto& [name, v] : state) {
    if (!is_floating(v.dtype())) continue;
    const std::vector<int64_t> shape = v.shape();
    int64_t fan_in = shape.size() >= 2 ? shape[1] : 1;
    for (size_t d = 2; d < shape.size(); ++d) fan_in *= shape[d];
    std::vector<double> x(static_cast<size_t>(v.numel()));
    for (int64_t j = 0; j < v.numel(); ++j) {
      const double u = static_cast<double>((j * 7919 + t * 104729) % 1000) / 1000 - 0.5;
      double value;
      if (name.ends_with("running_var")) {
        value = 1 + 0.5 * (u + 0.5);
      } else if (name.ends_with("running_mean")) {
        value = 0.1 * u;
      } else if (shape.size() >= 2) {
        value = 2 * std::sqrt(6.0 / static_cast<double>(fan_in)) * u;
      } else if (name.ends_with("weight")) {
        value = 1 + 0.2 * u;
      } else {
        value = 0.1 * u;
      }
      x[static_cast<size_t>(j)] = value;
    }
    v = tensor(x, shape);
    ++t;
  }
  model.load_state_dict(state);
}

void expect_close(const Tensor& got, const json& want_json, const std::string& what) {
  Tensor want = tensor_from_json(want_json, kCPU);
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    // float64 end to end: only the order of summation differs from PyTorch's.
    const double err = std::abs(g[i] - w[i]) / (1e-8 + 1e-8 * std::abs(w[i]));
    if (err > worst) worst = err, at = i;
  }
  EXPECT_LE(worst, 1.0) << what << ": element " << at << " is " << g[at] << ", PyTorch has " << w[at];
}

class ModelNumericTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelNumericTest, OutputAndGradientsMatchPyTorch) {
  const json& c = find_case("numeric", GetParam());
  auto model = build(GetParam(), 10);
  model->to(DType::kFloat64);
  load_pattern_state(*model);
  model->eval();
  Tensor x = tensor_from_json(c.at("input"), kCPU).requires_grad_();
  Tensor out = (*model)(x);
  expect_close(out, c.at("output"), "output");
  (out * tensor_from_json(c.at("g"), kCPU)).sum().backward();
  expect_close(x.grad(), c.at("grad_input"), "input gradient");
  for (const auto& [name, grad] : c.at("grads").items())
    expect_close(model->get_tensor(name).grad(), grad, name);
}

INSTANTIATE_TEST_SUITE_P(Models, ModelNumericTest, ::testing::Values("resnet18", "mobilenet_v2"));

TEST(ModelsTest, OutputShapes) {
  manual_seed(0);
  autograd::NoGradGuard no_grad;
  // Evaluation mode: a batch of one reaches BatchNorm's 1x1 maps, which training mode refuses (as PyTorch
  // does).
  auto shape = [](std::shared_ptr<nn::Module> m, std::vector<int64_t> input) {
    m->eval();
    return (*m)(random::randn(std::move(input))).shape();
  };
  using Shape = std::vector<int64_t>;
  EXPECT_EQ(shape(models::resnet18(10), {2, 3, 32, 32}), (Shape{2, 10}));
  EXPECT_EQ(shape(models::resnet34(), {1, 3, 64, 64}), (Shape{1, 1000}));
  EXPECT_EQ(shape(models::resnet50(7), {1, 3, 48, 40}), (Shape{1, 7}));
  EXPECT_EQ(shape(models::mobilenet_v2(5), {2, 3, 32, 32}), (Shape{2, 5}));
  EXPECT_EQ(shape(models::lenet(), {4, 1, 28, 28}), (Shape{4, 10}));
  EXPECT_EQ(shape(models::lenet(10, 32), {4, 1, 32, 32}), (Shape{4, 10}));
  EXPECT_EQ(num_parameters(*models::resnet18()), 11689512);
}

TEST(ModelsTest, TorchvisionInitialisation) {
  manual_seed(0);
  auto resnet = models::resnet18();
  // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std sqrt(2 / (out_channels * kernel elements)).
  const double std_conv1 = resnet->conv1->weight.std().item<double>();
  EXPECT_NEAR(std_conv1, std::sqrt(2.0 / (64 * 49)), 0.05 * std::sqrt(2.0 / (64 * 49)));
  EXPECT_EQ(resnet->bn1->weight.sum().item<double>(), 64);
  EXPECT_EQ(resnet->bn1->bias.abs().sum().item<double>(), 0);
  auto zero = models::resnet18(1000, /*zero_init_residual=*/true);
  EXPECT_EQ(zero->get_tensor("layer1.0.bn2.weight").abs().sum().item<double>(), 0);
  auto mobile = models::mobilenet_v2();
  const Tensor fc = mobile->get_tensor("classifier.1.weight");
  EXPECT_NEAR(fc.std().item<double>(), 0.01, 0.0005);
  EXPECT_EQ(mobile->get_tensor("classifier.1.bias").abs().sum().item<double>(), 0);
}

TEST(ModelsTest, TrainModeForwardBackward) {
  manual_seed(0);
  for (const std::string name : {"resnet18", "mobilenet_v2", "lenet"}) {
    auto model = build(name, 10);
    model->train();
    Tensor x = random::randn(name == "lenet" ? std::vector<int64_t>{4, 1, 28, 28}
                                             : std::vector<int64_t>{4, 3, 32, 32});
    Tensor loss = (*model)(x).pow(2).mean();
    loss.backward();
    for (const auto& [pname, p] : model->named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << name << " " << pname;
      EXPECT_TRUE(p.grad().isfinite().all().item<bool>()) << name << " " << pname;
    }
    if (name != "lenet") {
      // Training-mode BatchNorm moved its running statistics.
      EXPECT_GT(model->get_tensor(name == "resnet18" ? "bn1.running_mean" : "features.0.1.running_mean")
                    .abs()
                    .sum()
                    .item<double>(),
                0);
    }
  }
}

TEST(ModelsTest, CreatedByName) {
  models::register_models();
  models::register_models();  // a second registration is harmless
  auto m = nn::create_module("resnet18", {}, {{"num_classes", Scalar(int64_t{10})}});
  EXPECT_EQ(m->type_name(), "ResNet");
  EXPECT_EQ(m->get_tensor("fc.weight").shape(), (std::vector<int64_t>{10, 512}));
  EXPECT_EQ(nn::create_module("LeNet", {Scalar(int64_t{3})})->get_tensor("classifier.4.bias").numel(), 3);
  EXPECT_THAT(nn::module_signatures(), ::testing::Contains("mobilenet_v2(num_classes=1000, dropout=0.2)"));
  EXPECT_THAT(testing::error_of([] {
                nn::create_module("vgg11", {}, {{"classes", Scalar(int64_t{3})}});
              }).what(),
              ::testing::HasSubstr("[vgg11] __init__() got an unexpected keyword argument 'classes'"));
  EXPECT_EQ(testing::error_of([] {
              nn::create_module("LeNet", {}, {{"input_size", Scalar(int64_t{30})}});
            }).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(testing::error_of([] {
              nn::register_module_type("resnet18(num_classes=10)",
                                       [](const nn::ModuleArgs&) { return models::resnet18(); });
            }).code(),
            ErrorCode::kAlreadyExists);
}

}  // namespace
}  // namespace td
