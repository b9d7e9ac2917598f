// Normalization, embedding and bilinear ops and layers (core/ops/norm.cpp, embedding.cpp, blas.cpp;
// core/nn/normalization.h, sparse.h, modules.h): float64 gradchecks of first and second order for every op
// (values and gradients against PyTorch are in tests/golden/norm.json, module behaviour in
// tests/golden/modules/layers.json), values derived by hand, the running-statistics bookkeeping, the error
// paths in PyTorch's words, the reprs, state_dict keys and the containers (ModuleDict, ParameterList,
// ParameterDict).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/autograd/autograd.h"
#include "core/autograd/grad_mode.h"
#include "core/cudnn.h"
#include "core/nn/functional.h"
#include "core/nn/modules.h"
#include "core/nn/normalization.h"
#include "core/nn/sparse.h"
#include "core/backend.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using testing::error_of;
using ::testing::HasSubstr;
namespace F = nn::functional;

class NormTest : public testing::DeviceTest {
 protected:
  std::string message_of(const std::function<void()>& fn) { return std::string(error_of(fn).what()); }
  std::vector<double> values(const Tensor& t) { return t.to("cpu").to(DType::kFloat64).to_vector<double>(); }
  // batch_norm (native_batch_norm, with the backend's fused channel passes) against the composite of public ops:
  // the output, the gradients of x, weight and bias for the cotangent cos(1.3 x), and the running statistics.
  void expect_fused_matches_composite(const Tensor& x0, bool training, double tol) {
    const int64_t c = x0.size(1);
    auto ramp = [&](double scale, double shift) {
      return arange(c, {c}).to(DType::kFloat64).mul(scale).add(shift).to(x0.dtype());
    };
    Tensor x = x0.detach().requires_grad_();
    Tensor w = ramp(0.5, -0.7).requires_grad_(), b = ramp(-0.2, 0.1).requires_grad_();
    Tensor g = x.detach().mul(1.3).cos();
    std::vector<std::vector<double>> results;
    for (const char* op : {"batch_norm", "_batch_norm_composite"}) {
      Tensor rm = ramp(0.1, 0), rv = ramp(1, 0.5);
      Tensor y = call_op(op, {x, w, b, rm, rv, Scalar(training), Scalar(0.3), Scalar(1e-3)})[0];
      std::vector<Tensor> grads = autograd::grad({y}, {x, w, b}, {g});
      results.push_back(values(y));
      for (const Tensor& t : grads) results.push_back(values(t));
      results.push_back(values(rm));
      results.push_back(values(rv));
    }
    const size_t half = results.size() / 2;
    for (size_t i = 0; i < half; ++i) {
      ASSERT_EQ(results[i].size(), results[half + i].size());
      for (size_t j = 0; j < results[i].size(); ++j) {
        const double want = results[half + i][j];
        ASSERT_NEAR(results[i][j], want, tol * (1 + std::fabs(want))) << "result " << i << ", element " << j;
      }
    }
  }
  void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
    std::vector<double> got = values(t);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
  }
};
TD_INSTANTIATE_DEVICES(NormTest);

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
struct Case {
  std::string name;
  Fn fn;
  std::vector<Tensor> inputs;
};

