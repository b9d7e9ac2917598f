// Autograd through complex64 and complex128 values with PyTorch's convention: for a real loss L the gradient
// of z = x + iy is dL/dx + i dL/dy, so a holomorphic op passes grad * conj(f'(z)) back, a real input of a
// complex result keeps the real part of its gradient, and a complex output is differentiated through the
// real loss Re(sum(out * w)). Exact values with their derivations (checked with /usr/bin/python3, PyTorch
// 1.13), complex finite-difference checks (first and second order) of every family whose backward is
// verified, and the refusal of an op that is not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <complex>
#include <functional>
#include <string>
#include <vector>

#include "core/autograd/gradcheck.h"
#include "core/nn/functional.h"
#include "core/error.h"
#include "core/ops/registry.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

namespace F = nn::functional;
using c128 = std::complex<double>;
using Inputs = std::vector<Tensor>;
using testing::error_of;
using ::testing::HasSubstr;

class ComplexAutogradTest : public testing::DeviceTest {
 protected:
  /// A complex128 leaf that requires grad.
  Tensor zleaf(const std::vector<c128>& v, std::vector<int64_t> shape) const {
    return tensor(v, std::move(shape), device_).requires_grad_();
  }
  /// A complex128 leaf with distinct values off the real axis (away from every branch cut and from the
  /// poles of the functions checked here): parts 0.5 + 0.1 i and 0.3 + 0.07 i with alternating signs.
  Tensor zinput(std::vector<int64_t> shape, double seed = 0) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<c128> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) {
      const double k = static_cast<double>(i);
      v[i] = {(i % 2 ? -1 : 1) * (0.5 + 0.1 * k + seed), (i % 3 ? 1 : -1) * (0.3 + 0.07 * k + seed)};
    }
    return zleaf(v, std::move(shape));
  }
  /// A float64 leaf that requires grad.
  Tensor xleaf(const std::vector<double>& v, std::vector<int64_t> shape) const {
    return make64(v, std::move(shape)).requires_grad_();
  }
  static void expect_complex(const Tensor& t, const std::vector<c128>& want, double tol = 1e-12) {
    ASSERT_TRUE(t.defined());
    auto got = t.to_vector<c128>();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i].real(), want[i].real(), tol) << "element " << i;
      EXPECT_NEAR(got[i].imag(), want[i].imag(), tol) << "element " << i;
    }
  }
};

// ---- exact gradients ----

TD_DEVICE_TEST(ComplexAutogradTest, AbsGradientIsTheUnitDirection) {
  // |z| = sqrt(x^2 + y^2): d|z|/dx + i d|z|/dy = (x + iy) / |z|; at 3+4i that is 0.6+0.8i. At 0 PyTorch
  // gives 0.
  Tensor z = zleaf({{3, 4}, {0, 0}}, {2});
  z.abs().sum().backward();
  expect_complex(z.grad(), {{0.6, 0.8}, {0, 0}});
}

TD_DEVICE_TEST(ComplexAutogradTest, HolomorphicOpsConjugateTheirDerivative) {
  // L = Re(z w): dL/dz = conj(w) (PyTorch: grad * conj(f')); for w = 2 + 1i, 2 - 1i.
  Tensor z = zleaf({{1, 1}}, {1});
  Tensor w = tensor(std::vector<c128>{{2, 1}}, {1}, device_);
  z.mul(w).sum().real().backward();
  expect_complex(z.grad(), {{2, -1}});
  // L = Re(exp(z)): grad = conj(exp(z)); exp(1+1i) = e (cos 1 + i sin 1).
  Tensor u = zleaf({{1, 1}}, {1});
  u.exp().sum().real().backward();
  expect_complex(u.grad(), {std::conj(std::exp(c128(1, 1)))});
  // L = Im(z^2) = 2xy: dL/dx + i dL/dy = 2y + 2xi, at 1+2i: 4+2i. Through the ops: imag sends back 1i,
  // and z * z sends 1i conj(z) to each factor: 2i (1 - 2i) = 4 + 2i.
  Tensor v = zleaf({{1, 2}}, {1});
  v.mul(v).imag().sum().backward();
  expect_complex(v.grad(), {{4, 2}});
}

