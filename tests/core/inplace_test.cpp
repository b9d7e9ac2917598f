// In-place ops and `out=` forms: values, the version counter, autograd's rebased history (views included),
// and PyTorch's errors. Values against PyTorch are in tests/golden/inplace.json.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
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

class InplaceTest : public testing::DeviceTest {};
TD_INSTANTIATE_DEVICES(InplaceTest);

TD_DEVICE_TEST(InplaceTest, WritesIntoSelfAndBumpsTheVersion) {
  Tensor x = make({1, 2, 3, 4}, {2, 2});
  const uint32_t v0 = x.version();
  Tensor r = x.add_(make({10, 20}, {2}), 2);
  EXPECT_TRUE(r.is_same(x)) << "an in-place op returns self";
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(21, 42, 23, 44));
  EXPECT_EQ(x.version(), v0 + 1);
  x.mul_(0.5).sub_(1).exp_().zero_();
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(0, 0, 0, 0));
  EXPECT_EQ(x.version(), v0 + 5);
}

// add_, sub_, mul_, div_, addcmul_ and addcdiv_ write straight into self when nothing records
// (OpDef::forward_into); these cases take that path or fall back to compute-and-copy, with the same values.
TD_DEVICE_TEST(InplaceTest, DirectWritesMatchComputeAndCopy) {
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  const uint32_t v0 = x.version();
  x.add_(make({10, 20, 30}, {3}), 2);  // broadcast other
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(21, 42, 63, 24, 45, 66));
  x.sub_(x);  // the operand is self exactly
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_EQ(x.version(), v0 + 2);
  Tensor y = make({1, 2, 3, 4, 5, 6}, {2, 3});
  y.t().mul_(make({1, 10}, {2}));  // self through transposed strides
  EXPECT_THAT(y.to_vector<float>(), ElementsAre(1, 2, 3, 40, 50, 60));
  Tensor z = make({1, 2, 3, 4, 5}, {5});
  z.narrow(0, 1, 4).add_(z.narrow(0, 0, 4));  // partial overlap: the whole value is read before writing
  EXPECT_THAT(z.to_vector<float>(), ElementsAre(1, 3, 5, 7, 9));
  Tensor w = make({1, 2, 3}, {3});
  w.addcmul_(make({1, 2, 3}, {3}), make({2, 2, 2}, {3}), 0.5).addcdiv_(w, make({2, 4, 6}, {3}), -1);
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(1, 3, 5));  // (1 + 1, 2 + 2, 3 + 3), then w - w / (2, 4, 6)
  Tensor i = idx({1, 2}, {2});
  EXPECT_THAT(error_of([&] { i.div_(2); }).what(),
              HasSubstr("can't be cast to the desired output type Long"));
  EXPECT_THAT(i.to_vector<int64_t>(), ElementsAre(1, 2));
  Tensor d = make64({1, 2}, {2});
  d.mul_(make({3, 4}, {2}));  // a float32 operand: the result stays float64
  EXPECT_THAT(d.to_vector<double>(), ElementsAre(3, 8));
}

TD_DEVICE_TEST(InplaceTest, WritesThroughViewsIntoTheirBase) {
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  x.t().select(0, 1).fill_(0);  // column 1
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, 0, 3, 4, 0, 6));
  Tensor row = x.select(0, 1);
  row.copy_(make({7, 8, 9}, {3}));
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, 0, 3, 7, 8, 9));
  EXPECT_EQ(row.version(), x.version()) << "views share the version counter";
}

TD_DEVICE_TEST(InplaceTest, KeepsSelfsDtype) {
  Tensor i = make({1, 2, 3}, {3}).to(DType::kInt64);
  i.add_(2);
  EXPECT_EQ(i.dtype(), DType::kInt64);
  EXPECT_THAT(i.to_vector<int64_t>(), ElementsAre(3, 4, 5));
  Tensor f = make({1.5f, 2.5f}, {2});
  f.add_(make64({0.25, 0.25}, {2}));  // float64 other: the result is cast back to float32
  EXPECT_EQ(f.dtype(), DType::kFloat32);
  EXPECT_THAT(f.to_vector<float>(), ElementsAre(1.75f, 2.75f));
  Tensor c = make({0, 0, 0}, {3}).to(DType::kInt32);
  c.copy_(make({1.9f, -1.9f, 3}, {3}));  // copy_ converts anything, truncating floats
  EXPECT_THAT(c.to_vector<int32_t>(), ElementsAre(1, -1, 3));
}

