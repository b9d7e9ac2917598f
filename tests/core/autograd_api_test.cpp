// The torch.autograd API around the engine: autograd::grad, post-accumulate-grad hooks, inference mode,
// anomaly detection and custom functions (autograd::Function<T>), with PyTorch's semantics and messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/autograd.h"
#include "core/autograd/function.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using autograd::AutogradContext;
using autograd::tensor_list;
using ::testing::ElementsAre;
using testing::error_of;
using ::testing::FloatEq;
using ::testing::HasSubstr;

constexpr const char* kUnused =
    "One of the differentiated Tensors appears to not have been used in the graph. Set allow_unused=True if "
    "this "
    "is the desired behavior.";
constexpr const char* kFreed = "Trying to backward through the graph a second time";

class AutogradApiTest : public testing::DeviceTest {
 protected:
  Tensor leaf(const std::vector<float>& v, std::vector<int64_t> shape) const {
    return make(v, std::move(shape)).requires_grad_();
  }
  Tensor leaf64(const std::vector<double>& v, std::vector<int64_t> shape) const {
    return make64(v, std::move(shape)).requires_grad_();
  }
};

// ---- autograd::grad ----

TD_DEVICE_TEST(AutogradApiTest, GradReturnsGradientsAndLeavesDotGradAlone) {
  Tensor x = leaf({1, 2, 3}, {3}), y = leaf({4, 5, 6}, {3});
  // L = sum(x*y + x): dL/dx = y + 1, dL/dy = x.
  Tensor loss = x.mul(y).add(x).sum();
  std::vector<Tensor> g = autograd::grad({loss}, {x, y});
  ASSERT_EQ(g.size(), 2u);
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(5, 6, 7));
  EXPECT_THAT(g[1].to_vector<float>(), ElementsAre(1, 2, 3));
  EXPECT_FALSE(g[0].requires_grad());
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(y.grad().defined());
  // A non-leaf that retains its grad still gets it on the way (PyTorch 2.x runs retain_grad as a hook).
  Tensor m = x.mul(2);
  m.retain_grad();
  g = autograd::grad({m.mul(m).sum()}, {x});
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(8, 16, 24));  // d sum(4x^2)/dx = 8x
  EXPECT_THAT(m.grad().to_vector<float>(), ElementsAre(4, 8, 12));  // 2m
  EXPECT_FALSE(x.grad().defined());
  // The same input twice gets its gradient twice; an output as its own input gets the seed.
  Tensor h = x.mul(x);
  g = autograd::grad({h}, {x, h, x}, {make({1, 1, 1}, {3})});
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(2, 4, 6));
  EXPECT_THAT(g[1].to_vector<float>(), ElementsAre(1, 1, 1));
  EXPECT_THAT(g[2].to_vector<float>(), ElementsAre(2, 4, 6));
}

// backward(inputs=...): only the named tensors get .grad (a non-leaf one too), their hooks run once, and a
// second call accumulates.
TD_DEVICE_TEST(AutogradApiTest, BackwardWithInputsAccumulatesOnlyIntoThem) {
  Tensor x = leaf({1, 2, 3}, {3}), y = leaf({4, 5, 6}, {3});
  int hook_calls = 0;
  x.register_hook([&](const Tensor&) {
    ++hook_calls;
    return Tensor();
  });
  Tensor h = x.mul(y);
  Tensor out = h.mul(2).sum();
  out.backward(Tensor(), /*retain_graph=*/true, false, {x});
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(8, 10, 12));  // d(2 x y)/dx = 2y
  EXPECT_FALSE(y.grad().defined());
  EXPECT_EQ(hook_calls, 1);
  out.backward(Tensor(), true, false, {h});
  EXPECT_THAT(h.grad().to_vector<float>(), ElementsAre(2, 2, 2));
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(8, 10, 12));  // x was not asked for this time
  EXPECT_EQ(hook_calls, 1);
  autograd::backward({out}, {}, std::nullopt, false, {x, y});
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(16, 20, 24));
  EXPECT_THAT(y.grad().to_vector<float>(), ElementsAre(2, 4, 6));
  Error e = error_of([&] { out.backward(Tensor(), true, false, {ones({3})}); });
  EXPECT_THAT(e.what(), HasSubstr("[backward] One of the differentiated Tensors does not require grad"));
}

