// Reductions beyond sum: NaN and tie rules, zero handling in prod, dtype rules, error paths, and first and
// second derivatives by finite differences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

class ReduceTest : public testing::DeviceTest {
 protected:
  /// A float64 leaf with distinct values (no ties, no zeros) in a fixed pseudo-random order.
  Tensor distinct(std::vector<int64_t> shape) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    // k * 0.37 for a permutation k of 0..n-1 (5 is coprime to the sizes used), centred, never zero.
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] = static_cast<double>((i * 5) % v.size()) * 0.37 - 0.37 * static_cast<double>(v.size()) / 2 + 0.13;
    }
    return make64(v, std::move(shape)).requires_grad_();
  }
};

TD_DEVICE_TEST(ReduceTest, NanPropagatesThroughMaxAndArgmax) {
  Tensor x = make64({1, kNaN, 3, kNaN}, {4});
  EXPECT_TRUE(std::isnan(x.max().item<double>()));
  EXPECT_TRUE(std::isnan(x.amin().item<double>()));
  auto [values, indices] = x.max(0);
  EXPECT_TRUE(std::isnan(values.item<double>()));
  EXPECT_EQ(indices.item<int64_t>(), 1);  // the first NaN
  EXPECT_EQ(x.argmin().item<int64_t>(), 1);
  EXPECT_EQ(make64({2, 5, 5, 1}, {4}).argmax().item<int64_t>(), 1);  // the first of tied maxima
}

// Rows long enough for CUDA's block-per-row arg reduction and scan (CUB's BlockScan over tiles), with ties,
// NaNs and strided rows: every value here is exact, so any device must match it exactly.
TD_DEVICE_TEST(ReduceTest, LongRowsArgReduceAndScan) {
  constexpr int64_t kN = 5000;
  std::vector<double> v(2 * kN, 1.0);
  v[300] = v[4000] = 7;                 // row 0: tied maxima, the first wins
  v[kN + 4500] = v[kN + 2000] = kNaN;   // row 1: NaNs, the first wins for both argmax and argmin
  v[kN + 10] = -3;
  for (DType dt : {DType::kFloat64, DType::kFloat32, DType::kFloat16}) {
    Tensor x = make64(v, {2, kN}).to(dt);
    EXPECT_THAT(x.argmax(1).to_vector<int64_t>(), ElementsAre(300, 2000)) << dtype_name(dt);
    EXPECT_THAT(x.argmin(1).to_vector<int64_t>(), ElementsAre(0, 2000)) << dtype_name(dt);
    // The same rows as columns of a transposed view: the reduced dim is strided.
    Tensor xt = x.t().contiguous().t();
    auto [values, indices] = xt.max(1);
    EXPECT_THAT(indices.to_vector<int64_t>(), ElementsAre(300, 2000)) << dtype_name(dt);
    EXPECT_EQ(values.to_vector<double>()[0], 7.0) << dtype_name(dt);
    EXPECT_TRUE(std::isnan(values.to_vector<double>()[1])) << dtype_name(dt);
  }
  // Running sums and products: integers, and floats whose partial results are all exact.
  Tensor ones = tensor<int64_t>(std::vector<int64_t>(3 * kN, 1), {3, kN}, device_);
  std::vector<int64_t> sums = ones.cumsum(1).to_vector<int64_t>();
  for (int64_t i = 0; i < 3 * kN; ++i) ASSERT_EQ(sums[static_cast<size_t>(i)], i % kN + 1) << i;
  std::vector<double> signs(kN);
  for (int64_t i = 0; i < kN; ++i) signs[static_cast<size_t>(i)] = i % 7 == 3 ? -1.0 : 1.0;
  Tensor s = make64(signs, {kN, 1}).expand({kN, 2}).t();  // two equal rows: strides (0, 1)
  std::vector<double> prods = s.cumprod(1).to_vector<double>(), halves = s.mul(0.5).cumsum(1).to_vector<double>();
  double p = 1, h = 0;
  for (int64_t i = 0; i < kN; ++i) {
    p *= signs[static_cast<size_t>(i)];
    h += 0.5 * signs[static_cast<size_t>(i)];
    ASSERT_EQ(prods[static_cast<size_t>(i)], p) << i;
    ASSERT_EQ(prods[static_cast<size_t>(kN + i)], p) << i;
    ASSERT_EQ(halves[static_cast<size_t>(kN + i)], h) << i;
  }
  // One long row: a whole-tensor argmax (slices over many blocks on CUDA) and a 1-d cumsum (a device-wide
  // scan there).
  constexpr int64_t kLong = int64_t{1} << 17;
  std::vector<double> w(kLong, 0.25);
  w[99999] = w[120000] = 3;
  EXPECT_EQ(make64(w, {kLong}).argmax().item<int64_t>(), 99999);
  EXPECT_EQ(make64(w, {kLong}).argmin().item<int64_t>(), 0);
  std::vector<double> running = make64(w, {kLong}).cumsum(0).to_vector<double>();
  std::vector<int64_t> counts = tensor<int64_t>(std::vector<int64_t>(kLong, 2), {kLong}, device_).cumsum(0)
                                    .to_vector<int64_t>();
  double acc = 0;
  for (int64_t i = 0; i < kLong; ++i) {
    acc += w[static_cast<size_t>(i)];
    ASSERT_EQ(running[static_cast<size_t>(i)], acc) << i;
    ASSERT_EQ(counts[static_cast<size_t>(i)], 2 * (i + 1)) << i;
  }
}