TD_DEVICE_TEST(NormTest, GradcheckEveryOp) {
  Tensor x = make64({-1.3, 0.4,  2.2, -0.35, 0.9,  -2.1, 1.15, 0.05, -0.65, 1.7,  0.25, -0.85,
                     0.6,  -0.2, 1.4, 0.3,   -1.1, 0.75, 0.15, -0.5, 1.05,  -0.9, 0.45, 1.25},
                    {2, 3, 4})
                 .requires_grad_();
  Tensor w3 = make64({0.5, -1.5, 2.0}, {3}).requires_grad_();
  Tensor b3 = make64({0.1, 0.3, -0.2}, {3}).requires_grad_();
  Tensor w4 = make64({1.2, -0.4, 0.8, 0.3}, {4}).requires_grad_();
  Tensor b4 = make64({-0.1, 0.2, 0.5, 0.0}, {4}).requires_grad_();
  Tensor rm = make64({0.2, -0.1, 0.4}, {3}).requires_grad_();
  Tensor rv = make64({0.8, 1.5, 0.6}, {3}).requires_grad_();
  Tensor x6 =
      make64({0.3, -1.2, 0.8, 1.9, -0.4, 0.1, -0.7, 1.3, 0.6, -1.6, 0.2, 1.0}, {1, 6, 2}).requires_grad_();
  Tensor table =
      make64({0.3, -1.2, 0.8, 1.9, -0.4, 0.1, -0.7, 1.3, 0.6, -1.6, 0.2, 1.0, 0.45, -0.25, 1.1}, {5, 3})
          .requires_grad_();
  Tensor ids = idx({1, 4, 4, 0, 2, 4}, {2, 3});
  Tensor flat = idx({1, 4, 4, 0, 2, 4, 3}, {7});
  Tensor offsets = idx({0, 3, 3}, {3});
  Tensor psw = make64({0.5, -1.0, 2.0, 0.3, 1.5, -0.7, 0.9}, {7}).requires_grad_();
  Tensor x1 = make64({0.3, -1.2, 0.8, 1.9, -0.4, 0.1}, {2, 3}).requires_grad_();
  Tensor x2 = make64({0.7, 1.3, -0.6, 0.2}, {2, 2}).requires_grad_();
  Tensor wb =
      make64({0.5, -0.3, 1.1, 0.2, -0.8, 0.4, 0.9, -1.2, 0.6, 0.1, -0.5, 0.7}, {2, 3, 2}).requires_grad_();
  Tensor bb = make64({0.25, -0.75}, {2}).requires_grad_();

  const std::vector<Case> cases = {
      {"batch_norm_train",
       [](const auto& in) { return F::batch_norm(in[0], {}, {}, in[1], in[2], true, 0.1, 1e-3); },
       {x, w3, b3}},
      {"batch_norm_eval",
       [](const auto& in) { return F::batch_norm(in[0], in[3], in[4], in[1], in[2], false, 0.1, 1e-3); },
       {x, w3, b3, rm, rv}},
      // native_batch_norm's three outputs at once: gradients reaching save_mean and save_invstd are folded
      // into the input's.
      {"native_batch_norm_all_outputs",
       [](const auto& in) {
         std::vector<Tensor> out = call_op("native_batch_norm", {in[0], in[1], in[2], None{}, None{},
                                                                 Scalar(true), Scalar(0.1), Scalar(1e-3)});
         return call_op("cat",
                        {std::vector<Tensor>{out[0].reshape({-1}), out[1], out[2].mul(0.5)}, Scalar(0)})[0];
       },
       {x, w3, b3}},
      {"native_batch_norm_no_affine",
       [](const auto& in) {
         return call_op("native_batch_norm",
                        {in[0], None{}, None{}, None{}, None{}, Scalar(true), Scalar(0.1), Scalar(1e-3)})[0];
       },
       {x}},
      {"instance_norm",
       [](const auto& in) { return F::instance_norm(in[0], {}, {}, in[1], in[2], true, 0.1, 1e-3); },
       {x, w3, b3}},
      {"layer_norm",
       [](const auto& in) { return F::layer_norm(in[0], {4}, in[1], in[2], 1e-3); },
       {x, w4, b4}},
      {"layer_norm_two_dims",
       [](const auto& in) {
         return F::layer_norm(in[0], {3, 4}, {}, {}, 1e-3);
       },
       {x}},
      {"group_norm",
       [](const auto& in) { return F::group_norm(in[0], 3, in[1], in[2], 1e-3); },
       {x6, make64({0.5, 1.5, -1.0, 2.0, 0.7, -0.3}, {6}).requires_grad_(),
        make64({0.1, 0.0, -0.2, 0.3, 0.4, -0.5}, {6}).requires_grad_()}},
      {"local_response_norm",
       [](const auto& in) { return F::local_response_norm(in[0], 2, 0.1, 0.75, 1.0); },
       {x}},
      {"local_response_norm_4d",
       [](const auto& in) {
         return F::local_response_norm(in[0].reshape({2, 3, 2, 2}), 3, 0.2, 0.5, 2.0);
       },
       {x}},
      {"normalize", [](const auto& in) { return F::normalize(in[0], 2.0, 1); }, {x}},
      {"normalize_p3", [](const auto& in) { return F::normalize(in[0], 3.0, -1); }, {x}},
      {"embedding", [&](const auto& in) { return F::embedding(ids, in[0]); }, {table}},
      {"embedding_bag_sum_weights",
       [&](const auto& in) {
         return F::embedding_bag(flat, in[0], offsets, std::nullopt, 2, false, "sum", false, in[1]);
       },
       {table, psw}},
      {"embedding_bag_mean_padding",
       [&](const auto& in) {
         return F::embedding_bag(flat, in[0], offsets, std::nullopt, 2, false, "mean", false, {}, false, 4);
       },
       {table}},
      {"embedding_bag_max",
       [&](const auto& in) { return F::embedding_bag(ids, in[0], {}, std::nullopt, 2, false, "max"); },
       {table}},
      {"bilinear", [](const auto& in) { return F::bilinear(in[0], in[1], in[2], in[3]); }, {x1, x2, wb, bb}},
  };
  for (const Case& c : cases) expect_gradcheck(c.name, c.fn, c.inputs);
}

