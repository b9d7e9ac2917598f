// Forward-mode AD (torch.autograd.forward_ad): dual levels, make_dual/unpack_dual with PyTorch's errors,
// tangents through linear ops, explicit formulas and the transposed backward formulas, views and in-place
// writes, custom functions, and forward mode mixed with reverse mode. Every gradcheck in the suite also
// checks forward mode against finite differences (gradcheck's check_forward_ad), and the golden fixtures
// carry PyTorch 1.13's tangents (golden_test.cpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "core/autograd/autograd.h"
#include "core/autograd/forward_ad.h"
#include "core/autograd/function.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/nn/functional.h"
#include "core/ops/registry.h"
#include "core/tensor.h"
#include "core/tensor_impl.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

namespace fwd = autograd::forward_ad;
namespace F = nn::functional;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pointwise;
using testing::error_of;

class ForwardAdTest : public testing::DeviceTest {};

std::vector<double> values(const Tensor& t) { return t.to(DType::kFloat64).to_vector<double>(); }

// ---- custom functions ----

struct Square : autograd::Function<Square> {
  static Tensor forward(autograd::AutogradContext* ctx, Tensor x) {
    ctx->save_for_backward({x});
    return x.mul(x);
  }
  static autograd::tensor_list backward(autograd::AutogradContext* ctx, autograd::tensor_list g) {
    return {g[0].mul(ctx->get_saved_variables()[0]).mul(2)};
  }
};

struct SquareWithJvp : Square {
  static Tensor forward(autograd::AutogradContext* ctx, Tensor x) { return Square::forward(ctx, x); }
  static Tensor jvp(autograd::AutogradContext* ctx, autograd::tensor_list t) {
    return t[0].mul(ctx->get_saved_variables()[0]).mul(2);
  }
};

// ---- levels, make_dual and unpack_dual ----

TD_DEVICE_TEST(ForwardAdTest, DualTensorsNeedAnOpenLevelAndMatchingShapes) {
  Tensor x = make64({1, 2, 3}, {3});
  EXPECT_THAT(error_of([&] { fwd::make_dual(x, x); }).what(),
              HasSubstr("Trying to create a dual Tensor for forward AD but no level exists"));
  EXPECT_EQ(error_of([&] { fwd::make_dual(x, x); }).code(), ErrorCode::kFailedPrecondition);
  fwd::DualLevel level;
  EXPECT_EQ(level.level(), 0);
  EXPECT_THAT(error_of([] { fwd::DualLevel nested; }).what(),
              HasSubstr("Nested forward mode AD is not supported at the moment"));
  EXPECT_THAT(error_of([&] { fwd::make_dual(x, make64({1, 2, 3, 4}, {4})); }).what(),
              HasSubstr("Tensor is of size [3] while the given forward gradient is of size [4]"));
  EXPECT_THAT(error_of([&] { fwd::make_dual(idx({1, 2, 3}, {3}), x); }).what(),
              HasSubstr("Expected primal to be floating point or complex, but got: int64"));
  Tensor d = fwd::make_dual(x, make64({1, 0, 0}, {3}));
  EXPECT_THAT(error_of([&] { fwd::make_dual(d, x); }).what(),
              HasSubstr("already has a forward gradient at the same level 0"));
}

TD_DEVICE_TEST(ForwardAdTest, MakeDualIsAViewOfThePrimalAndUnpackSplitsIt) {
  Tensor x = make({1, 2, 3}, {3}).requires_grad_();
  fwd::DualLevel level;
  // A float64 tangent on a float32 primal is converted to the primal's dtype.
  Tensor d = fwd::make_dual(x, make64({0.5, 1, 2}, {3}));
  EXPECT_TRUE(d.shares_storage(x));
  EXPECT_EQ(d.grad_fn_name(), "ViewBackward0");  // keeps the primal's history, as PyTorch's
  auto [primal, tangent] = fwd::unpack_dual(d);
  EXPECT_EQ(tangent.dtype(), DType::kFloat32);
  EXPECT_THAT(values(tangent), ElementsAre(0.5, 1, 2));
  EXPECT_TRUE(primal.shares_storage(x));
  EXPECT_FALSE(fwd::unpack_dual(primal).tangent.defined());
  EXPECT_FALSE(fwd::unpack_dual(x).tangent.defined());
  // detach() and integer results drop the tangent, as in PyTorch.
  EXPECT_FALSE(fwd::unpack_dual(d.detach()).tangent.defined());
  EXPECT_FALSE(fwd::unpack_dual(d.gt(1)).tangent.defined());
  EXPECT_FALSE(fwd::unpack_dual(d.argmax()).tangent.defined());
}