TD_DEVICE_TEST(ReduceTest, DtypeRules) {
  Tensor i32 = tensor<int32_t>({1, 2, 3}, {3}, device_);
  EXPECT_EQ(i32.prod().dtype(), DType::kInt64);
  EXPECT_EQ(i32.prod().item<int64_t>(), 6);
  EXPECT_EQ(i32.cumsum(0).dtype(), DType::kInt64);
  EXPECT_EQ(i32.max().dtype(), DType::kInt32);
  EXPECT_EQ(i32.argmax().dtype(), DType::kInt64);
  EXPECT_EQ(make({1, 0}, {2}).all().dtype(), DType::kBool);
  EXPECT_EQ(tensor<uint8_t>({1, 2}, {2}, device_).all().dtype(), DType::kUInt8);  // PyTorch keeps uint8
  EXPECT_FALSE(make({1, 0}, {2}).all().item<bool>());
  EXPECT_TRUE(make({1, 0}, {2}).any().item<bool>());
  EXPECT_THAT(tensor_bool({true, true, false}, {3}, device_).cumsum(0).to_vector<int64_t>(), ElementsAre(1, 2, 2));
}

// torch.all/any over no elements: True and False, with PyTorch's shapes (found by the command fuzzer, through
// torch.equal on empty tensors).
TD_DEVICE_TEST(ReduceTest, AllAndAnyOverNothing) {
  const Tensor none = zeros({0, 3}, {DType::kFloat32, device_});
  EXPECT_TRUE(none.all().item<bool>());
  EXPECT_FALSE(none.any().item<bool>());
  EXPECT_THAT(none.all(0).to_vector<int64_t>(), ElementsAre(1, 1, 1));
  EXPECT_THAT(none.any(0, true).shape(), ElementsAre(1, 3));
  EXPECT_THAT(none.any(1).shape(), ElementsAre(0));
  EXPECT_EQ(zeros({0}, {DType::kUInt8, device_}).all().dtype(), DType::kUInt8);
  EXPECT_TRUE(none.equal(zeros({0, 3}, {DType::kFloat32, device_})).item<bool>());
}

TD_DEVICE_TEST(ReduceTest, NormsOfEveryOrder) {
  Tensor x = make64({3, -4, 0}, {3});
  EXPECT_DOUBLE_EQ(x.norm().item<double>(), 5);
  EXPECT_DOUBLE_EQ(x.norm(1).item<double>(), 7);
  EXPECT_DOUBLE_EQ(x.norm(kInf).item<double>(), 4);
  EXPECT_DOUBLE_EQ(x.norm(-kInf).item<double>(), 0);
  EXPECT_DOUBLE_EQ(x.norm(0).item<double>(), 2);  // non-zeros
  EXPECT_DOUBLE_EQ(make64({kInf, 0, kNaN}, {3}).norm(0).item<double>(), 2);  // inf and NaN are non-zero too
  EXPECT_NEAR(x.norm(3).item<double>(), std::cbrt(27.0 + 64.0), 1e-12);
}

