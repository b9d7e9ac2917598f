// Pooling: exact values and indices on every device (ceil_mode windows, padding and dilation, NaN and -inf,
// empty batches, unbatched and non-contiguous inputs), first and second derivatives by finite differences
// for every op, the nn::functional forms, and PyTorch 1.13's errors in its words.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/nn/functional.h"
#include "core/nn/pooling.h"
#include "core/random/generator.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

namespace F = nn::functional;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::error_of;
using ::testing::HasSubstr;
using Inputs = std::vector<Tensor>;
using F::IntArg;
using Shape = std::vector<int64_t>;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

class PoolTest : public testing::DeviceTest {
 protected:
  // A float64 leaf with distinct values in scrambled order (no ties, so max pooling is differentiable).
  Tensor leaf(std::vector<int64_t> shape) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * static_cast<double>((i * 37) % 101) - 5.0 + 0.001 * i;
    return make64(v, std::move(shape)).requires_grad_();
  }
  std::string error(const std::function<void()>& fn) const { return error_of(fn).what(); }
};

std::vector<int64_t> indices_of(const Tensor& t) {
  return t.to_vector<int64_t>();
}

// ---- max pooling ----

TD_DEVICE_TEST(PoolTest, MaxPool2dValuesAndIndices) {
  Tensor x = arange(16, {1, 1, 4, 4});
  auto [v, i] = F::max_pool2d_with_indices(x, 2);
  EXPECT_THAT(v.shape(), ElementsAre(1, 1, 2, 2));
  EXPECT_THAT(v.to_vector<float>(), ElementsAre(5, 7, 13, 15));
  EXPECT_THAT(indices_of(i), ElementsAre(5, 7, 13, 15));  // flat offsets in the 4x4 plane
  // Without indices (no gradient needed) the values are the same.
  EXPECT_THAT(F::max_pool2d(x, 2).to_vector<float>(), ElementsAre(5, 7, 13, 15));
  // Stride 1, padding 1, dilation 2 on a 4x4 plane: windows read rows/columns {1}, {0, 2}, {1, 3}, {2}.
  auto [vd, id] = F::max_pool2d_with_indices(x, 2, 1, 1, 2);
  EXPECT_THAT(vd.shape(), ElementsAre(1, 1, 4, 4));
  EXPECT_THAT(vd.to_vector<float>(), ElementsAre(5, 6, 7, 6, 9, 10, 11, 10, 13, 14, 15, 14, 9, 10, 11, 10));
  EXPECT_THAT(indices_of(id), ElementsAre(5, 6, 7, 6, 9, 10, 11, 10, 13, 14, 15, 14, 9, 10, 11, 10));
  // Rectangular kernel and stride.
  Tensor y = arange(24, {2, 3, 4});  // unbatched [C, H, W]
  auto [vr, ir] = F::max_pool2d_with_indices(y, {3, 2}, {1, 2});
  EXPECT_THAT(vr.shape(), ElementsAre(2, 1, 2));
  EXPECT_THAT(vr.to_vector<float>(), ElementsAre(9, 11, 21, 23));
  EXPECT_THAT(indices_of(ir), ElementsAre(9, 11, 9, 11));
}

TD_DEVICE_TEST(PoolTest, MaxPoolCeilModeWindows) {
  // 5 wide, kernel 2, stride 2: floor gives 2 windows, ceil a third holding only the last column.
  Tensor x = arange(25, {1, 1, 5, 5});
  auto [v, i] = F::max_pool2d_with_indices(x, 2, 2, 0, 1, true);
  EXPECT_THAT(v.shape(), ElementsAre(1, 1, 3, 3));
  EXPECT_THAT(v.to_vector<float>(), ElementsAre(6, 8, 9, 16, 18, 19, 21, 23, 24));
  EXPECT_THAT(indices_of(i), ElementsAre(6, 8, 9, 16, 18, 19, 21, 23, 24));
  // The last window must start inside the input or the left padding: 4 wide, kernel 2, stride 3, pad 1
  // would put a third window at 5 (past 4 + 1), so ceil_mode keeps 2.
  Tensor y = arange(4, {1, 1, 4});
  EXPECT_THAT(F::max_pool1d(y, 2, 3, 1, 1, true).to_vector<float>(), ElementsAre(0, 3));
  EXPECT_THAT(F::max_pool1d(y, 2, 3, 1, 1, false).to_vector<float>(), ElementsAre(0, 3));
  // Average pooling with ceil_mode: the partial window divides by its part inside the padded input.
  Tensor a = arange(5, {1, 1, 5});  // windows [0,1], [2,3], [4]
  EXPECT_THAT(F::avg_pool1d(a, 2, 2, 0, true).to_vector<float>(), ElementsAre(0.5, 2.5, 4));
  // count_include_pad counts the padding but not what ceil_mode adds past it.
  Tensor b = arange(5, {1, 1, 5});  // pad 1: windows [-1,0,1] [1,2,3] [3,4,5]
  EXPECT_THAT(F::avg_pool1d(b, 3, 2, 1, true, true).to_vector<float>(), ElementsAre(1.0f / 3, 2, 7.0f / 3));
  EXPECT_THAT(F::avg_pool1d(b, 3, 2, 1, true, false).to_vector<float>(), ElementsAre(0.5, 2, 3.5));
}