TD_DEVICE_TEST(ComplexAutogradTest, ComplexFamilyGradients) {
  // real(z): 1 + 0i; imag(z): 0 + 1i.
  Tensor z = zleaf({{1, 2}, {-3, 0.5}}, {2});
  z.real().sum().backward();
  expect_complex(z.grad(), {{1, 0}, {1, 0}});
  z.set_grad(Tensor());
  z.imag().sum().backward();
  expect_complex(z.grad(), {{0, 1}, {0, 1}});
  // angle(z) = atan2(y, x): (-y + x i) / |z|^2; at 1+1i: (-1 + 1i) / 2.
  Tensor a = zleaf({{1, 1}}, {1});
  a.angle().sum().backward();
  expect_complex(a.grad(), {{-0.5, 0.5}});
  // conj(z): L = Re(conj(z) w) = Re(z conj(w)): grad = w.
  Tensor c = zleaf({{1, 2}}, {1});
  c.conj().mul(tensor(std::vector<c128>{{3, -1}}, {1}, device_)).sum().real().backward();
  expect_complex(c.grad(), {{3, -1}});
  // complex(r, t) and polar(r, t): L = Re(out w) with w = 1i. complex: dL/dr = Re(w) = 0, dL/dt = Re(i w) =
  // -1. polar: out = r e^(it), at r = 2, t = 0: dL/dr = Re(e^(it) w) = 0, dL/dt = Re(i r e^(it) w) = -2.
  Tensor r = xleaf({2}, {1}), t = xleaf({0}, {1});
  Tensor w = tensor(std::vector<c128>{{0, 1}}, {1}, device_);
  Tensor::complex(r, t).mul(w).sum().real().backward();
  EXPECT_NEAR(r.grad().item<double>(), 0, 1e-12);
  EXPECT_NEAR(t.grad().item<double>(), -1, 1e-12);
  r.set_grad(Tensor());
  t.set_grad(Tensor());
  call_op("polar", {r, t})[0].mul(w).sum().real().backward();
  EXPECT_NEAR(r.grad().item<double>(), 0, 1e-12);
  EXPECT_NEAR(t.grad().item<double>(), -2, 1e-12);
}

TD_DEVICE_TEST(ComplexAutogradTest, RealInputOfAComplexResultKeepsTheRealPart) {
  // L = Re(x c) = x Re(c): dL/dx = Re(c) (PyTorch's handle_r_to_c), and x.grad stays float64.
  Tensor x = xleaf({1.5, -2}, {2});
  Tensor c = tensor(std::vector<c128>{{2, 3}, {-1, 0.5}}, {2}, device_);
  x.mul(c).sum().real().backward();
  EXPECT_EQ(x.grad().dtype(), DType::kFloat64);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, -1}));
  // A cast to complex and back: the gradient of Re(to_complex(x) * i) is Re(i) = 0.
  Tensor y = xleaf({1}, {1});
  y.to(DType::kComplex128).mul(tensor(std::vector<c128>{{0, 1}}, {1}, device_)).sum().real().backward();
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{0}));
}

TD_DEVICE_TEST(ComplexAutogradTest, MatrixProductsUseConjugateTransposes) {
  // L = Re(sum(A B)): dA = 1 B^H, dB = A^H 1. A = [[1+1i, 2]], B = [[1i], [3-1i]]: dA = [[-1i, 3+1i]],
  // dB = [[1-1i], [2]].
  Tensor a = zleaf({{1, 1}, {2, 0}}, {1, 2}), b = zleaf({{0, 1}, {3, -1}}, {2, 1});
  a.mm(b).sum().real().backward();
  expect_complex(a.grad(), {{0, -1}, {3, 1}});
  expect_complex(b.grad(), {{1, -1}, {2, 0}});
}

TD_DEVICE_TEST(ComplexAutogradTest, AComplexScalarIsSeededWithOne) {
  // PyTorch 1.13 seeds a complex scalar with 1 (the gradient of its real part): z (2 + 1i) gives 2 - 1i.
  Tensor z = zleaf({{1, 1}}, {});
  z.mul(tensor(std::vector<c128>{{2, 1}}, {}, device_)).backward();
  expect_complex(z.grad(), {{2, -1}});
}

