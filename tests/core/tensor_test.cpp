// Tensor basics: creation, dtypes, strides and views, item/to_vector, printing, promotion.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <complex>

#include "core/error.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"

namespace td {
namespace {

using ::testing::ElementsAre;

TEST(DType, PromotionFollowsPyTorchTable) {
  EXPECT_EQ(promote_types(DType::kBool, DType::kInt64), DType::kInt64);
  EXPECT_EQ(promote_types(DType::kInt64, DType::kFloat32), DType::kFloat32);
  EXPECT_EQ(promote_types(DType::kFloat32, DType::kFloat64), DType::kFloat64);
  EXPECT_EQ(promote_types(DType::kUInt8, DType::kInt8), DType::kInt16);
  EXPECT_EQ(promote_types(DType::kFloat16, DType::kBFloat16), DType::kFloat32);
  EXPECT_EQ(promote_types(DType::kComplex64, DType::kFloat64), DType::kComplex128);
  EXPECT_EQ(promote_types(DType::kInt32, DType::kInt16), DType::kInt32);
  EXPECT_EQ(dtype_from_name("torch.float64"), DType::kFloat64);
  EXPECT_EQ(dtype_from_name("long"), DType::kInt64);
  EXPECT_THROW(dtype_from_name("float128"), Error);
}

// torch.result_type and torch.can_cast, the values PyTorch 1.13 gives for the same operands.
TEST(DType, ResultTypeAndCanCastFollowPyTorch) {
  auto t = [](DType d) { return ones({1}, {d}); };
  auto zero_dim = [](DType d) { return ones({}, {d}); };
  EXPECT_EQ(result_type(t(DType::kInt32), 2.5), DType::kFloat32);
  EXPECT_EQ(result_type(t(DType::kInt32), zero_dim(DType::kFloat64)), DType::kFloat64);
  EXPECT_EQ(result_type(t(DType::kFloat32), zero_dim(DType::kFloat64)), DType::kFloat32);
  EXPECT_EQ(result_type(t(DType::kUInt8), 1000), DType::kUInt8);
  EXPECT_EQ(result_type(t(DType::kInt8), zero_dim(DType::kUInt8)), DType::kInt8);
  EXPECT_EQ(result_type(t(DType::kBool), true), DType::kBool);
  EXPECT_EQ(result_type(t(DType::kBool), 5), DType::kInt64);
  EXPECT_EQ(result_type(t(DType::kFloat16), 1.0), DType::kFloat16);
  EXPECT_EQ(result_type(t(DType::kFloat32), std::complex<double>(0, 1)), DType::kComplex64);
  EXPECT_EQ(result_type(t(DType::kFloat64), std::complex<double>(0, 1)), DType::kComplex128);
  EXPECT_EQ(result_type(zero_dim(DType::kInt32), zero_dim(DType::kInt64)), DType::kInt64);
  EXPECT_EQ(result_type(zero_dim(DType::kInt32), 2.0), DType::kFloat32);
  EXPECT_EQ(result_type(zero_dim(DType::kBool), 2), DType::kInt64);
  EXPECT_EQ(result_type(2, t(DType::kInt16)), DType::kInt16);
  EXPECT_FALSE(can_cast(DType::kFloat32, DType::kInt32));
  EXPECT_TRUE(can_cast(DType::kInt32, DType::kFloat16));
  EXPECT_FALSE(can_cast(DType::kComplex64, DType::kFloat64));
  EXPECT_TRUE(can_cast(DType::kBool, DType::kUInt8));
  EXPECT_FALSE(can_cast(DType::kUInt8, DType::kBool));
}

TEST(Device, ParsesAndPrints) {
  EXPECT_EQ(Device::parse("cuda:3").index, 3);
  EXPECT_EQ(Device::parse("cuda").str(), "cuda:0");
  EXPECT_EQ(Device::parse("cpu").str(), "cpu");
  EXPECT_THROW(Device::parse("tpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
}

class TensorTest : public testing::DeviceTest {};

TD_DEVICE_TEST(TensorTest, CreationAndReadBack) {
  Tensor z = zeros({2, 3}, {DType::kFloat64, device_});
  EXPECT_EQ(z.dtype(), DType::kFloat64);
  EXPECT_THAT(z.shape(), ElementsAre(2, 3));
  EXPECT_THAT(z.strides(), ElementsAre(3, 1));
  EXPECT_EQ(z.to_vector<double>(), std::vector<double>(6, 0.0));
  Tensor f = full({2}, 7, {DType::kInt64, device_});
  EXPECT_THAT(f.to_vector<int64_t>(), ElementsAre(7, 7));
  Tensor b = tensor_bool({true, false, true}, {3}, device_);
  EXPECT_THAT(b.to_vector<int64_t>(), ElementsAre(1, 0, 1));
  EXPECT_EQ(scalar_tensor(2.5, std::nullopt, device_).item<double>(), 2.5);
  EXPECT_EQ(scalar_tensor(true, std::nullopt, device_).dtype(), DType::kBool);
}

TD_DEVICE_TEST(TensorTest, ItemNeedsOneElement) {
  Tensor t = make({1, 2}, {2});
  try {
    (void)t.item();
    FAIL() << "item() of 2 elements must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_STREQ(e.what(), "[item] a Tensor with 2 elements cannot be converted to Scalar");
  }
}

TD_DEVICE_TEST(TensorTest, ViewsShareStorage) {
  Tensor a = make({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = a.t();
  EXPECT_TRUE(t.shares_storage(a));
  EXPECT_THAT(t.shape(), ElementsAre(3, 2));
  EXPECT_THAT(t.strides(), ElementsAre(1, 3));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_THAT(t.to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  Tensor c = t.contiguous();
  EXPECT_FALSE(c.shares_storage(a));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_TRUE(a.contiguous().is_same(a));  // already contiguous: the same tensor, as in PyTorch
  EXPECT_THAT(a.view({3, -1}).shape(), ElementsAre(3, 2));
  EXPECT_THAT(a.unsqueeze(1).shape(), ElementsAre(2, 1, 3));
  EXPECT_THAT(a.unsqueeze(-1).strides(), ElementsAre(3, 1, 1));
  EXPECT_THAT(a.unsqueeze(0).squeeze(0).shape(), ElementsAre(2, 3));
  EXPECT_THAT(a.permute({1, 0}).to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  EXPECT_THAT(make({1, 2}, {2, 1}).expand({2, 3}).to_vector<float>(), ElementsAre(1, 1, 1, 2, 2, 2));
  EXPECT_THAT(make({1, 2}, {2, 1}).expand({2, 3}).strides(), ElementsAre(1, 0));
}

TD_DEVICE_TEST(TensorTest, ViewOfNonContiguousFailsButReshapeCopies) {
  Tensor t = make({0, 1, 2, 3, 4, 5}, {2, 3}).t();
  try {
    (void)t.view({6});
    FAIL() << "view of a transposed tensor must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("Use .reshape(...) instead"), std::string::npos);
  }
  EXPECT_THAT(t.reshape({6}).to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  EXPECT_THROW((void)t.reshape({4}), Error);
  try {
    (void)make({1, 2, 3, 4, 5, 6}, {6}).view({4});
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "[view] shape '[4]' is invalid for input of size 6");
  }
}

TD_DEVICE_TEST(TensorTest, ToConvertsDtypeAndReturnsSelfWhenUnchanged) {
  Tensor a = make({1.5f, -2.5f, 0}, {3});
  EXPECT_TRUE(a.to(DType::kFloat32).is_same(a));
  EXPECT_FALSE(a.to(DType::kFloat32, /*non_blocking=*/false, /*copy=*/true).is_same(a));
  EXPECT_THAT(a.to(DType::kInt64).to_vector<int64_t>(), ElementsAre(1, -2, 0));  // truncation, as C casts
  EXPECT_THAT(a.to(DType::kBool).to_vector<int64_t>(), ElementsAre(1, 1, 0));
  Tensor h = a.to("cpu");
  EXPECT_EQ(h.device(), kCPU);
  EXPECT_THAT(h.to_vector<float>(), ElementsAre(1.5f, -2.5f, 0));
}

TD_DEVICE_TEST(TensorTest, LargeTransposedCopiesAreExact) {
  // Sizes that are not multiples of the CPU's 32 x 32 copy tiles, with a batch dim and a dtype change.
  const int64_t b = 3, r = 40, c = 37;
  std::vector<float> v(static_cast<size_t>(b * r * c));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  Tensor x = make(v, {b, r, c});
  Tensor t = x.transpose(1, 2).contiguous();
  Tensor t64 = x.transpose(1, 2).to(DType::kFloat64);
  std::vector<float> got = t.to_vector<float>();
  std::vector<double> got64 = t64.to_vector<double>();
  for (int64_t k = 0; k < b; ++k) {
    for (int64_t j = 0; j < c; ++j) {
      for (int64_t i = 0; i < r; ++i) {
        // t[k][j][i] = x[k][i][j] = k*r*c + i*c + j.
        size_t at = static_cast<size_t>((k * c + j) * r + i);
        ASSERT_EQ(got[at], static_cast<float>(k * r * c + i * c + j)) << k << " " << j << " " << i;
        ASSERT_EQ(got64[at], static_cast<double>(k * r * c + i * c + j));
      }
    }
  }
}

TD_INSTANTIATE_DEVICES(TensorTest);

TEST(TensorPrint, MatchesPyTorchRepr) {
  EXPECT_EQ(tensor<float>({1, 2, 3, 4}, {2, 2}).str(), "tensor([[1., 2.],\n        [3., 4.]])");
  EXPECT_EQ(tensor<float>({0.5f, 1.25f}, {2}).str(), "tensor([0.5000, 1.2500])");
  EXPECT_EQ(tensor<double>({1, 2}, {2}).str(), "tensor([1., 2.], dtype=torch.float64)");
  EXPECT_EQ(tensor<int64_t>({1, -20}, {2}).str(), "tensor([  1, -20])");
  EXPECT_EQ(scalar_tensor(3.0).str(), "tensor(3.)");
  EXPECT_EQ(tensor_bool({true, false}, {2}).str(), "tensor([ True, False])");
  EXPECT_EQ(zeros({0}).str(), "tensor([])");
  EXPECT_EQ(zeros({2, 0}).str(), "tensor([], size=(2, 0))");
  Tensor x = ones({2}).requires_grad_();
  EXPECT_EQ(x.str(), "tensor([1., 1.], requires_grad=True)");
  EXPECT_EQ(x.mul(x).str(), "tensor([1., 1.], grad_fn=<MulBackward0>)");
}

TEST(TensorPrint, SummarisesLargeTensors) {
  std::string s = zeros({2000}).str();
  EXPECT_EQ(s, "tensor([0., 0., 0.,  ..., 0., 0., 0.])");
}

}  // namespace
}  // namespace td
