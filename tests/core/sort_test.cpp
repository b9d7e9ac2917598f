// The sort family on every device: PyTorch's NaN order, stability, every dtype against a host reference,
// long and many rows (each kernel path), layouts, 0-dim and empty tensors, NaN in the selections, the
// empty outputs of unique, float64 gradient checks, and one test per kind of bad argument.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>

#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using testing::error_of;
using ::testing::HasSubstr;
using Inputs = std::vector<Tensor>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Deterministic pseudo-random integers in [0, range).
std::vector<int64_t> random_ints(size_t n, int64_t range, uint64_t seed) {
  std::vector<int64_t> v(n);
  for (auto& x : v) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    x = static_cast<int64_t>((seed >> 33) % static_cast<uint64_t>(range));
  }
  return v;
}

// The stable order of each row of `v` (rows x n), NaN largest: what sort must return, computed on the host.
template <class T>
std::pair<std::vector<T>, std::vector<int64_t>> reference_sort(const std::vector<T>& v, int64_t rows,
                                                               int64_t n, bool descending) {
  std::vector<T> values(v.size());
  std::vector<int64_t> indices(v.size());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const T* row = v.data() + r * n;
    auto key_nan = [](T x) {
      if constexpr (std::is_floating_point_v<T>) return std::isnan(x);
      return false;
    };
    std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) {
      T a = row[i], b = row[j];
      if (descending) return a > b || (key_nan(a) && !key_nan(b));
      return a < b || (!key_nan(a) && key_nan(b));
    });
    for (int64_t j = 0; j < n; ++j) {
      values[static_cast<size_t>(r * n + j)] = row[order[static_cast<size_t>(j)]];
      indices[static_cast<size_t>(r * n + j)] = order[static_cast<size_t>(j)];
    }
  }
  return {values, indices};
}

// Element-wise equality in which NaN equals NaN.
::testing::AssertionResult same_values(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " values, want " << want.size();
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i]))) continue;
    return ::testing::AssertionFailure() << "element " << i << " is " << got[i] << ", want " << want[i];
  }
  return ::testing::AssertionSuccess();
}

class SortTest : public testing::DeviceTest {
 protected:
  template <class T>
  Tensor make_t(const std::vector<T>& v, std::vector<int64_t> shape) const {
    return tensor(v, std::move(shape), device_);
  }
  // Distinct float64 values (a shuffled sequence), as a leaf that requires grad.
  Tensor distinct_leaf(std::vector<int64_t> shape) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      v[static_cast<size_t>(i)] = 0.3 * static_cast<double>((i * 7 + 3) % n) - 1.0;
    return make64(v, std::move(shape)).requires_grad_();
  }

  // Sorts rows x n values of type T both ways and checks values and indices against the host reference.
  template <class T>
  void check_against_reference(const std::vector<T>& v, int64_t rows, int64_t n) {
    Tensor x = make_t(v, {rows, n});
    for (bool descending : {false, true}) {
      auto [values, indices] = x.sort(-1, descending, true);
      auto want = reference_sort(v, rows, n, descending);
      // Integers compare as int64 (every width converts exactly); floats here hold no NaN.
      using C = std::conditional_t<std::is_integral_v<T>, int64_t, T>;
      std::vector<C> want_values(want.first.begin(), want.first.end());
      EXPECT_TRUE(values.to_vector<C>() == want_values)
          << dtype_name(x.dtype()) << " " << rows << "x" << n << (descending ? " descending" : " ascending");
      EXPECT_TRUE(indices.to_vector<int64_t>() == want.second)
          << dtype_name(x.dtype()) << " " << rows << "x" << n;
    }
  }
};

TD_DEVICE_TEST(SortTest, NaNIsLargestAndTiesKeepTheirOrder) {
  Tensor x = make64({3, kNaN, -0.0, 0.0, 1, kNaN, -1}, {7});
  auto [v, i] = x.sort(0, false, true);
  // -0.0 equals 0.0: both keep their input order, and their signs.
  EXPECT_TRUE(same_values(v.to_vector<double>(), {-1, -0.0, 0.0, 1, 3, kNaN, kNaN}));
  EXPECT_TRUE(std::signbit(v.to_vector<double>()[1]));
  EXPECT_THAT(i.to_vector<int64_t>(), ElementsAre(6, 2, 3, 4, 0, 1, 5));
  std::tie(v, i) = x.sort(0, true, true);
  EXPECT_TRUE(same_values(v.to_vector<double>(), {kNaN, kNaN, 3, 1, -0.0, 0.0, -1}));
  EXPECT_THAT(i.to_vector<int64_t>(), ElementsAre(1, 5, 0, 4, 2, 3, 6));
  EXPECT_THAT(x.argsort(0, true).to_vector<int64_t>(), ElementsAre(1, 5, 0, 4, 2, 3, 6));
  // float32 and infinities.
  Tensor f = make({2, -INFINITY, NAN, INFINITY, -3}, {5});
  EXPECT_TRUE(same_values(f.sort().first.to_vector<double>(), {-INFINITY, -3, 2, INFINITY, kNaN}));
  EXPECT_THAT(f.sort(-1, true).second.to_vector<int64_t>(), ElementsAre(2, 3, 0, 4, 1));
}