TD_DEVICE_TEST(ComplexAutogradTest, Complex64Gradients) {
  // The same convention in complex64: d|z| at 3+4i.
  Tensor z = tensor(std::vector<std::complex<float>>{{3, 4}}, {1}, device_).requires_grad_();
  z.abs().sum().backward();
  EXPECT_EQ(z.grad().dtype(), DType::kComplex64);
  auto g = z.grad().to_vector<std::complex<float>>();
  EXPECT_NEAR(g[0].real(), 0.6f, 1e-6f);
  EXPECT_NEAR(g[0].imag(), 0.8f, 1e-6f);
}

// ---- finite differences (complex128) ----

TD_DEVICE_TEST(ComplexAutogradTest, GradcheckUnary) {
  using Fn = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<std::string, Fn>> ops = {
      {"exp", [](const Tensor& z) { return z.exp(); }},
      {"log", [](const Tensor& z) { return z.log(); }},
      {"log2", [](const Tensor& z) { return z.log2(); }},
      {"log10", [](const Tensor& z) { return z.log10(); }},
      {"sqrt", [](const Tensor& z) { return z.sqrt(); }},
      {"rsqrt", [](const Tensor& z) { return z.rsqrt(); }},
      {"sin", [](const Tensor& z) { return z.sin(); }},
      {"cos", [](const Tensor& z) { return z.cos(); }},
      {"tan", [](const Tensor& z) { return z.tan(); }},
      {"asin", [](const Tensor& z) { return z.asin(); }},
      {"acos", [](const Tensor& z) { return z.acos(); }},
      {"atan", [](const Tensor& z) { return z.atan(); }},
      {"sinh", [](const Tensor& z) { return z.sinh(); }},
      {"cosh", [](const Tensor& z) { return z.cosh(); }},
      {"tanh", [](const Tensor& z) { return z.tanh(); }},
      {"asinh", [](const Tensor& z) { return z.asinh(); }},
      {"acosh", [](const Tensor& z) { return z.acosh(); }},
      {"atanh", [](const Tensor& z) { return z.atanh(); }},
      {"sigmoid", [](const Tensor& z) { return z.sigmoid(); }},
      {"reciprocal", [](const Tensor& z) { return z.reciprocal(); }},
      {"neg", [](const Tensor& z) { return z.neg(); }},
      {"abs", [](const Tensor& z) { return z.abs(); }},
      {"sgn", [](const Tensor& z) { return z.sgn(); }},
      {"angle", [](const Tensor& z) { return z.angle(); }},
      {"real", [](const Tensor& z) { return z.real(); }},
      {"imag", [](const Tensor& z) { return z.imag(); }},
      {"conj", [](const Tensor& z) { return z.conj(); }},
      {"view_as_real", [](const Tensor& z) { return z.view_as_real(); }},
  };
  for (const auto& [name, f] : ops) {
    expect_gradcheck(name, [f = f](const Inputs& x) { return f(x[0]); }, {zinput({2, 3})});
  }
}

// Complex convolution (three real ones, PyTorch's complex_convolution) and the non-constant paddings:
// first and second derivatives by finite differences, and forward mode (gradcheck checks it too).
TD_DEVICE_TEST(ComplexAutogradTest, GradcheckConvolutionAndPadding) {
  Tensor x = zinput({1, 2, 5}), w = zinput({2, 2, 3}, 0.1), b = zinput({2}, 0.3);
  expect_gradcheck("conv1d", [](const Inputs& v) { return F::conv1d(v[0], v[1], v[2], 2, 1); }, {x, w, b});
  Tensor x2 = zinput({1, 2, 3, 3}), w2 = zinput({2, 1, 2, 2}, 0.2);
  expect_gradcheck("conv2d groups", [](const Inputs& v) { return F::conv2d(v[0], v[1], Tensor(), 1, 1, 1, 2); },
                   {x2, w2});
  for (const char* mode : {"reflect", "replicate", "circular"}) {
    expect_gradcheck(mode, [mode](const Inputs& v) { return v[0].pad({2, 1}, mode); }, {zinput({1, 2, 4})});
  }
  // Transposed complex convolutions are refused, as on PyTorch's CPU.
  EXPECT_THAT(testing::error_of([&] { F::conv_transpose1d(x.detach(), w.detach()); }).what(),
              ::testing::HasSubstr("convolution not implemented for 'ComplexDouble'"));
}

