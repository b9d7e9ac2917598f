// Autograd: exact gradients with their derivations, finite-difference checks (first and second order) of
// every differentiable op, and the engine's semantics: accumulation, retain_graph, hooks, retain_grad,
// grad mode, grad_fn names and double backward.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using autograd::gradcheck;
using autograd::GradcheckFn;
using autograd::gradgradcheck;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using testing::error_of;

/// The argument of a function under gradcheck.
using Inputs = std::vector<Tensor>;
using ::testing::FloatEq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pointwise;

class AutogradTest : public testing::DeviceTest {
 protected:
  /// A float32 leaf that requires grad.
  Tensor leaf(const std::vector<float>& v, std::vector<int64_t> shape) const {
    return make(v, std::move(shape)).requires_grad_();
  }
  /// A float64 leaf that requires grad, with values that are distinct, non-zero and not too close to
  /// each other: 0.5 + 0.1 * i alternating in sign, shifted by `seed`.
  Tensor input64(std::vector<int64_t> shape, double seed = 0) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = (i % 2 ? -1 : 1) * (0.5 + 0.1 * static_cast<double>(i) + seed);
    return make64(v, std::move(shape)).requires_grad_();
  }
};

// ---- exact gradients ----

TD_DEVICE_TEST(AutogradTest, ArithmeticGradients) {
  Tensor x = leaf({1, 2, 3}, {3}), y = leaf({4, 5, 6}, {3});
  // L = sum(x*y + x): dL/dx = y + 1, dL/dy = x.
  x.mul(y).add(x).sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(5, 6, 7));
  EXPECT_THAT(y.grad().to_vector<float>(), ElementsAre(1, 2, 3));

  // L = sum(-(x - 2y)): dL/dx = -1, dL/dy = 2.
  Tensor a = leaf({1, 2, 3}, {3}), b = leaf({4, 5, 6}, {3});
  a.sub(b, 2).neg().sum().backward();
  EXPECT_THAT(a.grad().to_vector<float>(), ElementsAre(-1, -1, -1));
  EXPECT_THAT(b.grad().to_vector<float>(), ElementsAre(2, 2, 2));

  // L = sum(x/y): dL/dx = 1/y, dL/dy = -x/y^2.
  Tensor p = leaf({1, 2, 3}, {3}), q = leaf({4, 5, 6}, {3});
  p.div(q).sum().backward();
  EXPECT_THAT(p.grad().to_vector<float>(), ElementsAre(FloatEq(1.f / 4), FloatEq(1.f / 5), FloatEq(1.f / 6)));
  EXPECT_THAT(q.grad().to_vector<float>(),
              ElementsAre(FloatEq(-1.f / 16), FloatEq(-2.f / 25), FloatEq(-3.f / 36)));

  // L = sum(x + 2.5 y): alpha scales the second gradient.
  Tensor m = leaf({1, 2}, {2}), n = leaf({3, 4}, {2});
  m.add(n, 2.5).sum().backward();
  EXPECT_THAT(m.grad().to_vector<float>(), ElementsAre(1, 1));
  EXPECT_THAT(n.grad().to_vector<float>(), ElementsAre(2.5f, 2.5f));
}

// Each leaf's .grad is its own tensor, as PyTorch's AccumulateGrad makes it: add's backward hands both inputs
// the same gradient, and sum's an expanded (stride 0) one; an in-place change of one leaf's gradient (as
// clip_grad_norm_ makes) must leave the other's alone, and write one element once.
TD_DEVICE_TEST(AutogradTest, LeavesOwnTheirGradients) {
  Tensor a = make({1, 2, 3}, {3}).requires_grad_(), b = make({4, 5, 6}, {3}).requires_grad_();
  a.add(b).sum().backward();
  a.grad().mul_(2);
  EXPECT_THAT(a.grad().to_vector<float>(), ElementsAre(2, 2, 2));
  EXPECT_THAT(b.grad().to_vector<float>(), ElementsAre(1, 1, 1));
  Tensor c = make({1, 2, 3, 4}, {2, 2}).requires_grad_();
  c.sum().backward();
  c.grad().add_(make({1, 2, 3, 4}, {2, 2}));
  EXPECT_THAT(c.grad().to_vector<float>(), ElementsAre(2, 3, 4, 5));
}