TD_DEVICE_TEST(ForwardAdTest, ClosingTheLevelDropsEveryTangent) {
  Tensor y;
  {
    fwd::DualLevel level;
    y = fwd::make_dual(make64({1, 2}, {2}), make64({1, 1}, {2})).mul(3);
    EXPECT_TRUE(fwd::unpack_dual(y).tangent.defined());
  }
  EXPECT_FALSE(fwd::is_active());
  EXPECT_FALSE(fwd::unpack_dual(y).tangent.defined());
  fwd::DualLevel again;
  EXPECT_FALSE(fwd::unpack_dual(y).tangent.defined());
}

TD_DEVICE_TEST(ForwardAdTest, TangentsDieWithTheirTensors) {
  // A long computation inside one level holds the tangents of live tensors only.
  fwd::DualLevel level;
  const int64_t n = 1 << 16;
  Tensor x = fwd::make_dual(zeros({n}, {DType::kFloat32, device_}), ones({n}, {DType::kFloat32, device_}));
  const int64_t before = memory_allocated(device_.type);
  for (int i = 0; i < 3; ++i) {
    Tensor y = x.mul(2).add(1);
    EXPECT_TRUE(fwd::unpack_dual(y).tangent.defined());
    EXPECT_GE(memory_allocated(device_.type), before + 2 * n * 4);  // y and its tangent
  }
  EXPECT_EQ(memory_allocated(device_.type), before);
}

TD_DEVICE_TEST(ForwardAdTest, TangentsWithAGraphDoNotKeepTheirOutputsAlive) {
  // exp's and div's rules read the output; with a primal that requires grad the tangent has a graph, which
  // must not hold the output (and with it the output's tangent) once the output is gone.
  Tensor p = zeros({1 << 14}, {DType::kFloat32, device_}).requires_grad_();
  fwd::DualLevel level;
  Tensor x = fwd::make_dual(p, ones({1 << 14}, {DType::kFloat32, device_}));
  const int64_t before = memory_allocated(device_.type);
  for (int i = 0; i < 3; ++i) {
    Tensor y = x.exp().div(x.add(2));
    EXPECT_TRUE(fwd::unpack_dual(y).tangent.requires_grad());
  }
  EXPECT_EQ(memory_allocated(device_.type), before);
}

TD_DEVICE_TEST(ForwardAdTest, ATangentCoversItsTensorsWholeStorage) {
  // The tangent of a view of a larger storage is laid out over a block as large, so a view reaching past the
  // dual tensor's own elements reads zeros, not memory past the caller's 2-element tangent.
  fwd::DualLevel level;
  Tensor big = zeros({10}, {DType::kFloat64, device_});
  Tensor d = fwd::make_dual(big.narrow(0, 0, 2), make64({1, 2}, {2}));
  EXPECT_THAT(values(fwd::unpack_dual(d.as_strided({4}, {1}, 0)).tangent), ElementsAre(1, 2, 0, 0));
}