TD_DEVICE_TEST(SortTest, EveryDtypeMatchesTheReference) {
  const auto r = random_ints(4 * 37, 200, 7);
  auto as = [&](auto tag, int64_t shift) {
    using T = decltype(tag);
    std::vector<T> v;
    for (int64_t x : r) v.push_back(static_cast<T>(x - shift));
    return v;
  };
  check_against_reference(as(int8_t{}, 100), 4, 37);
  check_against_reference(as(uint8_t{}, 0), 4, 37);
  check_against_reference(as(int16_t{}, 100), 4, 37);
  check_against_reference(as(int32_t{}, 100), 4, 37);
  check_against_reference(as(int64_t{}, 100), 4, 37);
  std::vector<int64_t> big = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), -1, 0,
                              1};
  check_against_reference(big, 1, 5);
  std::vector<float> f;
  std::vector<double> d;
  for (size_t k = 0; k < r.size(); ++k) {
    double x = (static_cast<double>(r[k]) - 100) / 8;
    if (k % 11 == 0) x = kNaN;
    if (k % 13 == 0) x = -0.0;
    f.push_back(static_cast<float>(x));
    d.push_back(x);
  }
  // NaN != NaN defeats vector ==: compare through same_values.
  for (bool descending : {false, true}) {
    auto want = reference_sort(d, 4, 37, descending);
    auto [v, i] = make64(d, {4, 37}).sort(-1, descending, true);
    EXPECT_TRUE(same_values(v.to_vector<double>(), want.first));
    EXPECT_TRUE(i.to_vector<int64_t>() == want.second);
    auto [vf, iff] = make(f, {4, 37}).sort(-1, descending, true);
    EXPECT_TRUE(same_values(vf.to_vector<double>(), want.first));
    EXPECT_TRUE(iff.to_vector<int64_t>() == want.second);
  }
  std::vector<bool> b;
  for (int64_t x : r) b.push_back(x % 3 == 0);
  Tensor tb = tensor_bool(b, {4, 37}, device_);
  auto [vb, ib] = tb.sort(-1, true, true);
  std::vector<uint8_t> b8(b.begin(), b.end());
  auto want_b = reference_sort(b8, 4, 37, true);
  EXPECT_TRUE(vb.to_vector<uint8_t>() == want_b.first);
  EXPECT_TRUE(ib.to_vector<int64_t>() == want_b.second);
}

TD_DEVICE_TEST(SortTest, LongRowsAndManyRowsAreStable) {
  // Few distinct values in long rows: only a stable sort gives the reference's indices. The shapes reach
  // each kernel path: one long row (CPU: chunks merged in parallel; CUDA: one device-wide sort), rows of
  // 2^18 and more (CUDA: one device-wide sort per row), rows past 4096 (CPU: rows across threads; CUDA: a
  // segmented sort), and rows of up to 4096 (CUDA: a block per row, in its three sizes: up to 128, 1024 and
  // 4096 elements, full and partly padded).
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 300000}, {2, 270000}, {3, 100000}, {2, 4097},
                                                           {5000, 7},   {3, 128},    {40, 1000},  {4, 1024},
                                                           {7, 2500},   {9, 4096},   {1, 3000}};
  for (auto [rows, n] : shapes) {
    auto r = random_ints(static_cast<size_t>(rows * n), 50, static_cast<uint64_t>(rows + n));
    std::vector<float> v(r.begin(), r.end());
    check_against_reference(v, rows, n);
    std::vector<int32_t> vi(r.begin(), r.end());
    check_against_reference(vi, rows, n);
  }
}