TD_DEVICE_TEST(AutogradTest, BroadcastGradientsAreSummedBack) {
  // L = sum_ij a_i b_j for a: [2, 1], b: [3]: dL/da_i = sum_j b_j = 60, dL/db_j = sum_i a_i = 3.
  Tensor a = leaf({1, 2}, {2, 1}), b = leaf({10, 20, 30}, {3});
  a.mul(b).sum().backward();
  EXPECT_THAT(a.grad().shape(), ElementsAre(2, 1));
  EXPECT_THAT(a.grad().to_vector<float>(), ElementsAre(60, 60));
  EXPECT_THAT(b.grad().shape(), ElementsAre(3));
  EXPECT_THAT(b.grad().to_vector<float>(), ElementsAre(3, 3, 3));
  // A 0-dim s times x: dL/ds = sum(x) = 6 (a 0-dim gradient), dL/dx = s.
  Tensor s = scalar_tensor(2.0f, std::nullopt, device_).requires_grad_(), x = leaf({1, 2, 3}, {3});
  s.mul(x).sum().backward();
  EXPECT_THAT(s.grad().shape(), IsEmpty());
  EXPECT_EQ(s.grad().item<float>(), 6.0f);
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(2, 2, 2));
  // Promotion: a float32 leaf in a float64 computation gets a float32 gradient.
  Tensor f = leaf({1, 2}, {2});
  f.mul(make64({3, 4}, {2})).sum().backward();
  EXPECT_EQ(f.grad().dtype(), DType::kFloat32);
  EXPECT_THAT(f.grad().to_vector<float>(), ElementsAre(3, 4));
}

TD_DEVICE_TEST(AutogradTest, ReductionGradients) {
  // L = sum_i w_i * sum_j x_ij with w = [1, 2]: dL/dx_ij = w_i.
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  x.sum({1}).mul(make({1, 2}, {2})).sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(1, 1, 1, 2, 2, 2));
  // L = mean(x) over 6 elements: dL/dx = 1/6.
  Tensor y = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  y.mean().backward();
  EXPECT_THAT(y.grad().to_vector<float>(), Pointwise(FloatEq(), std::vector<float>(6, 1.f / 6)));
  // L = sum_j w_j * mean_i x_ij with keepdim and w = [1, 2, 3]: dL/dx_ij = w_j / 2.
  Tensor z = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  z.mean({0}, true).mul(make({1, 2, 3}, {1, 3})).sum().backward();
  EXPECT_THAT(z.grad().to_vector<float>(), ElementsAre(0.5f, 1, 1.5f, 0.5f, 1, 1.5f));
  // sum with dtype=float64 of a float32 leaf: the gradient comes back as float32 ones.
  Tensor u = leaf({1, 2}, {2});
  u.sum(DType::kFloat64).backward();
  EXPECT_EQ(u.grad().dtype(), DType::kFloat32);
  EXPECT_THAT(u.grad().to_vector<float>(), ElementsAre(1, 1));
}

TD_DEVICE_TEST(AutogradTest, MatrixProductGradients) {
  // L = sum(A @ B) = sum_ij sum_k A_ik B_kj: dL/dA_ik = sum_j B_kj (row sums of B),
  // dL/dB_kj = sum_i A_ik (column sums of A). A = [[1, 2, 3], [4, 5, 6]], B = [[1, 0], [0, 1], [1, 1]].
  Tensor A = leaf({1, 2, 3, 4, 5, 6}, {2, 3}), B = leaf({1, 0, 0, 1, 1, 1}, {3, 2});
  A.mm(B).sum().backward();
  EXPECT_THAT(A.grad().to_vector<float>(), ElementsAre(1, 1, 2, 1, 1, 2));
  EXPECT_THAT(B.grad().to_vector<float>(), ElementsAre(5, 5, 7, 7, 9, 9));
  // The dot product v . w: d/dv = w, d/dw = v.
  Tensor v = leaf({1, 2, 3}, {3}), w = leaf({4, 5, 6}, {3});
  v.matmul(w).backward();
  EXPECT_THAT(v.grad().to_vector<float>(), ElementsAre(4, 5, 6));
  EXPECT_THAT(w.grad().to_vector<float>(), ElementsAre(1, 2, 3));
  // Batched with a broadcast matrix: L = sum_b sum(X[b] @ M) for X: [2, 1, 2], M: [2, 2]. dL/dX[b]_ik =
  // sum_j M_kj; dL/dM_kj = sum_b X[b]_0k.
  Tensor X = leaf({1, 2, 3, 4}, {2, 1, 2}), M = leaf({1, 2, 3, 4}, {2, 2});
  X.matmul(M).sum().backward();
  EXPECT_THAT(X.grad().to_vector<float>(), ElementsAre(3, 7, 3, 7));
  EXPECT_THAT(M.grad().to_vector<float>(), ElementsAre(4, 4, 6, 6));
}