TD_DEVICE_TEST(ReduceTest, ProdGradientWithZeros) {
  // prod = 0 with one zero: only the zero gets a gradient, the product of the others (2 * 3 = 6).
  Tensor x = make64({2, 0, 3}, {3}).requires_grad_();
  x.prod().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(0, 6, 0));
  // Two zeros: every partial product still holds a zero.
  Tensor y = make64({0, 2, 0}, {3}).requires_grad_();
  y.prod().backward();
  EXPECT_THAT(y.grad().to_vector<double>(), ElementsAre(0, 0, 0));
}

TD_DEVICE_TEST(ReduceTest, SoftmaxIsStableAndSumsToOne) {
  Tensor x = make64({1000, 1001, 999, -kInf}, {1, 4});
  std::vector<double> p = x.softmax(1).to_vector<double>();
  EXPECT_NEAR(p[0] + p[1] + p[2] + p[3], 1.0, 1e-15);
  EXPECT_EQ(p[3], 0);
  EXPECT_NEAR(x.log_softmax(1).to_vector<double>()[1], -std::log(1 + std::exp(-1.0) + std::exp(-2.0)), 1e-12);
  EXPECT_EQ(make64({-kInf, -kInf}, {2}).logsumexp({0}).item<double>(), -kInf);
}

// The fused kernel against the composite it replaced, exp(x - max) / sum(exp(x - max)) in float64, over rows
// shorter and longer than a vector, tails, dims that are not innermost (with more than one block of columns)
// and every floating dtype (float16/bfloat16 compute in float and round once).
TD_DEVICE_TEST(ReduceTest, FusedSoftmaxMatchesTheComposite) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t dim;
  };
  const std::vector<Case> cases = {{{3, 1}, 1},       {{2, 7}, 1},    {{4, 8}, -1},     {{3, 19}, 1},
                                   {{2, 1030}, 1},    {{5, 6, 7}, 1}, {{3, 4, 130}, 1}, {{9, 70}, 0},
                                   {{2, 3, 4, 5}, 2}, {{6}, 0},       {{}, 0}};
  for (const Case& c : cases) {
    int64_t n = 1;
    for (int64_t s : c.shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 37) % 101) * 0.21 - 10.0;
    Tensor x = make64(v, c.shape);
    int64_t d = c.shape.empty()
                    ? 0
                    : (c.dim + static_cast<int64_t>(c.shape.size())) % static_cast<int64_t>(c.shape.size());
    Tensor z = c.shape.empty() ? x.sub(x) : x.sub(x.amax({d}, true));
    Tensor ref = c.shape.empty() ? z.exp() : z.exp().div(z.exp().sum({d}, true));
    Tensor ref_log = c.shape.empty() ? z : z.sub(z.exp().sum({d}, true).log());
    for (DType dt : {DType::kFloat64, DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
      SCOPED_TRACE(::testing::Message() << "shape " << ::testing::PrintToString(c.shape) << " dim " << c.dim
                                        << " " << dtype_name(dt));
      const double tol = dt == DType::kFloat64   ? 1e-13
                         : dt == DType::kFloat32 ? 2e-6
                         : dt == DType::kFloat16 ? 1e-3
                                                 : 8e-3;
      Tensor xd = x.to(dt);
      Tensor y = xd.softmax(c.dim), ly = xd.log_softmax(c.dim);
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_EQ(y.shape(), c.shape);
      // float16/bfloat16 inputs are rounded first: compare with the composite of the rounded input.
      Tensor xr = xd.to(DType::kFloat64);
      Tensor zr = c.shape.empty() ? xr.sub(xr) : xr.sub(xr.amax({d}, true));
      Tensor r = c.shape.empty() ? zr.exp() : zr.exp().div(zr.exp().sum({d}, true));
      Tensor rl = c.shape.empty() ? zr : zr.sub(zr.exp().sum({d}, true).log());
      auto yv = y.to_vector<double>(), rv = r.to_vector<double>(), lv = ly.to_vector<double>(),
           rlv = rl.to_vector<double>();
      for (size_t i = 0; i < yv.size(); ++i) {
        ASSERT_NEAR(yv[i], rv[i], tol * (1 + std::abs(rv[i]))) << "softmax at " << i;
        ASSERT_NEAR(lv[i], rlv[i], tol * (1 + std::abs(rlv[i]))) << "log_softmax at " << i;
      }
    }
    EXPECT_THAT(x.softmax(c.dim).to_vector<double>(),
                ::testing::Pointwise(::testing::DoubleNear(1e-13), ref.to_vector<double>()));
    EXPECT_THAT(x.log_softmax(c.dim).to_vector<double>(),
                ::testing::Pointwise(::testing::DoubleNear(1e-12), ref_log.to_vector<double>()));
  }
  // NaN anywhere in a row makes the whole row NaN; -inf gives 0 (log: -inf); a row of -inf is NaN (PyTorch).
  Tensor s = make64({kNaN, 1, 2, -kInf, 0, 0, -kInf, -kInf, -kInf}, {3, 3});
  auto p = s.softmax(1).to_vector<double>(), lp = s.log_softmax(1).to_vector<double>();
  for (int i : {0, 1, 2, 6, 7, 8}) EXPECT_TRUE(std::isnan(p[i]) && std::isnan(lp[i])) << i;
  EXPECT_EQ(p[3], 0);
  EXPECT_EQ(p[4], 0.5);
  EXPECT_EQ(lp[3], -kInf);
  Tensor st = s.t().contiguous();  // the same rows as columns: the non-innermost path
  auto q = st.softmax(0).t().contiguous().to_vector<double>();
  for (int i : {0, 1, 2, 6, 7, 8}) EXPECT_TRUE(std::isnan(q[i])) << i;
  EXPECT_EQ(q[3], 0);
  EXPECT_EQ(q[4], 0.5);
  // softmax(x, dtype=float64) of a float32 input, and its gradient back in float32.
  Tensor f = make({1, 2, 3}, {3}).requires_grad_();
  Tensor y = f.softmax(0, DType::kFloat64);
  EXPECT_EQ(y.dtype(), DType::kFloat64);
  y.select(0, 2).backward();
  EXPECT_EQ(f.grad().dtype(), DType::kFloat32);
}