TD_DEVICE_TEST(SortTest, TopkAndKthvalueAreTheStableSortsPrefix) {
  // Many ties and some NaNs in rows of 1000: for small k the CPU selects instead of sorting, and must still
  // return exactly what the stable sort puts first (ties in position order).
  auto r = random_ints(3 * 1000, 12, 99);
  std::vector<double> v;
  for (int64_t x : r) v.push_back(x == 11 ? kNaN : static_cast<double>(x));
  Tensor x = make64(v, {3, 1000});
  // k up to 62 (k * 16 <= 1000) takes the CPU's heap selection, in float64 and float32 (another block test).
  for (Tensor input : {x, x.to(DType::kFloat32)}) {
    for (bool largest : {true, false}) {
      auto [sv, si] = input.sort(1, largest, true);
      for (int64_t k : {1, 7, 62, 63, 249, 250, 1000}) {
        auto [tv, ti] = input.topk(k, 1, largest);
        EXPECT_TRUE(same_values(tv.to_vector<double>(), sv.narrow(1, 0, k).contiguous().to_vector<double>()))
            << "k = " << k << (largest ? " largest " : " smallest ") << dtype_name(input.dtype());
        EXPECT_TRUE(ti.to_vector<int64_t>() == si.narrow(1, 0, k).contiguous().to_vector<int64_t>())
            << "k = " << k << " " << dtype_name(input.dtype());
      }
    }
  }
  auto [sv, si] = x.sort(0, false, true);
  for (int64_t k : {1, 3}) {
    auto [kv, ki] = x.kthvalue(k, 0);
    EXPECT_TRUE(same_values(kv.to_vector<double>(), sv.select(0, k - 1).to_vector<double>())) << "k = " << k;
    EXPECT_TRUE(ki.to_vector<int64_t>() == si.select(0, k - 1).contiguous().to_vector<int64_t>())
        << "k = " << k;
  }
  auto [kv, ki] = x.t().kthvalue(5, 0);  // rows of 3 columns viewed as columns of 1000 rows: k < n/4
  auto [tv, ti] = x.t().sort(0, false, true);
  EXPECT_TRUE(same_values(kv.to_vector<double>(), tv.select(0, 4).to_vector<double>()));
  EXPECT_TRUE(ki.to_vector<int64_t>() == ti.select(0, 4).contiguous().to_vector<int64_t>());
}

TD_DEVICE_TEST(SortTest, NonContiguousInputsAndNegativeDims) {
  // A transposed view sorted along its dim 0 (stride 1 in memory) and along dim -1 (a strided row).
  Tensor base = make({5, 1, 4, 2, 6, 0}, {2, 3});
  Tensor t = base.t();  // [[5, 2], [1, 6], [4, 0]]
  EXPECT_THAT(t.sort(0).first.to_vector<float>(), ElementsAre(1, 0, 4, 2, 5, 6));
  EXPECT_THAT(t.sort(0).second.to_vector<int64_t>(), ElementsAre(1, 2, 2, 0, 0, 1));
  EXPECT_THAT(t.sort(-1, true).first.to_vector<float>(), ElementsAre(5, 2, 6, 1, 4, 0));
  EXPECT_THAT(t.sort(-2).first.to_vector<float>(), ElementsAre(1, 0, 4, 2, 5, 6));
  // An expanded input (stride 0 along the sorted dim).
  Tensor e = make({3, 1}, {2, 1}).expand({2, 3});
  EXPECT_THAT(e.sort(-1, false, true).second.to_vector<int64_t>(), ElementsAre(0, 1, 2, 0, 1, 2));
  // A 3-d tensor sorted along the middle dim: outputs are written through strides.
  Tensor x = make({4, 3, 2, 1, 9, 8, 7, 6}, {2, 2, 2});
  EXPECT_THAT(x.sort(1).first.to_vector<float>(), ElementsAre(2, 1, 4, 3, 7, 6, 9, 8));
  EXPECT_THAT(x.topk(1, -2).second.to_vector<int64_t>(), ElementsAre(0, 0, 0, 0));
  EXPECT_THAT(x.msort().to_vector<float>(), ElementsAre(4, 3, 2, 1, 9, 8, 7, 6));
}