TD_DEVICE_TEST(AutogradApiTest, GradOfCubeTwiceGivesSecondDerivative) {
  Tensor x = leaf64({1, 2, -3}, {3});
  // y = sum(x^3): dy/dx = 3x^2, d(sum 3x^2)/dx = 6x, d(sum 6x)/dx = 6.
  Tensor y = x.pow(3).sum();
  Tensor g1 = autograd::grad({y}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  EXPECT_THAT(g1.to_vector<double>(), ElementsAre(3, 12, 27));
  EXPECT_TRUE(g1.requires_grad());
  Tensor g2 = autograd::grad({g1.sum()}, {x}, {}, std::nullopt, true)[0];
  EXPECT_THAT(g2.to_vector<double>(), ElementsAre(6, 12, -18));
  Tensor g3 = autograd::grad({g2.sum()}, {x})[0];
  EXPECT_THAT(g3.to_vector<double>(), ElementsAre(6, 6, 6));
  EXPECT_FALSE(g3.requires_grad());
  EXPECT_FALSE(x.grad().defined());
}

TD_DEVICE_TEST(AutogradApiTest, GradWeightsNonScalarOutputsByGradOutputs) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x.mul(x), z = x.mul(3);
  // d/dx (v . x^2 + w . 3x) = 2 v x + 3 w.
  std::vector<Tensor> g = autograd::grad({y, z}, {x}, {make({1, 10}, {2}), make({1, 1}, {2})});
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(5, 43));
  Error e = error_of([&] { autograd::grad({y}, {x}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("[grad] grad can be implicitly created only for scalar outputs"));
  e = error_of([&] { autograd::grad({y}, {x}, {make({1, 1, 1}, {3})}); });
  EXPECT_THAT(
      e.what(),
      HasSubstr("Mismatch in shape: grad_output[0] has a shape of [3] and output[0] has a shape of [2]"));
}

TD_DEVICE_TEST(AutogradApiTest, GradErrorsOnUnusedAndNonDifferentiableInputs) {
  Tensor x = leaf({1, 2}, {2}), unused = leaf({3, 4}, {2});
  Tensor loss = x.mul(x).sum();
  Error e = error_of([&] { autograd::grad({loss}, {x, unused}, {}, true); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(), HasSubstr(kUnused));
  std::vector<Tensor> g = autograd::grad({loss}, {x, unused}, {}, true, false, /*allow_unused=*/true);
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(2, 4));
  EXPECT_FALSE(g[1].defined());
  Tensor plain = make({1, 2}, {2});
  e = error_of([&] { autograd::grad({loss}, {plain}); });
  EXPECT_THAT(e.what(), HasSubstr("[grad] One of the differentiated Tensors does not require grad"));
  e = error_of([&] { autograd::grad({plain.sum()}, {x}); });
  EXPECT_THAT(e.what(), HasSubstr("element 0 of tensors does not require grad and does not have a grad_fn"));
}

TD_DEVICE_TEST(AutogradApiTest, GradRunsOnlyThePartOfTheGraphItNeeds) {
  Tensor x = leaf({1, 2}, {2}), w = leaf({0, 1}, {2});
  Tensor a = x.mul(x);  // MulBackward0 saves x: freed once grad walks it without retain_graph
  Tensor b = w.exp();   // ExpBackward0 saves its output
  int b_hooks = 0, w_hooks = 0, a_hooks = 0;
  b.register_hook([&](const Tensor&) {
    ++b_hooks;
    return Tensor();
  });
  w.register_hook([&](const Tensor&) {
    ++w_hooks;
    return Tensor();
  });
  a.register_hook([&](const Tensor&) {
    ++a_hooks;
    return Tensor();
  });
  Tensor loss = a.add(b).sum();
  std::vector<Tensor> g = autograd::grad({loss}, {x});
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(2, 4));
  // The branch to w never ran: not its hooks, and not its node, whose saved output is still there.
  EXPECT_EQ(a_hooks, 1);
  EXPECT_EQ(b_hooks, 0);
  EXPECT_EQ(w_hooks, 0);
  g = autograd::grad({loss}, {w});
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(1, FloatEq(std::exp(1.0f))));
  EXPECT_EQ(b_hooks, 1);
  EXPECT_EQ(w_hooks, 1);
  // The x branch was freed by the first call (retain_graph defaults to create_graph = false).
  Error e = error_of([&] { autograd::grad({loss}, {x}); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(), HasSubstr(kFreed));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TD_DEVICE_TEST(AutogradApiTest, GradRunsTheInputsOwnHooks) {
  Tensor x = leaf({1, 2}, {2});
  Tensor h = x.mul(2);
  int h_calls = 0, x_calls = 0, post_calls = 0;
  // A non-leaf input's hook replaces the gradient grad returns, as in PyTorch 2.x.
  h.register_hook([&](const Tensor& g) {
    ++h_calls;
    return g.mul(10);
  });
  x.register_hook([&](const Tensor& g) {
    ++x_calls;
    return g.mul(3);
  });
  x.register_post_accumulate_grad_hook([&](Tensor&) { ++post_calls; });
  Tensor loss = h.sum();
  std::vector<Tensor> g = autograd::grad({loss}, {h}, {}, true);
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(10, 10));
  EXPECT_EQ(h_calls, 1);
  EXPECT_EQ(x_calls, 0);
  // d loss/dx = 2 (from h) * 10 (h's hook) * 3 (x's hook): the leaf's hooks run, its accumulator does not.
  g = autograd::grad({loss}, {x});
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(60, 60));
  EXPECT_EQ(h_calls, 2);
  EXPECT_EQ(x_calls, 1);
  EXPECT_EQ(post_calls, 0);
  EXPECT_FALSE(x.grad().defined());
}