TD_DEVICE_TEST(PoolTest, MaxPoolNaNAndInfinity) {
  // NaN counts as the max (the last NaN of a window wins); a window of -inf keeps its first position.
  Tensor x = make({1, kNaN, 3, kNaN, 0, 2, 5, 6, 7}, {1, 1, 3, 3});
  auto [v, i] = F::max_pool2d_with_indices(x, 2, 1);
  auto vals = v.to_vector<float>();
  EXPECT_TRUE(std::isnan(vals[0]) && std::isnan(vals[1]) && std::isnan(vals[2]));
  EXPECT_EQ(vals[3], 7);
  EXPECT_THAT(indices_of(i), ElementsAre(3, 1, 3, 8));
  auto [va, ia] = F::adaptive_max_pool2d_with_indices(x, 2);
  EXPECT_THAT(indices_of(ia), ElementsAre(3, 1, 3, 8));
  Tensor m = full({1, 1, 2, 3}, -kInf, {DType::kFloat32, device_});
  auto [vm, im] = F::max_pool2d_with_indices(m, 2, 1, 1);
  EXPECT_THAT(vm.to_vector<float>(), ::testing::Each(-kInf));
  EXPECT_THAT(indices_of(im), ElementsAre(0, 0, 1, 2, 0, 0, 1, 2, 3, 3, 4, 5));
  // The no-indices path propagates NaN the same way.
  auto fast = F::max_pool2d(x, 2, 1).to_vector<float>();
  EXPECT_TRUE(std::isnan(fast[0]) && std::isnan(fast[2]));
  EXPECT_EQ(fast[3], 7);
  // Average pooling of a window with inf and NaN.
  Tensor y = make({1, kInf, 2, 3}, {1, 1, 4});
  EXPECT_THAT(F::avg_pool1d(y, 2).to_vector<float>(), ElementsAre(kInf, 2.5));
}

TD_DEVICE_TEST(PoolTest, EmptyBatchAndLayouts) {
  Tensor e = zeros({0, 2, 4, 4}, {DType::kFloat32, device_}).requires_grad_();
  Tensor out = F::max_pool2d(e, 2);
  EXPECT_THAT(out.shape(), ElementsAre(0, 2, 2, 2));
  out.sum().backward();
  EXPECT_THAT(e.grad().shape(), ElementsAre(0, 2, 4, 4));
  EXPECT_THAT(F::avg_pool2d(e.detach(), 2).shape(), ElementsAre(0, 2, 2, 2));
  EXPECT_THAT(F::adaptive_avg_pool2d(e.detach(), {3, 1}).shape(), ElementsAre(0, 2, 3, 1));
  EXPECT_THAT(F::adaptive_max_pool2d(e.detach(), 3).shape(), ElementsAre(0, 2, 3, 3));
  EXPECT_THAT(F::max_pool3d(zeros({0, 1, 4, 4, 4}, {DType::kFloat32, device_}), 2).shape(),
              ElementsAre(0, 1, 2, 2, 2));
  // A zero output size is allowed for adaptive pooling.
  EXPECT_THAT(F::adaptive_avg_pool2d(arange(16, {1, 4, 4}), 0).shape(), ElementsAre(1, 0, 0));
  // Non-contiguous input: the transpose of a 4x4 plane.
  Tensor x = arange(16, {1, 1, 4, 4}).transpose(-1, -2);
  EXPECT_THAT(F::max_pool2d(x, 2).to_vector<float>(), ElementsAre(5, 13, 7, 15));
  EXPECT_THAT(F::avg_pool2d(x, 2).to_vector<float>(), ElementsAre(2.5, 10.5, 4.5, 12.5));
  // max_pool1d without a gradient gives an empty result where the 2-d check would refuse (PyTorch's CPU
  // path).
  EXPECT_THAT(F::max_pool1d(arange(5, {1, 5}), 6).shape(), ElementsAre(1, 0));
}

TD_DEVICE_TEST(PoolTest, MaxPool3dAndBackward) {
  Tensor x = arange(27, {1, 3, 3, 3});  // unbatched [C=1, D, H, W]
  auto [v, i] = F::max_pool3d_with_indices(x, 2, 1);
  EXPECT_THAT(v.to_vector<float>(), ElementsAre(13, 14, 16, 17, 22, 23, 25, 26));
  EXPECT_THAT(indices_of(i), ElementsAre(13, 14, 16, 17, 22, 23, 25, 26));
  // Overlapping windows: an element that is the max of several windows gets all their gradients.
  Tensor y = make({1, 9, 2, 3}, {1, 1, 4}).requires_grad_();
  F::max_pool1d(y, 2, 1).sum().backward();  // windows pick 9, 9, 3
  EXPECT_THAT(y.grad().to_vector<float>(), ElementsAre(0, 2, 0, 1));
  // The gradient op called directly with an index outside the plane (the CUDA kernel skips it).
  if (device_.is_cpu()) {
    Tensor bad = tensor(std::vector<int64_t>{0, 7}, {1, 1, 2}, device_);
    auto e = error_of([&] {
      call_op("max_pool2d_with_indices_backward",
              {ones({1, 1, 2}, {DType::kFloat32, device_}), zeros({1, 1, 4}, {DType::kFloat32, device_}),
               Shape{1, 2}, Shape{1, 2}, Shape{0, 0}, Shape{1, 1}, Scalar(false), bad});
    });
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  }
}

