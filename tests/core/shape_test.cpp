// Views, shape, join and creation ops: views share storage with the strides and offsets derived below,
// copies have the values derived below, every differentiable op passes gradcheck and gradgradcheck (also on
// non-contiguous inputs), and every error names the op and the values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/ops/registry.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using testing::error_of;
using ::testing::IsEmpty;
using Inputs = std::vector<Tensor>;

class ShapeTest : public testing::DeviceTest {
 protected:
  /// 0, 1, ..., n-1 as float32 in a shape on the test's device.
  Tensor iota(std::vector<int64_t> shape) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    return make(v, std::move(shape));
  }
  /// A float64 leaf requiring grad, with distinct values (so a wrong index shows in gradcheck).
  Tensor leaf(std::vector<int64_t> shape) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.25 + 0.5 * static_cast<double>((i * 7) % v.size());
    return make64(v, std::move(shape)).requires_grad_();
  }
  /// A registry op's single output.
  static Tensor op(std::string_view name, std::vector<Value> args) {
    return call_op(name, std::move(args)).at(0);
  }
  /// A creation op on the test's device.
  Tensor create(std::string_view name, std::vector<Value> args) const { return op(name, std::move(args)); }
  std::string dev() const { return device_.str(); }
};

// ---- views: shared storage, strides, offsets ----

TD_DEVICE_TEST(ShapeTest, NarrowSelectSliceAreViews) {
  Tensor x = iota({3, 4});       // row-major: x[i][j] = 4i + j, strides [4, 1]
  Tensor n = x.narrow(1, 1, 2);  // columns 1..2: starts at element 1
  EXPECT_TRUE(n.shares_storage(x));
  EXPECT_THAT(n.shape(), ElementsAre(3, 2));
  EXPECT_THAT(n.strides(), ElementsAre(4, 1));
  EXPECT_EQ(n.storage_offset(), 1);
  EXPECT_THAT(n.to_vector<float>(), ElementsAre(1, 2, 5, 6, 9, 10));
  // A negative start counts from the end: -2 is column 2.
  EXPECT_THAT(x.narrow(-1, -2, 2).to_vector<float>(), ElementsAre(2, 3, 6, 7, 10, 11));
  EXPECT_THAT(x.narrow(1, 4, 0).shape(), ElementsAre(3, 0));  // an empty narrow at the end is allowed

  Tensor s = x.select(0, -1);  // row 2: offset 8, one dim left
  EXPECT_TRUE(s.shares_storage(x));
  EXPECT_THAT(s.shape(), ElementsAre(4));
  EXPECT_EQ(s.storage_offset(), 8);
  EXPECT_THAT(s.to_vector<float>(), ElementsAre(8, 9, 10, 11));
  EXPECT_THAT(x.select(1, 2).to_vector<float>(), ElementsAre(2, 6, 10));
  EXPECT_THAT(iota({3}).select(0, 1).shape(), IsEmpty());

  // x[:, -3::2]: start 4 - 3 = 1, every second column: 1 and 3; stride 1 * 2.
  Tensor sl = x.slice(1, -3, std::nullopt, 2);
  EXPECT_TRUE(sl.shares_storage(x));
  EXPECT_THAT(sl.strides(), ElementsAre(4, 2));
  EXPECT_EQ(sl.storage_offset(), 1);
  EXPECT_THAT(sl.to_vector<float>(), ElementsAre(1, 3, 5, 7, 9, 11));
  // Bounds clamp as in Python: [-100:100] is everything, [3:1] is empty.
  EXPECT_THAT(x.slice(0, -100, 100).shape(), ElementsAre(3, 4));
  EXPECT_THAT(x.slice(0, 3, 1).shape(), ElementsAre(0, 4));
  EXPECT_THAT(x.slice(1, 1, -1).to_vector<float>(), ElementsAre(1, 2, 5, 6, 9, 10));
  // A view of a view: offsets add up, strides multiply.
  Tensor vv = x.t().slice(0, 1, std::nullopt, 2).narrow(1, 1, 2);  // x.t() is [4, 3] with strides [1, 4]
  EXPECT_THAT(vv.strides(), ElementsAre(2, 4));
  EXPECT_EQ(vv.storage_offset(), 1 + 4);
  EXPECT_THAT(vv.to_vector<float>(), ElementsAre(5, 9, 7, 11));
}

TD_DEVICE_TEST(ShapeTest, DiagonalAndAsStridedAreViews) {
  Tensor x = iota({3, 4});
  // offset 1: elements (0,1), (1,2), (2,3) = 1, 6, 11; one step is a row plus a column: stride 4 + 1.
  Tensor d = x.diagonal(1);
  EXPECT_TRUE(d.shares_storage(x));
  EXPECT_THAT(d.strides(), ElementsAre(5));
  EXPECT_EQ(d.storage_offset(), 1);
  EXPECT_THAT(d.to_vector<float>(), ElementsAre(1, 6, 11));
  EXPECT_THAT(x.diagonal(-1).to_vector<float>(), ElementsAre(4, 9));  // (1,0), (2,1)
  EXPECT_THAT(x.diagonal(0, 1, 0).to_vector<float>(), ElementsAre(0, 5, 10));
  EXPECT_THAT(x.diagonal(7).shape(), ElementsAre(0));
  // 3-d: the diagonal of dims 1 and 2 becomes the last dim, dim 0 stays first.
  Tensor y = iota({2, 2, 3});
  EXPECT_THAT(y.diagonal(0, 1, 2).shape(), ElementsAre(2, 2));
  EXPECT_THAT(y.diagonal(0, 1, 2).to_vector<float>(), ElementsAre(0, 4, 6, 10));

  Tensor six = iota({6});
  Tensor a = six.as_strided({2, 2}, {1, 2}, 1);  // a[i][j] = element 1 + i + 2j
  EXPECT_TRUE(a.shares_storage(six));
  EXPECT_THAT(a.strides(), ElementsAre(1, 2));
  EXPECT_THAT(a.to_vector<float>(), ElementsAre(1, 3, 2, 4));
  // The offset defaults to self's: as_strided works on the storage, not on self's elements.
  EXPECT_THAT(x.narrow(0, 1, 1).as_strided({2}, {4}).to_vector<float>(), ElementsAre(4, 8));
  // Overlapping windows are fine for a view.
  EXPECT_THAT(iota({4}).as_strided({3, 2}, {1, 1}).to_vector<float>(), ElementsAre(0, 1, 1, 2, 2, 3));
}

