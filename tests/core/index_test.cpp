// The index family: bounds are checked on the values (a bad index is an error, never a stray read or
// write), and first and second derivatives by finite differences.
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
using Inputs = std::vector<Tensor>;

class IndexTest : public testing::DeviceTest {
 protected:
  Tensor leaf(std::vector<int64_t> shape, double scale = 1) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = scale * (0.5 + 0.25 * static_cast<double>((i * 7) % 11)) * (i % 2 ? -1 : 1);
    return make64(v, std::move(shape)).requires_grad_();
  }
};

TD_DEVICE_TEST(IndexTest, Values) {
  Tensor x = make({10, 20, 30, 40, 50, 60}, {2, 3});
  // gather along dim 1: row 0 picks columns 2, 0; row 1 picks 1, 1.
  EXPECT_THAT(x.gather(1, idx({2, 0, 1, 1}, {2, 2})).to_vector<float>(), ElementsAre(30, 10, 50, 50));
  // scatter_add accumulates duplicates: column 0 of a zero 2x3 gets 1 + 2 in row 0.
  Tensor z = zeros({2, 3}, {DType::kFloat32, device_});
  EXPECT_THAT(z.scatter_add(1, idx({0, 0, 2, 1}, {2, 2}), make({1, 2, 3, 4}, {2, 2})).to_vector<float>(),
              ElementsAre(3, 0, 0, 0, 4, 3));
  EXPECT_THAT(x.index_select(1, idx({2, 2}, {2})).to_vector<float>(), ElementsAre(30, 30, 60, 60));
  EXPECT_THAT(x.take(idx({-1, 0}, {2})).to_vector<float>(), ElementsAre(60, 10));
  Tensor mask = tensor_bool({true, false, true}, {3}, device_);
  EXPECT_THAT(x.masked_fill(mask, -1).to_vector<float>(), ElementsAre(-1, 20, -1, -1, 50, -1));
  EXPECT_THAT(x.masked_select(mask).to_vector<float>(), ElementsAre(10, 30, 40, 60));
  EXPECT_THAT(make({0, 5, 0, 7}, {2, 2}).nonzero().to_vector<int64_t>(), ElementsAre(0, 1, 1, 1));
  EXPECT_THAT(make({0, 5, 0, 7}, {2, 2}).nonzero().shape(), ElementsAre(2, 2));
}

TD_DEVICE_TEST(IndexTest, BadIndicesAreErrorsNotStrayAccesses) {
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  Error e = error_of([&] { (void)x.gather(1, idx({0, 3}, {1, 2})); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[gather] index 3 is out of bounds for dimension 1 with size 3");
  e = error_of([&] { (void)x.scatter_add(0, idx({-1, 0}, {1, 2}), make({1, 1}, {1, 2})); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(e.what(), HasSubstr("index -1 is out of bounds"));
  e = error_of([&] { (void)x.index_select(0, idx({2}, {1})); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(e.what(), HasSubstr("index 2 is out of bounds for dimension 0 with size 2"));
  e = error_of([&] { (void)x.gather(1, make({0}, {1, 1})); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("Expected dtype int64 for index"));
  e = error_of([&] { (void)x.gather(1, idx({0, 0, 0}, {3, 1})); });
  EXPECT_THAT(e.what(), HasSubstr("Size does not match at dimension 0"));
  e = error_of([&] { (void)x.masked_fill(make({1, 0, 1}, {3}), 0); });
  EXPECT_THAT(e.what(), HasSubstr("masked_fill only supports boolean masks"));
  e = error_of([&] { (void)x.take(idx({6}, {1})); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
}

// Large enough for the CPU kernels' threads: a bad index far inside the tensor, read along the innermost dim
// (vector gathers), along an outer dim (strided), as a whole-row copy (index_select) and by a scatter.
TD_DEVICE_TEST(IndexTest, BadIndexDeepInsideALargeTensorIsAnError) {
  const int64_t n = 256;
  Tensor x = zeros({n, n}, {DType::kFloat32, device_});
  std::vector<int64_t> values(static_cast<size_t>(n * n), 1);
  values[static_cast<size_t>(n * n - 3)] = n;
  Tensor bad = tensor(values, {n, n}, device_);
  for (int64_t dim : {0, 1}) {
    Error e = error_of([&] { (void)x.gather(dim, bad); });
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange) << dim;
    EXPECT_EQ(std::string(e.what()), "[gather] index 256 is out of bounds for dimension " + std::to_string(dim) +
                                         " with size 256");
    e = error_of([&] { (void)x.scatter_add(dim, bad, x); });
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange) << dim;
    EXPECT_THAT(e.what(), HasSubstr("index 256 is out of bounds"));
  }
  Error e = error_of([&] { (void)x.index_select(0, bad.reshape({-1})); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(e.what(), HasSubstr("index 256 is out of bounds for dimension 0 with size 256"));
  // The same index with the bad value put right gathers normally.
  values[static_cast<size_t>(n * n - 3)] = 2;
  EXPECT_EQ(x.gather(1, tensor(values, {n, n}, device_)).sum().item().to_double(), 0.0);
}

TD_DEVICE_TEST(IndexTest, Gradcheck) {
  Tensor x = leaf({3, 4}), src = leaf({3, 4}, 0.5);
  Tensor gi = idx({0, 3, 1, 1, 2, 0, 3, 3, 1}, {3, 3});
  Tensor si = idx({2, 0, 1, 0, 1, 2, 0, 2, 0, 1, 2, 1}, {3, 4});  // each column a permutation: no write races
  Tensor li = idx({2, 0, 2}, {3});
  Tensor mask = tensor_bool({true, false, false, true, true, false, true, false, false, true, false, true}, {3, 4}, device_);
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"gather", [&](const Inputs& t) { return t[0].gather(1, gi); }},
      {"scatter_add", [&](const Inputs& t) { return t[0].scatter_add(0, si, t[1]); }},
      {"scatter_add_smaller_index", [&](const Inputs& t) { return t[0].scatter_add(1, gi, t[1]); }},
      {"scatter", [&](const Inputs& t) { return t[0].scatter(0, si, t[1]); }},
      {"index_select", [&](const Inputs& t) { return t[0].t().index_select(1, li); }},
      {"index_add", [&](const Inputs& t) { return t[0].index_add(0, li, t[1], 2.0); }},
      {"take", [&](const Inputs& t) { return t[0].take(gi); }},
      {"masked_fill", [&](const Inputs& t) { return t[0].masked_fill(mask, 1.5); }},
      {"masked_select", [&](const Inputs& t) { return t[0].masked_select(mask); }},
  };
  for (auto& [name, fn] : fns) {
    auto r = autograd::gradcheck(fn, {x, src});
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {x, src});
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  }
}

TD_INSTANTIATE_DEVICES(IndexTest);

}  // namespace
}  // namespace td