// ---- register_post_accumulate_grad_hook ----

TD_DEVICE_TEST(AutogradApiTest, PostAccumulateGradHookSeesTheAccumulatedGrad) {
  Tensor x = leaf({1, 2}, {2});
  std::vector<std::vector<float>> seen;
  x.register_hook([](const Tensor& g) { return g.mul(2); });  // tensor hooks run before accumulation
  HookHandle handle = x.register_post_accumulate_grad_hook(
      [&](Tensor& leaf) { seen.push_back(leaf.grad().to_vector<float>()); });
  // d sum(x^2)/dx = 2x, doubled by the tensor hook: 4x; accumulated twice.
  x.mul(x).sum().backward();
  x.mul(x).sum().backward();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_THAT(seen[0], ElementsAre(4, 8));
  EXPECT_THAT(seen[1], ElementsAre(8, 16));
  handle.remove();
  x.sum().backward();
  EXPECT_EQ(seen.size(), 2u);
  // The hook may consume the gradient (an optimizer step in the hook), leaving no .grad behind.
  Tensor w = leaf({1, 1}, {2});
  w.register_post_accumulate_grad_hook([](Tensor& leaf) { leaf.set_grad(Tensor()); });
  w.mul(3).sum().backward();
  EXPECT_FALSE(w.grad().defined());
}