TD_DEVICE_TEST(InplaceTest, RefusesWhatPyTorchRefuses) {
  Tensor i = make({1, 2}, {2}).to(DType::kInt64);
  Error cast = error_of([&] { i.exp_(); });
  EXPECT_EQ(cast.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(cast.what(), HasSubstr("[exp_] result type Float can't be cast to the desired output type Long"));
  Tensor x = make({1, 2, 3}, {3});
  Error shape = error_of([&] { x.add_(make({1, 2, 3, 4, 5, 6}, {2, 3})); });
  EXPECT_THAT(shape.what(), HasSubstr("[add_] output with shape [3] doesn't match the broadcast shape [2, 3]"));
  Error overlap = error_of([&] { make({1}, {1}).expand({3}).add_(1); });
  EXPECT_THAT(overlap.what(), HasSubstr("more than one element of the written-to tensor refers to a single memory"));
  Error fill = error_of([&] { x.fill_(make({1, 2}, {2})); });
  EXPECT_THAT(fill.what(), HasSubstr("[fill_] fill_ only supports 0-dimension value tensor"));
  Error leaf = error_of([&] { make({1, 2}, {2}).requires_grad_().mul_(2); });
  EXPECT_EQ(leaf.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(leaf.what(), HasSubstr("[mul_] a leaf Variable that requires grad is being used in an in-place"));
  Tensor w = make({1, 2}, {2}).requires_grad_();
  Error view = error_of([&] { w.select(0, 0).add_(1); });
  EXPECT_THAT(view.what(), HasSubstr("a view of a leaf Variable that requires grad is being used in an in-place"));
  Error copy = error_of([&] { x.copy_(make({1, 2}, {2})); });
  EXPECT_THAT(copy.what(), HasSubstr("[copy_]"));
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, 2, 3)) << "a refused op leaves self as it was";
}

TD_DEVICE_TEST(InplaceTest, LeavesMayBeUpdatedWithoutGrad) {
  // The optimizer's step: p -= lr * grad on a leaf, under no_grad.
  Tensor p = make({1, 2}, {2}).requires_grad_();
  {
    autograd::NoGradGuard no_grad;
    p.add_(make({1, 1}, {2}), -0.5);
  }
  EXPECT_THAT(p.to_vector<float>(), ElementsAre(0.5f, 1.5f));
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(p.requires_grad());
}

TD_DEVICE_TEST(InplaceTest, HistoryIsRebasedOntoTheResult) {
  Tensor a = make64({1, 2, 3}, {3}).requires_grad_();
  Tensor w = make64({4, 5, 6}, {3}).requires_grad_();
  Tensor y = a.mul(2);
  y.mul_(w);  // y = 2a * w: d/da = 2w, d/dw = 2a (the value y had before, kept by a clone)
  EXPECT_EQ(y.grad_fn_name(), "MulBackward0");
  y.sum().backward();
  EXPECT_THAT(a.grad().to_vector<double>(), ElementsAre(8, 10, 12));
  EXPECT_THAT(w.grad().to_vector<double>(), ElementsAre(2, 4, 6));
}