TD_DEVICE_TEST(ForwardAdTest, AViewSeesATangentItsBaseGetsLater) {
  Tensor x = zeros({4}, {DType::kFloat64, device_});
  Tensor v = x.narrow(0, 0, 2);
  fwd::DualLevel level;
  x.copy_(fwd::make_dual(zeros({4}, {DType::kFloat64, device_}), ones({4}, {DType::kFloat64, device_})));
  EXPECT_THAT(values(fwd::unpack_dual(v).tangent), ElementsAre(1, 1));
  EXPECT_THAT(values(fwd::unpack_dual(v.mul(3)).tangent), ElementsAre(3, 3));
  v.mul_(2);  // through the view: the base's tangent changes too
  EXPECT_THAT(values(fwd::unpack_dual(x).tangent), ElementsAre(2, 2, 1, 1));
}

TD_DEVICE_TEST(ForwardAdTest, InPlaceUpdatesLeaveACallersTangentAlone) {
  // A tangent that requires grad is kept as a copy in its graph: x.mul_(2) updates x's tangent, not t, and
  // the gradient of the new tangent with respect to t is 2.
  Tensor t = make64({1, 2, 3}, {3}).requires_grad_();
  fwd::DualLevel level;
  Tensor x = fwd::make_dual(make64({4, 5, 6}, {3}), t).clone();
  x.mul_(2);
  Tensor tangent = fwd::unpack_dual(x).tangent;
  EXPECT_THAT(values(tangent), ElementsAre(2, 4, 6));
  EXPECT_THAT(values(t.detach()), ElementsAre(1, 2, 3));
  EXPECT_THAT(values(autograd::grad({tangent.sum()}, {t})[0]), ElementsAre(2, 2, 2));
  // An output whose tangent would alias an input's gets a copy: convolving a 1x1 input with a dual bias only
  // gives a tangent shaped like the bias, and updating the output in place must leave the bias's alone.
  Tensor bias = fwd::make_dual(make64({0.5, 1}, {2}), make64({3, 4}, {2}));
  Tensor y = F::conv2d(make64({1}, {1, 1, 1, 1}), make64({1, 2}, {2, 1, 1, 1}), bias);
  y.mul_(2);
  EXPECT_THAT(values(fwd::unpack_dual(y).tangent), ElementsAre(6, 8));
  EXPECT_THAT(values(fwd::unpack_dual(bias).tangent), ElementsAre(3, 4));
}

TD_DEVICE_TEST(ForwardAdTest, OutFormsAndEmbeddingFollowPyTorch) {
  fwd::DualLevel level;
  // An out= result resized to the op's shape gets a tangent of that shape.
  Tensor out = fwd::make_dual(zeros({3}, {DType::kFloat64, device_}), ones({3}, {DType::kFloat64, device_}));
  Tensor a = fwd::make_dual(make64({1}, {1}), make64({5}, {1}));
  call_op("add.out", {a, make64({2}, {1}), out});
  EXPECT_THAT(values(out), ElementsAre(3));
  EXPECT_THAT(values(fwd::unpack_dual(out).tangent), ElementsAre(5));
  // embedding's tangent is the rows of weight's tangent, the padding row included (padding_idx shapes the
  // gradient only), with grad mode on or off.
  Tensor w = make64({1, 2, 3, 4}, {2, 2}).requires_grad_();
  Tensor dual_w = fwd::make_dual(w, make64({10, 20, 30, 40}, {2, 2}));
  Tensor rows = F::embedding(idx({0, 1}, {2}), dual_w, /*padding_idx=*/0);
  EXPECT_THAT(values(fwd::unpack_dual(rows).tangent), ElementsAre(10, 20, 30, 40));
}

TD_DEVICE_TEST(ForwardAdTest, GradcheckReportsAFunctionWithoutForwardMode) {
  Tensor x = make64({1, 3}, {2}).requires_grad_();
  auto r = autograd::gradcheck([](const std::vector<Tensor>& in) { return Square::apply(in[0]); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.message, HasSubstr("You must implement the jvp function"));
  EXPECT_TRUE(autograd::gradcheck([](const std::vector<Tensor>& in) { return Square::apply(in[0]); }, {x}, 1e-6,
                                  1e-5, 1e-3, /*check_forward_ad=*/false)
                  .ok);
  // Inside a caller's level gradcheck checks reverse mode only (one level at a time).
  fwd::DualLevel level;
  EXPECT_TRUE(autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0].exp(); }, {x}).ok);
}

