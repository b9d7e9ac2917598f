// Op values by hand: arithmetic, broadcasting, type promotion, reductions, matrix products, views and
// conversions, calls by name, and every user-facing error with its code and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/autograd/autograd.h"
#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "kernels/cpu/loops.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using testing::error_of;
using ::testing::FloatEq;
using ::testing::IsEmpty;

class OpsTest : public testing::DeviceTest {
 protected:
  Tensor ints(const std::vector<int64_t>& v, std::vector<int64_t> shape) const {
    return tensor(v, std::move(shape), device_);
  }
  Tensor bools(const std::vector<bool>& v, std::vector<int64_t> shape) const {
    return tensor_bool(v, std::move(shape), device_);
  }
  /// 0, 1, ..., n-1 as float32 in `shape`.
  Tensor arange(std::vector<int64_t> shape) const {
    std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    return make(v, std::move(shape));
  }
  static int64_t shape_numel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
};

// ---- elementwise arithmetic ----

TD_DEVICE_TEST(OpsTest, ArithmeticIsElementwise) {
  Tensor a = make({1, 2, 3, 4}, {2, 2}), b = make({10, 20, 30, 40}, {2, 2});
  EXPECT_THAT(a.add(b).to_vector<float>(), ElementsAre(11, 22, 33, 44));
  EXPECT_THAT(a.add(b, 2).to_vector<float>(), ElementsAre(21, 42, 63, 84));  // a + 2b
  EXPECT_THAT(a.sub(b).to_vector<float>(), ElementsAre(-9, -18, -27, -36));
  EXPECT_THAT(a.sub(b, 0.5).to_vector<float>(), ElementsAre(-4, -8, -12, -16));  // a - b/2
  EXPECT_THAT(a.mul(b).to_vector<float>(), ElementsAre(10, 40, 90, 160));
  EXPECT_THAT(b.div(a).to_vector<float>(), ElementsAre(10, 10, 10, 10));
  EXPECT_THAT(a.neg().to_vector<float>(), ElementsAre(-1, -2, -3, -4));
  // The operators are the same ops.
  EXPECT_THAT((a + b).to_vector<float>(), ElementsAre(11, 22, 33, 44));
  EXPECT_THAT((b - a).to_vector<float>(), ElementsAre(9, 18, 27, 36));
  EXPECT_THAT((a * a).to_vector<float>(), ElementsAre(1, 4, 9, 16));
  EXPECT_THAT((a / b).to_vector<float>(),
              ElementsAre(FloatEq(0.1f), FloatEq(0.1f), FloatEq(0.1f), FloatEq(0.1f)));
  EXPECT_THAT((-a).to_vector<float>(), ElementsAre(-1, -2, -3, -4));
  Tensor c = a.add(b);
  EXPECT_EQ(c.dtype(), DType::kFloat32);
  EXPECT_EQ(c.device(), device_);
  EXPECT_THAT(c.shape(), ElementsAre(2, 2));
}

TD_DEVICE_TEST(OpsTest, IntegerArithmeticStaysInteger) {
  Tensor a = ints({7, -7, 2}, {3}), b = ints({3, 3, 1}, {3});
  EXPECT_EQ(a.mul(b).dtype(), DType::kInt64);
  EXPECT_THAT(a.mul(b).to_vector<int64_t>(), ElementsAre(21, -21, 2));
  EXPECT_THAT(a.add(b, 3).to_vector<int64_t>(), ElementsAre(16, 2, 5));  // a + 3b
  EXPECT_THAT(a.sub(b).to_vector<int64_t>(), ElementsAre(4, -10, 1));
  EXPECT_THAT(a.neg().to_vector<int64_t>(), ElementsAre(-7, 7, -2));
}