// float32 sums accumulate 16-element pairwise sums in float32, then in double: on 16M elements the result
// must be the float64 sum of the same floats correctly rounded (within half a float ulp). PyTorch 1.13's
// cascade sum lands within half an ulp on these three inputs (1.8e-8, 6.3e-10 and 1.6e-8 relative); a plain
// running float sum would be off by ~1e-3.
TD_DEVICE_TEST(ReduceTest, Float32SumOf16MElementsIsAccurate) {
  const int64_t n = int64_t{1} << 24;
  for (int which = 0; which < 3; ++which) {
    std::vector<float> v(static_cast<size_t>(n));
    double ref = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double u =
          static_cast<double>((static_cast<uint64_t>(i) * 2654435761u) % (uint64_t{1} << 32)) / 4294967296.0;
      const float f = static_cast<float>(which == 0 ? u : which == 1 ? u - 0.5 + 1e-3 : u * 1000 + 1);
      v[static_cast<size_t>(i)] = f;
      ref += f;
    }
    const float ref_f = static_cast<float>(ref);
    const double ulp = std::nextafter(ref_f, std::numeric_limits<float>::infinity()) - ref_f;
    Tensor t = make(v, {n});
    EXPECT_LE(std::abs(t.sum().item<double>() - ref), ulp / 2) << "input " << which << ", reference " << ref;
    // also as 4096 rows of 4096 (one sum per row, then their sum)
    EXPECT_LE(std::abs(t.reshape({4096, 4096}).sum({1}).sum().item<double>() - ref), 2 * ulp)
        << "rows, input " << which;
  }
}