TD_DEVICE_TEST(ShapeTest, UnfoldMovedimFlattenUnflattenSqueeze) {
  // Windows of 3 elements, 2 apart: [0,1,2], [2,3,4], [4,5,6]; the window dim steps 2, the element dim 1.
  Tensor seven = iota({7});
  Tensor u = seven.unfold(0, 3, 2);
  EXPECT_TRUE(u.shares_storage(seven));
  EXPECT_THAT(u.shape(), ElementsAre(3, 3));
  EXPECT_THAT(u.strides(), ElementsAre(2, 1));
  EXPECT_THAT(u.to_vector<float>(), ElementsAre(0, 1, 2, 2, 3, 4, 4, 5, 6));
  // Along dim 0 of a [4, 2]: 3 windows of 2 rows; the window is the last dim (stride of a row, 2).
  Tensor u2 = iota({4, 2}).unfold(0, 2, 1);
  EXPECT_THAT(u2.shape(), ElementsAre(3, 2, 2));
  EXPECT_THAT(u2.strides(), ElementsAre(2, 1, 2));

  Tensor x = iota({2, 3, 4});
  Tensor m = x.movedim(0, 2);  // dims (1, 2, 0)
  EXPECT_TRUE(m.shares_storage(x));
  EXPECT_THAT(m.shape(), ElementsAre(3, 4, 2));
  EXPECT_THAT(m.strides(), ElementsAre(4, 1, 12));
  EXPECT_THAT(x.movedim({0, 1}, {2, 0}).shape(), ElementsAre(3, 4, 2));  // 0 -> 2, 1 -> 0, 2 fills 1
  EXPECT_THAT(x.movedim({-1}, {0}).shape(), ElementsAre(4, 2, 3));

  Tensor f = x.flatten(1);
  EXPECT_TRUE(f.shares_storage(x));
  EXPECT_THAT(f.shape(), ElementsAre(2, 12));
  EXPECT_THAT(x.flatten().shape(), ElementsAre(24));
  EXPECT_THAT(x.flatten(0, 1).shape(), ElementsAre(6, 4));
  EXPECT_THAT(scalar_tensor(3.0f, std::nullopt, device_).flatten().shape(), ElementsAre(1));
  // A transposed tensor cannot merge its dims in place: flatten copies, in logical order.
  Tensor tf = iota({2, 3}).t().flatten();
  EXPECT_FALSE(tf.shares_storage(x));
  EXPECT_THAT(tf.to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));

  Tensor uf = f.unflatten(1, {3, -1});
  EXPECT_TRUE(uf.shares_storage(x));
  EXPECT_THAT(uf.shape(), ElementsAre(2, 3, 4));
  EXPECT_THAT(uf.strides(), ElementsAre(12, 4, 1));

  Tensor s = iota({1, 3, 1, 2}).squeeze();
  EXPECT_THAT(s.shape(), ElementsAre(3, 2));
  EXPECT_THAT(s.strides(), ElementsAre(2, 1));
  EXPECT_THAT(iota({1, 1}).squeeze().shape(), IsEmpty());
  EXPECT_THAT(iota({1, 3, 1}).squeeze(2).shape(), ElementsAre(1, 3));  // squeeze(dim) is unchanged

  Tensor other = iota({4, 6});
  EXPECT_THAT(x.view_as(other).shape(), ElementsAre(4, 6));
  EXPECT_TRUE(x.view_as(other).shares_storage(x));
  EXPECT_THAT(x.reshape_as(other).shape(), ElementsAre(4, 6));
  EXPECT_THAT(iota({3, 1}).expand_as(other.narrow(0, 0, 3)).strides(), ElementsAre(1, 0));
}

TD_DEVICE_TEST(ShapeTest, SplitChunkUnbindAreViewsOfOneStorage) {
  Tensor x = iota({5, 2});
  std::vector<Tensor> parts = x.split(2);  // rows 0-1, 2-3, 4
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_THAT(parts[0].shape(), ElementsAre(2, 2));
  EXPECT_THAT(parts[2].shape(), ElementsAre(1, 2));
  EXPECT_EQ(parts[2].storage_offset(), 8);
  EXPECT_TRUE(parts[1].shares_storage(x));
  EXPECT_THAT(parts[1].to_vector<float>(), ElementsAre(4, 5, 6, 7));

  std::vector<Tensor> sized = x.split_with_sizes({1, 0, 4});
  ASSERT_EQ(sized.size(), 3u);
  EXPECT_THAT(sized[1].shape(), ElementsAre(0, 2));
  EXPECT_EQ(sized[2].storage_offset(), 2);

  // chunk(4) of 6 elements: pieces of ceil(6 / 4) = 2, so only 3 pieces.
  std::vector<Tensor> chunks = iota({6}).chunk(4);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_THAT(chunks[2].to_vector<float>(), ElementsAre(4, 5));
  // An empty dim gives `chunks` empty pieces.
  EXPECT_EQ(iota({0, 2}).chunk(3).size(), 3u);
  EXPECT_EQ(x.chunk(2, -1).size(), 2u);

  std::vector<Tensor> cols = x.unbind(1);
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_THAT(cols[1].strides(), ElementsAre(2));
  EXPECT_EQ(cols[1].storage_offset(), 1);
  EXPECT_THAT(cols[1].to_vector<float>(), ElementsAre(1, 3, 5, 7, 9));
  EXPECT_TRUE(iota({0, 3}).unbind(0).empty());
}