TD_DEVICE_TEST(PoolTest, AvgPoolOptions) {
  Tensor x = arange(16, {1, 1, 4, 4});
  EXPECT_THAT(F::avg_pool2d(x, 2).to_vector<float>(), ElementsAre(2.5, 4.5, 10.5, 12.5));
  EXPECT_THAT(F::avg_pool2d(x, 2, {}, 0, false, true, 3).to_vector<float>(),
              ElementsAre(10.0f / 3, 6, 14, 50.0f / 3));
  // Padding: corners see one element; count_include_pad divides by 4, otherwise by 1.
  EXPECT_THAT(F::avg_pool2d(x, 2, 2, 1).to_vector<float>()[0], 0.0f);
  EXPECT_THAT(F::avg_pool2d(x, 2, 2, 1, false, true).to_vector<float>()[2], 0.75f);
  EXPECT_THAT(F::avg_pool2d(x, 2, 2, 1, false, false).to_vector<float>()[2], 3.0f);
  EXPECT_THAT(F::avg_pool3d(arange(8, {1, 2, 2, 2}), 2).to_vector<float>(), ElementsAre(3.5));
  // int64 divides with truncation, as PyTorch's CPU kernel.
  Tensor l = tensor(std::vector<int64_t>{-7, 3, 5, 2, -9, 4, 1, 1, 1}, {1, 1, 3, 3}, device_);
  EXPECT_THAT(F::avg_pool2d(l, 2, 1).to_vector<int64_t>(), ElementsAre(-2, 0, -1, 0));
  EXPECT_THAT(F::avg_pool2d(l, 2, 1, 0, false, true, 3).to_vector<int64_t>(), ElementsAre(-3, 1, -1, -1));
  // 16-bit floats compute in float.
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    Tensor h = x.to(t);
    EXPECT_THAT(F::avg_pool2d(h, 2).to(DType::kFloat32).to_vector<float>(),
                ElementsAre(2.5, 4.5, 10.5, 12.5));
    EXPECT_THAT(F::max_pool2d(h, 2).to(DType::kFloat32).to_vector<float>(), ElementsAre(5, 7, 13, 15));
  }
}

TD_DEVICE_TEST(PoolTest, AdaptivePooling) {
  // 5 -> 3: windows [0, 2), [1, 4), [3, 5) (floor(i*5/3), ceil((i+1)*5/3)).
  Tensor x = arange(5, {1, 5});
  EXPECT_THAT(F::adaptive_avg_pool1d(x, 3).to_vector<float>(), ElementsAre(0.5, 2, 3.5));
  auto [v, i] = F::adaptive_max_pool1d_with_indices(x, 3);
  EXPECT_THAT(v.to_vector<float>(), ElementsAre(1, 3, 4));
  EXPECT_THAT(indices_of(i), ElementsAre(1, 3, 4));
  // Growing: 2 -> 3 repeats the middle.
  EXPECT_THAT(F::adaptive_avg_pool1d(arange(2, {1, 2}), 3).to_vector<float>(), ElementsAre(0, 0.5, 1));
  // 1x1 is the mean.
  Tensor y = arange(12, {1, 2, 2, 3});
  EXPECT_THAT(F::adaptive_avg_pool2d(y, 1).to_vector<float>(), ElementsAre(2.5, 8.5));
  EXPECT_THAT(F::adaptive_avg_pool2d(y, {2, 1}).to_vector<float>(), ElementsAre(1, 4, 7, 10));
  EXPECT_THAT(F::adaptive_max_pool2d(y, {1, 2}).to_vector<float>(), ElementsAre(4, 5, 10, 11));
  // Gradient: each input gets the gradient of every window holding it, divided by the window's size.
  Tensor z = make({1, 2, 3, 4, 5}, {1, 5}).requires_grad_();
  F::adaptive_avg_pool1d(z, 3).sum().backward();
  EXPECT_THAT(z.grad().to_vector<float>(),
              ::testing::Pointwise(::testing::FloatNear(1e-6),
                                   std::vector<float>{0.5, 0.5 + 1.0 / 3, 1.0 / 3, 1.0 / 3 + 0.5, 0.5}));
}

TD_DEVICE_TEST(PoolTest, AdaptivePool3dWindowsAndAreaInterpolation) {
  // [1, 1, 2, 3, 2] -> (1, 2, 1): windows [0, 2) over D, [0, 2) and [1, 3) over H, all of W.
  Tensor x = arange(12, {1, 1, 2, 3, 2});
  EXPECT_THAT(F::adaptive_avg_pool3d(x, {1, 2, 1}).to_vector<float>(), ElementsAre(4.5, 6.5));
  auto [v, i] = F::adaptive_max_pool3d_with_indices(x, {1, 2, 1});
  EXPECT_THAT(v.to_vector<float>(), ElementsAre(9, 11));
  EXPECT_THAT(indices_of(i), ElementsAre(9, 11));
  // interpolate's "area" mode of a 5-d input is adaptive average pooling over the last 3 dims.
  Tensor area = F::interpolate(x, {1, 2, 1}, {}, "area");
  EXPECT_THAT(area.to_vector<float>(), ElementsAre(4.5, 6.5));
  // nn.AdaptiveAvgPool3d / AdaptiveMaxPool3d, with PyTorch's repr.
  nn::AdaptivePoolNd avg(3, false, {1, 2, 1}), max(3, true, 1);
  EXPECT_EQ(avg.repr(), "AdaptiveAvgPool3d(output_size=(1, 2, 1))");
  EXPECT_EQ(max.repr(), "AdaptiveMaxPool3d(output_size=1)");
  EXPECT_THAT(avg(x).to_vector<float>(), ElementsAre(4.5, 6.5));
  EXPECT_THAT(max(x).to_vector<float>(), ElementsAre(11));
}