TD_DEVICE_TEST(ComplexAutogradTest, GradcheckBinary) {
  Tensor a = zinput({2, 3}), b = zinput({3}, 0.2), x = make64({0.5, -1.5, 2}, {3}).requires_grad_();
  expect_gradcheck("add alpha", [](const Inputs& v) { return v[0].add(v[1], Scalar(c128(2, -1))); }, {a, b});
  expect_gradcheck("sub", [](const Inputs& v) { return v[0].sub(v[1]); }, {a, b});
  expect_gradcheck("mul", [](const Inputs& v) { return v[0].t().mul(v[1].unsqueeze(1)); }, {a, b});
  expect_gradcheck("div", [](const Inputs& v) { return v[0].div(v[1]); }, {a, b});
  expect_gradcheck("pow", [](const Inputs& v) { return v[0].pow(v[1]); }, {a, b});
  expect_gradcheck("pow scalar", [](const Inputs& v) { return v[0].pow(Scalar(2.5)); }, {a});
  expect_gradcheck("pow complex scalar", [](const Inputs& v) { return v[0].pow(Scalar(c128(1, -0.5))); },
                   {a});
  // Mixed operands: the real input's gradient is the real part.
  expect_gradcheck("mul real complex", [](const Inputs& v) { return v[0].mul(v[1]); }, {x, b});
  expect_gradcheck("div complex real", [](const Inputs& v) { return v[1].div(v[0]); }, {x, b});
  expect_gradcheck("pow real base", [](const Inputs& v) { return v[0].abs().pow(v[1]); }, {x, b});
  expect_gradcheck("pow real exponent", [](const Inputs& v) { return v[1].pow(v[0]); }, {x, b});
  expect_gradcheck("complex", [](const Inputs& v) { return Tensor::complex(v[0], v[1].real()); }, {x, b});
  expect_gradcheck("polar",
                   [](const Inputs& v) {
                     return call_op("polar", {v[0].abs(), v[1].imag()})[0];
                   },
                   {x, b});
  expect_gradcheck("to complex", [](const Inputs& v) { return v[0].to(DType::kComplex128).mul(v[1]); },
                   {x, b});
  expect_gradcheck(
      "where",
      [&](const Inputs& v) {
        return v[0].where(tensor(std::vector<uint8_t>{1, 0, 1}, {3}, device_).to(DType::kBool), v[1]);
      },
      {a, b});
}

TD_DEVICE_TEST(ComplexAutogradTest, GradcheckReductionsAndProducts) {
  Tensor a = zinput({3, 4}), b = zinput({4, 2}, 0.1), c = zinput({2, 3, 4}, 0.05);
  expect_gradcheck("sum", [](const Inputs& v) { return v[0].sum({1}, true); }, {a});
  expect_gradcheck("mean", [](const Inputs& v) { return v[0].mean({0}); }, {a});
  expect_gradcheck("prod", [](const Inputs& v) { return v[0].prod(); }, {a});
  expect_gradcheck("prod dim", [](const Inputs& v) { return v[0].prod(1, false); }, {a});
  expect_gradcheck("cumsum", [](const Inputs& v) { return v[0].cumsum(1); }, {a});
  expect_gradcheck("cumprod", [](const Inputs& v) { return v[0].cumprod(0); }, {a});
  expect_gradcheck("mm", [](const Inputs& v) { return v[0].mm(v[1]); }, {a, b});
  expect_gradcheck("bmm", [](const Inputs& v) { return v[0].bmm(v[0].transpose(1, 2)); }, {c});
  expect_gradcheck("matmul", [](const Inputs& v) { return v[0].matmul(v[1]); }, {c, b});
  expect_gradcheck("dot", [](const Inputs& v) { return v[0].select(0, 0).dot(v[1].select(1, 0)); }, {a, b});
}