// ---- copies: values with their derivations ----

TD_DEVICE_TEST(ShapeTest, FlipRollRepeatTileValues) {
  Tensor x = iota({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  Tensor f = x.flip({1});   // each row reversed
  EXPECT_FALSE(f.shares_storage(x));
  EXPECT_TRUE(f.is_contiguous());
  EXPECT_THAT(f.to_vector<float>(), ElementsAre(2, 1, 0, 5, 4, 3));
  EXPECT_THAT(x.flip({0, -1}).to_vector<float>(), ElementsAre(5, 4, 3, 2, 1, 0));
  // Of a transposed view [[0, 3], [1, 4], [2, 5]] flipped along rows: [[2, 5], [1, 4], [0, 3]].
  EXPECT_THAT(x.t().flip({0}).to_vector<float>(), ElementsAre(2, 5, 1, 4, 0, 3));
  EXPECT_THAT(x.flip({}).to_vector<float>(), ElementsAre(0, 1, 2, 3, 4, 5));

  // roll by 2: element i moves to (i + 2) mod 5, so position 0 holds element 3.
  EXPECT_THAT(iota({5}).roll({2}).to_vector<float>(), ElementsAre(3, 4, 0, 1, 2));
  EXPECT_THAT(iota({5}).roll({-1}).to_vector<float>(), ElementsAre(1, 2, 3, 4, 0));
  // Without dims the flattened tensor rolls: [0, 1, 2, 3, 4, 5] by 1 is [5, 0, 1, 2, 3, 4].
  EXPECT_THAT(x.roll({1}).to_vector<float>(), ElementsAre(5, 0, 1, 2, 3, 4));
  // Rows by 1 and columns by -1 (= 2): row r comes from row r - 1, column c from column c + 1.
  EXPECT_THAT(x.roll({1, -1}, {0, 1}).to_vector<float>(), ElementsAre(4, 5, 3, 1, 2, 0));
  EXPECT_FALSE(x.roll({3}, {1}).shares_storage(x));  // a full turn is still a copy

  // repeat: output index k * size + j reads element j.
  Tensor v = make({1, 2}, {2});
  EXPECT_THAT(v.repeat({2, 2}).shape(), ElementsAre(2, 4));
  EXPECT_THAT(v.repeat({2, 2}).to_vector<float>(), ElementsAre(1, 2, 1, 2, 1, 2, 1, 2));
  EXPECT_THAT(x.repeat({1, 2}).to_vector<float>(), ElementsAre(0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5));
  EXPECT_THAT(x.repeat({0, 1}).shape(), ElementsAre(0, 3));
  // tile pads short dims with leading ones: tile([2]) of a [2, 3] is repeat([1, 2]).
  EXPECT_THAT(x.tile({2}).to_vector<float>(), ElementsAre(0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5));
  EXPECT_THAT(v.tile({2, 1}).shape(), ElementsAre(2, 2));
}

TD_DEVICE_TEST(ShapeTest, TrilTriuDiagValues) {
  Tensor x = iota({3, 4});
  // tril(k) keeps (i, j) with j - i <= k. k = 0: row 0 keeps column 0, row 1 columns 0-1, row 2 columns 0-2.
  EXPECT_THAT(x.tril().to_vector<float>(), ElementsAre(0, 0, 0, 0, 4, 5, 0, 0, 8, 9, 10, 0));
  // k = -1 drops the main diagonal too.
  EXPECT_THAT(x.tril(-1).to_vector<float>(), ElementsAre(0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0));
  // triu(k) keeps j - i >= k. k = 1: row 0 columns 1-3, row 1 columns 2-3, row 2 column 3.
  EXPECT_THAT(x.triu(1).to_vector<float>(), ElementsAre(0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 11));
  // Batched: each matrix of the last two dims; integers and bools keep their dtype.
  Tensor b = call_op("ones", {int_list({2, 2, 2}), std::string("int64"), dev()})[0];
  EXPECT_THAT(b.triu().to_vector<int64_t>(), ElementsAre(1, 1, 0, 1, 1, 1, 0, 1));
  EXPECT_EQ(b.to(DType::kBool).tril().dtype(), DType::kBool);

  // diag of a vector: the vector on the k-th diagonal of an (n + |k|)-square matrix.
  Tensor v = make({1, 2}, {2});
  EXPECT_THAT(v.diag().to_vector<float>(), ElementsAre(1, 0, 0, 2));
  EXPECT_THAT(v.diag(1).to_vector<float>(), ElementsAre(0, 1, 0, 0, 0, 2, 0, 0, 0));
  EXPECT_THAT(v.diag(-1).to_vector<float>(), ElementsAre(0, 0, 0, 1, 0, 0, 0, 2, 0));
  // diag of a matrix: a copy of its k-th diagonal.
  Tensor d = x.diag(1);
  EXPECT_FALSE(d.shares_storage(x));
  EXPECT_THAT(d.to_vector<float>(), ElementsAre(1, 6, 11));
  EXPECT_THAT(x.diag(-2).to_vector<float>(), ElementsAre(8));
  EXPECT_THAT(x.diag(5).shape(), ElementsAre(0));
}

TD_DEVICE_TEST(ShapeTest, CatAndStackJoinAndPromote) {
  Tensor a = iota({2, 2}), b = make({10, 11}, {1, 2});
  Tensor c = Tensor::cat({a, b});
  EXPECT_THAT(c.shape(), ElementsAre(3, 2));
  EXPECT_THAT(c.to_vector<float>(), ElementsAre(0, 1, 2, 3, 10, 11));
  EXPECT_FALSE(c.shares_storage(a));
  EXPECT_THAT(Tensor::cat({a, a.t()}, -1).to_vector<float>(), ElementsAre(0, 1, 0, 2, 2, 3, 1, 3));
  // Integers and floats promote as in an arithmetic op: int64 + float32 gives float32.
  Tensor i = tensor(std::vector<int64_t>{7, 8}, {1, 2}, device_);
  EXPECT_EQ(Tensor::cat({i, a}).dtype(), DType::kFloat32);
  EXPECT_EQ(Tensor::cat({i, i}).dtype(), DType::kInt64);
  // A 1-d empty tensor joins anything and adds nothing (PyTorch's legacy rule).
  EXPECT_THAT(Tensor::cat({a, iota({0}), b}).shape(), ElementsAre(3, 2));
  EXPECT_THAT(Tensor::cat({iota({0}), iota({0})}).shape(), ElementsAre(0));

  Tensor s = Tensor::stack({make({1, 2}, {2}), make({3, 4}, {2})});
  EXPECT_THAT(s.shape(), ElementsAre(2, 2));
  EXPECT_THAT(s.to_vector<float>(), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(Tensor::stack({make({1, 2}, {2}), make({3, 4}, {2})}, -1).to_vector<float>(),
              ElementsAre(1, 3, 2, 4));
  EXPECT_THAT(Tensor::hstack({make({1}, {1}), make({2, 3}, {2})}).to_vector<float>(), ElementsAre(1, 2, 3));
  EXPECT_THAT(Tensor::hstack({iota({2, 1}), iota({2, 2})}).shape(), ElementsAre(2, 3));
  EXPECT_THAT(Tensor::vstack({make({1, 2}, {2}), iota({2, 2})}).shape(), ElementsAre(3, 2));
  // By name, a Tensor[] is a std::vector<Tensor> value.
  EXPECT_THAT(op("cat", {std::vector<Tensor>{a, b}, Scalar(0)}).shape(), ElementsAre(3, 2));
}

TD_DEVICE_TEST(ShapeTest, ScatterOpsCopySelfAndWriteSrc) {
  Tensor x = call_op("zeros", {int_list({3, 4}), std::string("float32"), dev()})[0];
  Tensor s = x.slice_scatter(make({1, 2, 3, 4, 5, 6}, {3, 2}), 1, 1, std::nullopt, 2);  // columns 1 and 3
  EXPECT_FALSE(s.shares_storage(x));
  EXPECT_THAT(s.to_vector<float>(), ElementsAre(0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6));
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));  // self is untouched
  EXPECT_THAT(x.select_scatter(make({1, 2, 3, 4}, {4}), 0, 1).to_vector<float>(),
              ElementsAre(0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0));
  EXPECT_THAT(x.diagonal_scatter(make({7, 8}, {2}), -1).to_vector<float>(),
              ElementsAre(0, 0, 0, 0, 7, 0, 0, 0, 0, 8, 0, 0));
  EXPECT_THAT(iota({5}).as_strided_scatter(make({9, 9}, {2}), {2}, {2}, 1).to_vector<float>(),
              ElementsAre(0, 9, 2, 9, 4));
}

// ---- creation ----

TD_DEVICE_TEST(ShapeTest, ArangeLinspaceLogspaceEye) {
  // All integers give int64; any float gives the default float dtype.
  Tensor r = create("arange", {Scalar(5), None{}, Scalar(1), None{}, dev()});
  EXPECT_EQ(r.dtype(), DType::kInt64);
  EXPECT_EQ(r.device(), device_);
  EXPECT_THAT(r.to_vector<int64_t>(), ElementsAre(0, 1, 2, 3, 4));
  Tensor f = create("arange", {Scalar(0), Scalar(1.0), Scalar(0.25), None{}, dev()});
  EXPECT_EQ(f.dtype(), DType::kFloat32);
  EXPECT_THAT(f.to_vector<float>(), ElementsAre(0, 0.25, 0.5, 0.75));
  // Size ceil((0 - 10) / -3) = 4: 10, 7, 4, 1.
  EXPECT_THAT(create("arange", {Scalar(10), Scalar(0), Scalar(-3)}).to_vector<int64_t>(),
              ElementsAre(10, 7, 4, 1));
  // An integer dtype truncates the bounds first: arange(0.5, 5, 2) as int64 counts from 0.
  EXPECT_THAT(
      create("arange", {Scalar(0.5), Scalar(5), Scalar(2), std::string("int64")}).to_vector<int64_t>(),
      ElementsAre(0, 2, 4));
  EXPECT_EQ(create("arange", {Scalar(2), Scalar(2)}).numel(), 0);

  // linspace: step (1 - 0) / 4; the first half counts up from start, the second down from end.
  Tensor l = create("linspace", {Scalar(0), Scalar(1), Scalar(5), None{}, dev()});
  EXPECT_EQ(l.dtype(), DType::kFloat32);
  EXPECT_THAT(l.to_vector<float>(), ElementsAre(0, 0.25, 0.5, 0.75, 1));
  EXPECT_THAT(create("linspace", {Scalar(2), Scalar(7), Scalar(1)}).to_vector<float>(), ElementsAre(2));
  // int64: step 10 / 3 in double, each value truncated: 0, 3.33, 6.67, 10 -> 0, 3, 6, 10.
  EXPECT_THAT(
      create("linspace", {Scalar(0), Scalar(10), Scalar(4), std::string("int64")}).to_vector<int64_t>(),
      ElementsAre(0, 3, 6, 10));
  EXPECT_THAT(create("logspace", {Scalar(0), Scalar(2), Scalar(3), Scalar(2.0), std::string("float64")})
                  .to_vector<double>(),
              ElementsAre(1, 2, 4));

  Tensor e = create("eye", {Scalar(2), Scalar(3), std::string("int64"), dev()});
  EXPECT_THAT(e.shape(), ElementsAre(2, 3));
  EXPECT_THAT(e.to_vector<int64_t>(), ElementsAre(1, 0, 0, 0, 1, 0));
  EXPECT_THAT(create("eye", {Scalar(2)}).to_vector<float>(), ElementsAre(1, 0, 0, 1));
}

TD_DEVICE_TEST(ShapeTest, LikeOpsFollowSelf) {
  Tensor x = iota({2, 3}).t();
  Tensor z = op("zeros_like", {x});
  EXPECT_THAT(z.shape(), ElementsAre(3, 2));
  EXPECT_EQ(z.dtype(), DType::kFloat32);
  EXPECT_EQ(z.device(), device_);
  EXPECT_THAT(op("ones_like", {x, std::string("int64")}).to_vector<int64_t>(), ElementsAre(1, 1, 1, 1, 1, 1));
  // The value converts to self's dtype: 2.7 in int64 is 2.
  Tensor i = tensor(std::vector<int64_t>{1, 2}, {2}, device_);
  EXPECT_THAT(op("full_like", {i, Scalar(2.7)}).to_vector<int64_t>(), ElementsAre(2, 2));
  EXPECT_THAT(op("empty_like", {x}).shape(), ElementsAre(3, 2));
  // Creation ops never require grad, even from an input that does.
  EXPECT_FALSE(op("zeros_like", {leaf({2})}).requires_grad());
}

// ---- gradients ----

TD_DEVICE_TEST(ShapeTest, ExactGradientsOfViewsAndCopies) {
  // narrow: the gradient is 1 where the view read, 0 elsewhere.
  Tensor x = leaf({2, 3});
  x.narrow(1, 1, 2).sum().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(0, 1, 1, 0, 1, 1));
  // unfold(0, 3, 1) of 5 elements reads element i in min(i + 1, 3, 5 - i) windows: 1, 2, 3, 2, 1.
  Tensor u = leaf({5});
  u.unfold(0, 3, 1).sum().backward();
  EXPECT_THAT(u.grad().to_vector<double>(), ElementsAre(1, 2, 3, 2, 1));
  // as_strided with overlapping windows sums the same way.
  Tensor a = leaf({4});
  a.as_strided({3, 2}, {1, 1}).sum().backward();
  EXPECT_THAT(a.grad().to_vector<double>(), ElementsAre(1, 2, 2, 1));
  // split: an unused piece gets a zero gradient; the used one gets its weights.
  Tensor s = leaf({4});
  std::vector<Tensor> parts = s.split(3);
  EXPECT_EQ(parts[0].grad_fn_name(), "SplitBackward0");
  parts[1].mul(5.0).sum().backward();
  EXPECT_THAT(s.grad().to_vector<double>(), ElementsAre(0, 0, 0, 5));
  // cat: each input gets its stretch; an input that does not require grad gets none.
  Tensor p = leaf({2}), q = make64({1, 2, 3}, {3});
  Tensor c = Tensor::cat({p, q});
  EXPECT_EQ(c.grad_fn_name(), "CatBackward0");
  c.mul(make64({1, 2, 3, 4, 5}, {5})).sum().backward();
  EXPECT_THAT(p.grad().to_vector<double>(), ElementsAre(1, 2));
  EXPECT_FALSE(q.grad().defined());
  // flip: the gradient flips back.
  Tensor fl = leaf({3});
  fl.flip({0}).mul(make64({1, 2, 3}, {3})).sum().backward();
  EXPECT_THAT(fl.grad().to_vector<double>(), ElementsAre(3, 2, 1));
  // repeat: each element is read repeats times.
  Tensor r = leaf({2});
  r.repeat({3}).sum().backward();
  EXPECT_THAT(r.grad().to_vector<double>(), ElementsAre(3, 3));
  // tril: the gradient is masked the same way.
  Tensor t = leaf({2, 2});
  t.tril().sum().backward();
  EXPECT_THAT(t.grad().to_vector<double>(), ElementsAre(1, 0, 1, 1));
}