TD_DEVICE_TEST(AutogradApiTest, PostAccumulateGradHookOnlyOnLeaves) {
  Tensor x = leaf({1, 2}, {2});
  Error e = error_of([&] { x.mul(2).register_post_accumulate_grad_hook([](Tensor&) {}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("post accumulate grad hooks cannot be registered on non-leaf tensors"));
  e = error_of([&] { make({1}, {1}).register_post_accumulate_grad_hook([](Tensor&) {}); });
  EXPECT_THAT(e.what(), HasSubstr("cannot register a hook on a tensor that doesn't require gradient"));
}

// ---- InferenceMode ----

TD_DEVICE_TEST(AutogradApiTest, InferenceModeMakesInferenceTensorsWithGradOff) {
  Tensor w = leaf({1, 2}, {2});
  Tensor out, view_of_normal;
  {
    autograd::InferenceMode guard;
    EXPECT_TRUE(autograd::InferenceMode::is_enabled());
    EXPECT_FALSE(autograd::GradMode::is_enabled());
    out = w.mul(2);
    view_of_normal = w.view({2, 1});
    {
      autograd::InferenceMode off(false);
      EXPECT_FALSE(autograd::InferenceMode::is_enabled());
      EXPECT_TRUE(autograd::GradMode::is_enabled());
      EXPECT_FALSE(make({1}, {1}).is_inference());
    }
    EXPECT_TRUE(make({1}, {1}).is_inference());
  }
  EXPECT_FALSE(autograd::InferenceMode::is_enabled());
  EXPECT_TRUE(autograd::GradMode::is_enabled());
  EXPECT_TRUE(out.is_inference());
  EXPECT_FALSE(out.requires_grad());
  EXPECT_THAT(out.to_vector<float>(), ElementsAre(2, 4));
  EXPECT_TRUE(out.view({1, 2}).is_inference());  // views of an inference tensor are inference tensors
  EXPECT_FALSE(view_of_normal.is_inference());   // a view of a normal tensor stays normal
  EXPECT_FALSE(w.is_inference());
  EXPECT_FALSE(out.clone().is_inference());
}

TD_DEVICE_TEST(AutogradApiTest, InferenceTensorsCannotBeSavedForBackward) {
  Tensor inf;
  {
    autograd::InferenceMode guard;
    inf = make({1, 2}, {2});
  }
  Tensor w = leaf({3, 4}, {2});
  Error e = error_of([&] { w.mul(inf); });  // mul saves both operands
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(),
              HasSubstr("[mul] Inference tensors cannot be saved for backward. To work around you can make "
                        "a clone to get a normal tensor and use it in autograd."));
  // add saves neither, so it may take one (as in PyTorch); a clone is a normal tensor.
  w.add(inf).sum().backward();
  EXPECT_THAT(w.grad().to_vector<float>(), ElementsAre(1, 1));
  w.mul(inf.clone()).sum().backward();
  EXPECT_THAT(w.grad().to_vector<float>(), ElementsAre(2, 3));
  // Without grad mode nothing is saved.
  autograd::NoGradGuard no_grad;
  EXPECT_THAT(w.mul(inf).to_vector<float>(), ElementsAre(3, 8));
  e = error_of([&] { inf.requires_grad_(); });
  EXPECT_THAT(
      e.what(),
      HasSubstr("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed."));
}

TD_DEVICE_TEST(AutogradApiTest, InferenceTensorsAreUpdatedInPlaceOnlyInsideInferenceMode) {
  Tensor inf, normal = make({1, 2}, {2});
  {
    autograd::InferenceMode guard;
    inf = make({1, 2}, {2});
    inf.add_(1);
    // Inference tensors have no version counter; normal tensors keep counting, as in PyTorch.
    EXPECT_EQ(inf.version(), 0u);
    normal.add_(1);
    EXPECT_EQ(normal.version(), 1u);
  }
  EXPECT_THAT(inf.to_vector<float>(), ElementsAre(2, 3));
  const char* message =
      "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a "
      "normal "
      "tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details.";
  Error e = error_of([&] { inf.mul_(2); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(), HasSubstr(std::string("[mul_] ") + message));
  EXPECT_THAT(error_of([&] { inf.view({2, 1}).zero_(); }).what(), HasSubstr(message));
  EXPECT_THAT(error_of([&] { call_op("exp.out", {normal, inf}); }).what(), HasSubstr(message));
  EXPECT_THAT(inf.to_vector<float>(), ElementsAre(2, 3));  // refused before writing
  Tensor copy = inf.clone();
  copy.mul_(2);
  EXPECT_THAT(copy.to_vector<float>(), ElementsAre(4, 6));
}

// ---- anomaly mode ----

TD_DEVICE_TEST(AutogradApiTest, AnomalyModeNamesTheNodeThatReturnedNan) {
  EXPECT_FALSE(autograd::is_anomaly_enabled());
  Tensor a = leaf({0}, {}), b = make({0}, {});
  {
    autograd::DetectAnomalyGuard guard;
    EXPECT_TRUE(autograd::is_anomaly_enabled());
    // (a / b) * 0 at a = b = 0: MulBackward0 passes 0 on, and DivBackward0's d/da = 0 / b = 0/0 = nan.
    Tensor loss = a.div(b).mul(0);
    Error e = error_of([&] { loss.backward(); });
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(e.what(),
                HasSubstr("[backward] Function 'DivBackward0' returned nan values in its 0th output.\n"
                          "DivBackward0 was recorded by the forward op div with input shapes [] and []."));
    // sqrt at 0: d sqrt(x)/dx = 1/(2 sqrt(x)) = inf is not an anomaly; 0 * inf = nan is.
    Tensor x = leaf({0, 4}, {2});
    x.sqrt().sum().backward();
    EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(std::numeric_limits<float>::infinity(), 0.25f));
    e = error_of([&] { autograd::grad({x.sqrt().mul(make({0, 1}, {2})).sum()}, {x}); });
    EXPECT_THAT(e.what(),
                HasSubstr("[grad] Function 'SqrtBackward0' returned nan values in its 0th output."));
    EXPECT_THAT(e.what(), HasSubstr("recorded by the forward op sqrt with input shapes [2]."));
    // Other errors inside a node's backward name the forward op too.
    Tensor y = leaf({1, 2}, {2});
    Tensor prod = y.mul(y);
    y.detach().add_(1);
    e = error_of([&] { prod.sum().backward(); });
    EXPECT_THAT(e.what(), HasSubstr("modified by an inplace operation"));
    EXPECT_THAT(e.what(),
                HasSubstr("MulBackward0 was recorded by the forward op mul with input shapes [2] and [2]."));
  }
  EXPECT_FALSE(autograd::is_anomaly_enabled());
  // Off, NaN gradients flow through silently, as in PyTorch.
  Tensor loss = a.div(b).mul(0);
  loss.backward();
  EXPECT_TRUE(std::isnan(a.grad().item<float>()));
  // A graph recorded with anomaly mode off has no forward op to name.
  Tensor c = leaf({0}, {});
  Tensor unrecorded = c.div(b).mul(0);
  autograd::set_detect_anomaly(true);
  EXPECT_TRUE(autograd::is_anomaly_enabled());
  Error e = error_of([&] { unrecorded.backward(); });
  autograd::set_detect_anomaly(false);
  EXPECT_FALSE(autograd::is_anomaly_enabled());
  EXPECT_THAT(e.what(),
              HasSubstr("Function 'DivBackward0' returned nan values in its 0th output.\nDivBackward0 was "
                        "recorded with anomaly detection off, so its forward op is unknown."));
}

// ---- custom functions ----

// y = k x with a number argument: backward returns no gradient for k.
struct MulConst : autograd::Function<MulConst> {
  static Tensor forward(AutogradContext* ctx, Tensor x, double k) {
    EXPECT_FALSE(autograd::GradMode::is_enabled());  // forward runs with grad off
    ctx->saved_data["k"] = Scalar(k);
    return x.mul(k);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    double k = std::get<Scalar>(ctx->saved_data["k"]).to_double();
    return {g[0].mul(k), Tensor()};
  }
};

// y = x^3, saving the input: its backward is itself differentiable.
struct Cube : autograd::Function<Cube> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    ctx->save_for_backward({x});
    return x.mul(x).mul(x);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    Tensor x = ctx->get_saved_variables()[0];
    return {g[0].mul(x).mul(x).mul(3)};
  }
  // Forward mode (gradcheck checks it too): 3 x^2 t.
  static Tensor jvp(AutogradContext* ctx, tensor_list t) {
    Tensor x = ctx->get_saved_variables()[0];
    return t[0].mul(x).mul(x).mul(3);
  }
};

