// Convolutions (core/ops/conv.cpp) on every device: exact values with their derivation, edge cases (empty
// batch, no input channels, 1x1 kernels, padding="same" with even kernels and dilation), first and second
// derivatives by finite differences in float64, and PyTorch 1.13's errors in its words. PyTorch's own values
// are in tests/golden/conv.json.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/autograd/autograd.h"
#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/nn/functional.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

namespace F = nn::functional;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::error_of;
using Inputs = std::vector<Tensor>;

class ConvTest : public testing::DeviceTest {
 protected:
  // A float64 leaf with distinct, well-separated values, for gradchecks.
  Tensor leaf(std::vector<int64_t> shape, double scale = 1) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = scale * (0.5 + 0.37 * static_cast<double>((i * 7) % 13)) * (i % 2 ? -1 : 1);
    return make64(v, std::move(shape)).requires_grad_();
  }
  std::string message_of(const std::function<void()>& fn) { return std::string(error_of(fn).what()); }
};

TD_DEVICE_TEST(ConvTest, Conv1dValuesAndGradients) {
  // Cross-correlation: y[i] = x[i] w[0] + x[i + 1] w[1] + b = [1 + 20, 2 + 30, 3 + 40] + 100.
  Tensor x = make({1, 2, 3, 4}, {1, 1, 4}).requires_grad_();
  Tensor w = make({1, 10}, {1, 1, 2}).requires_grad_();
  Tensor b = make({100}, {1}).requires_grad_();
  Tensor y = F::conv1d(x, w, b);
  EXPECT_THAT(y.to_vector<float>(), ElementsAre(121, 132, 143));
  // loss = sum(y): dx[j] = sum of the taps that read x[j] = [w0, w0 + w1, w0 + w1, w1];
  // dw[k] = sum_i x[i + k] = [1 + 2 + 3, 2 + 3 + 4]; db = 3 positions.
  y.sum().backward();
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAre(1, 11, 11, 10));
  EXPECT_THAT(w.grad().to_vector<float>(), ElementsAre(6, 9));
  EXPECT_THAT(b.grad().to_vector<float>(), ElementsAre(3));
  // Stride 2, padding 1, dilation 2 over [0, 1, 2, 3, 4] padded to [0, 0, 1, 2, 3, 4, 0]: windows start at
  // 0, 2, 4 and read positions (0, 2), (2, 4), (4, 6): [0 + 10, 1 + 30, 3 + 0].
  Tensor r = F::conv1d(arange(5, {1, 1, 5}), w.detach(), {}, 2, 1, 2);
  EXPECT_THAT(r.to_vector<float>(), ElementsAre(10, 31, 3));
}

TD_DEVICE_TEST(ConvTest, ConvTranspose1dValues) {
  // Each input element stamps w at stride 2: x = [1, 2], w = [1, 10] -> [1, 10, 2, 20] (+ bias 5).
  Tensor x = make({1, 2}, {1, 1, 2}), w = make({1, 10}, {1, 1, 2});
  EXPECT_THAT(F::conv_transpose1d(x, w, make({5}, {1}), 2).to_vector<float>(), ElementsAre(6, 15, 7, 25));
  // Stride 1 overlaps: [1, 10 + 2, 20]; padding 1 crops one element from each end: [12].
  EXPECT_THAT(F::conv_transpose1d(x, w).to_vector<float>(), ElementsAre(1, 12, 20));
  EXPECT_THAT(F::conv_transpose1d(x, w, {}, 1, 1).to_vector<float>(), ElementsAre(12));
  // output_padding adds a zero column on the right (nothing stamps it).
  EXPECT_THAT(F::conv_transpose1d(x, w, {}, 2, 0, 1).to_vector<float>(), ElementsAre(1, 10, 2, 20, 0));
}