// Row reductions over contiguous rows: one long row cut into slices (CUDA folds ~1024 of them in a second
// pass), rows of whole 16-byte packs, rows whose starts miss that alignment, a view one element into its
// buffer, and a row of three. The values are small integers, so every partial sum is exact in every dtype here
// and the results must equal the double sums.
TD_DEVICE_TEST(ReduceTest, ContiguousRowsAndSlicesOfRows) {
  const std::vector<std::pair<std::vector<int64_t>, int64_t>> cases = {
      {{1000003}, 0}, {{4, 40000}, 0}, {{3, 10007}, 0}, {{2, 65536}, 1}, {{3}, 0}};
  for (const auto& [sizes, offset] : cases) {
    const int64_t n = sizes.size() == 1 ? sizes[0] : sizes[0] * sizes[1], cols = sizes.back();
    std::vector<double> v(static_cast<size_t>(n + offset));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 2654435761u) % 7) - 3;
    std::vector<double> row_sums(static_cast<size_t>(n / cols), 0);
    double total = 0, hi = -kInf, lo = kInf;
    for (int64_t i = 0; i < n; ++i) {
      const double x = v[static_cast<size_t>(i + offset)];
      row_sums[static_cast<size_t>(i / cols)] += x;
      total += x;
      hi = std::max(hi, x);
      lo = std::min(lo, x);
    }
    for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64}) {
      SCOPED_TRACE(shape_str(sizes) + " offset " + std::to_string(offset) + " " + std::string(dtype_name(dtype)));
      const Tensor t = make64(v, {n + offset}).to(dtype).narrow(0, offset, n).view(sizes);
      EXPECT_EQ(t.sum().item<double>(), total);
      EXPECT_EQ(t.amax().item<double>(), hi);
      EXPECT_EQ(t.amin().item<double>(), lo);
      EXPECT_EQ(t.sum({-1}).to(DType::kFloat64).to_vector<double>(), row_sums);
    }
  }
}

// Sums over an outer dim ([n, K] -> [K], a bias's gradient; the CPU adds whole rows into K accumulators): each
// output within half an ulp of the double sum of its column, for K within and past one block of columns, in
// float32 and float64, and through a kept dim that is not the innermost (which takes the strided fold).
TD_DEVICE_TEST(ReduceTest, SumsOverOuterDimsAreAccurate) {
  for (const auto& [n, k] : {std::pair<int64_t, int64_t>{700, 9}, {300, 1030}, {3, 2500}}) {
    std::vector<double> v(static_cast<size_t>(n * k));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 2654435761u) % 1000003) / 1000003.0 - 0.3;
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      const Tensor t = make64(v, {n, k}).to(dtype);
      const std::vector<double> exact = t.to(DType::kFloat64).to_vector<double>();
      const std::vector<double> sums = t.sum({0}).to_vector<double>();
      const std::vector<double> cols = t.t().contiguous().t().sum({0}).to_vector<double>();
      ASSERT_EQ(sums.size(), static_cast<size_t>(k));
      for (int64_t j = 0; j < k; ++j) {
        double ref = 0;
        for (int64_t r = 0; r < n; ++r) ref += exact[static_cast<size_t>(r * k + j)];
        const double tol = dtype == DType::kFloat32 ? std::abs(ref) * 6e-8 + 1e-6 : std::abs(ref) * 1e-15 + 1e-12;
        EXPECT_NEAR(sums[static_cast<size_t>(j)], ref, tol) << n << "x" << k << " " << dtype_name(dtype) << " col " << j;
        // The strided fold's lanes round float32 partial sums: within an ulp.
        EXPECT_NEAR(cols[static_cast<size_t>(j)], ref, 2 * tol) << "column-major, col " << j;
      }
    }
  }
}