TD_DEVICE_TEST(PoolTest, MaxUnpool3dRoundTripAndErrors) {
  Tensor x = arange(64, {1, 1, 4, 4, 4});
  auto [v, i] = F::max_pool3d_with_indices(x, 2);
  Tensor u = F::max_unpool3d(v, i, 2);
  EXPECT_THAT(u.shape(), ElementsAre(1, 1, 4, 4, 4));
  // Every 2x2x2 window's max (its last element) goes back to where it was; the rest are zeros.
  EXPECT_THAT(u.to_vector<float>(), ElementsAreArray(x.mul(u.ne(0).to(DType::kFloat32)).to_vector<float>()));
  EXPECT_EQ(u.ne(0).sum().item<int64_t>(), 8);
  nn::MaxUnpoolNd layer(3, 2, 1);
  EXPECT_EQ(layer.repr(), "MaxUnpool3d(kernel_size=(2, 2, 2), stride=(1, 1, 1), padding=(0, 0, 0))");
  // PyTorch 1.13's messages.
  const std::vector<int64_t> size = {4, 4, 4}, stride = {2, 2, 2}, pad = {0, 0, 0};
  auto raw = [&](const Tensor& a, const Tensor& b, std::vector<int64_t> out, std::vector<int64_t> st) {
    return call_op("max_unpool3d", {a, b, out, st, pad})[0];
  };
  EXPECT_THAT(error([&] { raw(v.select(0, 0).select(0, 0), i.select(0, 0).select(0, 0), size, stride); }),
              HasSubstr("Input to max_unpooling3d should be a 4d or 5d Tensor, but got a tensor with 3 dimensions."));
  EXPECT_THAT(error([&] { raw(v, i.to(DType::kInt32), size, stride); }),
              HasSubstr("elements in indices should be type int64"));
  EXPECT_THAT(error([&] { raw(v, i, {4, 4}, stride); }),
              HasSubstr("There should be exactly three elements (depth, height, width) in output_size, but got 2 "
                        "elements."));
  EXPECT_THAT(error([&] { raw(v, i, size, {0, 2, 2}); }),
              HasSubstr("strides should be greater than zero, but got stride: [0, 2, 2]"));
  EXPECT_THAT(error([&] { raw(v, i.add(100), size, stride); }),
              HasSubstr("Found an invalid max index: 163 (output volumes are of size 4x4x4"));
}

TD_DEVICE_TEST(PoolTest, FractionalMaxPool3dSizesAndErrors) {
  Tensor x = arange(2 * 5 * 6 * 7, {1, 2, 5, 6, 7});
  // With increasing values every window's maximum is its last tap: the window starts plus kernel - 1.
  auto [v, i] = F::fractional_max_pool3d_with_indices(x, 2, {3, 4, 5});
  EXPECT_THAT(v.shape(), ElementsAre(1, 2, 3, 4, 5));
  Tensor plane_start = make({0, 210}, {1, 2, 1, 1, 1});
  EXPECT_THAT(v.to_vector<float>(),
              ElementsAreArray(i.to(DType::kFloat32).add(plane_start).to_vector<float>()));
  // output_ratio takes the last three dims.
  EXPECT_THAT(F::fractional_max_pool3d(x, 2, {}, std::vector<double>{0.5}).shape(), ElementsAre(1, 2, 2, 3, 3));
  nn::FractionalMaxPool3d layer(2, {}, std::vector<double>{0.5});
  EXPECT_EQ(layer.repr(), "FractionalMaxPool3d()");
  EXPECT_THAT(layer(x).shape(), ElementsAre(1, 2, 2, 3, 3));
  EXPECT_THAT(error([&] { nn::FractionalMaxPool3d(2); }),
              HasSubstr("FractionalMaxPool3d requires specifying either an output size, or a pooling ratio"));
  // PyTorch 1.13's messages.
  Tensor s = zeros({1, 2, 3}, {DType::kFloat32, device_});
  EXPECT_THAT(error([&] { F::fractional_max_pool3d(x, 2, {5, 4, 5}, std::nullopt, s); }),
              HasSubstr("fractional_max_pool3d_out(): pool time 2 too large relative to input time 5"));
  EXPECT_THAT(error([&] { F::fractional_max_pool3d(x, 2, {3, 6, 5}, std::nullopt, s); }),
              HasSubstr("fractional_max_pool3d_out(): pool height 2 too large relative to input height 6"));
  EXPECT_THAT(error([&] { F::fractional_max_pool3d(x, 2, {3, 4, 7}, std::nullopt, s); }),
              HasSubstr("fractional_max_pool3d_out(): pool width 2 too large relative to input width 7"));
  EXPECT_THAT(error([&] { F::fractional_max_pool3d(x, 2); }),
              HasSubstr("fractional_max_pool3d requires specifying either an output_size or an output_ratio"));
}