TD_DEVICE_TEST(OpsTest, IntegerDivisionGivesDefaultFloat) {
  // True division, as torch.div: 7/2 = 3.5, -7/2 = -3.5, 1/4 = 0.25.
  Tensor q = ints({7, -7, 1}, {3}).div(ints({2, 2, 4}, {3}));
  EXPECT_EQ(q.dtype(), DType::kFloat32);
  EXPECT_THAT(q.to_vector<float>(), ElementsAre(3.5f, -3.5f, 0.25f));
  // Division by an integer zero is a float division: +-inf, and nan for 0/0.
  std::vector<float> z = ints({1, -1, 0}, {3}).div(ints({0, 0, 0}, {3})).to_vector<float>();
  EXPECT_EQ(z[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(z[1], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(z[2]));
  // bool / bool also divides as float: true / true = 1.
  EXPECT_EQ(bools({true}, {1}).div(bools({true}, {1})).dtype(), DType::kFloat32);
}

TD_DEVICE_TEST(OpsTest, BroadcastingFollowsNumpyRules) {
  // [2, 1] with [3] -> [2, 3]: out[i][j] = a[i][0] (op) b[j].
  Tensor a = make({1, 2}, {2, 1}), b = make({10, 20, 30}, {3});
  Tensor sum = a.add(b);
  EXPECT_THAT(sum.shape(), ElementsAre(2, 3));
  EXPECT_THAT(sum.to_vector<float>(), ElementsAre(11, 21, 31, 12, 22, 32));
  EXPECT_THAT(a.mul(b).to_vector<float>(), ElementsAre(10, 20, 30, 20, 40, 60));
  EXPECT_THAT(b.sub(a).to_vector<float>(), ElementsAre(9, 19, 29, 8, 18, 28));
  // Dims are matched from the right; missing leading dims count as 1: [2, 1, 3] with [4, 1] -> [2, 4, 3].
  EXPECT_THAT(
      zeros({2, 1, 3}, {DType::kFloat32, device_}).add(zeros({4, 1}, {DType::kFloat32, device_})).shape(),
      ElementsAre(2, 4, 3));
  // A 0-dim tensor broadcasts to anything; two 0-dim tensors give a 0-dim result.
  Tensor two = scalar_tensor(2.0f, std::nullopt, device_);
  EXPECT_THAT(two.mul(b).to_vector<float>(), ElementsAre(20, 40, 60));
  EXPECT_THAT(b.div(two).shape(), ElementsAre(3));
  EXPECT_THAT(two.add(two).shape(), IsEmpty());
  EXPECT_EQ(two.add(two).item<float>(), 4.0f);
}

TD_DEVICE_TEST(OpsTest, TypePromotionFollowsPyTorch) {
  // int64 with float32: the float wins.
  Tensor f = ints({1, 2, 3}, {3}).add(make({0.5f, 0.5f, 0.5f}, {3}));
  EXPECT_EQ(f.dtype(), DType::kFloat32);
  EXPECT_THAT(f.to_vector<float>(), ElementsAre(1.5f, 2.5f, 3.5f));
  // A 0-dim float64 does not widen a dimensioned float32: same category, and dimensioned tensors outrank.
  Tensor quarter = scalar_tensor(0.25, DType::kFloat64, device_);
  Tensor g = quarter.add(make({1, 2}, {2}));
  EXPECT_EQ(g.dtype(), DType::kFloat32);
  EXPECT_THAT(g.to_vector<float>(), ElementsAre(1.25f, 2.25f));
  // ...but a 0-dim float does promote a dimensioned integer tensor (a higher category), keeping its own
  // dtype.
  EXPECT_EQ(ints({1, 2}, {2}).add(quarter).dtype(), DType::kFloat64);
  EXPECT_THAT(ints({1, 2}, {2}).add(quarter).to_vector<double>(), ElementsAre(1.25, 2.25));
  // Two dimensioned floats: the wider.
  EXPECT_EQ(make({1}, {1}).mul(make64({1}, {1})).dtype(), DType::kFloat64);
  // bool + bool stays bool (a logical or); bool * bool is a logical and; bool with int64 gives int64.
  Tensor p = bools({true, true, false, false}, {4}), q = bools({true, false, true, false}, {4});
  EXPECT_EQ(p.add(q).dtype(), DType::kBool);
  EXPECT_THAT(p.add(q).to_vector<int64_t>(), ElementsAre(1, 1, 1, 0));
  EXPECT_THAT(p.mul(q).to_vector<int64_t>(), ElementsAre(1, 0, 0, 0));
  Tensor n = ints({10, 10, 10, 10}, {4}).add(p);
  EXPECT_EQ(n.dtype(), DType::kInt64);
  EXPECT_THAT(n.to_vector<int64_t>(), ElementsAre(11, 11, 10, 10));
}

TD_DEVICE_TEST(OpsTest, NonContiguousInputs) {
  // a = [[0, 1, 2], [3, 4, 5]]; a.t() = [[0, 3], [1, 4], [2, 5]] with strides [1, 3].
  Tensor at = arange({2, 3}).t();
  ASSERT_FALSE(at.is_contiguous());
  Tensor s = at.add(full({3, 2}, 10, {DType::kFloat32, device_}));
  EXPECT_TRUE(s.is_contiguous());
  EXPECT_THAT(s.to_vector<float>(), ElementsAre(10, 13, 11, 14, 12, 15));
  EXPECT_THAT(at.mul(at).to_vector<float>(), ElementsAre(0, 9, 1, 16, 4, 25));
  // [[1], [2], [3]] expanded to [3, 2] has stride 0 in dim 1: [[1, 1], [2, 2], [3, 3]].
  Tensor e = make({1, 2, 3}, {3, 1}).expand({3, 2});
  EXPECT_THAT(at.add(e).to_vector<float>(), ElementsAre(1, 4, 3, 6, 5, 8));
  EXPECT_THAT(e.div(at.add(e)).to_vector<float>(),
              ElementsAre(FloatEq(1.f / 1), FloatEq(1.f / 4), FloatEq(2.f / 3), FloatEq(2.f / 6),
                          FloatEq(3.f / 5), FloatEq(3.f / 8)));
  // A non-contiguous input that also needs a cast: int64 [[0, 1], [2, 3]].t() + 0.5.
  Tensor it = ints({0, 1, 2, 3}, {2, 2}).t();
  EXPECT_THAT(it.add(make({0.5f}, {1})).to_vector<float>(), ElementsAre(0.5f, 2.5f, 1.5f, 3.5f));
  // A permuted 3-d input: p[k][i][j] = x[i][j][k] = 4i + 2j + k for x = arange([2, 2, 2]).
  Tensor p = arange({2, 2, 2}).permute({2, 0, 1});
  EXPECT_THAT(p.mul(make({1}, {1})).to_vector<float>(), ElementsAre(0, 2, 4, 6, 1, 3, 5, 7));
}

TD_DEVICE_TEST(OpsTest, EmptyTensors) {
  TensorOptions f32{DType::kFloat32, device_};
  Tensor e = zeros({0, 3}, f32);
  EXPECT_THAT(e.add(make({1, 2, 3}, {3})).shape(), ElementsAre(0, 3));
  EXPECT_THAT(e.mul(e).shape(), ElementsAre(0, 3));
  // The sum of nothing is 0; over dim 0 of [0, 3] it is three zeros; over dim 1 it is empty.
  EXPECT_EQ(e.sum().item<float>(), 0.0f);
  EXPECT_THAT(e.sum({0}).to_vector<float>(), ElementsAre(0, 0, 0));
  EXPECT_THAT(e.sum({1}).shape(), ElementsAre(0));
  EXPECT_EQ(ints({}, {0}).sum().item<int64_t>(), 0);
  // The mean of nothing is 0/0.
  EXPECT_TRUE(std::isnan(e.mean().item<float>()));
  // Matrix products with an empty dim: M or N empty gives an empty result; K empty gives zeros.
  EXPECT_THAT(zeros({0, 3}, f32).mm(zeros({3, 2}, f32)).shape(), ElementsAre(0, 2));
  EXPECT_THAT(zeros({2, 0}, f32).matmul(ones({0, 3}, f32)).to_vector<float>(), ElementsAre(0, 0, 0, 0, 0, 0));
  Tensor k0 = ones({2, 3, 0}, f32).matmul(ones({0, 4}, f32));
  EXPECT_THAT(k0.shape(), ElementsAre(2, 3, 4));
  EXPECT_EQ(k0.sum().item<float>(), 0.0f);
  EXPECT_THAT(zeros({2, 0, 3}, f32).bmm(zeros({2, 3, 1}, f32)).shape(), ElementsAre(2, 0, 1));
  // Views of empty tensors.
  EXPECT_THAT(e.view({3, 0}).shape(), ElementsAre(3, 0));
  EXPECT_THAT(e.t().shape(), ElementsAre(3, 0));
  EXPECT_THAT(e.clone().shape(), ElementsAre(0, 3));
}

TD_DEVICE_TEST(OpsTest, ArithmeticErrors) {
  Tensor a = zeros({2, 3}, {DType::kFloat32, device_});
  Error e = error_of([&] { (void)a.add(zeros({4}, {DType::kFloat32, device_})); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(
      e.what(),
      "[add] The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1 "
      "(shapes [2, 3] and [4])");

  Tensor b = bools({true, false}, {2});
  e = error_of([&] { (void)b.sub(b); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[sub] Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
               "or `logical_xor()` operator instead.");
  e = error_of([&] { (void)b.neg(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[neg] Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
               "to invert a mask, use the `~` or `logical_not()` operator instead.");
  e = error_of([&] { (void)ints({1}, {1}).add(ints({1}, {1}), 0.5); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[add] For integral input tensors, argument alpha must not be a floating point number.");
}

TD_DEVICE_TEST(OpsTest, MixingDevicesFails) {
  if (device_.is_cpu()) GTEST_SKIP() << "needs a device other than the CPU";
  Tensor a = make({1, 2}, {2}), c = tensor<float>({1, 2}, {2});
  Error e = error_of([&] { (void)a.add(c); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[add] Expected all tensors to be on the same device, but found at least two devices, "
               "cuda:0 and cpu!");
  e = error_of([&] { (void)a.view({1, 2}).mm(c.view({2, 1})); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[mm] Expected all tensors to be on the same device, but found at least two devices, "
               "cuda:0 and cpu!");
}

// ---- reductions ----

TD_DEVICE_TEST(OpsTest, SumOverAllAndOverDims) {
  // x = [[1, 2, 3], [4, 5, 6]]: total 21, column sums [5, 7, 9], row sums [6, 15].
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor all = x.sum();
  EXPECT_THAT(all.shape(), IsEmpty());
  EXPECT_EQ(all.dtype(), DType::kFloat32);
  EXPECT_EQ(all.item<float>(), 21.0f);
  EXPECT_THAT(x.sum({0}).to_vector<float>(), ElementsAre(5, 7, 9));
  EXPECT_THAT(x.sum({1}).to_vector<float>(), ElementsAre(6, 15));
  Tensor kept = x.sum({-1}, /*keepdim=*/true);
  EXPECT_THAT(kept.shape(), ElementsAre(2, 1));
  EXPECT_THAT(kept.to_vector<float>(), ElementsAre(6, 15));
  EXPECT_THAT(x.sum({0, 1}).shape(), IsEmpty());
  EXPECT_THAT(x.sum({0, 1}, true).shape(), ElementsAre(1, 1));
  EXPECT_EQ(x.sum({1, 0}).item<float>(), 21.0f);
  // An empty dim list reduces every dim (PyTorch 1.13).
  EXPECT_EQ(x.sum(std::vector<int64_t>{}).item<float>(), 21.0f);
  // y = arange([2, 3, 4]): y[i][j][k] = 12i + 4j + k, so summing i and k gives 2*4*4j + 4*(0 + 12) +
  // 2*(0+1+2+3) = 32j + 60.
  Tensor y = arange({2, 3, 4});
  EXPECT_THAT(y.sum({0, 2}).to_vector<float>(), ElementsAre(60, 92, 124));
  EXPECT_THAT(y.sum({0, 2}, true).shape(), ElementsAre(1, 3, 1));
  // dtype converts before summing.
  Tensor d = x.sum(DType::kFloat64);
  EXPECT_EQ(d.dtype(), DType::kFloat64);
  EXPECT_EQ(d.item<double>(), 21.0);
  EXPECT_EQ(x.sum({0}, false, DType::kFloat64).dtype(), DType::kFloat64);
  // A 0-dim tensor sums to itself, over dim 0 or -1 too.
  Tensor s = scalar_tensor(2.5f, std::nullopt, device_);
  EXPECT_EQ(s.sum().item<float>(), 2.5f);
  EXPECT_EQ(s.sum({0}).item<float>(), 2.5f);
  EXPECT_THAT(s.sum({-1}, true).shape(), IsEmpty());
}

TD_DEVICE_TEST(OpsTest, SumOfIntegersAndBoolsGivesInt64) {
  Tensor i = ints({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(i.sum().dtype(), DType::kInt64);
  EXPECT_EQ(i.sum().item<int64_t>(), 10);
  EXPECT_THAT(i.sum({0}).to_vector<int64_t>(), ElementsAre(4, 6));
  Tensor i32 = tensor<int32_t>({100000, 100000}, {2}, device_);
  EXPECT_EQ(i32.sum().dtype(), DType::kInt64);
  EXPECT_EQ(i32.sum().item<int64_t>(), 200000);
  // Bools count their trues.
  Tensor b = bools({true, false, true, true}, {2, 2});
  EXPECT_EQ(b.sum().dtype(), DType::kInt64);
  EXPECT_EQ(b.sum().item<int64_t>(), 3);
  EXPECT_THAT(b.sum({1}).to_vector<int64_t>(), ElementsAre(1, 2));
  // An explicit dtype wins.
  Tensor f = i.sum(DType::kFloat32);
  EXPECT_EQ(f.dtype(), DType::kFloat32);
  EXPECT_EQ(f.item<float>(), 10.0f);
}

TD_DEVICE_TEST(OpsTest, SumOfNonContiguousInputs) {
  // a.t() = [[0, 3], [1, 4], [2, 5]].
  Tensor at = arange({2, 3}).t();
  EXPECT_THAT(at.sum({0}).to_vector<float>(), ElementsAre(3, 12));
  EXPECT_THAT(at.sum({1}).to_vector<float>(), ElementsAre(3, 5, 7));
  EXPECT_EQ(at.sum().item<float>(), 15.0f);
  // [[1], [2], [3]] expanded to [3, 4]: rows sum to 4, 8, 12; columns to 6.
  Tensor e = make({1, 2, 3}, {3, 1}).expand({3, 4});
  EXPECT_THAT(e.sum({1}).to_vector<float>(), ElementsAre(4, 8, 12));
  EXPECT_THAT(e.sum({0}).to_vector<float>(), ElementsAre(6, 6, 6, 6));
  EXPECT_EQ(e.sum().item<float>(), 24.0f);
  // p[k][i][j] = 4i + 2j + k over arange([2, 2, 2]); summing dim 0 (k) gives 2(4i + 2j) + 1.
  Tensor p = arange({2, 2, 2}).permute({2, 0, 1});
  EXPECT_THAT(p.sum({0}).to_vector<float>(), ElementsAre(1, 5, 9, 13));
}

TD_DEVICE_TEST(OpsTest, Mean) {
  // x = [[1, 2, 3], [4, 5, 6]]: mean 21/6 = 3.5; column means [2.5, 3.5, 4.5]; row means [2, 5].
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(x.mean().item<float>(), 3.5f);
  EXPECT_THAT(x.mean().shape(), IsEmpty());
  EXPECT_THAT(x.mean({0}).to_vector<float>(), ElementsAre(2.5f, 3.5f, 4.5f));
  Tensor rows = x.mean({1}, /*keepdim=*/true);
  EXPECT_THAT(rows.shape(), ElementsAre(2, 1));
  EXPECT_THAT(rows.to_vector<float>(), ElementsAre(2, 5));
  EXPECT_EQ(make64({1, 2}, {2}).mean().dtype(), DType::kFloat64);
  EXPECT_THAT(x.t().mean({1}).to_vector<float>(), ElementsAre(2.5f, 3.5f, 4.5f));
  // Integers need an explicit floating dtype.
  Tensor i = ints({1, 2, 3, 4}, {4});
  Tensor m = call_op("mean", {i, None{}, Scalar(false), DType::kFloat64})[0];
  EXPECT_EQ(m.dtype(), DType::kFloat64);
  EXPECT_EQ(m.item<double>(), 2.5);
  Error e = error_of([&] { (void)i.mean(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[mean] could not infer output dtype. Input dtype must be either a floating point or "
               "complex dtype. Got: int64");
}

TD_DEVICE_TEST(OpsTest, ReductionErrors) {
  Tensor x = zeros({2, 3}, {DType::kFloat32, device_});
  Error e = error_of([&] { (void)x.sum({2}); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[sum] Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  e = error_of([&] { (void)x.sum({0, -2}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[sum] dim 0 appears multiple times in the list of dims");
  e = error_of([&] { (void)x.mean({-3}); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[mean] Dimension out of range (expected to be in range of [-2, 1], but got -3)");
}

// ---- matrix products ----

// A = [[1, 2, 3], [4, 5, 6]], B = [[1, 0], [0, 1], [1, 1]]: A @ B = [[1 + 3, 2 + 3], [4 + 6, 5 + 6]]
// = [[4, 5], [10, 11]].
TD_DEVICE_TEST(OpsTest, MatmulOfVectorsAndMatrices) {
  Tensor A = make({1, 2, 3, 4, 5, 6}, {2, 3}), B = make({1, 0, 0, 1, 1, 1}, {3, 2});
  // 1-d x 1-d: the dot product 1*4 + 2*5 + 3*6 = 32, 0-dim.
  Tensor dot = make({1, 2, 3}, {3}).matmul(make({4, 5, 6}, {3}));
  EXPECT_THAT(dot.shape(), IsEmpty());
  EXPECT_EQ(dot.item<float>(), 32.0f);
  // 2-d x 1-d: A @ [1, 0, -1] = [1 - 3, 4 - 6].
  Tensor mv = A.matmul(make({1, 0, -1}, {3}));
  EXPECT_THAT(mv.shape(), ElementsAre(2));
  EXPECT_THAT(mv.to_vector<float>(), ElementsAre(-2, -2));
  // 1-d x 2-d: [1, 1] @ A = the column sums [5, 7, 9].
  Tensor vm = make({1, 1}, {2}).matmul(A);
  EXPECT_THAT(vm.shape(), ElementsAre(3));
  EXPECT_THAT(vm.to_vector<float>(), ElementsAre(5, 7, 9));
  // 2-d x 2-d, and mm, and the free function.
  EXPECT_THAT(A.matmul(B).shape(), ElementsAre(2, 2));
  EXPECT_THAT(A.matmul(B).to_vector<float>(), ElementsAre(4, 5, 10, 11));
  EXPECT_THAT(A.mm(B).to_vector<float>(), ElementsAre(4, 5, 10, 11));
  EXPECT_THAT(matmul(A, B).to_vector<float>(), ElementsAre(4, 5, 10, 11));
  EXPECT_EQ(A.mm(B).dtype(), DType::kFloat32);
  EXPECT_THAT(make64({1, 2, 3, 4, 5, 6}, {2, 3}).mm(make64({1, 0, 0, 1, 1, 1}, {3, 2})).to_vector<double>(),
              ElementsAre(4, 5, 10, 11));
}

// The float GEMM against a double-precision loop, on shapes that cut through the BLAS kernels' register and
// cache blocks (odd sizes, k = 1, m = 1) and on every operand layout cpu_gemm passes through without a copy:
// row-major, transposed (a .t() view) and row-major with a leading dimension wider than the matrix (narrow).
template <class T>
void expect_gemm_matches_loop(const Device& device) {
  struct Case { int64_t m, k, n; };
  for (auto [m, k, n] : {Case{67, 93, 129}, Case{1, 300, 5}, Case{130, 1, 70}, Case{33, 257, 17}, Case{256, 64, 48}}) {
    // Values in [-1, 1] from a fixed integer hash, so each case is reproducible.
    auto values = [](int64_t count, int64_t seed) {
      std::vector<T> v(static_cast<size_t>(count));
      for (size_t i = 0; i < v.size(); ++i) v[i] = T(int64_t((i + seed) * 2654435761u % 2001) - 1000) / T(1000);
      return v;
    };
    std::vector<T> va = values(m * k, 1), vb = values(k * n, 7);
    std::vector<double> expected(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += double(va[i * k + p]) * double(vb[p * n + j]);
        expected[i * n + j] = acc;
      }
    }
    auto transposed = [](const std::vector<T>& v, int64_t rows, int64_t cols) {
      std::vector<T> r(v.size());
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) r[j * rows + i] = v[i * cols + j];
      return r;
    };
    auto padded = [](const std::vector<T>& v, int64_t rows, int64_t cols, int64_t pad) {
      std::vector<T> r(static_cast<size_t>(rows * (cols + pad)), T(99));
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) r[i * (cols + pad) + j + 2] = v[i * cols + j];
      return r;
    };
    const Tensor a_layouts[] = {tensor(va, {m, k}, device), tensor(transposed(va, m, k), {k, m}, device).t(),
                                tensor(padded(va, m, k, 5), {m, k + 5}, device).narrow(1, 2, k)};
    const Tensor b_layouts[] = {tensor(vb, {k, n}, device), tensor(transposed(vb, k, n), {n, k}, device).t(),
                                tensor(padded(vb, k, n, 3), {k, n + 3}, device).narrow(1, 2, n)};
    // float32 sums of k products of values <= 1 in magnitude: relative error ~ k * 2^-24.
    const double tol = (sizeof(T) == 4 ? 1e-6 : 1e-13) * double(k);
    for (int ia = 0; ia < 3; ++ia) {
      for (int ib = 0; ib < 3; ++ib) {
        SCOPED_TRACE(::testing::Message() << m << "x" << k << "x" << n << " layouts " << ia << ", " << ib);
        std::vector<T> got = a_layouts[ia].matmul(b_layouts[ib]).template to_vector<T>();
        ASSERT_EQ(got.size(), expected.size());
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(double(got[i]), expected[i], tol) << "at " << i;
      }
    }
  }
}

TD_DEVICE_TEST(OpsTest, MatmulMatchesALoopOnEveryLayout) {
  expect_gemm_matches_loop<float>(device_);
  expect_gemm_matches_loop<double>(device_);
}

// The CPU splits a large GEMM over OpenMP's threads, by blocks of rows or of columns of the product, or by
// batch items (kernels/cpu/blas.cpp): every split, with a remainder block, gives the product.
TEST(CpuGemm, SplitsOverThreadsByRowsColumnsAndBatch) {
  const int before = get_num_threads();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    expect_gemm_matches_loop<float>(kCPU);
    // A batch with fewer items than threads (split within each product) and with more (split by item).
    for (int64_t batch : {2, 7}) {
      auto ints = [](int64_t count, int64_t mod) {  // small integers: every product below is exact
        std::vector<double> v(static_cast<size_t>(count));
        for (size_t i = 0; i < v.size(); ++i) v[i] = double(int64_t(i * 7919 % mod) - mod / 2);
        return v;
      };
      Tensor a = tensor(ints(batch * 70 * 90, 17), {batch, 70, 90});
      Tensor b = tensor(ints(batch * 90 * 130, 13), {batch, 90, 130});
      Tensor got = a.bmm(b);
      for (int64_t i = 0; i < batch; i += batch - 1) {
        Tensor want = a.select(0, i).matmul(b.select(0, i));
        EXPECT_EQ(got.select(0, i).to_vector<double>(), want.to_vector<double>()) << "batch " << batch << " item " << i;
      }
    }
  }
  set_num_threads(before);
}

// The GEMM runs kernels for the instructions this CPU has: OpenBLAS 0.3.21's model table falls back to its SSE3
// "Prescott" kernels on CPUs it does not know (issue 3), and kernels/cpu/blas.cpp re-selects by features.
TEST(CpuGemm, UsesKernelsForTheCpuFeatures) {
  const std::string& library = kernels::cpu_gemm_library();
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !std::getenv("OPENBLAS_CORETYPE")) {
    EXPECT_EQ(library.find("Prescott"), std::string::npos) << library;
  }
  EXPECT_EQ(library.rfind("OpenBLAS (", 0), 0u) << library;
}

TD_DEVICE_TEST(OpsTest, MatmulBatched) {
  // X = [A, 2A] ([2, 2, 3]); X @ B = [A @ B, 2 A @ B].
  Tensor X = make({1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12}, {2, 2, 3}), B = make({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor xb = X.matmul(B);
  EXPECT_THAT(xb.shape(), ElementsAre(2, 2, 2));
  EXPECT_THAT(xb.to_vector<float>(), ElementsAre(4, 5, 10, 11, 8, 10, 20, 22));
  // 3-d x 1-d: X @ [1, 0, -1] = [[-2, -2], [-4, -4]].
  Tensor xv = X.matmul(make({1, 0, -1}, {3}));
  EXPECT_THAT(xv.shape(), ElementsAre(2, 2));
  EXPECT_THAT(xv.to_vector<float>(), ElementsAre(-2, -2, -4, -4));
  // 1-d x 3-d: [1, 1] @ X[b] = column sums of each batch: [[5, 7, 9], [10, 14, 18]].
  Tensor vx = make({1, 1}, {2}).matmul(X);
  EXPECT_THAT(vx.shape(), ElementsAre(2, 3));
  EXPECT_THAT(vx.to_vector<float>(), ElementsAre(5, 7, 9, 10, 14, 18));
  // bmm, and matmul of two 3-d tensors: Y = [B, 2B]; X[b] @ Y[b] = (b + 1)^2 A @ B.
  Tensor Y = make({1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 2}, {2, 3, 2});
  EXPECT_THAT(X.bmm(Y).to_vector<float>(), ElementsAre(4, 5, 10, 11, 16, 20, 40, 44));
  EXPECT_THAT(X.matmul(Y).to_vector<float>(), ElementsAre(4, 5, 10, 11, 16, 20, 40, 44));
  // 2-d x 3-d broadcasts the matrix: A @ Y[b] = (b + 1) A @ B.
  EXPECT_THAT(make({1, 2, 3, 4, 5, 6}, {2, 3}).matmul(Y).to_vector<float>(),
              ElementsAre(4, 5, 10, 11, 8, 10, 20, 22));
}

TD_DEVICE_TEST(OpsTest, MatmulBroadcastsBatchDims) {
  // a: [2, 1, 2, 3] with a[i][0] = (i + 1) A; b: [3, 3, 2] with b[j] = (j + 1) B. The batch dims [2, 1] and
  // [3] broadcast to [2, 3], and out[i][j] = (i + 1)(j + 1) A @ B = (i + 1)(j + 1) [[4, 5], [10, 11]].
  Tensor a = make({1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12}, {2, 1, 2, 3});
  Tensor b = make({1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 2, 3, 0, 0, 3, 3, 3}, {3, 3, 2});
  Tensor out = a.matmul(b);
  EXPECT_THAT(out.shape(), ElementsAre(2, 3, 2, 2));
  std::vector<float> expected;
  for (int i = 1; i <= 2; ++i) {
    for (int j = 1; j <= 3; ++j) {
      for (float v : {4.f, 5.f, 10.f, 11.f}) expected.push_back(static_cast<float>(i * j) * v);
    }
  }
  EXPECT_EQ(out.to_vector<float>(), expected);
}

TD_DEVICE_TEST(OpsTest, MatmulOfNonContiguousAndIntegerOperands) {
  Tensor A = make({1, 2, 3, 4, 5, 6}, {2, 3});
  // A.t() = [[1, 4], [2, 5], [3, 6]] (column-major for BLAS): A.t() @ [1, 1] = [5, 7, 9].
  EXPECT_THAT(A.t().matmul(make({1, 1}, {2})).to_vector<float>(), ElementsAre(5, 7, 9));
  // A.t() @ A, the Gram matrix: entry (i, j) = col_i . col_j of A.
  EXPECT_THAT(A.t().mm(A).to_vector<float>(), ElementsAre(17, 22, 27, 22, 29, 36, 27, 36, 45));
  // A @ A.t() = [[14, 32], [32, 77]].
  EXPECT_THAT(A.matmul(A.t()).to_vector<float>(), ElementsAre(14, 32, 32, 77));
  // Stride-0 rows: [1, 2] expanded to [3, 2], times [[1], [1]] = three rows of 3.
  EXPECT_THAT(make({1, 2}, {1, 2}).expand({3, 2}).mm(make({1, 1}, {2, 1})).to_vector<float>(),
              ElementsAre(3, 3, 3));
  // A permuted batch: P = X.permute({0, 2, 1}) with X = [A, 2A], so P[b] = (b + 1) A.t().
  Tensor X = make({1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12}, {2, 2, 3});
  EXPECT_THAT(X.permute({0, 2, 1}).matmul(make({1, 1}, {2})).to_vector<float>(),
              ElementsAre(5, 7, 9, 10, 14, 18));
  // Integers use the exact loop: [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[19, 22], [43, 50]].
  Tensor I = ints({1, 2, 3, 4}, {2, 2}), J = ints({5, 6, 7, 8}, {2, 2});
  EXPECT_EQ(I.mm(J).dtype(), DType::kInt64);
  EXPECT_THAT(I.mm(J).to_vector<int64_t>(), ElementsAre(19, 22, 43, 50));
  EXPECT_THAT(I.t().matmul(J).to_vector<int64_t>(), ElementsAre(26, 30, 38, 44));  // [[1, 3], [2, 4]] @ J
  EXPECT_THAT(I.unsqueeze(0).bmm(J.unsqueeze(0)).to_vector<int64_t>(), ElementsAre(19, 22, 43, 50));
}

TD_DEVICE_TEST(OpsTest, MatrixProductErrors) {
  TensorOptions f32{DType::kFloat32, device_};
  Tensor m23 = zeros({2, 3}, f32);
  Error e = error_of([&] { (void)m23.matmul(m23); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[matmul] shapes [2, 3] and [2, 3] cannot be multiplied (2x3 and 2x3)");
  e = error_of([&] { (void)zeros({3}, f32).matmul(zeros({2}, f32)); });
  EXPECT_STREQ(e.what(), "[matmul] shapes [3] and [2] cannot be multiplied (1x3 and 2x1)");
  e = error_of([&] { (void)scalar_tensor(1.0f, std::nullopt, device_).matmul(zeros({2}, f32)); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[matmul] both arguments to matmul need to be at least 1D, but they are 0D and 1D");
  e = error_of([&] { (void)zeros({2, 2, 3}, f32).matmul(zeros({3, 3, 4}, f32)); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[matmul] The size of tensor a (2) must match the size of tensor b (3) at non-singleton "
               "dimension 0 (shapes [2] and [3])");
  e = error_of([&] { (void)bools({true, false}, {2}).matmul(bools({true, false}, {2})); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[matmul] not implemented for 'bool'");
  e = error_of([&] { (void)ints({1, 2}, {2}).matmul(make({1, 2}, {2})); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[matmul] expected mat1 and mat2 to have the same dtype, but got: int64 != float32");

  e = error_of([&] { (void)zeros({2, 2}, f32).mm(zeros({2, 2}, {DType::kFloat64, device_})); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[mm] expected mat1 and mat2 to have the same dtype, but got: float32 != float64");
  e = error_of([&] { (void)m23.mm(m23); });
  EXPECT_STREQ(e.what(), "[mm] mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)");
  e = error_of([&] { (void)zeros({3}, f32).mm(m23); });
  EXPECT_STREQ(e.what(), "[mm] self must be a matrix (got shape [3])");
  e = error_of([&] { (void)m23.mm(zeros({3, 1, 1}, f32)); });
  EXPECT_STREQ(e.what(), "[mm] mat2 must be a matrix (got shape [3, 1, 1])");

  e = error_of([&] { (void)m23.bmm(m23); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[bmm] batch1 must be a 3D tensor (got shape [2, 3])");
  e = error_of([&] { (void)zeros({2, 2, 3}, f32).bmm(zeros({3, 3, 2}, f32)); });
  EXPECT_STREQ(e.what(), "[bmm] batch1 and batch2 must have same number of batches, got 2 and 3");
  e = error_of([&] { (void)zeros({2, 2, 3}, f32).bmm(zeros({2, 2, 2}, f32)); });
  EXPECT_STREQ(
      e.what(),
      "[bmm] Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 2].");
}

// ---- views, copies and conversions ----

TD_DEVICE_TEST(OpsTest, ViewAndReshape) {
  Tensor x = arange({6});
  Tensor v = x.view({2, 3});
  EXPECT_TRUE(v.shares_storage(x));
  EXPECT_THAT(v.shape(), ElementsAre(2, 3));
  EXPECT_THAT(v.strides(), ElementsAre(3, 1));
  EXPECT_THAT(x.view({-1, 2}).shape(), ElementsAre(3, 2));
  EXPECT_THAT(x.view({1, 6, 1}).strides(), ElementsAre(6, 1, 1));
  EXPECT_THAT(make({7}, {1}).view({}).shape(), IsEmpty());
  EXPECT_EQ(make({7}, {1}).view({}).item<float>(), 7.0f);
  // Transposing twice gives back a contiguous layout, which views again.
  EXPECT_THAT(v.t().t().view({6}).to_vector<float>(), ElementsAre(0, 1, 2, 3, 4, 5));
  // reshape is a view when strides allow it, else a copy in row-major order of the logical tensor.
  EXPECT_TRUE(v.reshape({3, 2}).shares_storage(x));
  Tensor r = v.t().reshape({6});
  EXPECT_FALSE(r.shares_storage(x));
  EXPECT_THAT(r.to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  // An expanded tensor reshapes by copying its repeated values.
  EXPECT_THAT(make({1, 2}, {2, 1}).expand({2, 2}).reshape({4}).to_vector<float>(), ElementsAre(1, 1, 2, 2));
}

TD_DEVICE_TEST(OpsTest, TransposeTAndPermute) {
  // x[i][j][k] = 12i + 4j + k.
  Tensor x = arange({2, 3, 4});
  Tensor tr = x.transpose(0, 2);
  EXPECT_THAT(tr.shape(), ElementsAre(4, 3, 2));
  EXPECT_THAT(tr.strides(), ElementsAre(1, 4, 12));
  EXPECT_TRUE(tr.shares_storage(x));
  EXPECT_THAT(x.transpose(-1, -2).shape(), ElementsAre(2, 4, 3));
  EXPECT_THAT(x.transpose(1, 1).strides(), ElementsAre(12, 4, 1));
  // p[k][i][j] = x[i][j][k].
  Tensor p = x.permute({2, 0, 1});
  EXPECT_THAT(p.shape(), ElementsAre(4, 2, 3));
  EXPECT_THAT(p.strides(), ElementsAre(1, 12, 4));
  std::vector<float> expected;
  for (int k = 0; k < 4; ++k) {
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 3; ++j) expected.push_back(static_cast<float>(12 * i + 4 * j + k));
    }
  }
  EXPECT_EQ(p.to_vector<float>(), expected);
  EXPECT_THAT(x.permute({-1, 0, -2}).shape(), ElementsAre(4, 2, 3));
  // t() swaps the two dims of a matrix and leaves a vector alone.
  EXPECT_THAT(arange({2, 3}).t().shape(), ElementsAre(3, 2));
  EXPECT_THAT(arange({3}).t().shape(), ElementsAre(3));
  EXPECT_THAT(arange({3}).t().to_vector<float>(), ElementsAre(0, 1, 2));
}

TD_DEVICE_TEST(OpsTest, ExpandUnsqueezeSqueeze) {
  Tensor v = make({1, 2, 3}, {3});
  Tensor e = v.expand({2, 3});
  EXPECT_THAT(e.strides(), ElementsAre(0, 1));
  EXPECT_THAT(e.to_vector<float>(), ElementsAre(1, 2, 3, 1, 2, 3));
  EXPECT_TRUE(e.shares_storage(v));
  EXPECT_THAT(make({1, 2, 3}, {3, 1}).expand({-1, 2}).to_vector<float>(), ElementsAre(1, 1, 2, 2, 3, 3));
  EXPECT_THAT(scalar_tensor(5.0f, std::nullopt, device_).expand({2, 2}).to_vector<float>(),
              ElementsAre(5, 5, 5, 5));
  EXPECT_THAT(v.unsqueeze(0).shape(), ElementsAre(1, 3));
  EXPECT_THAT(v.unsqueeze(-1).shape(), ElementsAre(3, 1));
  EXPECT_THAT(v.unsqueeze(1).strides(), ElementsAre(1, 1));
  EXPECT_THAT(v.unsqueeze(0).squeeze(0).shape(), ElementsAre(3));
  EXPECT_THAT(v.unsqueeze(1).squeeze(-1).shape(), ElementsAre(3));
  // squeeze of a dim whose size is not 1 leaves the shape unchanged (PyTorch's squeeze(dim)).
  EXPECT_THAT(arange({2, 3}).squeeze(0).shape(), ElementsAre(2, 3));
  EXPECT_THAT(scalar_tensor(1.0f, std::nullopt, device_).squeeze(0).shape(), IsEmpty());
}

TD_DEVICE_TEST(OpsTest, CloneAndTo) {
  Tensor at = arange({2, 3}).t();
  Tensor c = at.clone();
  EXPECT_FALSE(c.shares_storage(at));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_THAT(c.to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  EXPECT_FALSE(arange({2}).clone().shares_storage(arange({2})));
  // Conversions: float -> float64 exact; int64 -> float32; bool -> float32; float -> bool is "!= 0".
  Tensor d = make({0.5f, -1.25f}, {2}).to(DType::kFloat64);
  EXPECT_EQ(d.dtype(), DType::kFloat64);
  EXPECT_THAT(d.to_vector<double>(), ElementsAre(0.5, -1.25));
  EXPECT_THAT(ints({3, -4}, {2}).to(DType::kFloat32).to_vector<float>(), ElementsAre(3, -4));
  EXPECT_THAT(bools({true, false}, {2}).to(DType::kFloat32).to_vector<float>(), ElementsAre(1, 0));
  Tensor b = make({0, 0.5f, -2}, {3}).to(DType::kBool);
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_THAT(b.to_vector<int64_t>(), ElementsAre(0, 1, 1));
  // A non-contiguous source converts in logical order.
  EXPECT_THAT(at.to(DType::kInt64).to_vector<int64_t>(), ElementsAre(0, 3, 1, 4, 2, 5));
  // copy=true always copies; the device form keeps the dtype.
  Tensor x = arange({2});
  EXPECT_FALSE(x.to(DType::kFloat32, /*non_blocking=*/false, /*copy=*/true).shares_storage(x));
  Tensor here = x.to(device_.str());
  EXPECT_TRUE(here.is_same(x));
}

TD_DEVICE_TEST(OpsTest, ShapeErrors) {
  Tensor x = arange({2, 3});
  Error e = error_of([&] { (void)x.view({4}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[view] shape '[4]' is invalid for input of size 6");
  e = error_of([&] { (void)x.view({-1, 4}); });
  EXPECT_STREQ(e.what(), "[view] shape '[-1, 4]' is invalid for input of size 6");
  e = error_of([&] { (void)x.t().view({6}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[view] view size is not compatible with input tensor's size and stride (at least one "
               "dimension spans across two contiguous subspaces). Use .reshape(...) instead. (input shape "
               "[3, 2], strides [1, 3], requested [6])");
  e = error_of([&] { (void)x.reshape({-1, -1}); });
  EXPECT_STREQ(e.what(), "[reshape] only one dimension can be inferred");
  e = error_of([&] { (void)x.reshape({-2, 3}); });
  EXPECT_STREQ(e.what(), "[reshape] invalid shape dimension -2");
  e = error_of([&] { (void)x.permute({0}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[permute] number of dims don't match in permute (got 1 dims for a tensor of shape [2, 3])");
  e = error_of([&] { (void)x.permute({0, -2}); });
  EXPECT_STREQ(e.what(), "[permute] repeated dim 0 in dims [0, -2]");
  e = error_of([&] { (void)x.expand({4, 3}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[expand] The expanded size of the tensor (4) must match the existing size (2) at "
               "non-singleton dimension 0.  Target sizes: [4, 3].  Tensor sizes: [2, 3]");
  e = error_of([&] { (void)x.expand({3}); });
  EXPECT_STREQ(e.what(),
               "[expand] the number of sizes provided (1) must be greater or equal to the number of "
               "dimensions in the tensor (2)");
  e = error_of([&] { (void)x.transpose(0, 2); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(),
               "[transpose] Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  e = error_of([&] { (void)x.unsqueeze(3); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(),
               "[unsqueeze] Dimension out of range (expected to be in range of [-3, 2], but got 3)");
  e = error_of([&] { (void)arange({1, 2, 3}).t(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[t] expects a tensor with <= 2 dimensions, but self is 3D");
}

// ---- calls by name ----

TD_DEVICE_TEST(OpsTest, CallOpByName) {
  Tensor a = make({1, 2}, {2}), b = make({10, 20}, {2});
  std::vector<Tensor> out = call_op("add", {a, b, Scalar(2)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0].to_vector<float>(), ElementsAre(21, 42));
  EXPECT_THAT(call_op("add", {a, b})[0].to_vector<float>(), ElementsAre(11, 22));  // alpha defaults to 1
  Tensor x = arange({2, 3});
  EXPECT_THAT(call_op("sum", {x, int_list({0}), Scalar(true)})[0].shape(), ElementsAre(1, 3));
  // A single int where a dim list is expected, and a dtype by name, convert as in PyTorch.
  EXPECT_THAT(call_op("sum", {x, Scalar(1)})[0].to_vector<float>(), ElementsAre(3, 12));
  EXPECT_EQ(call_op("sum", {x, None{}, Scalar(false), std::string("float64")})[0].dtype(), DType::kFloat64);
  EXPECT_EQ(call_op("to", {x, None{}, std::string("torch.int64")})[0].dtype(), DType::kInt64);
  EXPECT_THAT(call_op("transpose", {x, Scalar(0), Scalar(1)})[0].shape(), ElementsAre(3, 2));
  EXPECT_THAT(call_op("view", {x, int_list({6})})[0].shape(), ElementsAre(6));
}

TD_DEVICE_TEST(OpsTest, CallOpErrors) {
  Tensor a = make({1, 2}, {2});
  Error e = error_of([&] { call_op("frobnicate", {a}); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_STREQ(e.what(), "unknown op 'frobnicate'");

  // A number where a tensor goes is a wrapped number (x + 1); a string is not.
  EXPECT_THAT(call_op("add", {a, Scalar(1)})[0].to_vector<float>(), ElementsAre(2, 3));
  e = error_of([&] { call_op("add", {a, std::string("1")}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[add] argument 'other' must be Tensor, not str");
  e = error_of([&] { call_op("mul", {None{}, a}); });
  EXPECT_STREQ(e.what(), "[mul] argument 'self' must be Tensor, not None");
  e = error_of([&] { call_op("neg", {Tensor()}); });
  EXPECT_STREQ(e.what(), "[neg] argument 'self' must be Tensor, not Tensor (an undefined tensor)");
  e = error_of([&] { call_op("sum", {a, int_list({0}), Scalar(1)}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[sum] argument 'keepdim' must be bool, not int");
  e = error_of([&] { call_op("transpose", {a, Scalar(0.5), Scalar(0)}); });
  EXPECT_STREQ(e.what(), "[transpose] argument 'dim0' must be int, not float");
  e = error_of([&] { call_op("view", {a, std::string("2")}); });
  EXPECT_STREQ(e.what(), "[view] argument 'size' must be int[], not str");
  e = error_of([&] { call_op("add", {a, a, a}); });
  EXPECT_STREQ(e.what(), "[add] argument 'alpha' must be Scalar, not Tensor");
  e = error_of([&] { call_op("neg", {a, a}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[neg] takes 1 arguments but 2 were given");
  e = error_of([&] { call_op("mul", {a}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[mul] missing required argument 'other' (position 1)");
  e = error_of([&] { call_op("sum", {a, None{}, Scalar(false), std::string("float128")}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "unknown dtype 'float128'");
}

TD_DEVICE_TEST(OpsTest, MatrixProductFamily) {
  // dot = 1*4 + 2*5 + 3*6 = 32; mv of [[1, 2], [3, 4]] by [1, 1] = [3, 7]; outer of [1, 2], [3] = [[3], [6]].
  EXPECT_FLOAT_EQ(make({1, 2, 3}, {3}).dot(make({4, 5, 6}, {3})).item<float>(), 32);
  EXPECT_THAT(make({1, 2, 3, 4}, {2, 2}).mv(make({1, 1}, {2})).to_vector<float>(), ElementsAre(3, 7));
  EXPECT_THAT(make({1, 2}, {2}).outer(make({3}, {1})).to_vector<float>(), ElementsAre(3, 6));
  // addmm with beta = 0 ignores self's values, NaN included.
  Tensor nan_self = make({std::numeric_limits<float>::quiet_NaN()}, {1});
  EXPECT_THAT(nan_self.addmm(make({1, 2}, {1, 2}), make({3, 4}, {2, 1}), 0).to_vector<float>(), ElementsAre(11));
  EXPECT_STREQ(error_of([&] { (void)make({1, 2}, {2}).dot(make({1, 2, 3}, {3})); }).what(),
               "[dot] inconsistent tensor size, expected tensor [2] and src [3] to have the same number of elements, "
               "but got 2 and 3 elements respectively");
  EXPECT_STREQ(error_of([&] { (void)make({1, 2, 3, 4, 5, 6}, {2, 3}).mv(make({1, 2}, {2})); }).what(),
               "[mv] size mismatch, got 2x3 matrix and 2 vector");
  EXPECT_THAT(error_of([&] { (void)make({1, 2, 3, 4}, {2, 2}).tensordot(make({1, 2, 3}, {3}), {1}, {0}); }).what(),
              ::testing::HasSubstr("[tensordot] contracted dimensions need to match"));

  auto leaf = [&](std::vector<int64_t> shape, double seed) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(seed + 1.3 * static_cast<double>(i));
    return make64(v, std::move(shape)).requires_grad_();
  };
  using Inputs = std::vector<Tensor>;
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"dot", [](const Inputs& x) { return x[0].reshape({6}).dot(x[1].reshape({6})); }},
      {"mv", [](const Inputs& x) { return x[0].mv(x[1].reshape({6}).narrow(0, 0, 3)); }},
      {"outer", [](const Inputs& x) { return x[0].reshape({6}).outer(x[1].reshape({6})); }},
      {"addmm", [](const Inputs& x) { return x[1].narrow(1, 0, 2).addmm(x[0], x[1].t(), 0.5, 2.0); }},
      {"addmm beta 0", [](const Inputs& x) { return x[1].narrow(1, 1, 2).addmm(x[0], x[1].t(), 0); }},
      {"baddbmm",
       [](const Inputs& x) {
         return x[1].narrow(1, 0, 2).unsqueeze(0).baddbmm(x[0].unsqueeze(0), x[1].t().unsqueeze(0), 2.0, 0.5);
       }},
      {"tensordot", [](const Inputs& x) { return x[0].reshape({2, 3}).tensordot(x[1].reshape({3, 2}), {1}, {0}); }},
  };
  for (auto& [name, fn] : fns) {
    Tensor a = leaf({2, 3}, 0.1), b = leaf({2, 3}, 0.7);
    auto r = autograd::gradcheck(fn, {a, b});
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {a, b});
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  }
}

TD_INSTANTIATE_DEVICES(OpsTest);

}  // namespace
}  // namespace td

namespace td {
namespace {

// add/sub/mul/div on contiguous float and double runs take AVX lanes with a scalar tail: every length
// around the lane widths, a broadcast number, alpha, in place and strided give what the element formula
// gives in the element type, bit for bit.
template <class T>
void check_binary_runs() {
  for (int64_t n : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 1000}) {
    std::vector<T> xs(static_cast<size_t>(n)), ys(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      xs[static_cast<size_t>(i)] = T(0.37) * T(i) - T(3.1);
      ys[static_cast<size_t>(i)] = T(1.3) + T(0.11) * T(i * i % 17);
    }
    const Tensor x = tensor<T>(xs, {n}), y = tensor<T>(ys, {n}), y0 = tensor<T>({ys[0]}, {1});
    const T alpha = T(0.3);
    auto expect = [&](const Tensor& got, auto formula, bool scalar_b, const char* what) {
      const std::vector<T> g = got.to_vector<T>();
      ASSERT_EQ(g.size(), xs.size()) << what;
      for (size_t i = 0; i < xs.size(); ++i) {
        const T want = formula(xs[i], scalar_b ? ys[0] : ys[i]);
        ASSERT_EQ(g[i], want) << what << " n=" << n << " i=" << i;
      }
    };
    expect(x.add(y), [](T a, T b) { return T(a + b); }, false, "add");
    expect(x.add(y, alpha), [&](T a, T b) { return T(a + alpha * b); }, false, "add alpha");
    expect(x.sub(y0, alpha), [&](T a, T b) { return T(a - alpha * b); }, true, "sub alpha, broadcast");
    expect(x.mul(y0), [](T a, T b) { return T(a * b); }, true, "mul broadcast");
    expect(x.div(y), [](T a, T b) { return T(a / b); }, false, "div");
    Tensor in_place = x.clone();
    in_place.add_(y);
    expect(in_place, [](T a, T b) { return T(a + b); }, false, "add_");
    // Every other element of a run twice as long: the strided loop.
    const Tensor wide = x.unsqueeze(1).expand({n, 2}).contiguous().view({2 * n});
    const Tensor strided = wide.slice(0, 0, 2 * n, 2);
    expect(strided.div(y), [](T a, T b) { return T(a / b); }, false, "div strided");
  }
}

// A contiguous operand coalesces to one row; past 2 * kParallelGrain elements the row is cut into a chunk
// per thread. Every element comes out once, whatever the chunk boundaries (an odd length here).
TEST(BinaryRuns, ALongRowCutAcrossThreadsGivesEveryElement) {
  struct Threads {
    int before = get_num_threads();
    Threads() { set_num_threads(2); }
    ~Threads() { set_num_threads(before); }
  } two_threads;
  const int64_t n = 100003;
  std::vector<float> xs(static_cast<size_t>(n)), ys(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    xs[static_cast<size_t>(i)] = static_cast<float>(i % 1000) * 0.25f;
    ys[static_cast<size_t>(i)] = static_cast<float>(i % 7) - 3.0f;
  }
  const Tensor x = tensor<float>(xs, {n}), y = tensor<float>(ys, {n});
  const std::vector<float> sum = x.add(y).to_vector<float>(), neg = x.neg().to_vector<float>();
  const std::vector<float> picked = x.where(y.gt(0.0), y).to_vector<float>();
  const std::vector<float> copied = x.view({1, n}).expand({2, n}).contiguous().to_vector<float>();
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    ASSERT_EQ(sum[k], xs[k] + ys[k]) << i;
    ASSERT_EQ(neg[k], -xs[k]) << i;
    ASSERT_EQ(picked[k], ys[k] > 0 ? xs[k] : ys[k]) << i;
    ASSERT_EQ(copied[k + static_cast<size_t>(n)], xs[k]) << i;
  }
}

// ReLU's backward takes a fused pass when it is not recorded (threshold_backward, on CUDA too); with
// create_graph it is where + gt. Both give g where y > 0, else 0: at 0, below it, at NaN, on a transposed input too.
TD_DEVICE_TEST(OpsTest, ReluBackwardsFusedPassAndRecordedFormulaAgree) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (bool transposed : {false, true}) {
      std::vector<double> xs;
      for (int i = 0; i < 6 * 7; ++i) xs.push_back(i % 5 == 0 ? 0.0 : (i % 3 == 0 ? -1.5 : 0.25) * (i - 20));
      xs[7] = std::nan("");
      Tensor base = tensor<double>(xs, {6, 7}).to(dtype).to(device_.str());
      Tensor x = (transposed ? base.t() : base).detach().requires_grad_();
      Tensor g = tensor<double>(std::vector<double>(42, 0.0), {42}).add(1.0).cumsum(0).reshape(x.shape());
      g = g.to(dtype).to(device_.str());
      Tensor y = x.relu();
      Tensor fused = autograd::grad({y}, {x}, {g})[0];
      Tensor recorded = autograd::grad({x.relu()}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
      auto host = [](const Tensor& t) { return t.to("cpu").to(DType::kFloat64).contiguous().to_vector<double>(); };
      const std::vector<double> a = host(fused), b = host(recorded), yv = host(y), gv = host(g);
      for (size_t i = 0; i < a.size(); ++i) {
        const double want = yv[i] > 0 ? gv[i] : 0.0;
        ASSERT_EQ(a[i], want) << dtype_name(dtype) << " " << transposed << " " << i;
        ASSERT_EQ(b[i], want) << dtype_name(dtype) << " " << transposed << " " << i;
      }
    }
  }
}

TEST(BinaryRuns, FloatMatchesTheElementFormulaOnEveryTail) { check_binary_runs<float>(); }
TEST(BinaryRuns, DoubleMatchesTheElementFormulaOnEveryTail) { check_binary_runs<double>(); }

}  // namespace
}  // namespace td