TD_DEVICE_TEST(AutogradTest, ViewGradientsFlowBackThroughLayouts) {
  // x.t() flattens to [x00, x10, x01, x11, x02, x12]; weighting those by 1..6 gives dL/dx = [[1, 3, 5], [2,
  // 4, 6]].
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  x.t().reshape({6}).mul(make({1, 2, 3, 4, 5, 6}, {6})).sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(1, 3, 5, 2, 4, 6));
  // Expanding [3] to [2, 3] uses each element twice: dL/dx = 2.
  Tensor y = leaf({1, 2, 3}, {3});
  y.unsqueeze(0).expand({2, 3}).sum().backward();
  EXPECT_THAT(y.grad().to_vector<float>(), ElementsAre(2, 2, 2));
  // permute then weight by w[k][i] = 10k + i for x: [2, 3] permuted to [3, 2]: dL/dx_ik = 10k + i.
  Tensor z = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  z.permute({1, 0}).mul(make({0, 1, 10, 11, 20, 21}, {3, 2})).sum().backward();
  EXPECT_THAT(z.grad().to_vector<float>(), ElementsAre(0, 10, 20, 1, 11, 21));
  // squeeze/unsqueeze/view/clone pass the gradient through unchanged in value.
  Tensor u = leaf({1, 2}, {2, 1});
  u.squeeze(1).unsqueeze(0).view({2}).clone().mul(make({3, 4}, {2})).sum().backward();
  EXPECT_THAT(u.grad().shape(), ElementsAre(2, 1));
  EXPECT_THAT(u.grad().to_vector<float>(), ElementsAre(3, 4));
  // to(float64) and back: the gradient is converted to the leaf's dtype.
  Tensor c = leaf({1, 2}, {2});
  c.to(DType::kFloat64).mul(make64({2, 3}, {2})).sum().backward();
  EXPECT_EQ(c.grad().dtype(), DType::kFloat32);
  EXPECT_THAT(c.grad().to_vector<float>(), ElementsAre(2, 3));
}

// ---- finite-difference checks ----

/// gradcheck and gradgradcheck of fn at inputs, as gtest assertions.
::testing::AssertionResult passes_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  auto r = gradcheck(fn, inputs);
  if (!r.ok) return ::testing::AssertionFailure() << r.message;
  return ::testing::AssertionSuccess();
}
::testing::AssertionResult passes_gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  auto r = gradgradcheck(fn, inputs);
  if (!r.ok) return ::testing::AssertionFailure() << r.message;
  return ::testing::AssertionSuccess();
}

struct BinaryCase {
  std::vector<int64_t> a, b;
};
// Same shapes, broadcasting both ways, 0-dim operands.
const std::vector<BinaryCase> kBinaryShapes = {
    {{2, 3}, {2, 3}}, {{2, 1, 3}, {4, 1}}, {{3}, {}}, {{}, {2, 2}}, {{1, 3}, {2, 1}}};

TD_DEVICE_TEST(AutogradTest, GradcheckArithmetic) {
  for (const auto& [sa, sb] : kBinaryShapes) {
    SCOPED_TRACE(shape_str(sa) + " and " + shape_str(sb));
    Tensor a = input64(sa), b = input64(sb, 0.3);  // b is bounded away from 0, so div is smooth
    std::vector<std::pair<std::string, GradcheckFn>> fns = {
        {"add", [](const Inputs& x) { return x[0].add(x[1]); }},
        {"add alpha", [](const Inputs& x) { return x[0].add(x[1], 2.5); }},
        {"sub alpha", [](const Inputs& x) { return x[0].sub(x[1], -1.5); }},
        {"mul", [](const Inputs& x) { return x[0].mul(x[1]); }},
        {"div", [](const Inputs& x) { return x[0].div(x[1]); }},
        {"div of a product", [](const Inputs& x) { return x[0].mul(x[0]).div(x[1].mul(x[0])); }},
    };
    for (const auto& [name, fn] : fns) {
      EXPECT_TRUE(passes_gradcheck(fn, {a, b})) << name;
      EXPECT_TRUE(passes_gradgradcheck(fn, {a, b})) << name;
    }
    EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].neg(); }, {a}));
  }
}