TD_DEVICE_TEST(SortTest, ZeroDimAndEmptyTensors) {
  Tensor s = make({2.5f}, {});
  auto [v, i] = s.sort();
  EXPECT_EQ(v.dim(), 0);
  EXPECT_EQ(v.item<float>(), 2.5f);
  EXPECT_EQ(i.item<int64_t>(), 0);
  EXPECT_EQ(s.topk(0).first.item<float>(), 2.5f);  // PyTorch gives the element for k = 0 as well
  EXPECT_EQ(s.kthvalue(1).first.item<float>(), 2.5f);
  EXPECT_EQ(s.median().item<float>(), 2.5f);
  EXPECT_EQ(s.median(0).second.item<int64_t>(), 0);
  EXPECT_EQ(s.mode().first.item<float>(), 2.5f);
  EXPECT_EQ(s.msort().item<float>(), 2.5f);
  auto [u, inv, counts] = s.unique(true, true, true);
  EXPECT_THAT(u.shape(), ElementsAre(1));
  EXPECT_EQ(inv.dim(), 0);
  EXPECT_THAT(counts.to_vector<int64_t>(), ElementsAre(1));

  Tensor e = zeros({0, 3}, {DType::kFloat32, device_});
  EXPECT_THAT(e.sort(0).first.shape(), ElementsAre(0, 3));
  EXPECT_THAT(e.argsort(1).shape(), ElementsAre(0, 3));
  EXPECT_THAT(e.topk(2).first.shape(), ElementsAre(0, 2));
  EXPECT_THAT(e.kthvalue(3, 1).first.shape(), ElementsAre(0));
  EXPECT_THAT(e.median(1, true).second.shape(), ElementsAre(0, 1));
  EXPECT_THAT(e.mode(1).first.shape(), ElementsAre(0));
  EXPECT_TRUE(std::isnan(e.nanmedian().item<float>()));  // PyTorch: NaN for no elements
  auto [eu, einv, ecounts] = e.unique(true, true, true);
  EXPECT_THAT(eu.shape(), ElementsAre(0));
  EXPECT_THAT(einv.shape(), ElementsAre(0, 3));
  EXPECT_THAT(ecounts.shape(), ElementsAre(0));
  auto [du, dinv, dcounts] = e.unique(true, true, true, 0);
  EXPECT_THAT(du.shape(), ElementsAre(0, 3));
  EXPECT_THAT(dinv.shape(), ElementsAre(0));
  auto [cu, cinv, ccounts] = e.unique_consecutive(true, true);
  EXPECT_THAT(cinv.shape(), ElementsAre(0, 3));
}

TD_DEVICE_TEST(SortTest, SelectionsWithNaN) {
  Tensor x = make64({1, kNaN, 3, kNaN, 2}, {5});
  auto [tv, ti] = x.topk(2);
  EXPECT_TRUE(same_values(tv.to_vector<double>(), {kNaN, kNaN}));
  EXPECT_THAT(ti.to_vector<int64_t>(), ElementsAre(1, 3));
  EXPECT_THAT(x.topk(2, -1, false).second.to_vector<int64_t>(), ElementsAre(0, 4));
  EXPECT_TRUE(std::isnan(x.kthvalue(4).first.item<double>()));
  EXPECT_EQ(x.kthvalue(3).second.item<int64_t>(), 2);
  // median: NaN when a slice has one, with the index of its first NaN; nanmedian: the lower median of the
  // rest.
  EXPECT_TRUE(std::isnan(x.median().item<double>()));
  EXPECT_EQ(x.median(0).second.item<int64_t>(), 1);
  EXPECT_EQ(x.nanmedian().item<double>(), 2);
  EXPECT_EQ(x.nanmedian(0).second.item<int64_t>(), 4);
  Tensor rows = make64({kNaN, kNaN, kNaN, 4, kNaN, 1}, {2, 3});
  auto [nv, ni] = rows.nanmedian(1);
  EXPECT_TRUE(same_values(nv.to_vector<double>(), {kNaN, 1}));
  EXPECT_THAT(ni.to_vector<int64_t>(), ElementsAre(0, 5 - 3));
  // mode: each NaN is a value of its own; the smallest most frequent value wins, at its last index.
  auto [mv, mi] = make64({2, 1, 2, 1, 3, kNaN, kNaN}, {7}).mode();
  EXPECT_EQ(mv.item<double>(), 1);
  EXPECT_EQ(mi.item<int64_t>(), 3);
  // unique: NaNs are all distinct, after the numbers.
  auto [u, inv, counts] = make64({3, kNaN, 1, kNaN, 3, 2}, {6}).unique(true, true, true);
  EXPECT_TRUE(same_values(u.to_vector<double>(), {1, 2, 3, kNaN, kNaN}));
  EXPECT_THAT(inv.to_vector<int64_t>(), ElementsAre(2, 3, 0, 4, 2, 1));
  EXPECT_THAT(counts.to_vector<int64_t>(), ElementsAre(1, 1, 2, 1, 1));
}

