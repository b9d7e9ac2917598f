// The composite ops of core/ops/composite.cpp: gradchecks (PyTorch's values are in
// tests/golden/composite.json) and one test per class of bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

class CompositeTest : public testing::DeviceTest {};
TD_INSTANTIATE_DEVICES(CompositeTest);

TD_DEVICE_TEST(CompositeTest, GradientsPassGradcheck) {
  Tensor a = make64({0.3, -1.2, 2.0, 0.7, -0.4, 1.5}, {2, 3}).requires_grad_();
  Tensor b = make64({1.1, 0.5, -0.9, 0.2, 1.4, -1.3}, {2, 3}).requires_grad_();
  Tensor pos = make64({0.5, 1.5, 2.5, 0.7, 1.1, 3.0}, {2, 3}).requires_grad_();
  auto check = [](const char* name, const autograd::GradcheckFn& fn, std::vector<Tensor> in) {
    auto r = autograd::gradcheck(fn, in);
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, in);
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  };
  check("hypot", [](auto& in) { return in[0].hypot(in[1].t().t()); }, {a, b});
  check("logaddexp", [](auto& in) { return in[0].logaddexp(in[1]); }, {a, b});
  check("xlogy", [](auto& in) { return in[0].xlogy(in[1]); }, {a, pos});
  check("cross", [](auto& in) { return in[0].cross(in[1], 1); }, {a, b});
  check("diff", [](auto& in) { return in[0].diff(2, 1); }, {a});
  check("var_mean", [](auto& in) {
    auto [v, m] = in[0].var_mean(std::vector<int64_t>{1});
    return v.add(m.mul(m));
  }, {a});
  check("trace", [](auto& in) { return in[0].trace(); }, {a});
  check("nanmean", [](auto& in) { return in[0].nanmean(std::vector<int64_t>{0}); }, {a});
  check("take_along_dim", [&](auto& in) {
    return in[0].take_along_dim(tensor(std::vector<int64_t>{2, 0, 1, 1}, {2, 2}, device_), 1);
  }, {a});
  check("index_copy", [&](auto& in) {
    return in[0].index_copy(1, tensor(std::vector<int64_t>{2, 0}, {2}, device_), in[1].narrow(1, 0, 2));
  }, {a, b});
  check("index_fill", [&](auto& in) { return in[0].index_fill(0, tensor(std::vector<int64_t>{1}, {1}, device_), 2.0); },
        {a});
}

TD_DEVICE_TEST(CompositeTest, ValuesAtTheEdges) {
  Tensor big = make64({3e200, 0.0}, {2}), other = make64({4e200, 0.0}, {2});
  EXPECT_THAT(big.hypot(other).to_vector<double>(), ElementsAre(::testing::DoubleNear(5e200, 1e186), 0.0));
  EXPECT_THAT(make({1.0f, 2.0f}, {2}).isclose(make({1.0f + 1e-6f, 2.1f}, {2})).to_vector<int64_t>(),
              ElementsAre(1, 0));
  EXPECT_TRUE(make({1, 2}, {2}).equal(make({1, 2}, {2})).item<bool>());
  EXPECT_FALSE(make({1, 2}, {2}).equal(make({1, 2, 3}, {3})).item<bool>());
  auto [lo, hi] = make({3, -1, 7, 2}, {2, 2}).aminmax(0);
  EXPECT_THAT(lo.to_vector<float>(), ElementsAre(3, -1));
  EXPECT_THAT(hi.to_vector<float>(), ElementsAre(7, 2));
  EXPECT_THAT(tensor(std::vector<int64_t>{1, 1, 4}, {3}, device_).bincount().to_vector<int64_t>(),
              ElementsAre(0, 2, 0, 0, 1));
}