TD_DEVICE_TEST(AutogradTest, GradcheckNonContiguousInputs) {
  Tensor a = input64({3, 2}), b = input64({2, 3}, 0.2), c = input64({3, 1}, 0.1);
  // A transposed operand meets a contiguous one; an expanded one meets a transposed one.
  EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].t().mul(x[1]); }, {a, b}));
  EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].t().div(x[1].t().t()); }, {a, b}));
  EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].expand({3, 2}).sub(x[1].t()); }, {c, b}));
  EXPECT_TRUE(passes_gradgradcheck(
      [](const Inputs& x) {
        return x[0].expand({3, 2}).mul(x[1].t());
      },
      {c, b}));
  EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].t().sum({0}); }, {a}));
  EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].t().matmul(x[1].t()); }, {a, b}));
  EXPECT_TRUE(passes_gradcheck(
      [](const Inputs& x) {
        return x[0].expand({3, 4}).mm(x[1].t());
      },
      {c, input64({2, 4})}));
  Tensor d = input64({2, 3, 4});
  EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].permute({2, 0, 1}).reshape({4, 6}); }, {d}));
}

TD_DEVICE_TEST(AutogradTest, GradcheckReductions) {
  Tensor x = input64({2, 3, 4});
  std::vector<std::pair<std::string, GradcheckFn>> fns = {
      {"sum", [](const Inputs& t) { return t[0].sum(); }},
      {"sum dim 1", [](const Inputs& t) { return t[0].sum({1}); }},
      {"sum dims 0, -1 keepdim",
       [](const Inputs& t) {
         return t[0].sum({0, -1}, true);
       }},
      {"sum empty dim list", [](const Inputs& t) { return t[0].sum(std::vector<int64_t>{}); }},
      {"mean", [](const Inputs& t) { return t[0].mean(); }},
      {"mean dims 0, 2",
       [](const Inputs& t) {
         return t[0].mean({0, 2});
       }},
      {"mean dim -2 keepdim", [](const Inputs& t) { return t[0].mean({-2}, true); }},
      {"sum of squares", [](const Inputs& t) { return t[0].mul(t[0]).sum({2}); }},
  };
  for (const auto& [name, fn] : fns) {
    EXPECT_TRUE(passes_gradcheck(fn, {x})) << name;
    EXPECT_TRUE(passes_gradgradcheck(fn, {x})) << name;
  }
  EXPECT_TRUE(passes_gradcheck([](const Inputs& t) { return t[0].sum(); }, {input64({})}));
}

TD_DEVICE_TEST(AutogradTest, GradcheckMatrixProducts) {
  struct Case {
    std::vector<int64_t> a, b;
  };
  const std::vector<Case> matmul_shapes = {
      {{3}, {3}},
      {{2, 3}, {3}},
      {{3}, {3, 2}},
      {{2, 3}, {3, 4}},
      {{2, 3, 4}, {4, 2}},
      {{2, 3, 4}, {4}},
      {{4}, {2, 4, 3}},
      {{3, 4}, {2, 4, 2}},
      {{2, 3, 4}, {2, 4, 2}},
      {{2, 1, 2, 3}, {3, 3, 2}},
  };
  GradcheckFn matmul = [](const Inputs& x) { return x[0].matmul(x[1]); };
  for (const auto& [sa, sb] : matmul_shapes) {
    SCOPED_TRACE("matmul " + shape_str(sa) + " x " + shape_str(sb));
    Tensor a = input64(sa), b = input64(sb, 0.2);
    EXPECT_TRUE(passes_gradcheck(matmul, {a, b}));
    EXPECT_TRUE(passes_gradgradcheck(matmul, {a, b}));
  }
  GradcheckFn mm = [](const Inputs& x) { return x[0].mm(x[1]); };
  GradcheckFn bmm = [](const Inputs& x) { return x[0].bmm(x[1]); };
  EXPECT_TRUE(passes_gradcheck(mm, {input64({2, 3}), input64({3, 4})}));
  EXPECT_TRUE(passes_gradgradcheck(mm, {input64({2, 3}), input64({3, 4})}));
  EXPECT_TRUE(passes_gradcheck(bmm, {input64({2, 2, 3}), input64({2, 3, 2})}));
  EXPECT_TRUE(passes_gradgradcheck(bmm, {input64({2, 2, 3}), input64({2, 3, 2})}));
  // x^T x and x x^T use one leaf twice, once transposed.
  EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].t().mm(x[0]); }, {input64({3, 2})}));
  EXPECT_TRUE(passes_gradgradcheck([](const Inputs& x) { return x[0].mm(x[0].t()); }, {input64({3, 2})}));
  EXPECT_TRUE(passes_gradcheck([](const Inputs& x) { return x[0].bmm(x[1].transpose(1, 2)); },
                               {input64({2, 2, 3}), input64({2, 4, 3})}));
}