// y = exp(x), saving its output: double backward rebuilds the output's history.
struct Exp : autograd::Function<Exp> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    Tensor y = x.exp();
    ctx->save_for_backward({y});
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    return {g[0].mul(ctx->get_saved_variables()[0])};
  }
  static Tensor jvp(AutogradContext* ctx, tensor_list t) { return t[0].mul(ctx->get_saved_variables()[0]); }
};

// Two outputs as a tuple: (sin x, x * y).
struct SinAndProduct : autograd::Function<SinAndProduct> {
  static inline std::vector<bool> needs;  // needs_input_grad as backward last saw it
  static std::tuple<Tensor, Tensor> forward(AutogradContext* ctx, Tensor x, Tensor y) {
    ctx->save_for_backward({x, y});
    return {x.sin(), x.mul(y)};
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    tensor_list s = ctx->get_saved_variables();
    Tensor gx = g[0].mul(s[0].cos()).add(g[1].mul(s[1]));
    needs = {ctx->needs_input_grad(0), ctx->needs_input_grad(1)};
    return {ctx->needs_input_grad(0) ? gx : Tensor(), ctx->needs_input_grad(1) ? g[1].mul(s[0]) : Tensor()};
  }
  static std::tuple<Tensor, Tensor> jvp(AutogradContext* ctx, tensor_list t) {
    tensor_list s = ctx->get_saved_variables();
    return {t[0].mul(s[0].cos()), t[0].mul(s[1]).add(s[0].mul(t[1]))};
  }
};

