// General indexing through the op methods: x.index({...}) as x[...] and x.index_put_({...}, v) as
// x[...] = v, with ints, slices, None, Ellipsis, index tensors and masks. PyTorch's values for the index
// tensor cases are in tests/golden/advanced_index.json; these tests cover the basic entries, views, writes
// through views, gradients and errors.
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
using Shape = std::vector<int64_t>;

class IndexingTest : public testing::DeviceTest {
 protected:
  // 0, 1, ..., n-1 as float32 in the given shape.
  Tensor iota(Shape shape) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    return make(v, std::move(shape));
  }
  Tensor longs(const std::vector<int64_t>& v) const { return tensor(v, {static_cast<int64_t>(v.size())}, device_); }
};
TD_INSTANTIATE_DEVICES(IndexingTest);

TD_DEVICE_TEST(IndexingTest, BasicEntriesGiveViews) {
  Tensor x = iota({2, 3, 4});
  Tensor a = x.index({1, Slice(std::nullopt, std::nullopt, 2), -1});  // x[1, ::2, -1]
  EXPECT_EQ(a.shape(), (Shape{2}));
  EXPECT_THAT(a.to_vector<float>(), ElementsAre(15, 23));
  EXPECT_TRUE(a.shares_storage(x));
  Tensor b = x.index({Ellipsis, 1});  // x[..., 1]
  EXPECT_EQ(b.shape(), (Shape{2, 3}));
  EXPECT_THAT(b.to_vector<float>(), ElementsAre(1, 5, 9, 13, 17, 21));
  Tensor c = x.index({None{}, 0, Ellipsis, None{}});  // x[None, 0, ..., None]
  EXPECT_EQ(c.shape(), (Shape{1, 3, 4, 1}));
  Tensor d = x.index({Slice(-1), Slice(1, 3)});  // x[-1:, 1:3]
  EXPECT_EQ(d.shape(), (Shape{1, 2, 4}));
  EXPECT_EQ(d.index({0, 0, 0}).item<float>(), 16);
  EXPECT_EQ(x.index({}).shape(), x.shape());
}

TD_DEVICE_TEST(IndexingTest, IndexTensorsAfterBasicEntries) {
  Tensor x = iota({3, 4, 5});
  // x[0, idx]: the int selects first, then idx indexes what was dim 1.
  Tensor a = x.index({0, longs({3, 1})});
  EXPECT_EQ(a.shape(), (Shape{2, 5}));
  EXPECT_THAT(a.index({Slice(), 0}).to_vector<float>(), ElementsAre(15, 5));
  // x[..., idx] indexes the last dim.
  Tensor b = x.index({Ellipsis, longs({4, 0})});
  EXPECT_EQ(b.shape(), (Shape{3, 4, 2}));
  EXPECT_THAT(b.index({0, 0}).to_vector<float>(), ElementsAre(4, 0));
  // x[idx0, :, idx1]: separated index tensors put their dim first.
  Tensor c = x.index({longs({0, 2}), Slice(), longs({1, 3})});
  EXPECT_EQ(c.shape(), (Shape{2, 4}));
  EXPECT_THAT(c.index({Slice(), 0}).to_vector<float>(), ElementsAre(1, 43));
  // A mask over the first two dims, then an int.
  Tensor mask = x.index({Slice(), Slice(), 0}).gt(30);
  Tensor d = x.index({mask, 2});
  EXPECT_THAT(d.to_vector<float>(), ElementsAre(37, 42, 47, 52, 57));
}

