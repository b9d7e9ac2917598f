// torch.autograd.functional (core/autograd/functional.h): vjp, jvp, jacobian, hessian, vhp and hvp against
// PyTorch 1.13's on the functions of tests/golden/generate_functional.py, defined here the same way by name;
// then strict mode, create_graph and the errors, on each device.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "core/autograd/functional.h"
#include "tests/core/device_test.h"
#include "tests/core/golden_json.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

namespace F = autograd::functional;
using ::testing::HasSubstr;
using Tensors = std::vector<Tensor>;

const std::map<std::string, F::Function>& functions() {
  static const std::map<std::string, F::Function> fns = {
      {"cube_sum", [](const Tensors& a) { return Tensors{a[0].pow(3.0).sum()}; }},
      {"tanh_layer", [](const Tensors& a) { return Tensors{a[1].matmul(a[0]).tanh()}; }},
      {"two_outputs", [](const Tensors& a) { return Tensors{a[0].mul(a[1]), a[0].sin().add(a[1].exp())}; }},
      {"quadratic", [](const Tensors& a) { return Tensors{a[0].mul(a[1].pow(2.0)).sum().add(a[0].mul(a[0]).sum())}; }},
      {"ignores_y", [](const Tensors& a) { return Tensors{a[0].mul(2.0)}; }},
  };
  return fns;
}

class FunctionalTest : public testing::DeviceTest {
 protected:
  Tensors list(const nlohmann::json& j) {
    Tensors out;
    for (const auto& t : j) out.push_back(tensor_from_json(t, device_));
    return out;
  }
  void expect_close(const Tensors& got, const Tensors& want, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(got[i].defined()) << what << " " << i;
      EXPECT_EQ(got[i].shape(), want[i].shape()) << what << " " << i;
      EXPECT_TRUE(got[i].allclose(want[i], 1e-10, 1e-12).item<bool>()) << what << " " << i << ": " << got[i].str() << " vs "
                                                           << want[i].str();
    }
  }
};

TD_DEVICE_TEST(FunctionalTest, MatchesPyTorch) {
  std::ifstream in(fixture_dir() + "/autograd/functional.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json data = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& c : data.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    const F::Function& fn = functions().at(name);
    const Tensors inputs = list(c.at("inputs")), v_out = list(c.at("v_out")), v_in = list(c.at("v_in"));
    F::Product vjp = F::vjp(fn, inputs, v_out);
    expect_close(vjp.outputs, list(c.at("outputs")), "outputs");
    expect_close(vjp.product, list(c.at("vjp")), "vjp");
    expect_close(F::jvp(fn, inputs, v_in).product, list(c.at("jvp")), "jvp");
    const auto jac = F::jacobian(fn, inputs);
    ASSERT_EQ(jac.size(), c.at("jacobian").size());
    for (size_t i = 0; i < jac.size(); ++i) expect_close(jac[i], list(c.at("jacobian")[i]), "jacobian row");
    if (c.contains("hessian")) {
      const F::ScalarFunction f1 = [&](const Tensors& a) { return fn(a)[0]; };
      const auto hess = F::hessian(f1, inputs);
      ASSERT_EQ(hess.size(), c.at("hessian").size());
      for (size_t i = 0; i < hess.size(); ++i) expect_close(hess[i], list(c.at("hessian")[i]), "hessian row");
      expect_close(F::vhp(f1, inputs, v_in).product, list(c.at("vhp")), "vhp");
      expect_close(F::hvp(f1, inputs, v_in).product, list(c.at("hvp")), "hvp");
    }
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TD_DEVICE_TEST(FunctionalTest, StrictModeAndUnusedInputs) {
  const F::Function& fn = functions().at("ignores_y");
  const Tensors inputs = {tensor(std::vector<double>{1, 2, 3}, {3}, device_), tensor(std::vector<double>{4, 5}, {2}, device_)};
  // Not strict: the unused input's entries are zeros.
  const auto jac = F::jacobian(fn, inputs);
  EXPECT_THAT(jac[0][1].shape(), ::testing::ElementsAre(3, 2));
  EXPECT_EQ(jac[0][1].abs().sum().item<double>(), 0.0);
  EXPECT_THAT(F::vjp(fn, inputs, {tensor(std::vector<double>{1, 1, 1}, {3}, device_)}).product[1].to_vector<double>(),
              ::testing::ElementsAre(0, 0));
  // Strict: PyTorch's messages.
  EXPECT_THAT(testing::error_of([&] { (void)F::jacobian(fn, inputs, false, true); }).what(),
              HasSubstr("Output 0 of the user-provided function is independent of input 1. This is not allowed in "
                        "strict mode."));
  EXPECT_THAT(testing::error_of([&] {
                (void)F::vjp(fn, inputs, {tensor(std::vector<double>{1, 1, 1}, {3}, device_)}, false, true);
              }).what(),
              HasSubstr("The output of the user-provided function is independent of input 1."));
}

TD_DEVICE_TEST(FunctionalTest, CreateGraphGivesDifferentiableResultsAndBadVIsRefused) {
  Tensor x = tensor(std::vector<double>{0.5, -1.5}, {2}, device_).requires_grad_();
  const F::ScalarFunction f = [](const Tensors& a) { return a[0].pow(3.0).sum(); };
  // hvp with create_graph: H v = 6 x * v, differentiable in x.
  const Tensor v = tensor(std::vector<double>{1, 2}, {2}, device_);
  F::Product hv = F::hvp(f, {x}, {v}, /*create_graph=*/true);
  EXPECT_THAT(hv.product[0].to_vector<double>(), ::testing::ElementsAre(3, -18));
  hv.product[0].sum().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ::testing::ElementsAre(6, 12));  // d(6 x v)/dx = 6 v
  // Without it, plain tensors.
  EXPECT_FALSE(F::hvp(f, {x}, {v}).product[0].requires_grad());
  // v of the wrong shape or count; no v for a non-scalar.
  const F::Function g = [](const Tensors& a) { return Tensors{a[0].mul(2.0)}; };
  EXPECT_THAT(testing::error_of([&] { (void)F::vjp(g, {x}, {tensor(std::vector<double>{1, 2, 3}, {3}, device_)}); }).what(),
              HasSubstr("Entry 0 in v has invalid size: should be [2] but got [3]."));
  EXPECT_THAT(testing::error_of([&] { (void)F::jvp(g, {x}, {v, v}); }).what(),
              HasSubstr("v is a tuple of invalid length: should be 1 but got 2."));
  EXPECT_THAT(testing::error_of([&] { (void)F::vjp(g, {x}); }).what(),
              HasSubstr("The vector v can only be None if the user-provided function returns a single Tensor with a "
                        "single element."));
  EXPECT_THAT(testing::error_of([&] { (void)F::hessian([](const Tensors& a) { return a[0].mul(2.0); }, {x}); }).what(),
              HasSubstr("should contain a single element"));
}

TD_INSTANTIATE_DEVICES(FunctionalTest);

}  // namespace
}  // namespace td