TD_DEVICE_TEST(ForwardAdTest, TheLevelBelongsToItsThread) {
  fwd::DualLevel level;
  Tensor d = fwd::make_dual(make64({1, 2}, {2}), make64({1, 1}, {2}));
  bool other_thread_sees_level = true, other_thread_sees_tangent = true;
  std::thread([&] {
    other_thread_sees_level = fwd::is_active();
    other_thread_sees_tangent = fwd::unpack_dual(d).tangent.defined();
  }).join();
  EXPECT_FALSE(other_thread_sees_level);
  EXPECT_FALSE(other_thread_sees_tangent);
}

// ---- tangents through ops ----

TD_DEVICE_TEST(ForwardAdTest, TangentsFollowTheChainRule) {
  // d/dx sin(x * x) = 2 x cos(x^2): an explicit formula (mul) and a transposed backward formula (sin).
  std::vector<double> xs = {-1.5, 0.25, 2};
  fwd::DualLevel level;
  Tensor x = fwd::make_dual(make64(xs, {3}), make64({1, 2, -1}, {3}));
  Tensor y = x.mul(x).sin();
  std::vector<double> want;
  const double t[] = {1, 2, -1};
  for (size_t i = 0; i < xs.size(); ++i) want.push_back(2 * xs[i] * std::cos(xs[i] * xs[i]) * t[i]);
  EXPECT_THAT(values(fwd::unpack_dual(y).tangent), Pointwise(DoubleNear(1e-12), want));
  // Linear ops (views, sums, casts) carry the tangent as they carry the value.
  Tensor s = y.view({3, 1}).t().sum();
  EXPECT_NEAR(fwd::unpack_dual(s).tangent.item<double>(), want[0] + want[1] + want[2], 1e-12);
  EXPECT_EQ(fwd::unpack_dual(x.to(DType::kFloat32)).tangent.dtype(), DType::kFloat32);
}

TD_DEVICE_TEST(ForwardAdTest, AnInputWithoutATangentIsConstant) {
  fwd::DualLevel level;
  Tensor a = fwd::make_dual(make64({1, 2}, {2}), make64({1, 1}, {2}));
  Tensor b = make64({3, 4}, {2});
  EXPECT_THAT(values(fwd::unpack_dual(a.mul(b)).tangent), ElementsAre(3, 4));
  EXPECT_THAT(values(fwd::unpack_dual(b.div(a)).tangent), ElementsAre(-3, -1));  // -b / a^2
  EXPECT_THAT(values(fwd::unpack_dual(a.add(b, 2)).tangent), ElementsAre(1, 1));
  EXPECT_THAT(values(fwd::unpack_dual(b.sub(a, 2)).tangent), ElementsAre(-2, -2));
  // An integer operand of a linear op is a constant too (add promotes it, the tangent stays float).
  EXPECT_THAT(values(fwd::unpack_dual(a.add(idx({5, 6}, {2}))).tangent), ElementsAre(1, 1));
}

TD_DEVICE_TEST(ForwardAdTest, MatrixProductsAndConvolutionHaveTheirProductRule) {
  fwd::DualLevel level;
  Tensor a = make64({1, 2, 3, 4}, {2, 2}), b = make64({0.5, -1, 2, 0}, {2, 2});
  Tensor ta = make64({1, 0, 0, 1}, {2, 2}), tb = make64({0, 1, 1, 0}, {2, 2});
  Tensor y = fwd::make_dual(a, ta).mm(fwd::make_dual(b, tb));
  Tensor want = ta.mm(b).add(a.mm(tb));
  EXPECT_THAT(values(fwd::unpack_dual(y).tangent), Pointwise(DoubleNear(1e-12), values(want)));

  Tensor x = make64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}), w = make64({1, -1, 0.5, 2}, {1, 1, 2, 2});
  Tensor tx = x.mul(0.1), tw = make64({0, 1, 0, 0}, {1, 1, 2, 2}), bias = make64({0.3}, {1}), tbias = make64({2}, {1});
  Tensor out = F::conv2d(fwd::make_dual(x, tx), fwd::make_dual(w, tw), fwd::make_dual(bias, tbias));
  Tensor expect = F::conv2d(tx, w).add(F::conv2d(x, tw)).add(2);
  EXPECT_THAT(values(fwd::unpack_dual(out).tangent), Pointwise(DoubleNear(1e-12), values(expect)));
}