TD_DEVICE_TEST(IndexingTest, WritesThroughEveryKindOfEntry) {
  Tensor x = iota({3, 4});
  x.index_put_({0}, -1.0);                                      // x[0] = -1
  x.index_put_({Slice(1), Slice(std::nullopt, std::nullopt, 3)}, make({100, 200}, {2}));  // x[1:, ::3] = [100, 200]
  x.index_put_({x.lt(0)}, 7.0);                                  // x[x < 0] = 7
  x.index_put_({2, longs({1, 2})}, make({-5, -6}, {2}));         // x[2, [1, 2]] = [-5, -6]
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(7, 7, 7, 7, 100, 5, 6, 200, 100, -5, -6, 200));
  x.index_put_({longs({0, 0})}, make({1, 1, 1, 1}, {4}), /*accumulate=*/true);  // duplicates add up
  EXPECT_THAT(x.index({0}).to_vector<float>(), ElementsAre(9, 9, 9, 9));
  Tensor i = tensor(std::vector<int64_t>{1, 2, 3}, {3}, device_);
  i.index_put_({longs({0})}, 2.9);  // a number converts, as in Python
  EXPECT_THAT(i.to_vector<int64_t>(), ElementsAre(2, 2, 3));
}

TD_DEVICE_TEST(IndexingTest, GradientsFlowThroughReadsAndWrites) {
  Tensor x = make64({0.5, -1.0, 2.0, 1.5, -0.5, 3.0}, {2, 3}).requires_grad_();
  Tensor v = make64({4.0, -2.0}, {2}).requires_grad_();
  auto fn = [&](const std::vector<Tensor>& in) {
    Tensor y = in[0].mul(2);
    y.index_put_({Slice(), longs({2})}, in[1].unsqueeze(1));  // y[:, [2]] = v[:, None]
    return y.index({longs({1, 0, 1}), Slice(1)}).mul(y.index({Ellipsis, 0}).unsqueeze(1).index({longs({0, 1, 0})}));
  };
  auto r = autograd::gradcheck(fn, {x, v});
  EXPECT_TRUE(r.ok) << r.message;
  auto rr = autograd::gradgradcheck(fn, {x, v});
  EXPECT_TRUE(rr.ok) << rr.message;
}

TD_DEVICE_TEST(IndexingTest, CpuIndicesIndexAnyDevice) {
  Tensor x = iota({4});
  Tensor cpu_idx = tensor(std::vector<int64_t>{3, 0}, {2});
  EXPECT_THAT(x.index({cpu_idx}).to_vector<float>(), ElementsAre(3, 0));
}

TD_DEVICE_TEST(IndexingTest, BadIndicesAreNamedErrors) {
  Tensor x = iota({2, 3});
  Error out = error_of([&] { x.index({longs({0, 2})}); });
  EXPECT_EQ(out.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(out.what(), HasSubstr("[index] index 2 is out of bounds for dimension 0 with size 2"));
  EXPECT_THAT(error_of([&] { x.index({Slice(), longs({-4})}); }).what(),
              HasSubstr("index -4 is out of bounds for dimension 1 with size 3"));
  EXPECT_THAT(error_of([&] { x.index({longs({0, 1}), longs({0, 1, 2})}); }).what(),
              HasSubstr("shape mismatch: indexing tensors could not be broadcast together with shapes [2], [3]"));
  EXPECT_THAT(error_of([&] { x.index({make({1, 0}, {2}).gt(0).index({None{}})}); }).what(),
              HasSubstr("The shape of the mask [1, 2] at index 0 does not match the shape of the indexed tensor"));
  EXPECT_THAT(error_of([&] { x.index({make({0}, {1})}); }).what(),
              HasSubstr("tensors used as indices must be long, byte or bool tensors"));
  EXPECT_EQ(error_of([&] { x.index({0, 0, 0}); }).code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(error_of([&] { x.index({Ellipsis, 0, Ellipsis}); }).what(),
              HasSubstr("an index can only have a single ellipsis"));
  EXPECT_THAT(error_of([&] { x.index_put_({longs({0})}, make({1, 2}, {2})); }).what(),
              HasSubstr("shape mismatch: value tensor of shape [2] cannot be broadcast to indexing result of shape "
                        "[1, 3]"));
  EXPECT_THAT(error_of([&] { x.index_put_({longs({0})}, make64({1}, {1})); }).what(),
              HasSubstr("Index put requires the source and destination dtypes match, got float32 for the "
                        "destination and float64 for the source."));
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(0, 1, 2, 3, 4, 5)) << "failed writes leave x as it was";
}

}  // namespace
}  // namespace td