TD_DEVICE_TEST(InplaceTest, SavedTensorsModifiedInPlaceFailTheBackward) {
  Tensor a = make64({1, 2}, {2}).requires_grad_();
  Tensor y = a.mul(1);
  Tensor z = y.mul(y);  // saves y
  y.add_(1);
  Error e = error_of([&] { z.sum().backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(e.what(), HasSubstr("modified by an inplace operation"));
}

TD_DEVICE_TEST(InplaceTest, InPlaceOnAViewRewritesTheBasesHistory) {
  Tensor a = make64({1, 2, 3, 4}, {2, 2}).requires_grad_();
  Tensor w = make64({10, 20}, {2}).requires_grad_();
  Tensor y = a.mul(1);
  y.select(0, 1).mul_(w);  // row 1 of y becomes a[1] * w
  y.sum().backward();
  EXPECT_THAT(a.grad().to_vector<double>(), ElementsAre(1, 1, 10, 20));
  EXPECT_THAT(w.grad().to_vector<double>(), ElementsAre(3, 4));
  // A base that did not require grad gets history through its view.
  Tensor z = make64({0, 0, 0}, {3});
  z.narrow(0, 1, 2).copy_(w);
  EXPECT_TRUE(z.requires_grad());
  z.mul(make64({1, 2, 3}, {3})).sum().backward();
  EXPECT_THAT(w.grad().to_vector<double>(), ElementsAre(3 + 2, 4 + 3));
}

TD_DEVICE_TEST(InplaceTest, OverwritingOpsPassZeroGradients) {
  Tensor a = make64({1, 2}, {2}).requires_grad_();
  Tensor y = a.mul(3);
  y.fill_(7);
  EXPECT_TRUE(y.requires_grad());
  y.sum().backward();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_THAT(a.grad().to_vector<double>(), ElementsAre(0, 0));
}

TD_DEVICE_TEST(InplaceTest, GradcheckThroughInPlaceOps) {
  Tensor x = make64({0.3, -0.7, 1.1, 0.2, -0.4, 0.9}, {2, 3}).requires_grad_();
  Tensor w = make64({0.5, -1.5, 2.0}, {3}).requires_grad_();
  Tensor d = make64({1.5, 2.5, -3.0}, {3}).requires_grad_();
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor y = in[0].mul(1);
    y.mul_(in[1]).add_(in[2], 0.5).sigmoid_();
    y.t().select(0, 2).addcdiv_(in[1].narrow(0, 0, 2), in[2].narrow(0, 1, 2), 0.25);  // a column of y
    y.select(0, 0).pow_(2);
    return y;
  };
  auto r = autograd::gradcheck(fn, {x, w, d});
  EXPECT_TRUE(r.ok) << r.message;
  auto rr = autograd::gradgradcheck(fn, {x, w, d});
  EXPECT_TRUE(rr.ok) << rr.message;
}

TD_DEVICE_TEST(InplaceTest, OutFormsWriteAndResize) {
  Tensor a = make({1, 2, 3}, {3}), b = make({10, 20, 30}, {3});
  Tensor out = make({0, 0, 0}, {3});
  std::vector<Tensor> r = call_op("add.out", {a, b, Scalar(1), out});
  EXPECT_TRUE(r[0].is_same(out));
  EXPECT_THAT(out.to_vector<float>(), ElementsAre(11, 22, 33));
  Tensor empty_out = zeros({0}, {DType::kFloat64, device_});
  call_op("mul.out", {a, b, empty_out});
  EXPECT_EQ(empty_out.shape(), (std::vector<int64_t>{3}));
  EXPECT_EQ(empty_out.dtype(), DType::kFloat64) << "out keeps its dtype";
  EXPECT_THAT(empty_out.to_vector<double>(), ElementsAre(10, 40, 90));
  Tensor values = zeros({1}, {DType::kFloat32, device_}), indices = zeros({1}, {DType::kInt64, device_});
  call_op("max.dim.out", {make({1, 5, 2, 7}, {2, 2}), Scalar(1), Scalar(false), values, indices});
  EXPECT_THAT(values.to_vector<float>(), ElementsAre(5, 7));
  EXPECT_THAT(indices.to_vector<int64_t>(), ElementsAre(1, 1));

  Tensor int_out = zeros({3}, {DType::kInt64, device_});
  EXPECT_THAT(error_of([&] { call_op("add.out", {a, b, Scalar(1), int_out}); }).what(),
              HasSubstr("result type Float can't be cast to the desired output type Long"));
  Tensor g = make({1, 2, 3}, {3}).requires_grad_();
  EXPECT_THAT(error_of([&] { call_op("exp.out", {g, out}); }).what(),
              HasSubstr("[exp] functions with out=... arguments don't support automatic differentiation"));
}

}  // namespace
}  // namespace td