TD_DEVICE_TEST(PoolTest, UnpoolRoundTrip) {
  Tensor x = arange(16, {1, 1, 4, 4});
  auto [v, i] = F::max_pool2d_with_indices(x, 2);
  Tensor u = F::max_unpool2d(v, i, 2);
  EXPECT_THAT(u.shape(), ElementsAre(1, 1, 4, 4));
  EXPECT_THAT(u.to_vector<float>(), ElementsAre(0, 0, 0, 0, 0, 5, 0, 7, 0, 0, 0, 0, 0, 13, 0, 15));
  // output_size may name a size within a stride of the default (here 5 instead of 4), with or without N, C.
  EXPECT_THAT(F::max_unpool2d(v, i, 2, {}, 0, std::vector<int64_t>{1, 1, 5, 5}).shape(),
              ElementsAre(1, 1, 5, 5));
  auto [v1, i1] = F::max_pool1d_with_indices(arange(6, {1, 1, 6}), 2);
  EXPECT_THAT(F::max_unpool1d(v1, i1, 2).to_vector<float>(), ElementsAre(0, 1, 0, 3, 0, 5));
  EXPECT_THAT(error([&] {
                F::max_unpool2d(v, i, 2, {}, 0, std::vector<int64_t>{9, 9});
              }),
              HasSubstr("invalid output_size \"[9, 9]\" (dim 0 must be between 2 and 6)"));
  EXPECT_THAT(
      error([&] {
        F::max_unpool2d(v, i, 2, {}, 0, std::vector<int64_t>{1, 4, 4, 4, 4});
      }),
      HasSubstr("output_size should be a sequence containing 2 or 4 elements, but it has a length of '5'"));
  Tensor bad = tensor(std::vector<int64_t>{0, -1, 2, 99}, {1, 1, 2, 2}, device_);
  auto e = error_of([&] { F::max_unpool2d(v, bad, 2); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(e.what(), HasSubstr("Found an invalid max index: 99 (output volumes are of size 4x4"));
  EXPECT_THAT(error([&] { F::max_unpool2d(v, i.to(DType::kInt32), 2); }),
              HasSubstr("elements in indices should be type int64 but got: Int"));
  EXPECT_THAT(
      error([&] {
        call_op("max_unpool2d", {v, zeros({1, 1, 2, 3}, {DType::kInt64, device_}), Shape{4, 4}});
      }),
      HasSubstr("Expected shape of indices to be same as that of the input tensor ([1, 1, 2, 2]) but got "
                "indices tensor with shape: [1, 1, 2, 3]"));
  EXPECT_THAT(
      error([&] {
        call_op("max_unpool2d", {v.view({2, 2}), i.view({2, 2}), Shape{4, 4}});
      }),
      HasSubstr("Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with 2 dimensions."));
}

TD_DEVICE_TEST(PoolTest, FractionalMaxPool) {
  Tensor x = arange(25, {1, 1, 5, 5});
  Tensor samples = make({0.3f, 0.7f}, {1, 1, 2});
  auto [v, i] = F::fractional_max_pool2d_with_indices(x, 2, IntArg{3, 3}, std::nullopt, samples);
  EXPECT_THAT(v.shape(), ElementsAre(1, 1, 3, 3));
  // Every output is the max of a 2x2 window, i.e. its bottom-right element, whose offset is the index.
  auto vals = v.to_vector<float>();
  auto idx = indices_of(i);
  for (size_t k = 0; k < vals.size(); ++k) EXPECT_EQ(static_cast<int64_t>(vals[k]), idx[k]);
  EXPECT_EQ(idx.back(), 24);  // the last window ends at the input's end
  // output_ratio and samples drawn from td's generator: same seed, same windows.
  manual_seed(7);
  Tensor a = F::fractional_max_pool2d(x, 2, {}, std::vector<double>{0.5});
  manual_seed(7);
  Tensor b = F::fractional_max_pool2d(x, 2, {}, std::vector<double>{0.5});
  EXPECT_THAT(a.shape(), ElementsAre(1, 1, 2, 2));
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_THAT(
      error([&] { F::fractional_max_pool2d(x, 2); }),
      HasSubstr("fractional_max_pool2d requires specifying either an output_size or an output_ratio"));
  EXPECT_THAT(error([&] { F::fractional_max_pool2d(x, 3, 4, std::nullopt, samples); }),
              HasSubstr("fractional_max_pool2d(): pool height 3 too large relative to input height 5"));
  EXPECT_THAT(error([&] {
                F::fractional_max_pool2d(x, IntArg{2, 3}, IntArg{2, 4}, std::nullopt, samples);
              }),
              HasSubstr("fractional_max_pool2d(): pool width 3 too large relative to input width 5"));
  EXPECT_THAT(error([&] { F::fractional_max_pool2d(x.to(DType::kInt64), 2, 2, std::nullopt, samples); }),
              HasSubstr("\"fractional_max_pool2d_out_frame\" not implemented for 'Long'"));
}

TD_DEVICE_TEST(PoolTest, LpPool) {
  // p = 2 over windows of 2: sqrt(a^2 + b^2).
  Tensor x = make({3, 4, 6, 8}, {1, 1, 4});
  EXPECT_THAT(F::lp_pool1d(x, 2, 2).to_vector<float>(), ElementsAre(5, 10));
  Tensor y = make({1, 2, 2, 4}, {1, 2, 2});
  EXPECT_THAT(F::lp_pool2d(y, 1, 2).to_vector<float>(), ElementsAre(9));
}

// ---- gradients ----

TD_DEVICE_TEST(PoolTest, MaxPoolGradcheck) {
  struct Case {
    std::string name;
    std::vector<int64_t> shape;
    std::function<Tensor(const Tensor&)> fn;
  };
  std::vector<Case> cases = {
      {"max_pool2d k2", {1, 2, 4, 4}, [](const Tensor& t) { return F::max_pool2d(t, 2); }},
      {"max_pool2d stride pad dilation",
       {2, 1, 5, 6},
       [](const Tensor& t) {
         return F::max_pool2d(t, {3, 2}, {2, 1}, 1, {1, 2});
       }},
      {"max_pool2d ceil", {1, 1, 5, 5}, [](const Tensor& t) { return F::max_pool2d(t, 2, 2, 0, 1, true); }},
      {"max_pool2d overlapping unbatched",
       {2, 4, 4},
       [](const Tensor& t) { return F::max_pool2d(t, 3, 1, 1); }},
      {"max_pool2d transposed input",
       {1, 1, 4, 6},
       [](const Tensor& t) { return F::max_pool2d(t.transpose(-1, -2), 2); }},
      {"max_pool1d", {2, 7}, [](const Tensor& t) { return F::max_pool1d(t, 3, 2, 1, 1, true); }},
      {"max_pool1d indices path",
       {1, 2, 6},
       [](const Tensor& t) { return F::max_pool1d_with_indices(t, 2, 1).first; }},
      {"max_pool3d",
       {1, 1, 3, 4, 4},
       [](const Tensor& t) {
         return F::max_pool3d(t, 2, {1, 2, 1}, {1, 0, 1});
       }},
      {"adaptive_max_pool2d",
       {1, 2, 5, 4},
       [](const Tensor& t) {
         return F::adaptive_max_pool2d(t, {3, 3});
       }},
      {"adaptive_max_pool1d", {2, 7}, [](const Tensor& t) { return F::adaptive_max_pool1d(t, 4); }},
      {"adaptive_max_pool3d", {1, 2, 3, 4, 5}, [](const Tensor& t) { return F::adaptive_max_pool3d(t, {2, 3, 2}); }},
      {"fractional_max_pool2d",
       {1, 2, 6, 6},
       [](const Tensor& t) {
         Tensor s = tensor(std::vector<double>{0.2, 0.9, 0.55, 0.1}, {1, 2, 2}, t.device());
         return F::fractional_max_pool2d(t, 2, 3, std::nullopt, s);
       }},
      {"fractional_max_pool3d",
       {1, 2, 4, 5, 4},
       [](const Tensor& t) {
         Tensor s = tensor(std::vector<double>{0.2, 0.9, 0.55, 0.1, 0.7, 0.35}, {1, 2, 3}, t.device());
         return F::fractional_max_pool3d(t, 2, {2, 3, 2}, std::nullopt, s);
       }},
      {"max_unpool3d",
       {1, 1, 2, 1, 2},
       [](const Tensor& t) {
         Tensor i = tensor(std::vector<int64_t>{0, 3, 9, 14}, {1, 1, 2, 1, 2}, t.device());
         return F::max_unpool3d(t, i, 2);
       }},
      {"max_unpool2d",
       {1, 1, 2, 2},
       [](const Tensor& t) {
         Tensor i = tensor(std::vector<int64_t>{0, 3, 9, 14}, {1, 1, 2, 2}, t.device());
         return F::max_unpool2d(t, i, 2);
       }},
  };
  for (const Case& c : cases) {
    expect_gradcheck(c.name, [&](const Inputs& xs) { return c.fn(xs[0]); }, {leaf(c.shape)});
  }
}

TD_DEVICE_TEST(PoolTest, AvgPoolGradcheck) {
  struct Case {
    std::string name;
    std::vector<int64_t> shape;
    std::function<Tensor(const Tensor&)> fn;
  };
  std::vector<Case> cases = {
      {"avg_pool2d k2", {1, 2, 4, 4}, [](const Tensor& t) { return F::avg_pool2d(t, 2); }},
      {"avg_pool2d pad ceil", {2, 1, 5, 5}, [](const Tensor& t) { return F::avg_pool2d(t, 3, 2, 1, true); }},
      {"avg_pool2d no pad count",
       {1, 1, 5, 4},
       [](const Tensor& t) {
         return F::avg_pool2d(t, {3, 2}, {2, 1}, 1, true, false);
       }},
      {"avg_pool2d divisor",
       {3, 4, 4},
       [](const Tensor& t) { return F::avg_pool2d(t, 2, 1, 0, false, true, 3); }},
      {"avg_pool2d transposed",
       {1, 1, 4, 6},
       [](const Tensor& t) { return F::avg_pool2d(t.transpose(-1, -2), 2, 1); }},
      {"avg_pool1d", {2, 7}, [](const Tensor& t) { return F::avg_pool1d(t, 3, 2, 1, true, false); }},
      {"avg_pool3d",
       {1, 1, 3, 4, 4},
       [](const Tensor& t) {
         return F::avg_pool3d(t, 2, {1, 2, 1}, {1, 0, 1}, true);
       }},
      {"adaptive_avg_pool2d",
       {1, 2, 5, 4},
       [](const Tensor& t) {
         return F::adaptive_avg_pool2d(t, {3, 6});
       }},
      {"adaptive_avg_pool2d 1x1", {2, 2, 3}, [](const Tensor& t) { return F::adaptive_avg_pool2d(t, 1); }},
      {"adaptive_avg_pool1d", {2, 7}, [](const Tensor& t) { return F::adaptive_avg_pool1d(t, 4); }},
      {"adaptive_avg_pool3d", {2, 3, 4, 5}, [](const Tensor& t) { return F::adaptive_avg_pool3d(t, {2, 3, 4}); }},
      {"adaptive_avg_pool3d 1x1x1", {1, 2, 2, 3, 2}, [](const Tensor& t) { return F::adaptive_avg_pool3d(t, 1); }},
      {"lp_pool2d", {1, 1, 4, 4}, [](const Tensor& t) { return F::lp_pool2d(t.abs().add(0.5), 2, 2); }},
      {"lp_pool1d", {1, 2, 6}, [](const Tensor& t) { return F::lp_pool1d(t.abs().add(0.5), 3, 3, 2, true); }},
  };
  for (const Case& c : cases) {
    expect_gradcheck(c.name, [&](const Inputs& xs) { return c.fn(xs[0]); }, {leaf(c.shape)});
  }
}

// ---- errors, in PyTorch 1.13's words ----

TD_DEVICE_TEST(PoolTest, MaxPoolErrors) {
  Tensor x4 = arange(150, {2, 3, 5, 5}), x3 = arange(30, {2, 3, 5}), x5 = arange(128, {1, 2, 4, 4, 4});
  EXPECT_THAT(error([&] { F::max_pool2d(x4, 0); }), HasSubstr("[max_pool2d] stride should not be zero"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4, 0, 1); }),
              HasSubstr("kernel size should be greater than zero, but got kH: 0 kW: 0"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4, -1); }),
              HasSubstr("kernel size should be greater than zero, but got kH: -1 kW: -1"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4, 2, -1); }),
              HasSubstr("stride should be greater than zero, but got dH: -1 dW: -1"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4, 2, 1, 2); }),
              HasSubstr("pad should be at most half of kernel size, but got pad=2 and kernel_size=2"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4, 2, 1, -1); }),
              HasSubstr("pad must be non-negative, but got pad: -1"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4, 2, 1, 0, 0); }),
              HasSubstr("dilation should be greater than zero, but got dilationH: 0 dilationW: 0"));
  EXPECT_THAT(
      error([&] {
        F::max_pool2d(arange(4, {1, 1, 2, 2}), 3);
      }),
      HasSubstr("Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small"));
  EXPECT_THAT(error([&] {
                F::max_pool2d(arange(16, {4, 4}), 2);
              }),
              HasSubstr("non-empty 3D or 4D (batch mode) tensor expected for input"));
  EXPECT_THAT(error([&] { F::max_pool2d(x5, 2); }),
              HasSubstr("non-empty 3D or 4D (batch mode) tensor expected for input"));
  EXPECT_THAT(error([&] {
                F::max_pool2d(zeros({2, 0, 4, 4}, {DType::kFloat32, device_}), 2);
              }),
              HasSubstr("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                        "got:[2, 0, 4, 4]"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4.to(DType::kInt64), 2); }),
              HasSubstr("\"max_pool2d\" not implemented for 'Long'"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4.to(DType::kBool), 2); }),
              HasSubstr("\"max_pool2d\" not implemented for 'Bool'"));
  EXPECT_THAT(error([&] { F::max_pool2d(x4, IntArg{2, 2, 2}); }), HasSubstr("kernel_size"));
  // 1-d: PyTorch's own checks name max_pool1d(); with indices the 2-d checks speak.
  EXPECT_THAT(error([&] { F::max_pool1d(x3, 0); }),
              HasSubstr("max_pool1d() kernel_size must be greater than zero, but got 0"));
  EXPECT_THAT(error([&] { F::max_pool1d(x3, 2, 0); }),
              HasSubstr("max_pool1d() stride must be greater than zero, but got 0"));
  EXPECT_THAT(
      error([&] { F::max_pool1d(x3, 2, 1, 2); }),
      HasSubstr(
          "max_pool1d() padding should be at most half of kernel size, but got padding=2 and kernel_size=2"));
  EXPECT_THAT(error([&] { F::max_pool1d(x3, 2, 1, -1); }),
              HasSubstr("max_pool1d() padding must be non-negative, but got -1"));
  EXPECT_THAT(error([&] { F::max_pool1d(x3, 2, 1, 0, 0); }),
              HasSubstr("max_pool1d() dilation must be greater than zero, but got 0"));
  EXPECT_THAT(
      error([&] { F::max_pool1d(x4, 2); }),
      HasSubstr("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, "
                "but got:[2, 3, 5, 5]"));
  EXPECT_THAT(
      error([&] { F::max_pool1d_with_indices(x3, 6); }),
      HasSubstr("Given input size: (3x1x5). Calculated output size: (3x1x0). Output size is too small"));
  EXPECT_THAT(
      error([&] { F::max_pool1d_with_indices(x4, 2); }),
      HasSubstr("Expected 2 to 3 dimensions, but got 4-dimensional tensor for argument #1 'self' (while "
                "checking arguments for max_pool1d)"));
  EXPECT_THAT(error([&] {
                F::max_pool1d_with_indices(x3, IntArg{2, 2});
              }),
              HasSubstr("max_pool1d() argument 'kernel_size' should contain one int (got 2)"));
  // 3-d.
  EXPECT_THAT(error([&] { F::max_pool3d(x5, 2, 1, 2); }),
              HasSubstr("pad should be at most half of kernel size, but got pad=2 and kernel_size=2"));
  EXPECT_THAT(
      error([&] { F::max_pool3d(x5, 5); }),
      HasSubstr("Given input size: (2x4x4x4). Calculated output size: (2x0x0x0). Output size is too small"));
  EXPECT_THAT(error([&] { F::max_pool3d(x3, 2); }),
              HasSubstr("non-empty 4D or 5D (batch mode) tensor expected for input"));
  EXPECT_THAT(
      error([&] {
        F::max_pool3d(zeros({1, 0, 4, 4, 4}, {DType::kFloat32, device_}), 2);
      }),
      HasSubstr("max_pool3d_with_indices_out_cpu_template(): Expected input's non-batch dimensions to have "
                "positive length, but input has a shape of [1, 0, 4, 4, 4] and non-batch dimension 0 has "
                "length zero!"));
  EXPECT_THAT(error([&] { F::max_pool3d(x5.to(DType::kInt64), 2); }),
              HasSubstr("\"max_pool3d_with_indices_cpu\" not implemented for 'Long'"));
}