// native_batch_norm (the primitive with its own backward) against the composite it replaced: values, first
// and second gradients.
TD_DEVICE_TEST(NormTest, NativeBatchNormMatchesTheComposite) {
  Tensor x =
      make64({-1.3, 0.4, 2.2, -0.35, 0.9, -2.1, 1.15, 0.05, -0.65, 1.7, 0.25, -0.85, 0.6, -0.2, 1.4, 0.3},
             {2, 2, 4})
          .requires_grad_();
  Tensor w = make64({0.5, -1.5}, {2}).requires_grad_(), b = make64({0.1, 0.3}, {2}).requires_grad_();
  Tensor g = make64({0.3, -1.2, 0.8, 1.9, -0.4, 0.1, -0.7, 1.3, 0.6, -1.6, 0.2, 1.0, 0.45, -0.25, 1.1, 0.7},
                    {2, 2, 4});
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    std::vector<std::vector<double>> results;
    for (const char* op : {"batch_norm", "_batch_norm_composite"}) {
      Tensor rm = make64({0.2, -0.1}, {2}), rv = make64({0.8, 1.5}, {2});
      Tensor y = call_op(op, {x, w, b, rm, rv, Scalar(training), Scalar(0.3), Scalar(1e-3)})[0];
      std::vector<Tensor> grads = autograd::grad({y}, {x, w, b}, {g}, true, true);
      // A second derivative: the gradient of sum(gx^2) with respect to w, and x (in eval mode gx = g w invstd
      // does not depend on x).
      std::vector<Tensor> second = autograd::grad(
          {grads[0].mul(grads[0]).sum()}, training ? std::vector<Tensor>{x, w} : std::vector<Tensor>{w});
      results.push_back(values(y));
      for (const Tensor& t : grads) results.push_back(values(t));
      for (const Tensor& t : second) results.push_back(values(t));
      results.push_back(values(rm));
      results.push_back(values(rv));
    }
    const size_t half = results.size() / 2;
    for (size_t i = 0; i < half; ++i) {
      ASSERT_EQ(results[i].size(), results[half + i].size());
      for (size_t j = 0; j < results[i].size(); ++j)
        EXPECT_NEAR(results[i][j], results[half + i][j], 1e-12) << i;
    }
  }
}

// Without create_graph the primitive's backward (and its forward, always) take the backend's fused
// per-channel passes where it has them (the CPU's, on contiguous float and double); the composite is the
// reference. A transposed input, which the fused passes do not take, checks the fallback beside them.
TD_DEVICE_TEST(NormTest, FusedBatchNormPassesMatchTheComposite) {
  for (DType dtype : {DType::kFloat64, DType::kFloat32}) {
    const double tol = dtype == DType::kFloat64 ? 1e-11 : 2e-5;
    for (bool transposed : {false, true}) {
      for (bool training : {true, false}) {
        SCOPED_TRACE(std::string(dtype_name(dtype)) + (training ? " training" : " eval") +
                     (transposed ? " transposed" : ""));
        Tensor base =
            arange(360, {3, 4, 5, 6}).to(DType::kFloat64).mul(0.37).sin().mul(2.5).add(0.3).to(dtype);
        expect_fused_matches_composite(transposed ? base.transpose(2, 3) : base, training, tol);
      }
    }
  }
}

// Channels of 76800 elements (CUDA folds each in ~75 slices, then adds the slices), a [N, C] input (one
// element per image and channel: BatchNorm1d's), and a batch of one.
TD_DEVICE_TEST(NormTest, FusedBatchNormPassesOnLongChannelsAndFlatInputs) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{48, 3, 40, 40}, std::vector<int64_t>{50, 7}, std::vector<int64_t>{1, 5, 9}}) {
    SCOPED_TRACE(shape_str(shape));
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    Tensor base = arange(n, shape).to(DType::kFloat64).mul(0.37).sin().mul(2.5).add(0.3);
    // The backend's fused passes run on this input (were they to decline, both sides below would be the
    // composite): per-channel sums, and centred squares about a given centre, against ops.
    std::vector<int64_t> dims = {0};
    for (int64_t d = 2; d < base.dim(); ++d) dims.push_back(d);
    const TensorOptions f64{DType::kFloat64, device_};
    Tensor sums = empty({shape[1]}, f64), squares = empty({shape[1]}, f64);
    Tensor centre = arange(shape[1], {shape[1]}).to(DType::kFloat64).mul(0.1);
    ASSERT_TRUE(backend(device_.type).channel_sums(strided_ref(sums), strided_ref(squares), strided_ref(base), {},
                                                   strided_ref(centre), device_.index));
    std::vector<int64_t> cshape(static_cast<size_t>(base.dim()), 1);
    cshape[1] = shape[1];
    const std::vector<double> want = values(base.sum(dims)),
                              want_sq = values(base.sub(centre.view(cshape)).square().sum(dims));
    const std::vector<double> got = values(sums), got_sq = values(squares);
    for (size_t c = 0; c < want.size(); ++c) {
      EXPECT_NEAR(got[c], want[c], 1e-9 * (1 + std::fabs(want[c]))) << "channel " << c;
      EXPECT_NEAR(got_sq[c], want_sq[c], 1e-9 * (1 + std::fabs(want_sq[c]))) << "channel " << c;
    }
    // Our passes, not cuDNN's batch norm (tests/cuda/cudnn_test.cpp compares that with these).
    backends::cudnn::FlagsGuard ours(false, false, false, false);
    expect_fused_matches_composite(base, /*training=*/true, 1e-10);
    expect_fused_matches_composite(base.to(DType::kFloat32), /*training=*/true, 1e-4);
  }
}