TD_DEVICE_TEST(ComplexAutogradTest, GradcheckIndexJoinAndShapeOps) {
  Tensor a = zinput({3, 4}), b = zinput({2, 4}, 0.1);
  Tensor index = idx({2, 0, 1, 1, 3, 0}, {3, 2});
  expect_gradcheck("gather", [&](const Inputs& v) { return v[0].gather(1, index); }, {a});
  // scatter needs distinct indices per row (a repeated one keeps either source, which no gradient can model).
  Tensor distinct = idx({2, 0, 1, 3, 3, 0}, {3, 2});
  expect_gradcheck("scatter",
                   [&](const Inputs& v) {
                     return v[0].scatter(1, distinct, v[1].narrow(1, 0, 2).repeat({2, 1}).narrow(0, 0, 3));
                   },
                   {a, b});
  expect_gradcheck("scatter_add",
                   [&](const Inputs& v) { return v[0].scatter_add(1, index, v[0].narrow(1, 1, 2)); }, {a});
  expect_gradcheck("cat", [](const Inputs& v) { return Tensor::cat({v[0], v[1]}, 0); }, {a, b});
  expect_gradcheck("stack",
                   [](const Inputs& v) {
                     return Tensor::stack({v[0].narrow(0, 0, 2), v[1]}, 1);
                   },
                   {a, b});
  expect_gradcheck("split", [](const Inputs& v) { return v[0].split(2, 1)[1]; }, {a});
  expect_gradcheck("unbind", [](const Inputs& v) { return v[0].unbind(0)[2]; }, {a});
  expect_gradcheck("flip", [](const Inputs& v) { return v[0].flip({0, 1}); }, {a});
  expect_gradcheck(
      "views",
      [](const Inputs& v) {
        return v[0].t().reshape({2, 6}).unsqueeze(0).expand({2, 2, 6}).permute({2, 0, 1}).diagonal(0, 1, 2);
      },
      {a});
  expect_gradcheck("view_as_complex",
                   [](const Inputs& v) { return v[0].view_as_real().mul(2).contiguous().view_as_complex(); },
                   {a});
  expect_gradcheck("index", [&](const Inputs& v) { return v[0].index_select(0, idx({2, 0, 2}, {3})); }, {a});
}

// ---- what stays refused ----

TD_DEVICE_TEST(ComplexAutogradTest, UnverifiedOpsRefuseComplexGradients) {
  // scatter_reduce's backward (prod, mean) is not checked for complex values: recording it is an error that
  // names the op, not a silently wrong gradient. Without grad it runs.
  Tensor z = zinput({4});
  Tensor index = idx({0, 1, 0, 1}, {4});
  EXPECT_THAT(error_of([&] { z.scatter_reduce(0, index, z, "sum"); }).what(),
              HasSubstr("[scatter_reduce] gradients through complex tensors are not implemented yet"));
  EXPECT_EQ(z.detach().scatter_reduce(0, index, z.detach(), "sum").dtype(), DType::kComplex128);
  // Every op that records a complex value either declares its backward verified or refuses.
  for (const OpDef* def : Registry::get().list()) {
    if (def->complex_autograd) {
      EXPECT_EQ(def->autograd, AutogradKind::kPrimitive) << def->schema.name;
    }
  }
}

TD_DEVICE_TEST(ComplexAutogradTest, GradcheckCatchesAnUnconjugatedGradient) {
  // A backward that misses part of the derivative must fail the complex check: z * detach(z) is z^2 to
  // finite differences (derivative 2z) but sends back only g conj(z).
  Tensor z = zinput({2});
  auto wrong = [](const Inputs& v) { return v[0].mul(v[0].detach()); };
  auto r = autograd::gradcheck(wrong, {z});
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.message, HasSubstr("part of the complex output"));
}

TD_INSTANTIATE_DEVICES(ComplexAutogradTest);

}  // namespace
}  // namespace td