TD_DEVICE_TEST(ShapeTest, GradcheckEveryDifferentiableOp) {
  Tensor m = leaf({3, 4}), v = leaf({4}), w = leaf({2, 4}), cube = leaf({2, 3, 4}), small = leaf({2, 2});
  // Non-contiguous inputs are made inside the functions (gradcheck perturbs contiguous copies).
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"narrow", [](const Inputs& x) { return x[0].narrow(1, -3, 2); }},
      {"narrow_transposed", [](const Inputs& x) { return x[0].t().narrow(0, 1, 2); }},
      {"select", [](const Inputs& x) { return x[0].select(-1, 2); }},
      {"select_transposed", [](const Inputs& x) { return x[0].t().select(1, 0); }},
      {"slice", [](const Inputs& x) { return x[0].slice(1, 1, std::nullopt, 2); }},
      {"slice_of_slice", [](const Inputs& x) { return x[0].slice(1, -3, 100).slice(0, 0, 3, 2); }},
      {"diagonal", [](const Inputs& x) { return x[0].diagonal(1); }},
      {"diagonal_3d", [](const Inputs& x) { return x[3].diagonal(-1, 2, 1); }},
      {"slice_scatter",
       [](const Inputs& x) { return x[0].slice_scatter(x[2].t().narrow(0, 0, 3), 1, 0, 4, 2).mul(x[0]); }},
      {"select_scatter", [](const Inputs& x) { return x[0].select_scatter(x[1], 0, 1); }},
      {"diagonal_scatter", [](const Inputs& x) { return x[4].t().diagonal_scatter(x[1].narrow(0, 0, 2)); }},
      {"as_strided",
       [](const Inputs& x) {
         return x[0].as_strided({2, 3}, {1, 4}, 1);
       }},
      {"as_strided_overlapping",
       [](const Inputs& x) {
         return x[1].as_strided({3, 2}, {1, 1});
       }},
      {"as_strided_of_transposed",
       [](const Inputs& x) {
         return x[0].t().as_strided({2, 2}, {4, 1}, 2);
       }},
      {"as_strided_of_expanded",
       [](const Inputs& x) {
         return x[1].unsqueeze(1).expand({4, 3}).as_strided({4, 2}, {1, 0});
       }},
      {"as_strided_scatter",
       [](const Inputs& x) {
         return x[1].as_strided_scatter(x[4].t(), {2, 2}, {1, 2});
       }},
      {"unfold_overlapping", [](const Inputs& x) { return x[0].unfold(1, 3, 1); }},
      {"unfold_gaps_transposed", [](const Inputs& x) { return x[0].t().unfold(0, 1, 2); }},
      {"movedim",
       [](const Inputs& x) {
         return x[3].movedim({0, 2}, {1, 0});
       }},
      {"flatten_copy", [](const Inputs& x) { return x[3].transpose(0, 2).flatten(); }},
      {"unflatten",
       [](const Inputs& x) {
         return x[0].unflatten(1, {2, -1});
       }},
      {"squeeze", [](const Inputs& x) { return x[1].unsqueeze(0).unsqueeze(2).squeeze(); }},
      {"expand_as", [](const Inputs& x) { return x[1].expand_as(x[0]); }},
      {"view_as", [](const Inputs& x) { return x[0].view_as(x[3].narrow(0, 0, 1)); }},
      {"reshape_as", [](const Inputs& x) { return x[0].t().reshape_as(x[3].select(0, 0)); }},
      {"cat",
       [](const Inputs& x) {
         return Tensor::cat({x[0], x[2].t().t(), x[1].unsqueeze(0)});
       }},
      {"cat_dim1_transposed",
       [](const Inputs& x) {
         return Tensor::cat({x[0].t(), x[2].t()}, 1);
       }},
      {"stack",
       [](const Inputs& x) {
         return Tensor::stack({x[1], x[2].select(0, 1), x[0].select(0, 0)}, 1);
       }},
      {"hstack",
       [](const Inputs& x) {
         return Tensor::hstack({x[0].t(), x[2].t()});
       }},
      {"vstack",
       [](const Inputs& x) {
         return Tensor::vstack({x[1], x[2]});
       }},
      {"split",
       [](const Inputs& x) {
         std::vector<Tensor> p = x[0].split(3, 1);
         return p[0].sum(int_list({1})).add(p[1].squeeze(1).mul(2.0));
       }},
      {"split_with_sizes",
       [](const Inputs& x) {
         std::vector<Tensor> p = x[0].t().split_with_sizes({1, 3}, 0);
         return p[1].mul(p[1]).sum(int_list({0})).add(p[0].squeeze(0));
       }},
      {"chunk",
       [](const Inputs& x) {
         std::vector<Tensor> p = x[3].chunk(2, -1);
         return p[0].mul(p[1]);
       }},
      {"unbind",
       [](const Inputs& x) {
         std::vector<Tensor> p = x[0].unbind(0);
         return p[0].mul(p[1]).add(p[2].mul(3.0));
       }},
      {"flip",
       [](const Inputs& x) {
         return x[3].flip({0, 2});
       }},
      {"flip_transposed", [](const Inputs& x) { return x[0].t().flip({1}); }},
      {"roll",
       [](const Inputs& x) {
         return x[0].roll({1, -2}, {0, 1});
       }},
      {"roll_flat", [](const Inputs& x) { return x[0].t().roll({5}); }},
      {"repeat",
       [](const Inputs& x) {
         return x[4].t().repeat({2, 1, 3});
       }},
      {"tile",
       [](const Inputs& x) {
         return x[1].tile({2, 1});
       }},
      {"tril", [](const Inputs& x) { return x[3].tril(1); }},
      {"triu", [](const Inputs& x) { return x[0].t().triu(-1); }},
      {"diag_vector", [](const Inputs& x) { return x[1].diag(-1); }},
      {"diag_matrix", [](const Inputs& x) { return x[0].t().diag(1); }},
  };
  for (auto& [name, fn] : fns) {
    auto r = autograd::gradcheck(fn, {m, v, w, cube, small});
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {m, v, w, cube, small});
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  }
}