TD_DEVICE_TEST(NormTest, ValuesDerivedByHand) {
  // One channel of 1 and 3: mean 2, biased variance 1, so with eps 0 the outputs are -1 and 1; the running
  // mean moves 0.1 of the way to 2 (0.2), the running variance 0.1 of the way from 1 to the unbiased variance
  // 2 (1.1).
  Tensor rm = make64({0.0}, {1}), rv = make64({1.0}, {1});
  Tensor y = F::batch_norm(make64({1, 3}, {2, 1}), rm, rv, {}, {}, true, 0.1, 0.0);
  expect_values(y, {-1, 1});
  expect_values(rm, {0.2});
  expect_values(rv, {1.1});
  // Eval mode: (x - 0.2) / sqrt(1.1 + 0.0) * 2 + 1.
  Tensor e =
      F::batch_norm(make64({1.3}, {1, 1}), rm, rv, make64({2}, {1}), make64({1}, {1}), false, 0.1, 0.0);
  expect_values(e, {1.1 / std::sqrt(1.1) * 2 + 1});
  // layer_norm of (0, 2) and (1, 5): each row to (-1, 1); weight (2, 3) and bias (1, 0) give (-1, 3).
  expect_values(
      F::layer_norm(make64({0, 2, 1, 5}, {2, 2}), {2}, make64({2, 3}, {2}), make64({1, 0}, {2}), 0.0),
      {-1, 3, -1, 3});
  // group_norm with 2 groups of one channel each over (0, 4) and (1, 3): (-1, 1) each.
  expect_values(F::group_norm(make64({0, 4, 1, 3}, {1, 2, 2}), 2, {}, {}, 0.0), {-1, 1, -1, 1});
  // instance_norm of planes (2, 6) and (5, 5 + 2): both (-1, 1).
  expect_values(F::instance_norm(make64({2, 6, 5, 7}, {1, 2, 2}), {}, {}, {}, {}, true, 0.1, 0.0),
                {-1, 1, -1, 1});
  // local_response_norm with size 1: x / (k + alpha x^2)^beta = 2 / (1 + 0.5 * 4)^0.5 = 2 / sqrt(3).
  expect_values(F::local_response_norm(make64({2}, {1, 1, 1}), 1, 0.5, 0.5, 1.0), {2 / std::sqrt(3.0)});
  // normalize (3, 4) along dim 1: (0.6, 0.8); a zero row stays zero (the norm is clamped to eps).
  expect_values(F::normalize(make64({3, 4, 0, 0}, {2, 2})), {0.6, 0.8, 0, 0});
  // embedding picks rows; embedding_bag sums (1, 2) + (5, 6), means them, or takes the elementwise max.
  Tensor table = make64({1, 2, 3, 4, 5, 6}, {3, 2});
  expect_values(F::embedding(idx({2, 0}, {2}), table), {5, 6, 1, 2});
  Tensor bag = idx({0, 2, 1}, {3}), offs = idx({0, 2, 3}, {3});
  expect_values(F::embedding_bag(bag, table, offs, std::nullopt, 2, false, "sum"), {6, 8, 3, 4, 0, 0});
  expect_values(F::embedding_bag(bag, table, offs, std::nullopt, 2, false, "mean"), {3, 4, 3, 4, 0, 0});
  expect_values(F::embedding_bag(bag, table, offs, std::nullopt, 2, false, "max"), {5, 6, 3, 4, 0, 0});
  // bilinear: x1 (1, 2), x2 (3), weight [[1], [2]]: 1 * 1 * 3 + 2 * 2 * 3 = 15, plus bias 0.5.
  expect_values(
      F::bilinear(make64({1, 2}, {1, 2}), make64({3}, {1, 1}), make64({1, 2}, {1, 2, 1}), make64({0.5}, {1})),
      {15.5});
}