TD_DEVICE_TEST(AutogradApiTest, CustomFunctionMatchesHandComputation) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = MulConst::apply(x, 2.5);
  EXPECT_EQ(y.grad_fn_name(), "MulConstBackward");
  EXPECT_THAT(y.to_vector<float>(), ElementsAre(2.5, 5, 7.5));
  // d sum(k x * x)/dx = 2 k x.
  y.mul(x).sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(5, 10, 15));
  // No input requires grad, or grad mode is off: a plain result.
  EXPECT_FALSE(MulConst::apply(make({1}, {1}), 2.0).requires_grad());
  autograd::NoGradGuard no_grad;
  EXPECT_FALSE(MulConst::apply(x, 2.0).requires_grad());
}

TD_DEVICE_TEST(AutogradApiTest, CustomFunctionGradcheckAndDoubleBackward) {
  Tensor x = leaf64({0.5, -1.5, 2}, {3}), y = leaf64({0.3, 0.7, -1.1}, {3});
  auto cube = [](const std::vector<Tensor>& in) { return Cube::apply(in[0]); };
  auto exp = [](const std::vector<Tensor>& in) { return Exp::apply(in[0]); };
  auto two_outputs = [](const std::vector<Tensor>& in) {
    auto [s, p] = SinAndProduct::apply(in[0], in[1]);
    return s.mul(p).add(p);
  };
  EXPECT_TRUE(autograd::gradcheck(cube, {x}).ok);
  EXPECT_TRUE(autograd::gradgradcheck(cube, {x}).ok);
  EXPECT_TRUE(autograd::gradcheck(exp, {x}).ok);
  EXPECT_TRUE(autograd::gradgradcheck(exp, {x}).ok);
  auto r = autograd::gradcheck(two_outputs, {x, y});
  EXPECT_TRUE(r.ok) << r.message;
  r = autograd::gradgradcheck(two_outputs, {x, y});
  EXPECT_TRUE(r.ok) << r.message;
  // By hand: d^2(x^3)/dx^2 = 6x through the custom backward.
  Tensor g = autograd::grad({Cube::apply(x).sum()}, {x}, {}, std::nullopt, true)[0];
  EXPECT_THAT(g.to_vector<double>(), ElementsAre(0.75, 6.75, 12));
  EXPECT_THAT(autograd::grad({g.sum()}, {x})[0].to_vector<double>(), ElementsAre(3, -9, 12));
}

// Several outputs as a tensor_list, one marked non-differentiable.
struct SplitSign : autograd::Function<SplitSign> {
  static inline int calls = 0;
  static inline bool last_grad1_defined = false;
  static tensor_list forward(AutogradContext* ctx, Tensor x, bool materialize) {
    Tensor positive = x.gt(0).to(x.dtype());
    ctx->mark_non_differentiable({positive});
    ctx->set_materialize_grads(materialize);
    return {x.mul(2), positive, x.mul(3)};
  }
  static tensor_list backward(AutogradContext*, tensor_list g) {
    ++calls;
    last_grad1_defined = g[2].defined();
    Tensor gx = g[0].mul(2);
    if (g[2].defined()) gx = gx.add(g[2].mul(3));
    return {gx, Tensor()};
  }
};

TD_DEVICE_TEST(AutogradApiTest, CustomFunctionSeveralOutputsAndMaterializedGrads) {
  Tensor x = leaf({-1, 2}, {2});
  tensor_list out = SplitSign::apply(x, true);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].requires_grad());
  EXPECT_FALSE(out[1].requires_grad());
  EXPECT_THAT(out[1].to_vector<float>(), ElementsAre(0, 1));
  EXPECT_EQ(out[2].grad_fn_name(), "SplitSignBackward");
  out[0].sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(2, 2));
  EXPECT_TRUE(SplitSign::last_grad1_defined);  // zeros for the unused output
  x.set_grad(Tensor());
  out = SplitSign::apply(x, false);
  out[0].sum().backward();
  EXPECT_FALSE(SplitSign::last_grad1_defined);  // undefined with set_materialize_grads(false)
  out[0].add(out[2]).sum().backward(Tensor(), true);
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(7, 7));
}