TD_DEVICE_TEST(ReduceTest, Errors) {
  Tensor empty64 = zeros({0}, {DType::kFloat64, device_});
  EXPECT_STREQ(error_of([&] { (void)empty64.max(); }).what(),
               "[max] max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim "
               "with the 'dim' argument.");
  EXPECT_STREQ(error_of([&] { (void)zeros({2, 0}, {DType::kFloat64, device_}).max(1); }).what(),
               "[max] max(): Expected reduction dim 1 to have non-zero size.");
  Error e = error_of([&] { (void)tensor<int64_t>({1, 2}, {2}, device_).var(); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("std and var only support floating point"));
  EXPECT_THAT(error_of([&] { (void)tensor<int64_t>({1, 2}, {2}, device_).softmax(0); }).what(),
              HasSubstr("not implemented for 'int64'"));
  e = error_of([&] { (void)make({1, 2}, {2}).sum({2}); });
  EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(e.what(), HasSubstr("Dimension out of range"));
  Tensor z = make64({1, 0, 2}, {3}).requires_grad_();
  e = error_of([&] { z.cumprod(0).sum().backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kUnimplemented);
  EXPECT_THAT(e.what(), HasSubstr("[cumprod]"));
}

TD_DEVICE_TEST(ReduceTest, GradcheckEveryReduction) {
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"prod", [](const Inputs& x) { return x[0].prod(); }},
      {"prod.dim", [](const Inputs& x) { return x[0].t().prod(1, true); }},
      {"max", [](const Inputs& x) { return x[0].max(); }},
      {"min.dim", [](const Inputs& x) { return x[0].min(0).first; }},
      {"max.dim keepdim", [](const Inputs& x) { return x[0].t().max(1, true).first; }},
      {"amax", [](const Inputs& x) { return x[0].amax({1}); }},
      {"amin all", [](const Inputs& x) { return x[0].amin(); }},
      {"var", [](const Inputs& x) { return x[0].var(std::vector<int64_t>{1}); }},
      {"var all correction 0", [](const Inputs& x) { return x[0].var(std::nullopt, 0); }},
      {"std", [](const Inputs& x) { return x[0].t().std(std::vector<int64_t>{0}, 1, true); }},
      {"logsumexp", [](const Inputs& x) { return x[0].logsumexp({0}); }},
      {"norm 2", [](const Inputs& x) { return x[0].norm(); }},
      {"norm 3 dim", [](const Inputs& x) { return x[0].norm(3, std::vector<int64_t>{1}); }},
      {"norm 1", [](const Inputs& x) { return x[0].norm(1, std::vector<int64_t>{0}, true); }},
      {"cumsum", [](const Inputs& x) { return x[0].cumsum(1); }},
      {"cumprod", [](const Inputs& x) { return x[0].t().cumprod(0); }},
      {"softmax", [](const Inputs& x) { return x[0].softmax(1); }},
      {"log_softmax", [](const Inputs& x) { return x[0].t().log_softmax(1); }},
      {"mean", [](const Inputs& x) { return x[0].mean({0}, true); }},
  };
  for (auto& [name, fn] : fns) {
    Tensor x = distinct({3, 4});
    auto r = autograd::gradcheck(fn, {x});
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {x});
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  }
}

// softmax/log_softmax are primitives with PyTorch's backward formulas: first and second derivatives along
// dims that are not innermost, on non-contiguous inputs, and on a row longer than the CUDA warp path.
TD_DEVICE_TEST(ReduceTest, GradcheckSoftmaxOnEveryDim) {
  for (bool is_log : {false, true}) {
    for (int64_t dim : {0, 1, 2, -1}) {
      autograd::GradcheckFn fn = [is_log, dim](const Inputs& x) {
        return is_log ? x[0].log_softmax(dim) : x[0].softmax(dim);
      };
      Tensor x = distinct({2, 3, 4});
      auto r = autograd::gradcheck(fn, {x});
      EXPECT_TRUE(r.ok) << is_log << " dim " << dim << ": " << r.message;
      auto rr = autograd::gradgradcheck(fn, {x});
      EXPECT_TRUE(rr.ok) << is_log << " dim " << dim << " (second order): " << rr.message;
      autograd::GradcheckFn permuted = [is_log, dim](const Inputs& x) {
        Tensor p = x[0].permute({2, 0, 1});
        return is_log ? p.log_softmax(dim) : p.softmax(dim);
      };
      auto rp = autograd::gradcheck(permuted, {x});
      EXPECT_TRUE(rp.ok) << is_log << " dim " << dim << " (permuted): " << rp.message;
    }
    std::vector<double> v(1100), w(1100);
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] = static_cast<double>((i * 7) % 1100) * 0.003 - 1.5;
      w[i] = std::cos(static_cast<double>(i));
    }
    Tensor weights = make64(w, {1, 1100});
    autograd::GradcheckFn long_row = [is_log, weights](const Inputs& x) {
      // a weighted sum keeps the Jacobian to one output of a row of 1100 elements
      Tensor y = is_log ? x[0].log_softmax(1) : x[0].softmax(1);
      return y.mul(weights).sum({1});
    };
    Tensor big = make64(v, {1, 1100}).requires_grad_();
    auto r = autograd::gradcheck(long_row, {big});
    EXPECT_TRUE(r.ok) << is_log << " long row: " << r.message;
  }
}

TD_INSTANTIATE_DEVICES(ReduceTest);

}  // namespace
}  // namespace td