TD_DEVICE_TEST(PoolTest, AvgAndAdaptivePoolErrors) {
  Tensor x4 = arange(150, {2, 3, 5, 5}), x3 = arange(30, {2, 3, 5}), x5 = arange(128, {1, 2, 4, 4, 4});
  EXPECT_THAT(error([&] { F::avg_pool2d(x4, 0); }), HasSubstr("stride should not be zero"));
  EXPECT_THAT(error([&] { F::avg_pool2d(x4, 2, 1, 2); }),
              HasSubstr("pad should be at most half of kernel size, but got pad=2 and kernel_size=2"));
  EXPECT_THAT(
      error([&] {
        F::avg_pool2d(arange(4, {1, 1, 2, 2}), 3);
      }),
      HasSubstr("Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small"));
  EXPECT_THAT(error([&] { F::avg_pool2d(x4, 2, {}, 0, false, true, 0); }),
              HasSubstr("divisor must be not zero"));
  EXPECT_THAT(error([&] {
                F::avg_pool2d(arange(16, {4, 4}), 2);
              }),
              HasSubstr("Dimension out of range (expected to be in range of [-2, 1], but got -3)"));
  EXPECT_THAT(error([&] { F::avg_pool2d(x4.to(DType::kBool), 2); }),
              HasSubstr("\"avg_pool2d\" not implemented for 'Bool'"));
  EXPECT_THAT(error([&] { F::avg_pool2d(x4.to(DType::kInt32), 2); }),
              HasSubstr("\"avg_pool2d\" not implemented for 'Int'"));
  EXPECT_THAT(error([&] {
                F::avg_pool2d(zeros({2, 1, 0, 4}, {DType::kFloat32, device_}), 2);
              }),
              HasSubstr("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                        "got:[2, 1, 0, 4]"));
  EXPECT_THAT(
      error([&] { F::avg_pool1d(x3, 6); }),
      HasSubstr("Given input size: (3x1x5). Calculated output size: (3x1x0). Output size is too small"));
  EXPECT_THAT(
      error([&] { F::avg_pool1d(x4, 2); }),
      HasSubstr("Expected 2 to 3 dimensions, but got 4-dimensional tensor for argument #1 'self' (while "
                "checking arguments for avg_pool1d)"));
  EXPECT_THAT(error([&] { F::avg_pool3d(x5, 5); }),
              HasSubstr("input image (T: 4 H: 4 W: 4) smaller than kernel size (kT: 5 kH: 5 kW: 5)"));
  EXPECT_THAT(error([&] { F::avg_pool3d(x5, 2, {}, 0, false, true, 0); }),
              HasSubstr("divisor must be not zero"));
  EXPECT_THAT(error([&] { F::avg_pool3d(x3, 2); }),
              HasSubstr("non-empty 4D or 5D (batch mode) tensor expected for input"));
  EXPECT_THAT(error([&] {
                F::avg_pool3d(zeros({1, 0, 4, 4, 4}, {DType::kFloat32, device_}), 2);
              }),
              HasSubstr("avg_pool3d(): Expected input's non-batch dimensions to have positive length"));
  EXPECT_THAT(error([&] {
                F::adaptive_avg_pool2d(arange(16, {4, 4}), 2);
              }),
              HasSubstr("adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [4, 4]"));
  EXPECT_THAT(
      error([&] {
        F::adaptive_avg_pool2d(zeros({1, 1, 0, 4}, {DType::kFloat32, device_}), 2);
      }),
      HasSubstr("adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but "
                "input has sizes [1, 1, 0, 4] with dimension 2 being empty"));
  // The 3-d ones, in PyTorch 1.13's words (its average pooling names adaptive_avg_pool2d for output_size).
  EXPECT_THAT(error([&] { F::adaptive_avg_pool3d(arange(6, {2, 3}), 2); }),
              HasSubstr("adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got [2, 3]"));
  EXPECT_THAT(error([&] { F::adaptive_max_pool3d(arange(6, {2, 3}), 2); }),
              HasSubstr("adaptive_max_pool3d(): Expected 4D or 5D tensor, but got: [2, 3]"));
  EXPECT_THAT(error([&] { F::adaptive_avg_pool3d(zeros({2, 0, 3, 3}, {DType::kFloat32, device_}), 2); }),
              HasSubstr("adaptive_avg_pool3d(): Expected input to have non-zero size for non-batch dimensions, "
                        "but input has sizes [2, 0, 3, 3] with dimension 1 being empty"));
  EXPECT_THAT(error([&] { F::adaptive_avg_pool3d(arange(54, {2, 3, 3, 3}), {-1, 2, 2}); }),
              HasSubstr("adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                        "received {-1, 2,2}"));
  EXPECT_THAT(error([&] { F::adaptive_max_pool3d(arange(54, {2, 3, 3, 3}), {-1, 2, 2}); }),
              HasSubstr("Trying to create tensor with negative dimension -1: [2, -1, 2, 2]"));
  EXPECT_THAT(error([&] { F::adaptive_avg_pool3d(arange(54, {2, 3, 3, 3}).to(DType::kInt64), 2); }),
              HasSubstr("\"adaptive_avg_pool3d_" + std::string(device_.is_cuda() ? "cuda" : "cpu") +
                        "\" not implemented for 'Long'"));
  EXPECT_THAT(
      error([&] { F::adaptive_avg_pool2d(x4, -1); }),
      HasSubstr(
          "adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but received "
          "{-1, -1}"));
  EXPECT_THAT(error([&] { F::adaptive_avg_pool2d(x4.to(DType::kInt64), 2); }),
              HasSubstr("\"adaptive_avg_pool2d\" not implemented for 'Long'"));
  EXPECT_THAT(
      error([&] { F::adaptive_avg_pool1d(arange(4, {4}), 2); }),
      HasSubstr("Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 'self' (while "
                "checking arguments for adaptive_avg_pool1d)"));
  EXPECT_THAT(error([&] {
                F::adaptive_avg_pool1d(x3, IntArg{2, 2});
              }),
              HasSubstr("adaptive_avg_pool1d() argument 'output_size' should contain one int (got 2)"));
  EXPECT_THAT(error([&] {
                F::adaptive_max_pool2d(arange(16, {4, 4}), 2);
              }),
              HasSubstr("adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: [4, 4]"));
  EXPECT_THAT(
      error([&] {
        F::adaptive_max_pool2d(zeros({1, 0, 3, 4}, {DType::kFloat32, device_}), 2);
      }),
      HasSubstr("adaptive_max_pool2d(): Expected input to have non-zero size for non-batch dimensions, but "
                "input has sizes [1, 0, 3, 4] with dimension 1 being empty"));
  EXPECT_THAT(error([&] { F::adaptive_max_pool2d(x4.to(DType::kInt64), 2); }),
              HasSubstr("\"adaptive_max_pool2d\" not implemented for 'Long'"));
  EXPECT_THAT(
      error([&] { F::adaptive_max_pool1d(x4, 2); }),
      HasSubstr("Expected 2 to 3 dimensions, but got 4-dimensional tensor for argument #1 'self' (while "
                "checking arguments for adaptive_max_pool1d)"));
}

TD_INSTANTIATE_DEVICES(PoolTest);

}  // namespace
}  // namespace td