// ---- views and in-place ops ----

TD_DEVICE_TEST(ForwardAdTest, InPlaceOpsUpdateTheTangentAndReachTheBase) {
  fwd::DualLevel level;
  Tensor d = fwd::make_dual(make64({1, 2, 3}, {3}), make64({1, 1, 1}, {3}));
  // A view's tangent is the same view of the tangent.
  EXPECT_THAT(values(fwd::unpack_dual(d.slice(0, 1)).tangent), ElementsAre(1, 1));
  Tensor e = d.clone();
  e.mul_(2);
  EXPECT_THAT(values(fwd::unpack_dual(e).tangent), ElementsAre(2, 2, 2));
  // Copying a dual tensor into a plain one gives it the tangent.
  Tensor w = zeros({3}, {DType::kFloat64, device_});
  w.copy_(d);
  EXPECT_THAT(values(fwd::unpack_dual(w).tangent), ElementsAre(1, 1, 1));
  // Writing into a slice of a plain tensor gives the whole tensor a tangent, zero elsewhere (PyTorch's
  // q[1:] = d[:2] * 3 -> tangent [0, 3, 3]).
  Tensor q = zeros({3}, {DType::kFloat64, device_});
  q.slice(0, 1).copy_(d.slice(0, 0, 2).mul(3));
  EXPECT_THAT(values(fwd::unpack_dual(q).tangent), ElementsAre(0, 3, 3));
  // Overwriting with a constant zeroes the tangent.
  e.zero_();
  EXPECT_THAT(values(fwd::unpack_dual(e).tangent), ElementsAre(0, 0, 0));
}

// ---- forward and reverse mode together ----

TD_DEVICE_TEST(ForwardAdTest, ForwardOverReverseGivesHessianVectorProducts) {
  // f = sum(x^3): grad = 3 x^2, and its tangent along v is the Hessian-vector product 6 x v.
  Tensor x = make64({1, -2, 0.5}, {3}).requires_grad_();
  Tensor v = make64({1, 2, 3}, {3});
  fwd::DualLevel level;
  Tensor d = fwd::make_dual(x, v);
  Tensor g = autograd::grad({d.pow(3).sum()}, {d}, {}, std::nullopt, /*create_graph=*/true)[0];
  EXPECT_THAT(values(g), Pointwise(DoubleNear(1e-12), {3., 12., 0.75}));
  EXPECT_THAT(values(fwd::unpack_dual(g).tangent), Pointwise(DoubleNear(1e-12), {6., -24., 9.}));
}

TD_DEVICE_TEST(ForwardAdTest, ReverseOverForwardDifferentiatesTheTangent) {
  // jvp of f = sum(exp(x) * x) along t is sum((exp(x) (1 + x)) t); its gradient in x is exp(x) (2 + x) t,
  // and in t is exp(x) (1 + x): the tangent keeps a graph to both the primal and the tangent.
  std::vector<double> xs = {0.5, -1};
  Tensor x = make64(xs, {2}).requires_grad_(), t = make64({2, 3}, {2}).requires_grad_();
  Tensor jvp;
  {
    fwd::DualLevel level;
    Tensor d = fwd::make_dual(x, t);
    jvp = fwd::unpack_dual(d.exp().mul(d).sum()).tangent;
  }
  ASSERT_TRUE(jvp.requires_grad());
  std::vector<Tensor> g = autograd::grad({jvp}, {x, t});
  std::vector<double> gx, gt;
  const double ts[] = {2, 3};
  for (size_t i = 0; i < 2; ++i) {
    gx.push_back(std::exp(xs[i]) * (2 + xs[i]) * ts[i]);
    gt.push_back(std::exp(xs[i]) * (1 + xs[i]));
  }
  EXPECT_THAT(values(g[0]), Pointwise(DoubleNear(1e-12), gx));
  EXPECT_THAT(values(g[1]), Pointwise(DoubleNear(1e-12), gt));
}

