// The unary, extra binary and comparison families: values PyTorch's golden file cannot hold (NaN, inf,
// -0.), wrapped numbers in type promotion, error paths, and first and second derivatives by finite
// differences for every differentiable op.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::error_of;
using Inputs = std::vector<Tensor>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

class UnaryTest : public testing::DeviceTest {
 protected:
  /// float64 leaf with values inside (lo, hi), distinct and away from the ends.
  Tensor input(std::vector<int64_t> shape, double lo, double hi) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    // Evenly spaced through the middle 70% of the range, in an interleaved order so a transpose matters.
    const double n_d = static_cast<double>(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      size_t k = i % 2 ? v.size() - 1 - i / 2 : i / 2;
      v[i] = lo + (hi - lo) * (0.15 + 0.7 * (static_cast<double>(k) + 0.5) / n_d);
    }
    return make64(v, std::move(shape)).requires_grad_();
  }
};

TD_DEVICE_TEST(UnaryTest, NanInfAndSignedZeroFollowPyTorch) {
  Tensor x = make64({kNaN, -0.0, 0.0, -2.5, 2.5, kInf, -kInf}, {7});
  std::vector<double> sign = x.sign().to_vector<double>();
  EXPECT_EQ(sign[0], 0);  // sign(NaN) is 0 in PyTorch 1.13
  EXPECT_EQ(sign[5], 1);
  EXPECT_EQ(sign[6], -1);
  std::vector<double> abs = x.abs().to_vector<double>();
  EXPECT_TRUE(std::isnan(abs[0]));
  EXPECT_FALSE(std::signbit(abs[1]));  // abs(-0.) is +0.
  EXPECT_EQ(abs[6], kInf);
  std::vector<double> relu = x.relu().to_vector<double>();
  EXPECT_TRUE(std::isnan(relu[0]));  // NaN passes through relu
  EXPECT_TRUE(std::signbit(relu[1]));  // relu(-0.) keeps -0., like clamp_min(0)
  EXPECT_EQ(relu[3], 0);
  EXPECT_THAT(x.isnan().to_vector<int64_t>(), ElementsAre(1, 0, 0, 0, 0, 0, 0));
  EXPECT_THAT(x.isinf().to_vector<int64_t>(), ElementsAre(0, 0, 0, 0, 0, 1, 1));
  EXPECT_THAT(x.isfinite().to_vector<int64_t>(), ElementsAre(0, 1, 1, 1, 1, 0, 0));
  EXPECT_THAT(x.logical_not().to_vector<int64_t>(), ElementsAre(0, 1, 1, 0, 0, 0, 0));
  EXPECT_EQ(x.isnan().dtype(), DType::kBool);
  // maximum/minimum propagate NaN from either side.
  Tensor y = make64({1, kNaN}, {2}), z = make64({kNaN, 2}, {2});
  for (double v : y.maximum(z).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
  for (double v : y.minimum(z).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
  // erfinv at the ends of its domain, and outside it.
  std::vector<double> e = make64({1, -1, 1.5, 0}, {4}).erfinv().to_vector<double>();
  EXPECT_EQ(e[0], kInf);
  EXPECT_EQ(e[1], -kInf);
  EXPECT_TRUE(std::isnan(e[2]));
  EXPECT_EQ(e[3], 0);
}

TD_DEVICE_TEST(UnaryTest, ErfinvInvertsErfToFullPrecision) {
  Tensor x = make64({-3.5, -1, -0.25, 1e-8, 0.5, 2, 4}, {7});
  std::vector<double> back = x.erf().erfinv().to_vector<double>(), want = x.to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(back[i], want[i], 1e-9 * std::max(1.0, std::fabs(want[i])));
}

TD_DEVICE_TEST(UnaryTest, IntegerDivisionByZeroIsAnErrorNotACrash) {
  Tensor a = tensor<int64_t>({7, -7}, {2}, device_), zero = tensor<int64_t>({1, 0}, {2}, device_);
  for (auto op : {"remainder", "fmod", "floor_divide"}) {
    Error e = error_of([&] { call_op(op, {a, zero}); });
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << op;
    EXPECT_THAT(e.what(), HasSubstr("ZeroDivisionError")) << op;
  }
  // The minimum int64 divided by -1 wraps instead of trapping.
  Tensor m = tensor<int64_t>({std::numeric_limits<int64_t>::min()}, {1}, device_);
  Tensor minus1 = tensor<int64_t>({-1}, {1}, device_);
  EXPECT_EQ(m.floor_divide(minus1).item<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(m.remainder(minus1).item<int64_t>(), 0);
  // Floats divide by zero as IEEE says.
  EXPECT_EQ(make64({1}, {1}).floor_divide(make64({0}, {1})).item<double>(), kInf);
}

TD_DEVICE_TEST(UnaryTest, WrappedNumbersPromoteLikePythonScalars) {
  Tensor i32 = tensor<int32_t>({1, 2}, {2}, device_);
  EXPECT_EQ(i32.add(2).dtype(), DType::kInt32);          // an int keeps int32
  EXPECT_EQ(i32.mul(2.5).dtype(), DType::kFloat32);      // a float gives the default float
  EXPECT_EQ(make64({1}, {1}).mul(2).dtype(), DType::kFloat64);
  Tensor i32_0d = full({}, 3, {DType::kInt32, device_});
  EXPECT_EQ(i32_0d.add(2).dtype(), DType::kInt32);       // a 0-dim tensor still outranks a number
  EXPECT_EQ(i32.add(full({}, 2, {DType::kInt64, device_})).dtype(), DType::kInt32);
  EXPECT_THAT((make({1, 2, 3}, {3}) * 2 + 1).to_vector<float>(), ElementsAre(3, 5, 7));
  EXPECT_THAT(make({1, 2, 3}, {3}).gt(1.5).to_vector<int64_t>(), ElementsAre(0, 1, 1));
  EXPECT_THAT(tensor<int64_t>({1, 2}, {2}, device_).eq(2.0).to_vector<int64_t>(), ElementsAre(0, 1));
}

TD_DEVICE_TEST(UnaryTest, BadDtypesAreNamed) {
  Tensor b = tensor_bool({true, false}, {2}, device_), f = make({1.5f}, {1});
  EXPECT_STREQ(error_of([&] { (void)b.abs(); }).what(), "[abs] not implemented for 'bool'");
  EXPECT_STREQ(error_of([&] { (void)b.relu(); }).what(), "[relu] Boolean inputs not supported for relu");
  EXPECT_STREQ(error_of([&] { (void)tensor<int64_t>({1}, {1}, device_).frac(); }).what(),
               "[frac] not implemented for 'int64'");
  EXPECT_THAT(error_of([&] { (void)f.bitwise_not(); }).what(), HasSubstr("[bitwise_not] not implemented for 'float32'"));
  EXPECT_THAT(error_of([&] { (void)f.bitwise_and(f); }).what(), HasSubstr("[bitwise_and] not implemented for 'float32'"));
  EXPECT_STREQ(error_of([&] { (void)b.remainder(b); }).what(), "[remainder] not implemented for 'bool'");
  Error e = error_of([&] { (void)f.where(f, f); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[where] where expected condition to be a boolean tensor, but got a tensor with dtype float32");
  EXPECT_STREQ(error_of([&] { (void)tensor<int64_t>({2}, {1}, device_).pow(-1); }).what(),
               "[pow] Integers to negative integer powers are not allowed.");
  EXPECT_STREQ(error_of([&] { (void)f.clamp(std::nullopt, std::nullopt); }).what(),
               "[clamp] At least one of 'min' or 'max' must not be None");
  EXPECT_THAT(error_of([&] { (void)make({1, 2}, {2}).lt(make({1, 2, 3}, {3})); }).what(),
              HasSubstr("[lt] The size of tensor a (2) must match the size of tensor b (3)"));
}

TD_DEVICE_TEST(UnaryTest, ExactGradients) {
  // d relu(x)/dx = 1 where x > 0; the tie at 0 gets 0, as PyTorch.
  Tensor x = make({-1, 0, 2}, {3}).requires_grad_();
  x.relu().sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(0, 0, 1));
  // d clamp(x, 0, 1)/dx = 1 on [0, 1], bounds included.
  Tensor y = make({-1, 0, 0.5, 1, 2}, {5}).requires_grad_();
  y.clamp(0, 1).sum().backward();
  EXPECT_THAT(y.grad().to_vector<float>(), ElementsAre(0, 1, 1, 1, 0));
  // maximum splits the gradient at ties: [1, 2] vs [1, 3] sends (0.5, 0) and (0.5, 1).
  Tensor a = make({1, 2}, {2}).requires_grad_(), b = make({1, 3}, {2}).requires_grad_();
  a.maximum(b).sum().backward();
  EXPECT_THAT(a.grad().to_vector<float>(), ElementsAre(0.5f, 0));
  EXPECT_THAT(b.grad().to_vector<float>(), ElementsAre(0.5f, 1));
  // where routes each element's gradient to the input it came from.
  Tensor p = make({1, 2, 3}, {3}).requires_grad_(), q = make({4, 5, 6}, {3}).requires_grad_();
  Tensor cond = tensor_bool({true, false, true}, {3}, device_);
  p.where(cond, q).sum().backward();
  EXPECT_THAT(p.grad().to_vector<float>(), ElementsAre(1, 0, 1));
  EXPECT_THAT(q.grad().to_vector<float>(), ElementsAre(0, 1, 0));
  // d exp(x)/dx = exp(x); at x = 0 it is 1.
  Tensor z = make({0}, {1}).requires_grad_();
  z.exp().sum().backward();
  EXPECT_FLOAT_EQ(z.grad().item<float>(), 1.0f);
}

TD_DEVICE_TEST(UnaryTest, GradcheckEveryDifferentiableUnaryOp) {
  struct Case {
    const char* name;
    double lo, hi;
  };
  // Domains keep clear of poles and kinks (abs/relu/floor at 0, sqrt at 0, acosh at 1).
  const Case cases[] = {{"exp", -2, 2},    {"exp2", -2, 2},    {"expm1", -2, 2},     {"log", 0.2, 3},
                        {"log2", 0.2, 3},  {"log10", 0.2, 3},  {"log1p", -0.5, 3},   {"sqrt", 0.2, 3},
                        {"rsqrt", 0.2, 3}, {"sin", -3, 3},     {"cos", -3, 3},       {"tan", -1.2, 1.2},
                        {"asin", -0.8, 0.8}, {"acos", -0.8, 0.8}, {"atan", -3, 3},   {"sinh", -2, 2},
                        {"cosh", -2, 2},   {"tanh", -2, 2},    {"asinh", -3, 3},     {"acosh", 1.2, 3},
                        {"atanh", -0.8, 0.8}, {"sigmoid", -3, 3}, {"erf", -2, 2},    {"erfc", -2, 2},
                        {"erfinv", -0.8, 0.8}, {"reciprocal", 0.3, 3}, {"frac", 0.1, 0.9}, {"abs", 0.2, 2},
                        {"relu", 0.2, 2},  {"floor", 0.1, 0.9}, {"ceil", 0.1, 0.9}, {"round", 0.1, 0.4},
                        {"trunc", 0.1, 0.9}, {"sign", 0.1, 0.9}};
  for (const Case& c : cases) {
    std::string op = c.name;
    autograd::GradcheckFn fn = [op](const Inputs& x) { return x[0].t().invoke_op(op, {x[0].t()}); };
    Tensor x = input({2, 3}, c.lo, c.hi);
    auto r = autograd::gradcheck(fn, {x});
    EXPECT_TRUE(r.ok) << op << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {x});
    EXPECT_TRUE(rr.ok) << op << " (second order): " << rr.message;
  }
}

TD_DEVICE_TEST(UnaryTest, GradcheckBinaryAndWhere) {
  Tensor a = input({2, 3}, 0.5, 2), b = input({2, 3}, -1.5, 1.5), c = input({3}, 0.5, 1.5);
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"maximum", [](const Inputs& x) { return x[0].maximum(x[1]); }},
      {"minimum_broadcast", [](const Inputs& x) { return x[0].minimum(x[2]); }},
      {"pow", [](const Inputs& x) { return x[0].pow(x[1]); }},
      {"pow_scalar", [](const Inputs& x) { return x[0].pow(3); }},
      {"fmod", [](const Inputs& x) { return x[1].fmod(x[2]); }},
      {"remainder", [](const Inputs& x) { return x[1].remainder(x[2]); }},
      {"atan2", [](const Inputs& x) { return x[1].atan2(x[0]); }},
      {"clamp", [](const Inputs& x) { return x[1].clamp(-1.0, 1.0); }},
      {"where", [](const Inputs& x) { return x[0].where(x[1].gt(0), x[2]); }},
  };
  for (auto& [name, fn] : fns) {
    auto r = autograd::gradcheck(fn, {a, b, c});
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {a, b, c});
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  }
}

TD_INSTANTIATE_DEVICES(UnaryTest);

}  // namespace
}  // namespace td