TD_DEVICE_TEST(ConvTest, Conv2dMatchesMatmulFor1x1AndGroups) {
  // A 1x1 convolution is a matrix product over channels at every pixel.
  Tensor x = arange(2 * 3 * 4, {2, 3, 2, 2}), w = arange(6, {2, 3, 1, 1});
  Tensor y = F::conv2d(x, w);
  Tensor ref = w.view({2, 3}).matmul(x.view({2, 3, 4})).view({2, 2, 2, 2});
  EXPECT_THAT(y.to_vector<float>(), ::testing::ElementsAreArray(ref.to_vector<float>()));
  // Depthwise 1x1: channel c scaled by w[c].
  Tensor d = F::conv2d(x, make({1, 10, 100}, {3, 1, 1, 1}), {}, 1, 0, 1, 3);
  Tensor dref = x.mul(make({1, 10, 100}, {1, 3, 1, 1}));
  EXPECT_THAT(d.to_vector<float>(), ::testing::ElementsAreArray(dref.to_vector<float>()));
}

TD_DEVICE_TEST(ConvTest, EdgeCases) {
  TensorOptions f32{DType::kFloat32, device_};
  // Empty batch: an empty output of the right shape, and zero gradients for weight and bias.
  Tensor x = zeros({0, 2, 5, 5}, f32).requires_grad_();
  Tensor w = ones({3, 2, 3, 3}, f32).requires_grad_(), b = ones({3}, f32).requires_grad_();
  Tensor y = F::conv2d(x, w, b, 1, 1);
  EXPECT_THAT(y.shape(), ElementsAre(0, 3, 5, 5));
  y.sum().backward();
  EXPECT_THAT(w.grad().shape(), ElementsAre(3, 2, 3, 3));
  EXPECT_EQ(w.grad().abs().sum().item<float>(), 0);
  EXPECT_THAT(b.grad().to_vector<float>(), ElementsAre(0, 0, 0));
  EXPECT_THAT(F::conv_transpose2d(zeros({0, 2, 3, 3}, f32), ones({2, 4, 2, 2}, f32), {}, 2).shape(),
              ElementsAre(0, 4, 6, 6));
  // No input channels: the sum over them is empty, so the output is the bias (PyTorch 1.13 returns an
  // output with 0 channels instead, a quirk of its empty-input path that we do not copy).
  EXPECT_THAT(F::conv1d(zeros({1, 0, 4}, f32), ones({2, 0, 3}, f32), make({1, 2}, {2})).to_vector<float>(),
              ElementsAre(1, 1, 2, 2));
  // Unbatched input: no batch dim in, none out.
  EXPECT_THAT(F::conv2d(ones({2, 4, 4}, f32), ones({3, 2, 3, 3}, f32)).shape(), ElementsAre(3, 2, 2));
  // The kernel as large as the padded input: one window.
  EXPECT_THAT(F::conv2d(ones({1, 1, 1, 1}, f32), ones({1, 1, 3, 3}, f32), {}, 1, 1).to_vector<float>(),
              ElementsAre(1));
}

TD_DEVICE_TEST(ConvTest, PaddingSameAndValid) {
  // "same" keeps the size for even kernels and dilation too; the odd total padding d (k - 1) goes right,
  // which equals an explicit pad (left = total / 2) followed by a valid convolution.
  Tensor x = arange(2 * 7 * 6, {1, 2, 7, 6}), w = arange(2 * 2 * 2 * 4, {2, 2, 2, 4}).div(50);
  for (auto dil : {std::vector<int64_t>{1, 1}, std::vector<int64_t>{2, 1}, std::vector<int64_t>{3, 2}}) {
    Tensor y = F::conv2d(x, w, {}, 1, "same", dil);
    EXPECT_THAT(y.shape(), ElementsAre(1, 2, 7, 6));
    const int64_t th = dil[0] * 1, tw = dil[1] * 3;  // total padding per dim: d (k - 1)
    Tensor padded = x.pad({tw / 2, tw - tw / 2, th / 2, th - th / 2});
    Tensor ref = F::conv2d(padded, w, {}, 1, 0, dil);
    EXPECT_TRUE(y.allclose(ref, 1e-5, 1e-4).item<bool>()) << "dilation " << dil[0] << "," << dil[1];
  }
  EXPECT_THAT(F::conv1d(arange(5, {1, 1, 5}), make({1, 1}, {1, 1, 2}), {}, 1, "same").to_vector<float>(),
              ElementsAre(1, 3, 5, 7, 4));
  EXPECT_THAT(F::conv1d(arange(5, {1, 1, 5}), make({1, 1}, {1, 1, 2}), {}, 1, "valid").shape(),
              ElementsAre(1, 1, 4));
  EXPECT_THAT(F::conv3d(ones({1, 3, 4, 4}, {DType::kFloat32, device_}), ones({2, 1, 2, 3, 2}, {DType::kFloat32, device_}),
                        {}, 1, "same")
                  .shape(),
              ElementsAre(2, 3, 4, 4));
}