TD_DEVICE_TEST(ForwardAdTest, TangentsCrossAModuleLikeForwardPass) {
  // A Linear + ReLU + max-pool + softmax chain, checked against central differences along the tangent.
  Tensor x = make64({0.3, -1.2, 0.8, 2.0, -0.4, 1.1, 0.05, -0.7}, {1, 2, 4});
  Tensor w = make64({0.5, -0.25, 1.5, 0.75, -1, 0.2, 0.3, 0.9}, {2, 4}), b = make64({0.1, -0.2}, {2});
  Tensor t = make64({1, 0.5, -1, 2, 0, 1, -0.5, 0.25}, {1, 2, 4});
  auto f = [&](const Tensor& in) {
    return F::max_pool1d(in.matmul(w.t()).add(b).relu().transpose(1, 2), 2).softmax(-1);
  };
  Tensor tangent;
  {
    fwd::DualLevel level;
    tangent = fwd::unpack_dual(f(fwd::make_dual(x, t))).tangent;
  }
  const double h = 1e-6;
  Tensor numerical = f(x.add(t.mul(h))).sub(f(x.sub(t.mul(h)))).div(2 * h);
  EXPECT_THAT(values(tangent), Pointwise(DoubleNear(1e-6), values(numerical)));
}

TD_DEVICE_TEST(ForwardAdTest, CustomFunctionsNeedAJvp) {
  fwd::DualLevel level;
  Tensor d = fwd::make_dual(make64({1, 3}, {2}), make64({1, 1}, {2}));
  Error e = error_of([&] { Square::apply(d); });
  EXPECT_EQ(e.code(), ErrorCode::kUnimplemented);
  EXPECT_THAT(e.what(), HasSubstr("You must implement the jvp function for custom autograd.Function to use it "
                                   "with forward mode AD."));
  // Without tangents the function runs as before.
  EXPECT_THAT(values(Square::apply(make64({2}, {1}))), ElementsAre(4));
  Tensor y = autograd::Function<SquareWithJvp>::apply(d);
  EXPECT_THAT(values(fwd::unpack_dual(y).tangent), ElementsAre(2, 6));
}

// ---- what forward mode refuses ----

TD_DEVICE_TEST(ForwardAdTest, ComplexTangentsFollowTheCheckedComplexFormulas) {
  fwd::DualLevel level;
  Tensor z = Tensor::complex(make64({1, 2}, {2}), make64({0.5, -1}, {2}));
  Tensor d = fwd::make_dual(z, z);
  // exp's complex backward is checked, so its transpose gives the holomorphic tangent exp(z) t.
  Tensor y = fwd::unpack_dual(d.exp()).tangent;
  Tensor want = z.exp().mul(z);
  EXPECT_THAT(values(y.real()), Pointwise(DoubleNear(1e-12), values(want.real())));
  EXPECT_THAT(values(y.imag()), Pointwise(DoubleNear(1e-12), values(want.imag())));
  // scatter_reduce(prod) has no checked complex formula: refused, as its backward is.
  Error e = error_of([&] { d.scatter_reduce(0, idx({0, 0}, {2}), d, "prod"); });
  EXPECT_EQ(e.code(), ErrorCode::kUnimplemented);
  EXPECT_THAT(e.what(), HasSubstr("forward-mode AD: complex values are not supported by this op yet"));
}

}  // namespace
TD_INSTANTIATE_DEVICES(ForwardAdTest);
}  // namespace td