TD_DEVICE_TEST(AutogradTest, GradcheckShapeOps) {
  Tensor x = input64({2, 3, 4});
  std::vector<std::pair<std::string, GradcheckFn>> fns = {
      {"view",
       [](const Inputs& t) {
         return t[0].view({6, 4});
       }},
      {"view -1", [](const Inputs& t) { return t[0].view({-1}); }},
      {"reshape (a view)",
       [](const Inputs& t) {
         return t[0].reshape({4, 6});
       }},
      {"reshape (a copy)",
       [](const Inputs& t) {
         return t[0].transpose(0, 2).reshape({-1, 2});
       }},
      {"transpose", [](const Inputs& t) { return t[0].transpose(0, -1); }},
      {"permute",
       [](const Inputs& t) {
         return t[0].permute({1, 2, 0});
       }},
      {"permute negative",
       [](const Inputs& t) {
         return t[0].permute({-1, 0, -2});
       }},
      {"unsqueeze", [](const Inputs& t) { return t[0].unsqueeze(1); }},
      {"squeeze", [](const Inputs& t) { return t[0].unsqueeze(-1).squeeze(-1); }},
      {"expand",
       [](const Inputs& t) {
         return t[0].unsqueeze(0).expand({3, -1, -1, -1});
       }},
      {"clone", [](const Inputs& t) { return t[0].clone(); }},
      {"contiguous", [](const Inputs& t) { return t[0].transpose(1, 2).contiguous(); }},
      {"to copy", [](const Inputs& t) { return t[0].to(DType::kFloat64, /*non_blocking=*/false, /*copy=*/true); }},
      {"views times themselves",
       [](const Inputs& t) {
         return t[0].permute({2, 1, 0}).mul(t[0].transpose(0, 2));
       }},
  };
  for (const auto& [name, fn] : fns) {
    EXPECT_TRUE(passes_gradcheck(fn, {x})) << name;
    EXPECT_TRUE(passes_gradgradcheck(fn, {x})) << name;
  }
  EXPECT_TRUE(passes_gradcheck([](const Inputs& t) { return t[0]; }, {input64({2, 2})}));
  EXPECT_TRUE(passes_gradcheck([](const Inputs& t) { return t[0].t(); }, {input64({2, 3})}));
  EXPECT_TRUE(passes_gradcheck([](const Inputs& t) { return t[0].expand({2, 3}); }, {input64({1, 3})}));
  EXPECT_TRUE(passes_gradcheck([](const Inputs& t) { return t[0].expand({2, 2}); }, {input64({})}));
}

TD_DEVICE_TEST(AutogradTest, GradgradcheckOfACubicChain) {
  // d2/dx2 of x^3 is 6x: double backward through mul's backward, itself written in mul.
  EXPECT_TRUE(passes_gradgradcheck([](const Inputs& t) { return t[0].mul(t[0]).mul(t[0]); }, {input64({4})}));
  EXPECT_TRUE(
      passes_gradgradcheck([](const Inputs& t) { return t[0].matmul(t[1]).div(t[1].sum()).mean({0}); },
                           {input64({3, 2}), input64({2, 2}, 0.2)}));
}