TD_DEVICE_TEST(ConvTest, Errors) {
  TensorOptions f32{DType::kFloat32, device_};
  EXPECT_EQ(message_of([&] { F::conv2d(ones({64, 3, 28, 28}, f32), ones({32, 1, 3, 3}, f32)); }),
            "[conv2d] Given groups=1, weight of size [32, 1, 3, 3], expected input[64, 3, 28, 28] to have 1 "
            "channels, but got 3 channels instead");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 1, 2, 2}, f32), ones({1, 1, 3, 3}, f32)); }),
            "[conv2d] Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't "
            "be greater than actual input size");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({2, 3}, f32), ones({1, 1, 3, 3}, f32)); }),
            "[conv2d] Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [2, 3]");
  EXPECT_EQ(message_of([&] { F::conv_transpose1d(ones({2, 4, 5, 4}, f32), ones({4, 4, 3}, f32)); }),
            "[conv_transpose1d] Expected 2D (unbatched) or 3D (batched) input to conv_transpose1d, but got input "
            "of size: [2, 4, 5, 4]");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({3, 2, 3, 3}, f32), {}, 1, 0, 1, 2); }),
            "[conv2d] Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of size "
            "[[3, 2, 3, 3]] instead");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 2, 3, 3}, f32), ones({3}, f32), 1, 0, 1, 2); }),
            "[conv2d] Given weight of size [4, 2, 3, 3], expected bias to be 1-dimensional with 4 elements, but "
            "got bias of size [3] instead");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 2, 3, 3}, f32), {}, 1, 0, 1, 0); }),
            "[conv2d] non-positive groups is not supported");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 4, 3, 3}, f32), {}, 0); }),
            "[conv2d] non-positive stride is not supported");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 4, 3, 3}, f32), {}, 1, -1); }),
            "[conv2d] negative padding is not supported");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 4, 3, 3}, f32), {}, 1, 0, 0); }),
            "[conv2d] dilation should be greater than zero, but got [0, 0]");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 4, 3, 3}, f32), {}, 2, "same"); }),
            "[conv2d] padding='same' is not supported for strided convolutions");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 4, 3, 3}, f32), {}, 1, "foo"); }),
            "[conv2d] Invalid padding string: 'foo'");
  EXPECT_EQ(message_of([&] { F::conv1d(ones({2, 4, 5}, f32), ones({4, 4, 3}, f32), {}, 1, {1, 1}); }),
            "[conv1d] expected padding to be a single integer value or a list of 1 values to match the convolution "
            "dimensions, but got padding=[1, 1]");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 4, 3, 3}, {DType::kFloat64, device_})); }),
            "[conv2d] expected scalar type Float but found Double");
  EXPECT_EQ(message_of([&] {
              F::conv2d(ones({1, 4, 5, 5}, f32), ones({4, 4, 3, 3}, f32), ones({4}, {DType::kFloat64, device_}));
            }),
            "[conv2d] Input type (float) and bias type (double) should be the same");
  EXPECT_EQ(message_of([&] { F::conv_transpose2d(ones({1, 4, 5, 5}, f32), ones({4, 2, 3, 3}, f32), {}, 2, 0, 2); }),
            "[conv_transpose2d] output padding must be smaller than either stride or dilation, but got "
            "output_padding_height: 2 output_padding_width: 2 stride_height: 2 stride_width: 2 dilation_height: 1 "
            "dilation_width: 1");
  EXPECT_EQ(message_of([&] { F::conv_transpose2d(ones({1, 3, 5, 5}, f32), ones({4, 2, 3, 3}, f32)); }),
            "[conv_transpose2d] Given transposed=1, weight of size [4, 2, 3, 3], expected input[1, 3, 5, 5] to have "
            "4 channels, but got 3 channels instead");
  EXPECT_EQ(message_of([&] { F::conv_transpose2d(ones({1, 4, 5, 5}, f32), ones({4, 2, 3, 3}, f32), ones({3}, f32)); }),
            "[conv_transpose2d] Given transposed=1, weight of size [4, 2, 3, 3], expected bias to be 1-dimensional "
            "with 2 elements, but got bias of size [3] instead");
  EXPECT_EQ(message_of([&] { F::conv_transpose2d(ones({1, 4, 1, 1}, f32), ones({4, 2, 3, 3}, f32), {}, 1, 2); }),
            "[conv_transpose2d] Given input size per channel: (1 x 1). Calculated output size per channel: (-1 x "
            "-1). Output size is too small");
  EXPECT_EQ(message_of([&] { F::conv2d(ones({2, 4, 5, 5}, f32), ones({0, 4, 3, 3}, f32)); }),
            "[conv2d] Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of size "
            "[0, 4, 3, 3] instead");
  EXPECT_EQ(message_of([&] {
              call_op("convolution", {ones({1, 5, 5}, f32), ones({1, 1, 3, 3}, f32), None{}, int_list({1, 1}),
                                      int_list({0, 0}), int_list({1, 1}), Scalar(false), int_list({0, 0}), Scalar(1)});
            }),
            "[convolution] Expected 4-dimensional input for 4-dimensional weight [1, 1, 3, 3], but got "
            "3-dimensional input of size [1, 5, 5] instead");
  EXPECT_EQ(message_of([&] {
              call_op("convolution", {ones({1, 4, 5}, f32), ones({4, 4}, f32), None{}, int_list({1}), int_list({0}),
                                      int_list({1}), Scalar(false), int_list({0}), Scalar(1)});
            }),
            "[convolution] weight should have at least three dimensions");
  auto e = error_of([&] { F::conv2d(ones({1, 1, 3, 3}, {DType::kBool, device_}), ones({1, 1, 1, 1}, {DType::kBool, device_})); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(std::string(e.what()), HasSubstr("not implemented for 'Bool'"));
}

TD_DEVICE_TEST(ConvTest, GradcheckConvolutions) {
  struct Case {
    std::string name;
    std::vector<int64_t> x, w;
    int64_t bias;  // the bias's size (output channels), 0 for none
    std::function<Tensor(const Inputs&)> fn;
  };
  auto b = [](const Inputs& t) { return t.size() > 2 ? t[2] : Tensor(); };
  std::vector<Case> cases = {
      {"conv1d_stride_padding_dilation", {2, 2, 7}, {3, 2, 2}, 3,
       [&](const Inputs& t) { return F::conv1d(t[0], t[1], b(t), 2, 1, 2); }},
      {"conv1d_unbatched_same", {2, 5}, {2, 2, 4}, 0,
       [&](const Inputs& t) { return F::conv1d(t[0], t[1], b(t), 1, "same", 1); }},
      {"conv2d_groups", {1, 4, 4, 3}, {4, 2, 2, 2}, 4,
       [&](const Inputs& t) { return F::conv2d(t[0], t[1], b(t), {1, 2}, {1, 0}, 1, 2); }},
      {"conv2d_depthwise_dilated", {2, 2, 5, 4}, {2, 1, 2, 2}, 0,
       [&](const Inputs& t) { return F::conv2d(t[0], t[1], b(t), 1, 1, {2, 1}, 2); }},
      {"conv2d_non_contiguous_input", {2, 3, 4, 3}, {2, 3, 2, 2}, 0,
       [&](const Inputs& t) { return F::conv2d(t[0].transpose(1, 3), t[1], b(t), 2); }},
      {"conv3d", {1, 2, 3, 3, 4}, {2, 2, 2, 2, 2}, 2,
       [&](const Inputs& t) { return F::conv3d(t[0], t[1], b(t), {1, 1, 2}, {0, 1, 1}); }},
      // Kernels with taps that read only padding (cut off by the kernel, core/ops/conv.cpp's dead_taps).
      {"conv2d_dead_taps_1x1_input", {2, 3, 1, 1}, {4, 3, 3, 3}, 4,
       [&](const Inputs& t) { return F::conv2d(t[0], t[1], b(t), 1, 1); }},
      {"conv2d_dead_taps_stride_2", {1, 2, 2, 2}, {3, 2, 3, 3}, 0,
       [&](const Inputs& t) { return F::conv2d(t[0], t[1], b(t), 2, 1); }},
      {"conv1d_dead_taps_dilated", {1, 2, 2}, {2, 2, 3}, 2,
       [&](const Inputs& t) { return F::conv1d(t[0], t[1], b(t), 1, 2, 2); }},
      {"conv3d_dead_taps_one_dim", {1, 1, 1, 3, 2}, {2, 1, 3, 3, 3}, 0,
       [&](const Inputs& t) { return F::conv3d(t[0], t[1], b(t), 1, 1); }},
      {"conv_transpose1d_output_padding", {2, 2, 3}, {2, 3, 2}, 3,
       [&](const Inputs& t) { return F::conv_transpose1d(t[0], t[1], b(t), 3, 1, 2); }},
      {"conv_transpose1d_dilation_output_padding", {1, 2, 3}, {2, 1, 2}, 0,
       [&](const Inputs& t) { return F::conv_transpose1d(t[0], t[1], b(t), 1, 0, 1, 1, 2); }},
      {"conv_transpose2d_groups", {1, 4, 3, 2}, {4, 1, 2, 3}, 2,
       [&](const Inputs& t) { return F::conv_transpose2d(t[0], t[1], b(t), {2, 1}, {1, 1}, {1, 0}, 2); }},
      {"conv_transpose3d", {1, 2, 2, 2, 2}, {2, 1, 2, 1, 2}, 0,
       [&](const Inputs& t) { return F::conv_transpose3d(t[0], t[1], b(t), 2, 0, {1, 0, 0}); }},
  };
  for (const Case& c : cases) {
    Inputs in = {leaf(c.x), leaf(c.w, 0.5)};
    if (c.bias > 0) in.push_back(leaf({c.bias}, 0.25));
    expect_gradcheck(c.name, c.fn, in);
  }
}

// A convolution whose kernel has taps that read only padding runs without them (dead_taps): its values and
// its three gradients equal those of the same convolution over the explicitly zero-padded input, which has
// no such taps. float32 takes the library path on the CPU (oneDNN), float64 im2col.
TD_DEVICE_TEST(ConvTest, DeadTapsGiveThePaddedInputsConvolution) {
  struct Case {
    std::vector<int64_t> x, w;
    int64_t stride, pad, dilation;
  };
  const std::vector<Case> cases = {
      {{4, 8, 1, 1}, {16, 8, 3, 3}, 1, 1, 1},  // resnet18's last stage at 32x32: only the centre tap
      {{4, 8, 2, 2}, {16, 8, 3, 3}, 2, 1, 1},  // its first conv: a 2x2 corner of the kernel
      {{4, 8, 1, 6}, {16, 8, 3, 3}, 1, 1, 1},  // one dim cut, the other whole
      {{4, 8, 2, 2}, {16, 8, 3, 3}, 1, 2, 2},  // dilated: only the centre tap reads the input
  };
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << shape_str(c.x) << " * " << shape_str(c.w) << " " << dtype_name(dtype));
      auto values = [&](std::vector<int64_t> shape, int64_t salt) {
        int64_t n = 1;
        for (int64_t v : shape) n *= v;
        std::vector<double> v(static_cast<size_t>(n));
        for (size_t i = 0; i < v.size(); ++i) v[i] = double(int64_t((i + salt) * 2654435761u % 201) - 100) / 100;
        return make64(v, std::move(shape)).to(dtype).requires_grad_();
      };
      Tensor x = values(c.x, 1), w = values(c.w, 2), bias = values({c.w[0]}, 3);
      Tensor y = F::conv2d(x, w, bias, c.stride, c.pad, c.dilation);
      Tensor padded = x.pad({c.pad, c.pad, c.pad, c.pad}, "constant", 0);
      Tensor ref = F::conv2d(padded, w, bias, c.stride, 0, c.dilation);
      ASSERT_EQ(y.shape(), ref.shape());
      Tensor g = values(y.shape(), 4).detach();
      auto grads = autograd::grad({y}, {x, w, bias}, {g});
      auto ref_grads = autograd::grad({ref}, {x, w, bias}, {g});
      const double tol = dtype == DType::kFloat32 ? 1e-4 : 1e-12;
      auto expect_close = [&](const Tensor& got, const Tensor& want, const char* what) {
        std::vector<double> a = got.to_vector<double>(), e = want.to_vector<double>();
        ASSERT_EQ(a.size(), e.size()) << what;
        for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], e[i], tol * (1 + std::abs(e[i]))) << what << " at " << i;
      };
      expect_close(y, ref, "output");
      expect_close(grads[0], ref_grads[0], "input gradient");
      expect_close(grads[1], ref_grads[1], "weight gradient");
      expect_close(grads[2], ref_grads[2], "bias gradient");
    }
  }
}

