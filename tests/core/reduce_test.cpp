// Reductions beyond sum: NaN and tie rules, zero handling in prod, dtype rules, error paths, and first and
// second derivatives by finite differences.
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

class ReduceTest : public testing::DeviceTest {
 protected:
  /// A float64 leaf with distinct values (no ties, no zeros) in a fixed pseudo-random order.
  Tensor distinct(std::vector<int64_t> shape) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    // k * 0.37 for a permutation k of 0..n-1 (5 is coprime to the sizes used), centred, never zero.
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] = static_cast<double>((i * 5) % v.size()) * 0.37 - 0.37 * static_cast<double>(v.size()) / 2 + 0.13;
    }
    return make64(v, std::move(shape)).requires_grad_();
  }
};

TD_DEVICE_TEST(ReduceTest, NanPropagatesThroughMaxAndArgmax) {
  Tensor x = make64({1, kNaN, 3, kNaN}, {4});
  EXPECT_TRUE(std::isnan(x.max().item<double>()));
  EXPECT_TRUE(std::isnan(x.amin().item<double>()));
  auto [values, indices] = x.max(0);
  EXPECT_TRUE(std::isnan(values.item<double>()));
  EXPECT_EQ(indices.item<int64_t>(), 1);  // the first NaN
  EXPECT_EQ(x.argmin().item<int64_t>(), 1);
  EXPECT_EQ(make64({2, 5, 5, 1}, {4}).argmax().item<int64_t>(), 1);  // the first of tied maxima
}

TD_DEVICE_TEST(ReduceTest, DtypeRules) {
  Tensor i32 = tensor<int32_t>({1, 2, 3}, {3}, device_);
  EXPECT_EQ(i32.prod().dtype(), DType::kInt64);
  EXPECT_EQ(i32.prod().item<int64_t>(), 6);
  EXPECT_EQ(i32.cumsum(0).dtype(), DType::kInt64);
  EXPECT_EQ(i32.max().dtype(), DType::kInt32);
  EXPECT_EQ(i32.argmax().dtype(), DType::kInt64);
  EXPECT_EQ(make({1, 0}, {2}).all().dtype(), DType::kBool);
  EXPECT_EQ(tensor<uint8_t>({1, 2}, {2}, device_).all().dtype(), DType::kUInt8);  // PyTorch keeps uint8
  EXPECT_FALSE(make({1, 0}, {2}).all().item<bool>());
  EXPECT_TRUE(make({1, 0}, {2}).any().item<bool>());
  EXPECT_THAT(tensor_bool({true, true, false}, {3}, device_).cumsum(0).to_vector<int64_t>(), ElementsAre(1, 2, 2));
}

TD_DEVICE_TEST(ReduceTest, NormsOfEveryOrder) {
  Tensor x = make64({3, -4, 0}, {3});
  EXPECT_DOUBLE_EQ(x.norm().item<double>(), 5);
  EXPECT_DOUBLE_EQ(x.norm(1).item<double>(), 7);
  EXPECT_DOUBLE_EQ(x.norm(kInf).item<double>(), 4);
  EXPECT_DOUBLE_EQ(x.norm(-kInf).item<double>(), 0);
  EXPECT_DOUBLE_EQ(x.norm(0).item<double>(), 2);  // non-zeros
  EXPECT_DOUBLE_EQ(make64({kInf, 0, kNaN}, {3}).norm(0).item<double>(), 2);  // inf and NaN are non-zero too
  EXPECT_NEAR(x.norm(3).item<double>(), std::cbrt(27.0 + 64.0), 1e-12);
}

TD_DEVICE_TEST(ReduceTest, ProdGradientWithZeros) {
  // prod = 0 with one zero: only the zero gets a gradient, the product of the others (2 * 3 = 6).
  Tensor x = make64({2, 0, 3}, {3}).requires_grad_();
  x.prod().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(0, 6, 0));
  // Two zeros: every partial product still holds a zero.
  Tensor y = make64({0, 2, 0}, {3}).requires_grad_();
  y.prod().backward();
  EXPECT_THAT(y.grad().to_vector<double>(), ElementsAre(0, 0, 0));
}