TD_DEVICE_TEST(AutogradTest, GradcheckReportsAWrongGradient) {
  // x * detach(x) has a true derivative of 2x, but backward sees only one factor: x. At x = 3: 6 vs 3.
  Tensor x = make64({3}, {1}).requires_grad_();
  auto r = gradcheck([](const Inputs& t) { return t[0].mul(t[0].detach()); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.message,
              HasSubstr("[gradcheck] Jacobian mismatch for output element 0 [0] with respect to input 0, "
                        "element 0 [0]: numerical "));
  EXPECT_THAT(r.message, HasSubstr(" vs analytical 3 (atol 1e-05, rtol 0.001)"));
  // The inputs' gradients are left as they were.
  EXPECT_FALSE(x.grad().defined());
}

TD_DEVICE_TEST(AutogradTest, GradcheckRejectsInputsItCannotCheck) {
  Error e = error_of([&] { gradcheck([](const Inputs& t) { return t[0]; }, {leaf({1}, {1})}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[gradcheck] input 0 must be float64 or complex128, not float32");
  e = error_of([&] { gradcheck([](const Inputs& t) { return t[0]; }, {make64({1}, {1})}); });
  EXPECT_STREQ(e.what(), "[gradcheck] input 0 must be a leaf that requires grad");
  e = error_of([&] { gradcheck([](const Inputs& t) { return t[0].to(DType::kInt64); }, {input64({2})}); });
  EXPECT_STREQ(e.what(), "[gradcheck] fn must return a floating or complex tensor, not int64");
}

// ---- engine semantics ----

TD_DEVICE_TEST(AutogradTest, LeafGradAccumulatesAcrossBackwardCalls) {
  // L = sum(x*x): dL/dx = 2x = [2, 4] per backward; two backwards accumulate [4, 8].
  Tensor x = leaf({1, 2}, {2});
  Tensor loss = x.mul(x).sum();
  loss.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(2, 4));
  loss.backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(4, 8));
  // A fresh graph accumulates too, until the grad is reset.
  x.mul(x).sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(6, 12));
  x.set_grad(Tensor());
  x.sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(1, 1));
  // An accumulated gradient is a plain tensor: no graph, even though it came from one.
  EXPECT_FALSE(x.grad().requires_grad());
}

TD_DEVICE_TEST(AutogradTest, SecondBackwardWithoutRetainGraphFails) {
  Tensor x = leaf({1, 2}, {2});
  Tensor loss = x.mul(x).sum();
  loss.backward();
  Error e = error_of([&] { loss.backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(), HasSubstr("[backward] Trying to backward through the graph a second time"));
  EXPECT_THAT(e.what(), HasSubstr("Specify retain_graph=True"));
  // As in PyTorch, a graph whose backward reads no saved tensor (add, sum) can be walked again.
  Tensor y = leaf({1, 2}, {2});
  Tensor twice = y.add(y).sum();
  twice.backward();
  twice.backward();
  EXPECT_THAT(y.grad().to_vector<float>(), ElementsAre(4, 4));
}

TD_DEVICE_TEST(AutogradTest, BackwardPreconditions) {
  Tensor x = leaf({1, 2, 3}, {3});
  Error e = error_of([&] { x.mul(x).backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[backward] grad can be implicitly created only for scalar outputs (got shape [3])");
  e = error_of([&] { make({1}, {1}).sum().backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_STREQ(e.what(), "[backward] element 0 of tensors does not require grad and does not have a grad_fn");
  e = error_of([&] { x.mul(x).backward(make({1, 1}, {2})); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[backward] Mismatch in shape: grad_output[0] has a shape of [2] and output[0] has a shape "
               "of [3].");
  // An explicit gradient weights the outputs: d(sum_i g_i x_i^2)/dx_i = 2 g_i x_i.
  x.mul(x).backward(make({1, 0, -1}, {3}));
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(2, 0, -6));
}

TD_DEVICE_TEST(AutogradTest, HooksOnLeaves) {
  Tensor x = leaf({1, 2, 3}, {3});
  std::vector<float> seen;
  HookHandle h = x.register_hook([&](const Tensor& g) {
    seen = g.to_vector<float>();
    return Tensor();  // keep the gradient
  });
  // L = sum(2x): the hook sees dL/dx = 2.
  x.mul(make({2, 2, 2}, {3})).sum().backward();
  EXPECT_THAT(seen, ElementsAre(2, 2, 2));
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(2, 2, 2));
  // A replacement is what accumulates; hooks run in registration order, each seeing the last one's result.
  x.set_grad(Tensor());
  HookHandle scale = x.register_hook([&](const Tensor& g) { return g.mul(make({10, 10, 10}, {3})); });
  std::vector<float> seen_after_scale;
  HookHandle h3 = x.register_hook([&](const Tensor& g) {
    seen_after_scale = g.to_vector<float>();
    return Tensor();
  });
  x.sum().backward();
  EXPECT_THAT(seen, ElementsAre(1, 1, 1));
  EXPECT_THAT(seen_after_scale, ElementsAre(10, 10, 10));
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(10, 10, 10));
  // Removing a hook stops it; removing twice is harmless.
  scale.remove();
  scale.remove();
  h.remove();
  seen.clear();
  x.set_grad(Tensor());
  x.sum().backward();
  EXPECT_THAT(seen, IsEmpty());
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(1, 1, 1));
  EXPECT_THAT(seen_after_scale, ElementsAre(1, 1, 1));
}

TD_DEVICE_TEST(AutogradTest, HooksOnNonLeaves) {
  // y = x * [1, 2, 3]; L = sum(y): dL/dy = 1. A hook on y that triples it makes dL/dx = 3 * [1, 2, 3].
  Tensor x = leaf({5, 6, 7}, {3});
  Tensor y = x.mul(make({1, 2, 3}, {3}));
  std::vector<float> seen;
  HookHandle h = y.register_hook([&](const Tensor& g) {
    seen = g.to_vector<float>();
    return g.mul(make({3, 3, 3}, {3}));
  });
  y.sum().backward(Tensor(), /*retain_graph=*/true);
  EXPECT_THAT(seen, ElementsAre(1, 1, 1));
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(3, 6, 9));
  EXPECT_FALSE(y.grad().defined());  // a hook does not retain the non-leaf's grad
  h.remove();
  x.set_grad(Tensor());
  seen.clear();
  y.sum().backward();
  EXPECT_THAT(seen, IsEmpty());
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(1, 2, 3));
}