TD_DEVICE_TEST(SortTest, SelectionValues) {
  Tensor x = make_t<int64_t>({5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}, {3, 4});
  auto [tv, ti] = x.topk(2, 1);
  EXPECT_THAT(tv.to_vector<int64_t>(), ElementsAre(5, 4, 9, 6, 8, 5));
  EXPECT_THAT(ti.to_vector<int64_t>(), ElementsAre(0, 2, 1, 3, 3, 0));
  EXPECT_THAT(x.kthvalue(2, 0, true).first.shape(), ElementsAre(1, 4));
  EXPECT_THAT(x.kthvalue(2, 0).first.to_vector<int64_t>(), ElementsAre(5, 3, 4, 6));
  EXPECT_THAT(x.median(1).first.to_vector<int64_t>(), ElementsAre(1, 5, 5));  // lower medians
  EXPECT_EQ(x.median().item<int64_t>(), 5);
  auto [mv, mi] = x.mode(1);
  EXPECT_THAT(mv.to_vector<int64_t>(), ElementsAre(1, 2, 5));
  EXPECT_THAT(mi.to_vector<int64_t>(), ElementsAre(3, 2, 2));
  // unique's optional outputs are empty unless asked for.
  auto [u, inv, counts] = x.unique();
  EXPECT_THAT(u.to_vector<int64_t>(), ElementsAre(1, 2, 3, 4, 5, 6, 8, 9));
  EXPECT_THAT(inv.shape(), ElementsAre(0));
  EXPECT_THAT(counts.shape(), ElementsAre(0));
  auto [cu, cinv, ccounts] = x.unique_consecutive(false, true);
  EXPECT_THAT(cu.to_vector<int64_t>(), ElementsAre(5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8));
  EXPECT_THAT(cinv.shape(), ElementsAre(0));
  EXPECT_EQ(ccounts.numel(), 12);
  // unique slices: rows in lexicographic order.
  Tensor r = make_t<int64_t>({2, 1, 0, 5, 2, 1, 0, 3, 2, 0}, {5, 2});
  auto [ru, rinv, rcounts] = r.unique(true, true, true, 0);
  EXPECT_THAT(ru.to_vector<int64_t>(), ElementsAre(0, 3, 0, 5, 2, 0, 2, 1));
  EXPECT_THAT(rinv.to_vector<int64_t>(), ElementsAre(3, 1, 3, 0, 2));
  EXPECT_THAT(rcounts.to_vector<int64_t>(), ElementsAre(1, 1, 1, 2));
}

TD_DEVICE_TEST(SortTest, GradientsGoToTheSelectedElements) {
  // sort's gradient is the inverse permutation of the output gradient: d values[j] / d x[indices[j]] = 1.
  Tensor x = make64({3, 1, 2}, {3}).requires_grad_();
  auto [v, i] = x.sort();
  v.mul(make64({10, 20, 30}, {3})).sum().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(30, 10, 20));
  // median over all elements shares the gradient among the elements equal to it: 2 appears three times.
  Tensor y = make64({1, 2, 2, 3, 2}, {5}).requires_grad_();
  y.median().backward();
  EXPECT_THAT(y.grad().to_vector<double>(), ElementsAre(0, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3));
  // A NaN median sends it to the NaNs; nanmedian to the median of the rest.
  Tensor z = make64({1, kNaN, 2, kNaN}, {4}).requires_grad_();
  z.median().backward();
  EXPECT_THAT(z.grad().to_vector<double>(), ElementsAre(0, 0.5, 0, 0.5));
  Tensor w = make64({1, kNaN, 2, kNaN}, {4}).requires_grad_();
  w.nanmedian().backward();
  EXPECT_THAT(w.grad().to_vector<double>(), ElementsAre(1, 0, 0, 0));
}