// Records needs_input_grad as forward sees it.
struct Probe : autograd::Function<Probe> {
  static inline std::vector<bool> seen;
  static Tensor forward(AutogradContext* ctx, Tensor a, Tensor b) {
    seen = {ctx->needs_input_grad(0), ctx->needs_input_grad(1)};
    return a.add(b);
  }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0], g[0]}; }
};

TD_DEVICE_TEST(AutogradApiTest, CustomFunctionNeedsInputGrad) {
  Tensor x = leaf({1, 2}, {2}), y = leaf({3, 4}, {2});
  auto [s, p] = SinAndProduct::apply(x, y);
  // grad w.r.t. x only: backward is told y's gradient is not needed (and its graph does not run).
  Tensor loss = s.add(p).sum();
  std::vector<Tensor> g = autograd::grad({loss}, {x}, {}, true);
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(FloatEq(std::cos(1.f) + 3), FloatEq(std::cos(2.f) + 4)));
  EXPECT_THAT(SinAndProduct::needs, ElementsAre(true, false));
  g = autograd::grad({loss}, {y});
  EXPECT_THAT(g[0].to_vector<float>(), ElementsAre(1, 2));
  EXPECT_THAT(SinAndProduct::needs, ElementsAre(false, true));
  // An input that does not require grad has no edge: needs_input_grad is false for it in forward too.
  Probe::apply(x, make({1, 1}, {2})).sum().backward();
  EXPECT_THAT(Probe::seen, ElementsAre(true, false));
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(1, 1));
}

// Saves its second input.
struct SaveOther : autograd::Function<SaveOther> {
  static Tensor forward(AutogradContext* ctx, Tensor a, Tensor b) {
    ctx->save_for_backward({b});
    return a.mul(b);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    return {g[0].mul(ctx->get_saved_variables()[0]), Tensor()};
  }
};

TD_DEVICE_TEST(AutogradApiTest, CustomFunctionChecksSavedTensors) {
  // Modified in place after it was saved: PyTorch's version error, naming the custom node.
  Tensor x = leaf({1, 2}, {2});
  Tensor h = x.mul(1);
  Tensor y = Cube::apply(h);
  h.add_(1);
  Error e = error_of([&] { y.sum().backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(),
              HasSubstr("[CubeBackward] one of the variables needed for gradient computation has been "
                        "modified by an inplace operation: [float32 [2]], which is output 0 of "
                        "MulBackward0, is at version 1; expected version 0 instead."));
  // Read again after a backward freed them.
  Tensor z = Cube::apply(x);
  Tensor loss = z.sum();
  loss.backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(3, 12));
  e = error_of([&] { loss.backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(), HasSubstr(kFreed));
  // With retain_graph they stay.
  Tensor kept = Cube::apply(x).sum();
  kept.backward(Tensor(), true);
  kept.backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(9, 36));
  // Inference tensors cannot be saved.
  Tensor inf;
  {
    autograd::InferenceMode guard;
    inf = make({1, 2}, {2});
  }
  e = error_of([&] { SaveOther::apply(x, inf); });
  EXPECT_THAT(e.what(), HasSubstr("Inference tensors cannot be saved for backward."));
}

// Doubles x in place and returns it (mark_dirty).
struct DoubleInPlace : autograd::Function<DoubleInPlace> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    x.mul_(2);
    ctx->mark_dirty({x});
    return x;
  }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0].mul(2)}; }
};

// Returns its input unchanged.
struct Identity : autograd::Function<Identity> {
  static Tensor forward(AutogradContext*, Tensor x) { return x; }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0]}; }
};