TD_DEVICE_TEST(ReduceTest, SoftmaxIsStableAndSumsToOne) {
  Tensor x = make64({1000, 1001, 999, -kInf}, {1, 4});
  std::vector<double> p = x.softmax(1).to_vector<double>();
  EXPECT_NEAR(p[0] + p[1] + p[2] + p[3], 1.0, 1e-15);
  EXPECT_EQ(p[3], 0);
  EXPECT_NEAR(x.log_softmax(1).to_vector<double>()[1], -std::log(1 + std::exp(-1.0) + std::exp(-2.0)), 1e-12);
  EXPECT_EQ(make64({-kInf, -kInf}, {2}).logsumexp({0}).item<double>(), -kInf);
}

TD_DEVICE_TEST(ReduceTest, Errors) {
  Tensor empty64 = zeros({0}, {DType::kFloat64, device_});
  EXPECT_STREQ(error_of([&] { (void)empty64.max(); }).what(),
               "[max] max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim "
               "with the 'dim' argument.");
  EXPECT_STREQ(error_of([&] { (void)zeros({2, 0}, {DType::kFloat64, device_}).max(1); }).what(),
               "[max] max(): Expected reduction dim 1 to have non-zero size.");
  Error e = error_of([&] { (void)tensor<int64_t>({1, 2}, {2}, device_).var(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("std and var only support floating point"));
  EXPECT_THAT(error_of([&] { (void)tensor<int64_t>({1, 2}, {2}, device_).softmax(0); }).what(),
              HasSubstr("not implemented for 'int64'"));
  e = error_of([&] { (void)make({1, 2}, {2}).sum({2}); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(e.what(), HasSubstr("Dimension out of range"));
  Tensor z = make64({1, 0, 2}, {3}).requires_grad_();
  e = error_of([&] { z.cumprod(0).sum().backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kUnimplemented);
  EXPECT_THAT(e.what(), HasSubstr("[cumprod]"));
}

TD_DEVICE_TEST(ReduceTest, GradcheckEveryReduction) {
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"prod", [](const Inputs& x) { return x[0].prod(); }},
      {"prod.dim", [](const Inputs& x) { return x[0].t().prod(1, true); }},
      {"max", [](const Inputs& x) { return x[0].max(); }},
      {"min.dim", [](const Inputs& x) { return x[0].min(0).first; }},
      {"max.dim keepdim", [](const Inputs& x) { return x[0].t().max(1, true).first; }},
      {"amax", [](const Inputs& x) { return x[0].amax({1}); }},
      {"amin all", [](const Inputs& x) { return x[0].amin(); }},
      {"var", [](const Inputs& x) { return x[0].var(std::vector<int64_t>{1}); }},
      {"var all correction 0", [](const Inputs& x) { return x[0].var(std::nullopt, 0); }},
      {"std", [](const Inputs& x) { return x[0].t().std(std::vector<int64_t>{0}, 1, true); }},
      {"logsumexp", [](const Inputs& x) { return x[0].logsumexp({0}); }},
      {"norm 2", [](const Inputs& x) { return x[0].norm(); }},
      {"norm 3 dim", [](const Inputs& x) { return x[0].norm(3, std::vector<int64_t>{1}); }},
      {"norm 1", [](const Inputs& x) { return x[0].norm(1, std::vector<int64_t>{0}, true); }},
      {"cumsum", [](const Inputs& x) { return x[0].cumsum(1); }},
      {"cumprod", [](const Inputs& x) { return x[0].t().cumprod(0); }},
      {"softmax", [](const Inputs& x) { return x[0].softmax(1); }},
      {"log_softmax", [](const Inputs& x) { return x[0].t().log_softmax(1); }},
      {"mean", [](const Inputs& x) { return x[0].mean({0}, true); }},
  };
  for (auto& [name, fn] : fns) {
    Tensor x = distinct({3, 4});
    auto r = autograd::gradcheck(fn, {x});
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {x});
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  }
}

TD_INSTANTIATE_DEVICES(ReduceTest);

}  // namespace
}  // namespace td