TD_DEVICE_TEST(SortTest, Gradcheck) {
  Tensor x = distinct_leaf({3, 5});
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"sort", [](const Inputs& t) { return t[0].sort(1).first; }},
      {"sort_descending_dim0_transposed", [](const Inputs& t) { return t[0].t().sort(0, true).first; }},
      {"msort", [](const Inputs& t) { return t[0].msort(); }},
      {"topk", [](const Inputs& t) { return t[0].topk(2, 1).first; }},
      {"topk_smallest_dim0", [](const Inputs& t) { return t[0].topk(2, 0, false).first; }},
      {"kthvalue", [](const Inputs& t) { return t[0].kthvalue(3, 1).first; }},
      {"kthvalue_keepdim", [](const Inputs& t) { return t[0].kthvalue(2, 0, true).first; }},
      {"median", [](const Inputs& t) { return t[0].median(); }},
      {"median_dim", [](const Inputs& t) { return t[0].median(0).first; }},
      {"nanmedian", [](const Inputs& t) { return t[0].nanmedian(); }},
      {"nanmedian_dim_keepdim", [](const Inputs& t) { return t[0].nanmedian(1, true).first; }},
      {"mode", [](const Inputs& t) { return t[0].mode(1).first; }},
      {"sort_0dim", [](const Inputs& t) { return t[0].sum().sort().first; }},
  };
  for (auto& [name, fn] : fns) {
    auto r = autograd::gradcheck(fn, {x});
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {x});
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  }
}

TD_DEVICE_TEST(SortTest, KOutOfRange) {
  Tensor x = make({1, 2, 3, 4, 5}, {5});
  for (int64_t k : {6, -1}) {
    Error e = error_of([&] { (void)x.topk(k); });
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
    EXPECT_STREQ(e.what(),
                 str("[topk] selected index k out of range (k = ", k, ", dim 0 of [5] has size 5)").c_str());
  }
  for (int64_t k : {0, 6}) {
    Error e = error_of([&] { (void)x.kthvalue(k); });
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
    EXPECT_STREQ(
        e.what(),
        str("[kthvalue] kthvalue(): selected number k out of range for dimension 0 (k = ", k, ", size 5)")
            .c_str());
  }
  Error e = error_of([&] { (void)make({1}, {}).topk(2); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
}

TD_DEVICE_TEST(SortTest, BadDims) {
  Tensor x = zeros({2, 3}, {DType::kFloat32, device_});
  Error e = error_of([&] { (void)x.sort(2); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[sort] Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  EXPECT_EQ(error_of([&] { (void)x.argsort(-3); }).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(error_of([&] { (void)x.topk(1, 5); }).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(error_of([&] { (void)x.kthvalue(1, -3); }).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(error_of([&] { (void)x.median(2); }).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(error_of([&] { (void)x.mode(7); }).code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(error_of([&] { (void)x.unique(true, false, false, 2); }).code(), ErrorCode::kOutOfRange);
  e = error_of([&] { (void)make({1}, {}).unique(true, false, false, 0); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_STREQ(e.what(), "[unique] Dimension specified as 0 but tensor has no dimensions");
}

TD_DEVICE_TEST(SortTest, EmptyReductions) {
  Tensor x = zeros({2, 0}, {DType::kFloat32, device_});
  Error e = error_of([&] { (void)x.median(1); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[median] median(): Expected reduction dim 1 to have non-zero size.");
  e = error_of([&] { (void)x.median(); });
  EXPECT_STREQ(e.what(), "[median] median(): Expected reduction dim 0 to have non-zero size.");
  EXPECT_THAT(error_of([&] { (void)x.mode(1); }).what(), HasSubstr("mode(): Expected reduction dim 1"));
  EXPECT_THAT(error_of([&] { (void)x.kthvalue(1, 1); }).what(),
              HasSubstr("kthvalue(): Expected reduction dim 1"));
  EXPECT_THAT(error_of([&] { (void)x.nanmedian(1); }).what(),
              HasSubstr("nanmedian(): Expected reduction dim 1"));
  e = error_of([&] { (void)x.unique(true, false, false, 0); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("[unique] There are 0 sized dimensions, and they aren't selected"));
}

TD_DEVICE_TEST(SortTest, UnsupportedDtypes) {
  Tensor b = tensor_bool({true, false}, {2}, device_);
  Error e = error_of([&] { (void)b.topk(1); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[topk] \"topk\" not implemented for 'Bool'");
  EXPECT_THAT(error_of([&] { (void)b.kthvalue(1); }).what(), HasSubstr("not implemented for 'Bool'"));
  EXPECT_THAT(error_of([&] { (void)b.median(); }).what(), HasSubstr("not implemented for 'Bool'"));
  // Complex numbers have no order: refused as PyTorch refuses them, naming the op and the dtype.
  Tensor h = empty({3}, {DType::kComplex64, device_});
  e = error_of([&] { (void)h.sort(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[sort] \"sort\" not implemented for 'ComplexFloat'");
}

TD_INSTANTIATE_DEVICES(SortTest);

}  // namespace
}  // namespace td