TD_DEVICE_TEST(AutogradTest, HookErrors) {
  Error e = error_of([&] { make({1}, {1}).register_hook([](const Tensor&) { return Tensor(); }); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[register_hook] cannot register a hook on a tensor that doesn't require gradient");
  Tensor x = leaf({1, 2, 3}, {3});
  HookHandle h = x.register_hook([&](const Tensor&) { return make({1, 2}, {2}); });
  e = error_of([&] { x.sum().backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[register_hook] hook returned a gradient of shape [2] for a tensor of shape [3]");
}

TD_DEVICE_TEST(AutogradTest, RetainGradOnNonLeaves) {
  // y = 2x; L = sum(y * y): dL/dy = 2y = 4x, dL/dx = 8x.
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x.mul(make({2, 2}, {2}));
  Tensor z = x.mul(make({2, 2}, {2}));
  EXPECT_FALSE(y.is_leaf());
  y.retain_grad();
  EXPECT_TRUE(y.retains_grad());
  EXPECT_FALSE(z.retains_grad());
  y.mul(y).add(z).sum().backward();
  EXPECT_THAT(y.grad().to_vector<float>(), ElementsAre(4, 8));
  EXPECT_FALSE(y.grad().requires_grad());
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(10, 18));  // 8x + 2 from z
  // A non-leaf without retain_grad keeps no grad.
  EXPECT_FALSE(z.grad().defined());
  // retain_grad on a leaf changes nothing; on a tensor that does not require grad it fails.
  x.retain_grad();
  EXPECT_TRUE(x.is_leaf());
  Error e = error_of([&] { make({1}, {1}).retain_grad(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[retain_grad] can't retain_grad on Tensor that has requires_grad=False");
}

TD_DEVICE_TEST(AutogradTest, RequiresGradRules) {
  Error e = error_of([&] { tensor<int64_t>({1, 2}, {2}, device_).requires_grad_(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[requires_grad_] only Tensors of floating point and complex dtype can require gradients "
               "(got int64)");
  e = error_of([&] { tensor_bool({true}, {1}, device_).requires_grad_(); });
  EXPECT_STREQ(e.what(),
               "[requires_grad_] only Tensors of floating point and complex dtype can require gradients "
               "(got bool)");
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x.mul(x);
  e = error_of([&] { y.requires_grad_(false); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(),
              HasSubstr("[requires_grad_] you can only change requires_grad flags of leaf variables."));
  // Integer and bool results never require grad, even from inputs that do.
  EXPECT_FALSE(x.to(DType::kInt64).requires_grad());
  EXPECT_FALSE(x.to(DType::kBool).requires_grad());
  EXPECT_TRUE(x.to(DType::kInt64).is_leaf());
  // detach() cuts the graph but shares the storage.
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.shares_storage(y));
  EXPECT_TRUE(leaf({1}, {1}).requires_grad_(false).is_leaf());
}

TD_DEVICE_TEST(AutogradTest, NoGradGuardStopsRecording) {
  Tensor x = leaf({1, 2}, {2});
  {
    autograd::NoGradGuard no_grad;
    EXPECT_FALSE(autograd::GradMode::is_enabled());
    Tensor y = x.mul(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    EXPECT_EQ(y.grad_fn_name(), "");
    EXPECT_THAT(y.to_vector<float>(), ElementsAre(1, 4));
    {
      autograd::GradModeGuard enable(true);
      EXPECT_TRUE(x.mul(x).requires_grad());
    }
    EXPECT_FALSE(autograd::GradMode::is_enabled());
  }
  EXPECT_TRUE(autograd::GradMode::is_enabled());
  EXPECT_TRUE(x.mul(x).requires_grad());
  // Views made without grad mode are cut from the graph too.
  autograd::GradModeGuard off(false);
  EXPECT_FALSE(x.t().requires_grad());
}

TD_DEVICE_TEST(AutogradTest, GradFnNames) {
  Tensor x = leaf({1, 2, 3, 4}, {2, 2}), y = leaf({5, 6, 7, 8}, {2, 2});
  EXPECT_EQ(x.grad_fn_name(), "");
  EXPECT_EQ(x.add(y).grad_fn_name(), "AddBackward0");
  EXPECT_EQ(x.sub(y).grad_fn_name(), "SubBackward0");
  EXPECT_EQ(x.mul(y).grad_fn_name(), "MulBackward0");
  EXPECT_EQ(x.div(y).grad_fn_name(), "DivBackward0");
  EXPECT_EQ(x.neg().grad_fn_name(), "NegBackward0");
  EXPECT_EQ(x.sum().grad_fn_name(), "SumBackward0");
  EXPECT_EQ(x.sum({0}).grad_fn_name(), "SumBackward0");
  EXPECT_EQ(x.mm(y).grad_fn_name(), "MmBackward0");
  EXPECT_EQ(x.matmul(y).grad_fn_name(), "MmBackward0");  // matmul is composite: 2-d x 2-d is one mm
  EXPECT_EQ(x.unsqueeze(0).bmm(y.unsqueeze(0)).grad_fn_name(), "BmmBackward0");
  EXPECT_EQ(x.view({4}).grad_fn_name(), "ViewBackward0");
  EXPECT_EQ(x.transpose(0, 1).grad_fn_name(), "TransposeBackward0");
  EXPECT_EQ(x.permute({1, 0}).grad_fn_name(), "PermuteBackward0");
  EXPECT_EQ(x.expand({3, 2, 2}).grad_fn_name(), "ExpandBackward0");
  EXPECT_EQ(x.unsqueeze(0).grad_fn_name(), "UnsqueezeBackward0");
  EXPECT_EQ(x.unsqueeze(0).squeeze(0).grad_fn_name(), "SqueezeBackward0");
  EXPECT_EQ(x.clone().grad_fn_name(), "CloneBackward0");
  EXPECT_EQ(x.to(DType::kFloat64).grad_fn_name(), "ToCopyBackward0");
  EXPECT_TRUE(x.to(DType::kFloat32).is_same(x));  // no conversion, no node
}

TD_DEVICE_TEST(AutogradTest, DoubleBackwardOfCube) {
  // y = sum(x^3): dy/dx = 3x^2, built as a graph with create_graph; d(sum(3x^2))/dx = 6x.
  Tensor x = make64({1, 2, 3}, {3}).requires_grad_();
  x.mul(x).mul(x).sum().backward(Tensor(), /*retain_graph=*/false, /*create_graph=*/true);
  Tensor g = x.grad();
  EXPECT_THAT(g.to_vector<double>(), ElementsAre(3, 12, 27));
  ASSERT_TRUE(g.requires_grad());
  EXPECT_FALSE(g.is_leaf());
  x.set_grad(Tensor());
  g.sum().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), Pointwise(DoubleNear(1e-12), std::vector<double>{6, 12, 18}));
  // Third order: d(sum(6x))/dx = 6.
  Tensor x2 = make64({2}, {1}).requires_grad_();
  x2.mul(x2).mul(x2).sum().backward(Tensor(), false, true);
  Tensor g1 = x2.grad();  // 3x^2 = 12
  x2.set_grad(Tensor());
  g1.sum().backward(Tensor(), false, true);
  Tensor g2 = x2.grad();  // 6x = 12
  x2.set_grad(Tensor());
  g2.sum().backward();
  EXPECT_EQ(g1.item<double>(), 12.0);
  EXPECT_EQ(g2.item<double>(), 12.0);
  EXPECT_EQ(x2.grad().item<double>(), 6.0);
}

TD_INSTANTIATE_DEVICES(AutogradTest);

}  // namespace
}  // namespace td