TD_DEVICE_TEST(AutogradApiTest, CustomFunctionDirtyAndAliasedOutputs) {
  Tensor x = leaf({1, 2}, {2});
  Tensor h = x.mul(3);
  uint32_t before = h.version();
  Tensor out = DoubleInPlace::apply(h);
  EXPECT_TRUE(out.is_same(h));  // the modified input itself, now the node's output
  EXPECT_EQ(h.grad_fn_name(), "DoubleInPlaceBackward");
  EXPECT_GT(h.version(), before);
  EXPECT_THAT(h.to_vector<float>(), ElementsAre(6, 12));
  h.sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(6, 6));  // 3 * 2
  Error e = error_of([&] { DoubleInPlace::apply(leaf({1}, {1})); });
  EXPECT_THAT(e.what(),
              HasSubstr("a leaf Variable that requires grad has been used in an in-place operation."));
  // An input returned as is comes back as a new tensor with the function's history; the input keeps its own.
  Tensor a = leaf({5, 6}, {2});
  Tensor same = Identity::apply(a);
  EXPECT_FALSE(same.is_same(a));
  EXPECT_TRUE(a.is_leaf());
  EXPECT_EQ(same.grad_fn_name(), "IdentityBackward");
  same.sum().backward();
  EXPECT_THAT(a.grad().to_vector<float>(), ElementsAre(1, 1));
}

struct WrongCount : autograd::Function<WrongCount> {
  static Tensor forward(AutogradContext*, Tensor x, double) { return x.mul(1); }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0]}; }
};
struct GradForNumber : autograd::Function<GradForNumber> {
  static Tensor forward(AutogradContext*, Tensor x, double) { return x.mul(1); }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0], g[0]}; }
};
struct WrongShape : autograd::Function<WrongShape> {
  static Tensor forward(AutogradContext*, Tensor x) { return x.sum(); }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0]}; }
};

TD_DEVICE_TEST(AutogradApiTest, CustomFunctionBackwardResultsAreChecked) {
  Tensor x = leaf({1, 2}, {2});
  Error e = error_of([&] { WrongCount::apply(x, 1.0).sum().backward(); });
  EXPECT_THAT(
      e.what(),
      HasSubstr("function WrongCountBackward returned an incorrect number of gradients (expected 2, got 1)"));
  e = error_of([&] { GradForNumber::apply(x, 1.0).sum().backward(); });
  EXPECT_THAT(e.what(),
              HasSubstr("returned a gradient different that is defined at position 2, but the corresponding "
                        "forward input was not a Variable"));
  e = error_of([&] { WrongShape::apply(x).backward(); });
  EXPECT_THAT(e.what(),
              HasSubstr("Function WrongShapeBackward returned an invalid gradient at index 0 - got [] but "
                        "expected shape compatible with [2]"));
}

// A tensor_list argument: each element is one input, with one gradient each.
struct WeightedSum : autograd::Function<WeightedSum> {
  static Tensor forward(AutogradContext*, tensor_list xs, double w) { return xs[0].add(xs[1].mul(w)); }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0], g[0].mul(4), Tensor()}; }
};

TD_DEVICE_TEST(AutogradApiTest, CustomFunctionTensorListArgumentAndAnomaly) {
  Tensor a = leaf({1, 2}, {2}), b = leaf({3, 4}, {2});
  Tensor y = WeightedSum::apply(tensor_list{a, b}, 4.0);
  EXPECT_THAT(y.to_vector<float>(), ElementsAre(13, 18));
  y.sum().backward();
  EXPECT_THAT(a.grad().to_vector<float>(), ElementsAre(1, 1));
  EXPECT_THAT(b.grad().to_vector<float>(), ElementsAre(4, 4));
  // Anomaly mode names a custom function by its class.
  autograd::DetectAnomalyGuard guard;
  Tensor zero = leaf({0}, {});
  Error e = error_of([&] { Cube::apply(zero.sqrt()).backward(); });
  EXPECT_THAT(e.what(), HasSubstr("Function 'SqrtBackward0' returned nan values in its 0th output."));
  Tensor nan_in = make({std::nanf("")}, {});
  e = error_of([&] {
    WeightedSum::apply(tensor_list{leaf({1}, {}), nan_in.requires_grad_()}, 1.0)
        .backward(make({std::nanf("")}, {}));
  });
  EXPECT_THAT(e.what(),
              HasSubstr("Function 'WeightedSumBackward' returned nan values in its 0th output.\n"
                        "WeightedSumBackward was recorded by the forward op WeightedSum with input shapes "
                        "[] and []."));
}

TD_INSTANTIATE_DEVICES(AutogradApiTest);

}  // namespace
}  // namespace td