TD_DEVICE_TEST(NormTest, EmbeddingGradientModifiers) {
  // Indices 1, 2, 1, 0 with padding_idx 2: row 2 gets no gradient; with scale_grad_by_freq row 1's two
  // gradients of ones are each halved, so it gets 1 instead of 2.
  Tensor table = make64({1, 2, 3, 4, 5, 6}, {3, 2}).requires_grad_();
  Tensor ids = idx({1, 2, 1, 0}, {4});
  F::embedding(ids, table, 2).sum().backward();
  expect_values(table.grad(), {1, 1, 2, 2, 0, 0});
  table.grad().zero_();
  F::embedding(ids, table, std::nullopt, std::nullopt, 2.0, true).sum().backward();
  expect_values(table.grad(), {1, 1, 1, 1, 1, 1});
  // max_norm rescales the looked-up rows with a larger norm in place: row 2 (5, 6) has norm sqrt(61) > 5.
  Tensor w = make64({1, 2, 3, 4, 5, 6}, {3, 2});
  F::embedding(idx({2, 0}, {2}), w, std::nullopt, 5.0);
  const double s = 5.0 / (std::sqrt(61.0) + 1e-7);
  expect_values(w, {1, 2, 3, 4, 5 * s, 6 * s});
}

TD_DEVICE_TEST(NormTest, ErrorsUsePyTorchWords) {
  Tensor x = make64({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_THAT(message_of([&] {
                F::batch_norm(x, make64({0, 0, 0, 0}, {4}), make64({1, 1, 1, 1}, {4}));
              }),
              HasSubstr("[batch_norm] running_mean should contain 3 elements not 4"));
  EXPECT_THAT(message_of([&] { F::batch_norm(x, {}, {}, make64({1}, {1}), {}, true); }),
              HasSubstr("[batch_norm] weight should contain 3 elements not 1"));
  EXPECT_THAT(message_of([&] { F::batch_norm(x, {}, {}); }),
              HasSubstr("[batch_norm] running_mean must be defined in evaluation mode"));
  EXPECT_THAT(message_of([&] {
                F::batch_norm(make64({1, 2, 3}, {1, 3}), {}, {}, {}, {}, true);
              }),
              HasSubstr("Expected more than 1 value per channel when training, got input size [1, 3]"));
  EXPECT_EQ(error_of([&] {
              F::batch_norm(make64({1, 2}, {2}), {}, {}, {}, {}, true);
            }).code(),
            ErrorCode::kOutOfRange);
  EXPECT_THAT(message_of([&] {
                F::batch_norm(idx({1, 2, 3, 4}, {2, 2}), {}, {}, {}, {}, true);
              }),
              HasSubstr("[batch_norm] \"batch_norm\" not implemented for 'Long'"));
  EXPECT_THAT(
      message_of([&] { F::layer_norm(x, {4}); }),
      HasSubstr("[layer_norm] Given normalized_shape=[4], expected input with shape [*, 4], but got input "
                "of size[2, 3]"));
  EXPECT_THAT(
      message_of([&] { F::layer_norm(x, {3}, make64({1}, {1})); }),
      HasSubstr("Expected weight to be of same shape as normalized_shape, but got weight of shape [1] and "
                "normalized_shape = [3]"));
  EXPECT_THAT(message_of([&] { F::layer_norm(x, {}); }),
              HasSubstr("Expected normalized_shape to be at least 1-dimensional"));
  EXPECT_THAT(
      message_of([&] {
        F::group_norm(make64({1, 2, 3, 4, 5, 6}, {1, 6, 1}), 4);
      }),
      HasSubstr("[group_norm] Expected number of channels in input to be divisible by num_groups, but got "
                "input of shape [1, 6, 1] and num_groups=4"));
  EXPECT_THAT(
      message_of([&] {
        F::group_norm(make64({1, 2, 3, 4, 5, 6}, {1, 6, 1}), 3, make64({1}, {1}));
      }),
      HasSubstr("Expected weight to be a vector of size equal to the number of channels in input, but got "
                "weight of shape [1] and input of shape [1, 6, 1]"));
  EXPECT_THAT(
      message_of([&] {
        F::instance_norm(make64({1, 2, 3, 4}, {2, 2, 1}));
      }),
      HasSubstr(
          "[instance_norm] Expected more than 1 spatial element when training, got input size [2, 2, 1]"));
  EXPECT_THAT(
      message_of([&] { F::local_response_norm(x, 2); }),
      HasSubstr("[local_response_norm] Expected 3D or higher dimensionality input (got 2 dimensions)"));
  EXPECT_EQ(error_of([&] { F::normalize(x, 2.0, 2); }).code(), ErrorCode::kOutOfRange);
  Tensor table = make64({1, 2, 3, 4, 5, 6}, {3, 2});
  Error oob = error_of([&] { F::embedding(idx({3}, {1}), table); });
  EXPECT_EQ(oob.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(std::string(oob.what()), HasSubstr("index out of range in self"));
  EXPECT_THAT(
      message_of([&] { F::embedding(make64({1}, {1}), table); }),
      HasSubstr("Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, "
                "Int; but got Double instead"));
  EXPECT_THAT(message_of([&] {
                F::embedding(idx({1}, {1}), make64({1, 2}, {2}));
              }),
              HasSubstr("'weight' must be 2-D"));
  EXPECT_THAT(message_of([&] { F::embedding(idx({1}, {1}), table, 3); }),
              HasSubstr("Padding_idx must be within num_embeddings"));
  EXPECT_EQ(error_of([&] {
              F::embedding(idx({1}, {1}), table, std::nullopt, std::nullopt, 2, false, true);
            }).code(),
            ErrorCode::kUnimplemented);
  Tensor bag = idx({0, 2}, {2});
  EXPECT_THAT(message_of([&] { F::embedding_bag(bag, table); }),
              HasSubstr("offsets has to be a 1D Tensor but got None"));
  EXPECT_THAT(message_of([&] {
                F::embedding_bag(idx({0, 2}, {1, 2}), table, idx({0}, {1}));
              }),
              HasSubstr("if input is 2D, then offsets has to be None"));
  EXPECT_THAT(
      message_of([&] { F::embedding_bag(bag, table, idx({1}, {1})); }),
      HasSubstr("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                "position 0. However, got 1"));
  EXPECT_THAT(message_of([&] {
                F::embedding_bag(bag, table, idx({0, 3}, {2}));
              }),
              HasSubstr("offsets[-1] can not be greater than input's length 2 but got offsets[-1] of 3"));
  EXPECT_THAT(
      message_of([&] { F::embedding_bag(bag, table, idx({0}, {1}), std::nullopt, 2, false, "prod"); }),
      HasSubstr("mode has to be one of sum, mean or max"));
  EXPECT_THAT(message_of([&] {
                F::embedding_bag(bag, table, idx({0}, {1}), std::nullopt, 2, false, "mean", false,
                                 make64({1, 1}, {2}));
              }),
              HasSubstr("per_sample_weights is only supported for mode='sum' (got mode='mean')"));
  Tensor a = make64({1, 2, 3, 4, 5, 6}, {2, 3}), b = make64({1, 2, 3, 4}, {2, 2}),
         w = zeros({5, 3, 2}, {DType::kFloat64, device_});
  EXPECT_THAT(message_of([&] {
                F::bilinear(a, b.reshape({2, 2, 1}), w);
              }),
              HasSubstr("bilinear(): input dimensions do not match: got 2 and 3"));
  EXPECT_THAT(message_of([&] {
                F::bilinear(a, make64({1, 2, 3, 4, 5, 6}, {3, 2}), w);
              }),
              HasSubstr("bilinear(): input batch dimensions do not match at dim 0: got 2 and 3"));
  EXPECT_THAT(message_of([&] { F::bilinear(b, b, w); }),
              HasSubstr("bilinear(): input1 size does not match weight size: got 2 but expected 3"));
  EXPECT_THAT(message_of([&] {
                F::bilinear(a, b, w, make64({1, 2}, {2}));
              }),
              HasSubstr("bilinear(): bias size does not match weight size: got 2 but expected 5"));
}

TD_DEVICE_TEST(NormTest, BatchNormTracksRunningStatistics) {
  const TensorOptions f64{DType::kFloat64};
  auto bn =
      std::make_shared<nn::BatchNorm1d>(1, 0.0, std::nullopt, false, true, f64);  // momentum None: cumulative
  bn->to(device_);
  // Batches with means 2 and 6 (unbiased variances 2 and 8): the running mean is their average 4, the running
  // variance (1 + 2 + 8) / 3 after the initial 1 is weighed in as PyTorch does: v1 = 2, v2 = 2 + (8 - 2) / 2
  // = 5.
  (*bn)(make64({1, 3}, {2, 1}));
  (*bn)(make64({4, 8}, {2, 1}));
  expect_values(bn->running_mean, {4});
  expect_values(bn->running_var, {5});
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);
  // Eval mode normalizes by the running statistics and leaves them alone.
  bn->eval();
  expect_values((*bn)(make64({4, 9}, {2, 1})), {0, 5 / std::sqrt(5.0)});
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);
  expect_values(bn->running_mean, {4});
  // Without running statistics, eval mode uses the batch's.
  auto untracked = std::make_shared<nn::BatchNorm1d>(1, 0.0, 0.1, false, false, f64);
  untracked->to(device_);
  untracked->eval();
  expect_values((*untracked)(make64({1, 3}, {2, 1})), {-1, 1});
  EXPECT_THAT(message_of([&] {
                (*bn)(make64({1, 2, 3, 4}, {1, 1, 2, 2}));
              }),
              HasSubstr("[BatchNorm1d] expected 2D or 3D input (got 4D input)"));
  EXPECT_THAT(message_of([&] {
                nn::BatchNorm2d(3)(zeros({2, 3, 4}));
              }),
              HasSubstr("[BatchNorm2d] expected 4D input (got 3D input)"));
  EXPECT_THAT(message_of([&] {
                nn::BatchNorm3d(3)(zeros({2, 3, 4, 5}));
              }),
              HasSubstr("[BatchNorm3d] expected 5D input (got 4D input)"));
  EXPECT_THAT(message_of([&] {
                nn::InstanceNorm2d(3)(zeros({3, 4}));
              }),
              HasSubstr("[InstanceNorm2d] expected 3D or 4D input (got 2D input)"));
  EXPECT_THAT(message_of([] { nn::GroupNorm(4, 6); }),
              HasSubstr("num_channels must be divisible by num_groups"));
}

TEST(NormModulesTest, ReprsMatchPyTorch) {
  EXPECT_EQ(nn::BatchNorm2d(32).repr(),
            "BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(nn::BatchNorm1d(3, 1e-5, std::nullopt, false, false).repr(),
            "BatchNorm1d(3, eps=1e-05, momentum=None, affine=False, track_running_stats=False)");
  EXPECT_EQ(nn::InstanceNorm2d(3).repr(),
            "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
  EXPECT_EQ(nn::LayerNorm({10}).repr(), "LayerNorm((10,), eps=1e-05, elementwise_affine=True)");
  EXPECT_EQ(nn::LayerNorm({3, 4}, 1e-3, false).repr(),
            "LayerNorm((3, 4), eps=0.001, elementwise_affine=False)");
  EXPECT_EQ(nn::GroupNorm(2, 6).repr(), "GroupNorm(2, 6, eps=1e-05, affine=True)");
  EXPECT_EQ(nn::LocalResponseNorm(2).repr(), "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)");
  EXPECT_EQ(nn::Embedding(10, 3).repr(), "Embedding(10, 3)");
  EXPECT_EQ(nn::Embedding(10, 3, -2, 1.0, 3.0, true).repr(),
            "Embedding(10, 3, padding_idx=8, max_norm=1.0, norm_type=3.0, scale_grad_by_freq=True)");
  EXPECT_EQ(nn::EmbeddingBag(10, 3).repr(), "EmbeddingBag(10, 3, mode=mean)");
  EXPECT_EQ(nn::EmbeddingBag(10, 3, 2.0, 2.0, false, "sum", false, false, 1).repr(),
            "EmbeddingBag(10, 3, max_norm=2.0, mode=sum, padding_idx=1)");
  EXPECT_EQ(nn::Bilinear(2, 3, 4).repr(),
            "Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)");
  nn::ModuleDict dict{{"a", std::make_shared<nn::Linear>(1, 2)}, {"b", std::make_shared<nn::ReLU>()}};
  EXPECT_EQ(dict.repr(),
            "ModuleDict(\n  (a): Linear(in_features=1, out_features=2, bias=True)\n  (b): ReLU()\n)");
  EXPECT_EQ(nn::ModuleDict().repr(), "ModuleDict()");
  nn::ParameterList list{zeros({2, 3}), zeros({3}, {DType::kFloat64})};
  EXPECT_EQ(list.repr(),
            "ParameterList(\n    (0): Parameter containing: [torch.float32 of size 2x3]\n"
            "    (1): Parameter containing: [torch.float64 of size 3]\n)");
  EXPECT_EQ(nn::ParameterList().repr(), "ParameterList()");
  EXPECT_EQ(nn::ParameterDict({{"a", zeros({2}, {DType::kFloat64})}}).repr(),
            "ParameterDict(  (a): Parameter containing: [torch.DoubleTensor of size 2])");
  nn::ParameterDict pdict{{"x", zeros({2, 3})}, {"y", zeros({4})}};
  EXPECT_EQ(pdict.repr(),
            "ParameterDict(\n    (x): Parameter containing: [torch.FloatTensor of size 2x3]\n"
            "    (y): Parameter containing: [torch.FloatTensor of size 4]\n)");
}

std::vector<std::string> keys_of(const nn::StateDict& state) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : state) keys.push_back(k);
  return keys;
}

TEST(NormModulesTest, StateDictKeysAndInitialValues) {
  nn::BatchNorm2d bn(3);
  EXPECT_THAT(keys_of(bn.state_dict()),
              ElementsAre("weight", "bias", "running_mean", "running_var", "num_batches_tracked"));
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::kInt64);
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  EXPECT_EQ(bn.weight.to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(bn.running_var.to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_TRUE(keys_of(nn::BatchNorm1d(3, 1e-5, 0.1, false, false).state_dict()).empty());
  EXPECT_TRUE(keys_of(nn::InstanceNorm1d(3).state_dict()).empty());
  EXPECT_THAT(keys_of(nn::InstanceNorm1d(3, 1e-5, 0.1, true, true).state_dict()),
              ElementsAre("weight", "bias", "running_mean", "running_var", "num_batches_tracked"));
  EXPECT_THAT(keys_of(nn::LayerNorm({4}).state_dict()), ElementsAre("weight", "bias"));
  EXPECT_THAT(keys_of(nn::Embedding(4, 2).state_dict()), ElementsAre("weight"));
  EXPECT_THAT(keys_of(nn::Bilinear(2, 3, 4, false).state_dict()), ElementsAre("weight"));
  // A state_dict from one BatchNorm loads into another (as PyTorch checkpoints do).
  nn::BatchNorm2d other(3);
  {
    autograd::NoGradGuard no_grad;
    bn.running_mean.fill_(0.5);
    bn.num_batches_tracked.fill_(7);
  }
  other.load_state_dict(bn.state_dict());
  EXPECT_EQ(other.running_mean.to_vector<float>(), (std::vector<float>{0.5, 0.5, 0.5}));
  EXPECT_EQ(other.num_batches_tracked.item<int64_t>(), 7);
  // Embedding: N(0, 1) rows, the padding row zeroed; from_pretrained copies and freezes.
  nn::Embedding e(6, 3, -1);
  EXPECT_EQ(e.padding_idx, 5);
  EXPECT_EQ(e.weight.select(0, 5).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  auto pre = nn::Embedding::from_pretrained(tensor(std::vector<float>{1, 2, 3, 4}, {2, 2}));
  EXPECT_FALSE(pre->weight.requires_grad());
  EXPECT_EQ(pre->weight.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_TRUE(nn::Embedding::from_pretrained(zeros({2, 2}), false)->weight.requires_grad());
  EXPECT_THAT(std::string(error_of([] { nn::Embedding(4, 2, 4); }).what()),
              HasSubstr("[Embedding] Padding_idx must be within num_embeddings"));
}

TEST(NormModulesTest, Containers) {
  nn::ModuleDict dict;
  auto relu = std::make_shared<nn::ReLU>();
  dict.insert("z", std::make_shared<nn::Linear>(2, 2)).insert("a", relu);
  EXPECT_EQ(dict.keys(), (std::vector<std::string>{"z", "a"}));
  EXPECT_TRUE(dict.contains("a"));
  EXPECT_FALSE(dict.contains("b"));
  EXPECT_EQ(&dict["a"], relu.get());
  // Assigning an existing key replaces the module in its place.
  dict.insert("z", std::make_shared<nn::Tanh>());
  EXPECT_EQ(dict.keys(), (std::vector<std::string>{"z", "a"}));
  EXPECT_EQ(dict["z"].type_name(), "Tanh");
  EXPECT_TRUE(dict.parameters().empty());
  Error missing = error_of([&] { (void)dict["b"]; });
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_THAT(std::string(missing.what()), HasSubstr("KeyError: 'b'"));
  EXPECT_THAT(std::string(error_of([&] { dict.insert("a.b", relu); }).what()),
              HasSubstr("module name can't contain \".\", got: a.b"));

  nn::ParameterList list;
  list.push_back(zeros({2})).push_back(ones({3}));
  EXPECT_EQ(list.size(), 2u);
  EXPECT_TRUE(list[1].requires_grad());
  EXPECT_EQ(list[-1].numel(), 3);
  EXPECT_THAT(keys_of(list.state_dict()), ElementsAre("0", "1"));
  EXPECT_EQ(error_of([&] { (void)list[3]; }).code(), ErrorCode::kOutOfRange);

  nn::ParameterDict pdict;
  pdict.insert("w", zeros({2})).insert("b", zeros({1}));
  pdict.insert("w", ones({4}));
  EXPECT_EQ(pdict.keys(), (std::vector<std::string>{"w", "b"}));
  EXPECT_EQ(pdict["w"].numel(), 4);
  EXPECT_TRUE(pdict["w"].requires_grad());
  EXPECT_THAT(keys_of(pdict.state_dict()), ElementsAre("w", "b"));
  EXPECT_EQ(error_of([&] { (void)pdict["q"]; }).code(), ErrorCode::kNotFound);
  // A model holding containers lists their parameters under the container's name.
  struct Net : nn::Module {
    Net() : Module("Net") {
      params = register_module("params", std::make_shared<nn::ParameterList>());
      params->push_back(zeros({2}));
    }
    std::shared_ptr<nn::ParameterList> params;
  };
  Net net;
  EXPECT_THAT(keys_of(net.state_dict()), ElementsAre("params.0"));
  // One line of extra_repr and no children: PyTorch prints it inline, two spaces of indent included.
  EXPECT_EQ(net.repr(),
            "Net(\n  (params): ParameterList(  (0): Parameter containing: [torch.float32 of size 2])\n)");
}

}  // namespace
}  // namespace td