TD_DEVICE_TEST(ShapeTest, DoubleBackwardThroughViewsKeepsTheGraph) {
  // y = sum(narrow(x)^2): dy/dx = 2x on the narrowed part; its gradient again (create_graph) is 2.
  Tensor x = leaf({4});
  Tensor y = x.narrow(0, 1, 2).pow(2).sum();
  y.backward(Tensor(), /*retain_graph=*/false, /*create_graph=*/true);
  Tensor g = x.grad();
  ASSERT_TRUE(g.requires_grad());
  std::vector<double> xv = x.to_vector<double>();
  EXPECT_THAT(g.to_vector<double>(), ElementsAre(0, 2 * xv[1], 2 * xv[2], 0));
  Tensor x2 = leaf({4});
  Tensor y2 = Tensor::cat({x2.narrow(0, 0, 2).pow(2), x2.unfold(0, 2, 2).select(0, 1)}).sum();
  y2.backward(Tensor(), false, true);
  Tensor g2 = x2.grad();
  x2.set_grad(Tensor());
  g2.sum().backward();
  EXPECT_THAT(x2.grad().to_vector<double>(), ElementsAre(2, 2, 0, 0));
}

// ---- errors ----

TD_DEVICE_TEST(ShapeTest, ViewErrors) {
  Tensor x = iota({3, 4});
  Error e = error_of([&] { (void)x.narrow(2, 0, 1); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[narrow] Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  e = error_of([&] { (void)x.narrow(1, 2, 3); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[narrow] start (2) + length (3) exceeds dimension size (4).");
  e = error_of([&] { (void)x.narrow(1, 0, -1); });
  EXPECT_STREQ(e.what(), "[narrow] start (0) + length (-1) exceeds dimension size (4).");
  e = error_of([&] { (void)x.narrow(1, 5, 0); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[narrow] Dimension out of range (expected to be in range of [-4, 3], but got 5)");
  e = error_of([&] { (void)scalar_tensor(1.0f, std::nullopt, device_).narrow(0, 0, 1); });
  EXPECT_STREQ(e.what(), "[narrow] cannot be applied to a 0-dim tensor.");
  e = error_of([&] { (void)x.select(0, 3); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[select] index 3 out of range for tensor of size [3, 4] at dimension 0");
  e = error_of([&] { (void)x.select(-1, -5); });
  EXPECT_STREQ(e.what(), "[select] index -5 out of range for tensor of size [3, 4] at dimension 1");
  e = error_of([&] { (void)x.slice(0, 0, 2, 0); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[slice] slice step must be positive");
  e = error_of([&] { (void)x.diagonal(0, 1, -1); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[diagonal] diagonal dimensions cannot be identical 1, -1");
  e = error_of([&] { (void)x.movedim({0, 1}, {1, 1}); });
  EXPECT_STREQ(e.what(), "[movedim] repeated dim in `destination` ([1, 1])");
  e = error_of([&] { (void)x.movedim({0, 1}, {1}); });
  EXPECT_STREQ(e.what(),
               "[movedim] Invalid source or destination dims: source ([0, 1] dims) should contain the same "
               "number of dims as destination ([1] dims)");
  e = error_of([&] { (void)x.flatten(1, 0); });
  EXPECT_STREQ(e.what(), "[flatten] flatten() has invalid args: start_dim cannot come after end_dim");
  e = error_of([&] { (void)x.unflatten(1, {3, 2}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[unflatten] Provided sizes [3, 2] don't multiply up to the size of dim 1 (4) in the input "
               "tensor");
  e = error_of([&] { (void)x.unflatten(1, {-1, -1}); });
  EXPECT_STREQ(e.what(), "[unflatten] only one dimension can be inferred");
  e = error_of([&] { (void)x.as_strided({2, 2}, {-1, 1}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[as_strided] Negative strides are not supported at the moment, got strides: [-1, 1]");
  e = error_of([&] { (void)x.as_strided({2, 2}, {1}); });
  EXPECT_STREQ(e.what(), "[as_strided] mismatch in length of strides and shape");
  // 12 float32 elements are 48 bytes; [2, 2] with strides [10, 2] reaches element 12: 52 bytes.
  e = error_of([&] { (void)x.as_strided({2, 2}, {10, 2}); });
  EXPECT_STREQ(e.what(),
               "[as_strided] sizes [2, 2], strides [10, 2], storage offset 0, and itemsize 4 requiring a "
               "storage size of 52 are out of bounds for storage of size 48");
  e = error_of([&] { (void)x.unfold(1, 5, 1); });
  EXPECT_STREQ(e.what(), "[unfold] maximum size for tensor at dimension 1 is 4 but size is 5");
  e = error_of([&] { (void)x.unfold(1, 2, 0); });
  EXPECT_STREQ(e.what(), "[unfold] step is 0 but must be > 0");
  e = error_of([&] { (void)x.slice_scatter(iota({3, 3}), 1, 0, 2); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[slice_scatter] expected src to have a size equal to the slice of self. src size = [3, 3], "
               "slice size = [3, 2]");
}

TD_DEVICE_TEST(ShapeTest, JoinAndSplitErrors) {
  Tensor a = iota({2, 3}), b = iota({2, 4});
  // cat names the tensor and both shapes.
  Error e = error_of([&] { (void)Tensor::cat({a, b}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[cat] Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for "
               "tensor number 1 in the list (tensor 0 has shape [2, 3], tensor 1 has shape [2, 4])");
  e = error_of([&] { (void)Tensor::cat({a, iota({3})}); });
  EXPECT_STREQ(e.what(),
               "[cat] Tensors must have same number of dimensions: got 2 and 1 (tensor 0 has shape [2, 3], "
               "tensor 1 has shape [3])");
  e = error_of([&] { (void)Tensor::cat({a, a}, 2); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[cat] Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  e = error_of([&] { (void)Tensor::cat({a, scalar_tensor(1.0f, std::nullopt, device_)}); });
  EXPECT_STREQ(e.what(), "[cat] zero-dimensional tensor (at position 1) cannot be concatenated");
  e = error_of([&] { (void)Tensor::cat({}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[cat] expected a non-empty list of Tensors");
  e = error_of([&] { (void)Tensor::stack({a, a.t()}); });
  EXPECT_STREQ(e.what(),
               "[stack] stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [3, 2] at "
               "entry 1");
  e = error_of([&] { (void)Tensor::stack({}); });
  EXPECT_STREQ(e.what(), "[stack] expects a non-empty TensorList");
  // A Tensor[] argument takes a list, with every tensor defined.
  e = error_of([&] { call_op("cat", {a}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[cat] argument 'tensors' must be Tensor[], not Tensor");
  e = error_of([&] { call_op("cat", {std::vector<Tensor>{a, Tensor()}}); });
  EXPECT_STREQ(e.what(),
               "[cat] argument 'tensors' must be Tensor[], not Tensor[] (an undefined tensor at position 1)");

  e = error_of([&] { (void)a.split(-1); });
  EXPECT_STREQ(e.what(), "[split] split expects split_size be non-negative, but got split_size=-1");
  e = error_of([&] { (void)a.split(0); });
  EXPECT_STREQ(e.what(),
               "[split] split_size can only be 0 if dimension size is 0, but got dimension size of 2");
  // split sizes must add up to the dim's size.
  e = error_of([&] { (void)a.split_with_sizes({1, 1}, 1); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(),
               "[split_with_sizes] split_with_sizes expects split_sizes to sum exactly to 3 (input tensor's "
               "size at dimension 1), but got split_sizes=[1, 1]");
  e = error_of([&] { (void)a.split_with_sizes({4, -1}, 1); });
  EXPECT_STREQ(e.what(),
               "[split_with_sizes] split_with_sizes expects split_sizes have only non-negative entries, but "
               "got split_sizes=[4, -1]");
  e = error_of([&] { (void)a.chunk(0); });
  EXPECT_STREQ(e.what(), "[chunk] chunk expects `chunks` to be greater than 0, got: 0");
  e = error_of([&] { (void)a.chunk(2, 5); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[chunk] Dimension out of range (expected to be in range of [-2, 1], but got 5)");
  e = error_of([&] { (void)scalar_tensor(1.0f, std::nullopt, device_).unbind(); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[unbind] Dimension specified as 0 but tensor has no dimensions");
}

TD_DEVICE_TEST(ShapeTest, CopyErrors) {
  Tensor x = iota({2, 3});
  Error e = error_of([&] { (void)x.flip({1, -1}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[flip] dim 1 appears multiple times in the list of dims");
  e = error_of([&] { (void)x.roll({1, 2}, {0}); });
  EXPECT_STREQ(e.what(), "[roll] shifts and dimensions must align. shifts: 2, dims:1");
  e = error_of([&] { (void)x.roll({1, 2}); });
  EXPECT_STREQ(e.what(), "[roll] shifts and dimensions must align. shifts: 2, dims:0");
  e = error_of([&] { (void)x.repeat({2}); });
  EXPECT_STREQ(e.what(),
               "[repeat] Number of dimensions of repeat dims can not be smaller than number of dimensions "
               "of tensor");
  e = error_of([&] { (void)x.repeat({-1, 1}); });
  EXPECT_STREQ(e.what(), "[repeat] Trying to create tensor with negative dimension -2: [-2, 3]");
  e = error_of([&] { (void)iota({3}).tril(); });
  EXPECT_STREQ(e.what(), "[tril] input tensor must have at least 2 dimensions");
  e = error_of([&] { (void)iota({2, 2, 2}).diag(); });
  EXPECT_STREQ(e.what(), "[diag] matrix or a vector expected");
}

TD_DEVICE_TEST(ShapeTest, CreationErrors) {
  Error e = error_of([&] { create("arange", {Scalar(0), Scalar(10), Scalar(0)}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[arange] step must be nonzero");
  // A step smaller than 1 truncates to 0 for an integer dtype.
  e = error_of([&] { create("arange", {Scalar(0), Scalar(10), Scalar(0.5), std::string("int64")}); });
  EXPECT_STREQ(e.what(), "[arange] step must be nonzero");
  e = error_of([&] { create("arange", {Scalar(0), Scalar(10), Scalar(-1)}); });
  EXPECT_STREQ(e.what(), "[arange] upper bound and larger bound inconsistent with step sign");
  e = error_of([&] { create("arange", {Scalar(0), Scalar(std::numeric_limits<double>::infinity())}); });
  EXPECT_STREQ(e.what(), "[arange] unsupported range: 0 -> inf");
  e = error_of([&] { create("arange", {Scalar(3), None{}, Scalar(1), std::string("bool")}); });
  EXPECT_EQ(e.code(), ErrorCode::kUnimplemented);
  EXPECT_STREQ(e.what(), "[arange] not implemented for 'bool'");
  e = error_of([&] { create("linspace", {Scalar(0), Scalar(1), Scalar(-1)}); });
  EXPECT_STREQ(e.what(), "[linspace] number of steps must be non-negative");
  e = error_of([&] { create("eye", {Scalar(-1)}); });
  EXPECT_STREQ(e.what(), "[eye] n must be greater or equal to 0, got -1");
  e = error_of([&] { create("eye", {Scalar(2), Scalar(-3)}); });
  EXPECT_STREQ(e.what(), "[eye] m must be greater or equal to 0, got -3");
}

TD_INSTANTIATE_DEVICES(ShapeTest);

}  // namespace
}  // namespace td