// The same comparison over every small 1-d geometry (input 1 to 4, kernel 1 to 4, stride 1 to 3, every legal
// padding, dilation 1 and 2): wherever dead_taps cuts or not, the padded input's convolution agrees.
TD_DEVICE_TEST(ConvTest, DeadTapsSweepOfSmallGeometries) {
  int cases = 0;
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (int64_t in = 1; in <= 4; ++in) {
      for (int64_t k = 1; k <= 4; ++k) {
        for (int64_t stride = 1; stride <= 3; ++stride) {
          for (int64_t dil = 1; dil <= 2; ++dil) {
            for (int64_t pad = 0; pad <= k / 2 * dil; ++pad) {
              if (in + 2 * pad < dil * (k - 1) + 1) continue;  // no output
              SCOPED_TRACE(::testing::Message() << "in " << in << " k " << k << " stride " << stride << " dil " << dil
                                                << " pad " << pad << " " << dtype_name(dtype));
              std::vector<double> xv(static_cast<size_t>(2 * 3 * in)), wv(static_cast<size_t>(4 * 3 * k));
              for (size_t i = 0; i < xv.size(); ++i) xv[i] = double(int64_t(i * 37 % 11) - 5) / 4;
              for (size_t i = 0; i < wv.size(); ++i) wv[i] = double(int64_t(i * 53 % 13) - 6) / 8;
              Tensor x = make64(xv, {2, 3, in}).to(dtype).requires_grad_(true);
              Tensor w = make64(wv, {4, 3, k}).to(dtype).requires_grad_(true);
              Tensor y = F::conv1d(x, w, Tensor(), stride, pad, dil);
              Tensor ref = F::conv1d(x.pad({pad, pad}, "constant", 0), w, Tensor(), stride, 0, dil);
              ASSERT_EQ(y.shape(), ref.shape());
              Tensor g = ones(y.shape(), {dtype, x.device()});
              auto grads = autograd::grad({y}, {x, w}, {g});
              auto ref_grads = autograd::grad({ref}, {x, w}, {g});
              // Small integers over powers of two: every sum is exact in both dtypes.
              EXPECT_EQ(y.to_vector<double>(), ref.to_vector<double>());
              EXPECT_EQ(grads[0].to_vector<double>(), ref_grads[0].to_vector<double>());
              EXPECT_EQ(grads[1].to_vector<double>(), ref_grads[1].to_vector<double>());
              ++cases;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 100);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Devices, ConvTest, ::testing::Values(std::string("cpu"), std::string("cuda:0")),
                         testing::device_name);

}  // namespace td