TD_DEVICE_TEST(CompositeTest, BadInputsAreNamedErrors) {
  Tensor x = make({1, 2, 3, 4}, {2, 2});
  EXPECT_THAT(error_of([&] { x.trace().add(make({1}, {1}).trace()); }).what(),
              HasSubstr("[trace] trace: expected a matrix, but got tensor with dim 1"));
  EXPECT_THAT(error_of([&] { x.cross(x); }).what(), HasSubstr("[cross] no dimension of size 3 in input"));
  EXPECT_THAT(error_of([&] { x.isclose(x.to(DType::kFloat64)); }).what(),
              HasSubstr("[isclose] float32 did not match float64"));
  EXPECT_THAT(error_of([&] { x.isclose(x, -1.0); }).what(),
              HasSubstr("rtol must be greater than or equal to zero, but got -1"));
  EXPECT_THAT(error_of([&] { x.bincount(); }).what(),
              HasSubstr("[bincount] bincount only supports 1-d non-negative integral inputs."));
  EXPECT_THAT(error_of([&] { tensor(std::vector<int64_t>{-1}, {1}, device_).bincount(); }).what(),
              HasSubstr("non-negative"));
  EXPECT_THAT(error_of([&] { x.bucketize(x); }).what(), HasSubstr("boundaries tensor must be 1 dimension"));
  EXPECT_THAT(error_of([&] { x.diff(-1); }).what(), HasSubstr("[diff] order must be non-negative but got -1"));
  EXPECT_THAT(error_of([&] { x.nanmean().add(tensor(std::vector<int64_t>{1}, {1}, device_).nanmean()); }).what(),
              HasSubstr("nanmean(): expected input to have floating point dtype but got int64"));
  EXPECT_THAT(error_of([&] { x.take_along_dim(tensor(std::vector<int64_t>{0}, {1}, device_), 0); }).what(),
              HasSubstr("input and indices should have the same number of dimensions"));
  EXPECT_THAT(error_of([&] { call_op("meshgrid", {std::vector<Tensor>{x}}); }).what(),
              HasSubstr("[meshgrid] Expected 0D or 1D tensor in the tensor list but got: [2, 2]"));
}

TEST(TriIndices, MatchTheDefinitionAndStayCheapForHugeSizes) {
  for (bool lower : {true, false}) {
    const std::string op = lower ? "tril_indices" : "triu_indices";
    for (int64_t row = 0; row <= 6; ++row) {
      for (int64_t col = 0; col <= 6; ++col) {
        for (int64_t offset = -8; offset <= 8; ++offset) {
          std::vector<int64_t> rows, cols;
          for (int64_t i = 0; i < row; ++i) {
            for (int64_t j = 0; j < col; ++j) {
              if (lower ? j - i <= offset : j - i >= offset) {
                rows.push_back(i);
                cols.push_back(j);
              }
            }
          }
          const Tensor got = call_op(op, {Scalar(row), Scalar(col), Scalar(offset)})[0];
          ASSERT_EQ(got.shape(), (std::vector<int64_t>{2, static_cast<int64_t>(rows.size())}))
              << op << "(" << row << ", " << col << ", " << offset << ")";
          rows.insert(rows.end(), cols.begin(), cols.end());
          EXPECT_EQ(got.to_vector<int64_t>(), rows) << op << "(" << row << ", " << col << ", " << offset << ")";
        }
      }
    }
  }
  // Found by the command fuzzer: a huge side with a small triangle used to loop over every column.
  const int64_t huge = int64_t{1} << 40;
  EXPECT_EQ(call_op("tril_indices", {Scalar(3), Scalar(huge)})[0].shape(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(call_op("triu_indices", {Scalar(huge), Scalar(3)})[0].shape(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(call_op("tril_indices", {Scalar(huge), Scalar(0)})[0].shape(), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(call_op("triu_indices", {Scalar(3), Scalar(huge), Scalar(huge * 2)})[0].shape(),
            (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(testing::error_of([&] { (void)call_op("tril_indices", {Scalar(huge), Scalar(huge)}); }).code(),
            ErrorCode::kResourceExhausted);
}

// Found by the command fuzzer: 0-d inputs used to index past their (empty) shapes.
TEST(ZeroDimInputs, AreAnsweredNotCrashedOn) {
  const Tensor x = scalar_tensor(Scalar(5.0)), i = scalar_tensor(Scalar(int64_t{0}), DType::kInt64);
  EXPECT_EQ(call_op("take_along_dim", {x, i, Scalar(0)})[0].item<double>(), 5.0);
  EXPECT_EQ(testing::error_of([&] { (void)x.size(0); }).code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(testing::error_of([&] { (void)x.stride(-1); }).what(), HasSubstr("but tensor has no dimensions"));
  EXPECT_EQ(testing::error_of([&] { (void)call_op("cross", {x, x, Scalar(0)}); }).code(), ErrorCode::kInvalidArgument);
  const Tensor one_index = zeros({1}, TensorOptions{DType::kInt64});
  EXPECT_EQ(call_op("index_add", {x, Scalar(0), one_index, scalar_tensor(Scalar(2.0))})[0].item<double>(), 7.0);
  EXPECT_EQ(call_op("movedim", {x, Scalar(0), Scalar(-1)})[0].dim(), 0);
  // An empty tensor with huge sides has nothing to mask (found by the fuzzer: it built a 2**40-entry mask).
  const Tensor empty_huge = zeros({1 << 20, 0}).expand({0, 1 << 20, 0}).reshape({0, 1 << 20, 1 << 20});
  EXPECT_EQ(call_op("triu", {empty_huge, Scalar(2)})[0].shape(), empty_huge.shape());
}

}  // namespace
}  // namespace td
