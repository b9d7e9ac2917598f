// td::random's samplers: statistics of every sampler (fixed seeds, bounds of six standard errors computed
// from the sample size), autograd behaviour, the ops by name, and every error with code and message. Philox,
// the stream layout, seeding, state and equal values on every device are generator_test.cpp's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/registry.h"
#include "core/random/generator.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using random::Generator;
using random::GeneratorState;
using ::testing::ElementsAre;
using testing::error_of;

// ---- helpers ----

struct Moments {
  double mean = 0, var = 0;
};
Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size() - 1);
  return m;
}

// Six standard errors of a mean of n draws with standard deviation sd: a false failure has odds ~1e-9.
double six_se(double sd, size_t n) {
  return 6 * sd / std::sqrt(static_cast<double>(n));
}

// Pearson's chi-square of observed counts against expected probabilities.
double chi_square(const std::vector<int64_t>& counts, const std::vector<double>& probs, double n) {
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double e = n * probs[i];
    chi += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
  }
  return chi;
}
// A loose upper bound for a chi-square with `dof` degrees of freedom: mean + 6 standard deviations.
double chi_bound(int dof) {
  return dof + 6 * std::sqrt(2.0 * dof);
}

// ---- statistics (fixed seeds; bounds from the sample size) ----

TEST(RandomTest, RandIsUniformOnZeroOne) {
  constexpr size_t kN = 100000;
  Generator gen(11);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    auto v = random::rand({static_cast<int64_t>(kN)}, gen, {dtype}).to_vector<double>();
    EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0);
    EXPECT_LT(*std::max_element(v.begin(), v.end()), 1.0);
    Moments m = moments(v);
    // U(0,1): mean 1/2, variance 1/12; (U - 1/2)^2 has variance 1/80 - 1/144.
    EXPECT_NEAR(m.mean, 0.5, six_se(std::sqrt(1.0 / 12), kN)) << dtype_name(dtype);
    EXPECT_NEAR(m.var, 1.0 / 12, six_se(std::sqrt(1.0 / 80 - 1.0 / 144), kN)) << dtype_name(dtype);
    std::vector<int64_t> bins(10);
    for (double x : v) ++bins[static_cast<size_t>(x * 10)];
    EXPECT_LT(chi_square(bins, std::vector<double>(10, 0.1), kN), chi_bound(9)) << dtype_name(dtype);
  }
}

TEST(RandomTest, RandnIsStandardNormal) {
  constexpr size_t kN = 100000;
  Generator gen(12);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    auto v = random::randn({static_cast<int64_t>(kN)}, gen, {dtype}).to_vector<double>();
    Moments m = moments(v);
    EXPECT_NEAR(m.mean, 0, six_se(1, kN));
    EXPECT_NEAR(m.var, 1, six_se(std::sqrt(2.0), kN));  // Var[(Z)^2] = 2
    // The shape, not just two moments: P(|Z| < 1) = 0.682689, P(|Z| < 2) = 0.954500.
    double in1 = 0, in2 = 0;
    for (double x : v) {
      in1 += std::fabs(x) < 1;
      in2 += std::fabs(x) < 2;
    }
    EXPECT_NEAR(in1 / kN, 0.682689, six_se(std::sqrt(0.682689 * 0.317311), kN));
    EXPECT_NEAR(in2 / kN, 0.954500, six_se(std::sqrt(0.9545 * 0.0455), kN));
    // Box-Muller's two halves (elements 2k and 2k + 1) are independent: their product has mean 0 and
    // variance 1, and the squares of a pair sum to an Exponential(1/2), P(z0^2 + z1^2 < 2) = 1 - 1/e.
    double prod = 0, inside = 0;
    for (size_t k = 0; k + 1 < kN; k += 2) {
      prod += v[k] * v[k + 1];
      inside += v[k] * v[k] + v[k + 1] * v[k + 1] < 2;
    }
    constexpr size_t kPairs = kN / 2;
    const double p = 1 - std::exp(-1.0);
    EXPECT_NEAR(prod / kPairs, 0, six_se(1, kPairs));
    EXPECT_NEAR(inside / kPairs, p, six_se(std::sqrt(p * (1 - p)), kPairs));
  }
}

TEST(RandomTest, NormalUsesMeanAndStd) {
  constexpr int64_t kN = 50000;
  Generator gen(13);
  // mean [2] and std [n, 2] broadcast to [n, 2]; column 0 is N(-5, 0.5^2), column 1 N(10, 2^2).
  std::vector<double> sds(2 * kN);
  for (int64_t i = 0; i < kN; ++i) sds[2 * i] = 0.5, sds[2 * i + 1] = 2;
  Tensor out = random::normal(tensor<double>({-5, 10}, {2}), tensor(sds, {kN, 2}), gen);
  EXPECT_EQ(out.dtype(), DType::kFloat64);
  EXPECT_THAT(out.shape(), ElementsAre(kN, 2));
  auto v = out.to_vector<double>();
  std::vector<double> c0, c1;
  for (int64_t i = 0; i < kN; ++i) c0.push_back(v[2 * i]), c1.push_back(v[2 * i + 1]);
  EXPECT_NEAR(moments(c0).mean, -5, six_se(0.5, kN));
  EXPECT_NEAR(moments(c0).var, 0.25, six_se(0.25 * std::sqrt(2.0), kN));
  EXPECT_NEAR(moments(c1).mean, 10, six_se(2, kN));
  EXPECT_NEAR(moments(c1).var, 4, six_se(4 * std::sqrt(2.0), kN));
  // The dtype is mean's; std zero gives the mean exactly; the number forms.
  EXPECT_EQ(random::normal(tensor<float>({1}, {1}), tensor<double>({1}, {1})).dtype(), DType::kFloat32);
  EXPECT_THAT(random::normal(tensor<float>({1.5f, -2}, {2}), 0.0).to_vector<float>(), ElementsAre(1.5f, -2));
  EXPECT_THAT(random::normal(7.0, zeros({3})).to_vector<float>(), ElementsAre(7, 7, 7));
  auto w = random::normal(3.0, 0.5, {kN}, gen, {DType::kFloat64}).to_vector<double>();
  EXPECT_NEAR(moments(w).mean, 3, six_se(0.5, kN));
  EXPECT_NEAR(moments(w).var, 0.25, six_se(0.25 * std::sqrt(2.0), kN));
}

TEST(RandomTest, RandintCoversTheRangeWithoutBias) {
  constexpr size_t kN = 100000;
  Generator gen(14);
  auto v = random::randint(-3, 7, {static_cast<int64_t>(kN)}, gen).to_vector<int64_t>();
  std::vector<int64_t> bins(10);
  for (int64_t x : v) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 7);
    ++bins[static_cast<size_t>(x + 3)];
  }
  for (int64_t b : bins) EXPECT_GT(b, 0);
  EXPECT_LT(chi_square(bins, std::vector<double>(10, 0.1), kN), chi_bound(9));
  // Range r = 2/3 * 2^64: a third of all 64-bit candidates are rejected. Taking 64 bits modulo r instead
  // would put the lower half of the range at probability 2/3; here it is 1/2.
  const int64_t low = std::numeric_limits<int64_t>::min(), high = 0x2AAAAAAAAAAAAAAA;
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  ASSERT_EQ(range, 0xAAAAAAAAAAAAAAAAULL);
  auto big = random::randint(low, high, {20000}, gen).to_vector<int64_t>();
  double lower_half = 0;
  for (int64_t x : big) {
    ASSERT_GE(x, low);
    ASSERT_LT(x, high);
    lower_half += static_cast<uint64_t>(x) - static_cast<uint64_t>(low) < range / 2;
  }
  EXPECT_NEAR(lower_half / big.size(), 0.5, six_se(0.5, big.size()));
  // The whole int64 range, and small dtypes at their limits.
  auto full =
      random::randint(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), {2000}, gen)
          .to_vector<int64_t>();
  EXPECT_GT(std::count_if(full.begin(), full.end(), [](int64_t x) { return x < 0; }), 800);
  EXPECT_GT(std::count_if(full.begin(), full.end(), [](int64_t x) { return x > 0; }), 800);
  Tensor bytes = random::randint(0, 256, {5000}, gen, {DType::kUInt8});
  EXPECT_EQ(bytes.dtype(), DType::kUInt8);
  auto bv = bytes.to_vector<int64_t>();
  EXPECT_EQ(std::set<int64_t>(bv.begin(), bv.end()).size(), 256u);
  Tensor bits = random::randint(0, 2, {1000}, gen, {DType::kBool});
  EXPECT_EQ(bits.dtype(), DType::kBool);
  auto bitv = bits.to_vector<int64_t>();
  EXPECT_EQ(std::set<int64_t>(bitv.begin(), bitv.end()), (std::set<int64_t>{0, 1}));
  auto fv = random::randint(-2, 2, {1000}, gen, {DType::kFloat32}).to_vector<float>();
  EXPECT_EQ(std::set<float>(fv.begin(), fv.end()), (std::set<float>{-2, -1, 0, 1}));
}

TEST(RandomTest, RandpermIsAUniformPermutation) {
  Generator gen(15);
  auto p = random::randperm(1000, gen).to_vector<int64_t>();
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_NE(p, iota);
  std::sort(p.begin(), p.end());
  EXPECT_EQ(p, iota);
  for (DType dtype : {DType::kInt32, DType::kFloat32, DType::kUInt8}) {
    Tensor q = random::randperm(100, gen, {dtype});
    EXPECT_EQ(q.dtype(), dtype);
    auto qv = q.to_vector<int64_t>();
    std::sort(qv.begin(), qv.end());
    EXPECT_EQ(qv, std::vector<int64_t>(iota.begin(), iota.begin() + 100));
  }
  EXPECT_EQ(random::randperm(0, gen).numel(), 0);
  EXPECT_THAT(random::randperm(1, gen).to_vector<int64_t>(), ElementsAre(0));
  EXPECT_EQ(random::randperm(256, gen, {DType::kUInt8}).numel(), 256);  // n - 1 = 255 still fits
  // All 24 orders of 4 elements are equally likely (an off-by-one in Fisher-Yates skews this badly).
  constexpr int kTrials = 24000;
  std::map<std::vector<int64_t>, int64_t> seen;
  for (int t = 0; t < kTrials; ++t) ++seen[random::randperm(4, gen).to_vector<int64_t>()];
  ASSERT_EQ(seen.size(), 24u);
  std::vector<int64_t> counts;
  for (auto& [perm, c] : seen) counts.push_back(c);
  EXPECT_LT(chi_square(counts, std::vector<double>(24, 1.0 / 24), kTrials), chi_bound(23));
}

TEST(RandomTest, MultinomialWithReplacementFollowsTheWeights) {
  constexpr int64_t kN = 100000;
  Generator gen(16);
  // Unnormalised weights; category 2 has none.
  const std::vector<double> w = {1, 2, 0, 3, 4};
  Tensor s = random::multinomial(tensor(w, {5}), kN, true, gen);
  EXPECT_EQ(s.dtype(), DType::kInt64);
  EXPECT_THAT(s.shape(), ElementsAre(kN));
  std::vector<int64_t> counts(5);
  for (int64_t c : s.to_vector<int64_t>()) ++counts[static_cast<size_t>(c)];
  EXPECT_EQ(counts[2], 0);
  for (size_t c = 0; c < 5; ++c) {
    double p = w[c] / 10;
    EXPECT_NEAR(static_cast<double>(counts[c]) / kN, p, six_se(std::sqrt(p * (1 - p)), kN)) << c;
  }
  // Rows are independent distributions: [N, 3] out of [2, 3] weights.
  Tensor rows = random::multinomial(tensor<float>({0, 0, 1, 1, 1, 0}, {2, 3}), 1000, true, gen);
  EXPECT_THAT(rows.shape(), ElementsAre(2, 1000));
  auto rv = rows.to_vector<int64_t>();
  EXPECT_TRUE(std::all_of(rv.begin(), rv.begin() + 1000, [](int64_t c) { return c == 2; }));
  auto second = std::set<int64_t>(rv.begin() + 1000, rv.end());
  EXPECT_EQ(second, (std::set<int64_t>{0, 1}));
}

TEST(RandomTest, MultinomialWithoutReplacementDrawsDistinctCategories) {
  constexpr int64_t kTrials = 20000;
  Generator gen(17);
  const std::vector<double> p = {0.1, 0.2, 0.3, 0.4};
  // kTrials rows of the same weights, all four drawn: every row is a permutation.
  std::vector<double> w;
  for (int64_t t = 0; t < kTrials; ++t) w.insert(w.end(), p.begin(), p.end());
  Tensor s = random::multinomial(tensor(w, {kTrials, 4}), 4, false, gen);
  EXPECT_THAT(s.shape(), ElementsAre(kTrials, 4));
  auto v = s.to_vector<int64_t>();
  std::vector<int64_t> first(4), second(4);
  for (int64_t t = 0; t < kTrials; ++t) {
    std::vector<int64_t> row(v.begin() + 4 * t, v.begin() + 4 * t + 4);
    ++first[static_cast<size_t>(row[0])];
    ++second[static_cast<size_t>(row[1])];
    std::sort(row.begin(), row.end());
    ASSERT_THAT(row, ElementsAre(0, 1, 2, 3)) << t;
  }
  // Sequential draws: P(first = c) = p_c; P(second = c) = sum over a != c of p_a p_c / (1 - p_a).
  for (size_t c = 0; c < 4; ++c) {
    double q = 0;
    for (size_t a = 0; a < 4; ++a) q += a == c ? 0 : p[a] * p[c] / (1 - p[a]);
    EXPECT_NEAR(static_cast<double>(first[c]) / kTrials, p[c], six_se(std::sqrt(p[c] * (1 - p[c])), kTrials))
        << c;
    EXPECT_NEAR(static_cast<double>(second[c]) / kTrials, q, six_se(std::sqrt(q * (1 - q)), kTrials)) << c;
  }
  // Categories without weight come only after the others, lowest index first (as PyTorch returns them).
  EXPECT_THAT(random::multinomial(tensor<float>({1, 0, 0}, {3}), 3, false, gen).to_vector<int64_t>(),
              ElementsAre(0, 1, 2));
  for (int t = 0; t < 50; ++t) {
    auto two = random::multinomial(tensor<float>({0, 5, 0, 1}, {4}), 2, false, gen).to_vector<int64_t>();
    EXPECT_EQ(std::set<int64_t>(two.begin(), two.end()), (std::set<int64_t>{1, 3}));
  }
  EXPECT_THAT(random::multinomial(zeros({0, 3}), 2, false, gen).shape(), ElementsAre(0, 2));
}

TEST(RandomTest, BernoulliMeanIsP) {
  constexpr int64_t kN = 100000;
  Generator gen(18);
  std::vector<float> probs;
  for (int64_t i = 0; i < kN; ++i) probs.insert(probs.end(), {0.0f, 0.3f, 1.0f});
  Tensor b = random::bernoulli(tensor(probs, {kN, 3}), gen);
  EXPECT_EQ(b.dtype(), DType::kFloat32);
  auto v = b.to_vector<float>();
  double s[3] = {0, 0, 0};
  for (int64_t i = 0; i < kN; ++i) {
    for (int k = 0; k < 3; ++k) {
      ASSERT_TRUE(v[3 * i + k] == 0 || v[3 * i + k] == 1);
      s[k] += v[3 * i + k];
    }
  }
  EXPECT_EQ(s[0], 0);
  EXPECT_EQ(s[2], kN);
  EXPECT_NEAR(s[1] / kN, 0.3, six_se(std::sqrt(0.3 * 0.7), kN));
  // A scalar p keeps self's shape and dtype, whatever self holds.
  Tensor ints = random::bernoulli(zeros({kN}, {DType::kInt64}), 0.75, gen);
  EXPECT_EQ(ints.dtype(), DType::kInt64);
  auto iv = ints.to_vector<double>();
  EXPECT_NEAR(moments(iv).mean, 0.75, six_se(std::sqrt(0.75 * 0.25), kN));
  Tensor flags = random::bernoulli(zeros({100}, {DType::kBool}), 1.0, gen);
  EXPECT_EQ(flags.dtype(), DType::kBool);
  auto fv = flags.to_vector<int64_t>();
  EXPECT_TRUE(std::all_of(fv.begin(), fv.end(), [](int64_t x) { return x == 1; }));
}

TEST(RandomTest, ExponentialMeanIsOneOverLambda) {
  constexpr int64_t kN = 100000;
  Generator gen(19);
  Tensor t = empty({kN}, {DType::kFloat64});
  uint32_t before = t.version();
  Tensor same = random::exponential_(t, 2.5, gen);
  EXPECT_TRUE(same.is_same(t));
  EXPECT_EQ(t.version(), before + 1);
  auto v = t.to_vector<double>();
  EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0);
  // Exp(lambda): mean 1/lambda, variance 1/lambda^2, and Var[(X - mean)^2] = 8/lambda^4.
  EXPECT_NEAR(moments(v).mean, 0.4, six_se(0.4, kN));
  EXPECT_NEAR(moments(v).var, 0.16, six_se(std::sqrt(8.0) * 0.16, kN));
  // P(X > 1/lambda) = e^-1.
  double tail = static_cast<double>(std::count_if(v.begin(), v.end(), [](double x) { return x > 0.4; })) / kN;
  EXPECT_NEAR(tail, std::exp(-1.0), six_se(std::sqrt(std::exp(-1.0) * (1 - std::exp(-1.0))), kN));
  EXPECT_THAT(random::exponential_(zeros({2}), 0.0, gen).to_vector<float>(),
              ElementsAre(std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()));
  EXPECT_THAT(
      random::exponential_(zeros({2}), std::numeric_limits<double>::infinity(), gen).to_vector<float>(),
      ElementsAre(0, 0));
}

TEST(RandomTest, PoissonMatchesThePmf) {
  // Many samples: PTRS's exact acceptance step hides most of a bug in its fast path (shifting every candidate
  // by one moves the mean of Poisson(30) by only ~0.2).
  constexpr int64_t kN = 200000;
  Generator gen(20);
  // Rates below 10 use the product of uniforms, from 10 up the transformed rejection: test both.
  for (double rate : {0.5, 4.0, 30.0, 1000.0}) {
    Tensor s = random::poisson(full({kN}, rate, {DType::kFloat64}), gen);
    EXPECT_EQ(s.dtype(), DType::kFloat64);
    auto v = s.to_vector<double>();
    for (double x : v) ASSERT_TRUE(x >= 0 && x == std::floor(x)) << x;
    // Poisson: mean = variance = rate; Var[(X - rate)^2] = rate + 2 rate^2.
    EXPECT_NEAR(moments(v).mean, rate, six_se(std::sqrt(rate), kN)) << rate;
    EXPECT_NEAR(moments(v).var, rate, six_se(std::sqrt(rate + 2 * rate * rate), kN)) << rate;
    if (rate > 100) continue;
    // Chi-square against the pmf over the counts expected at least 20 times, tails pooled into two bins.
    auto pmf = [&](double k) { return std::exp(k * std::log(rate) - rate - std::lgamma(k + 1)); };
    int64_t lo = 0, hi = 0;
    while (pmf(lo) * kN < 20) ++lo;
    for (hi = lo; pmf(hi + 1) * kN >= 20; ++hi) {
    }
    std::vector<double> probs(static_cast<size_t>(hi - lo + 3), 0.0);
    std::vector<int64_t> counts(probs.size(), 0);
    double inside = 0;
    for (int64_t k = lo; k <= hi; ++k)
      inside += probs[static_cast<size_t>(k - lo + 1)] = pmf(static_cast<double>(k));
    for (int64_t k = 0; k < lo; ++k) probs[0] += pmf(static_cast<double>(k));
    probs.back() = 1 - inside - probs[0];
    for (double x : v) {
      auto k = static_cast<int64_t>(x);
      ++counts[k < lo ? 0 : k > hi ? counts.size() - 1 : static_cast<size_t>(k - lo + 1)];
    }
    if (probs[0] * kN < 1)
      probs.erase(probs.begin()), counts.erase(counts.begin());  // no lower tail (rate 0.5)
    EXPECT_LT(chi_square(counts, probs, kN), chi_bound(static_cast<int>(probs.size()) - 1)) << rate;
  }
  // Rate zero gives zero; each element uses its own rate.
  auto mixed = random::poisson(tensor<float>({0, 0, 1e6f}, {3}), gen).to_vector<float>();
  EXPECT_EQ(mixed[0], 0);
  EXPECT_EQ(mixed[1], 0);
  EXPECT_NEAR(mixed[2], 1e6, 6 * 1000);
}

TEST(RandomTest, InPlaceFillsWriteEveryElementOfAView) {
  Generator gen(21);
  Tensor base = full({4, 5}, -100.0);
  Tensor view = base.t();  // strided
  uint32_t before = base.version();
  random::uniform_(view, -2, 3, gen);
  EXPECT_EQ(base.version(), before + 1);  // views share the counter
  auto v = base.to_vector<float>();
  for (float x : v) {
    EXPECT_GE(x, -2);
    EXPECT_LT(x, 3);
  }
  auto big = random::uniform_(empty({100000}), -2, 3, gen).to_vector<double>();
  EXPECT_NEAR(moments(big).mean, 0.5, six_se(5 / std::sqrt(12.0), big.size()));
  EXPECT_GE(*std::min_element(big.begin(), big.end()), -2.0);
  EXPECT_LT(*std::max_element(big.begin(), big.end()), 3.0);
  EXPECT_THAT(random::uniform_(empty({3}), 1.5, 1.5, gen).to_vector<float>(), ElementsAre(1.5f, 1.5f, 1.5f));
  auto n = random::normal_(empty({100000}, {DType::kFloat64}), 3, 2, gen).to_vector<double>();
  EXPECT_NEAR(moments(n).mean, 3, six_se(2, n.size()));
  EXPECT_NEAR(moments(n).var, 4, six_se(4 * std::sqrt(2.0), n.size()));
  // Empty tensors are fine, and still count as written.
  Tensor e = empty({0});
  random::normal_(e);
  EXPECT_EQ(e.version(), 1u);
}

// ---- autograd ----

TEST(RandomTest, SamplersAreNotDifferentiable) {
  Generator gen(22);
  // Creation samplers make leaves; requires_grad in the options marks them.
  Tensor r = random::rand({3}, gen);
  EXPECT_FALSE(r.requires_grad());
  Tensor w = random::randn({3}, gen, {DType::kFloat32, kCPU, true});
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  // Samples of inputs that require grad are constants (PyTorch records zero gradients for normal, bernoulli
  // and poisson instead; see core/ops/random.cpp).
  Tensor mean = tensor<float>({0, 1}, {2}).requires_grad_(), sd = tensor<float>({1, 2}, {2}).requires_grad_();
  Tensor p = tensor<float>({0.2f, 0.7f}, {2}).requires_grad_();
  Tensor rate = tensor<double>({2, 20}, {2}).requires_grad_();
  for (const Tensor& y :
       {random::normal(mean, sd, gen), random::bernoulli(p, gen), random::bernoulli(p, 0.5, gen),
        random::poisson(rate, gen), random::multinomial(p, 1, false, gen)}) {
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
  }
  Tensor y = random::normal(mean, sd, gen).sum();
  Error e = error_of([&] { y.backward(); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_STREQ(e.what(), "[backward] element 0 of tensors does not require grad and does not have a grad_fn");
  // A sample still composes with differentiable ops: the reparameterised form carries the gradient.
  Tensor eps = random::randn({2}, gen);
  mean.add(sd.mul(eps)).sum().backward();
  EXPECT_THAT(mean.grad().to_vector<float>(), ElementsAre(1, 1));
  EXPECT_EQ(sd.grad().to_vector<float>(), eps.to_vector<float>());
}

TEST(RandomTest, InPlaceFillsFollowAutogradsInPlaceRules) {
  Generator gen(23);
  Tensor leaf = zeros({3}).requires_grad_();
  Error e = error_of([&] { random::uniform_(leaf, 0, 1, gen); });
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_STREQ(e.what(),
               "[uniform_] a leaf Variable that requires grad is being used in an in-place operation.");
  EXPECT_THAT(leaf.to_vector<float>(), ElementsAre(0, 0, 0));  // untouched
  // A non-leaf is overwritten and passes zero gradients to what it was, as in PyTorch.
  Tensor nonleaf = leaf.mul(leaf);
  random::normal_(nonleaf, 0, 1, gen);
  EXPECT_EQ(nonleaf.grad_fn_name(), "AddBackward0");
  nonleaf.sum().backward();
  EXPECT_THAT(leaf.grad().to_vector<float>(), ElementsAre(0, 0, 0));
  // Initialising parameters under no_grad is the intended use.
  {
    autograd::NoGradGuard no_grad;
    random::uniform_(leaf, 1, 2, gen);
  }
  for (float x : leaf.to_vector<float>()) EXPECT_GE(x, 1);
  EXPECT_TRUE(leaf.requires_grad());
  // They are registry ops, so reachable by name (and remotely).
  Tensor t = zeros({4});
  {
    random::GeneratorGuard guard(gen);
    call_op("exponential_", {t, 2.0});
  }
  for (float x : t.to_vector<float>()) EXPECT_GT(x, 0);
}

// ---- the ops by name ----

TEST(RandomTest, OpsAreRegisteredWithPyTorchSignatures) {
  const Registry& r = Registry::get();
  EXPECT_EQ(r.find("rand").schema.text,
            "rand(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor");
  EXPECT_EQ(r.find("randn").schema.text,
            "randn(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor");
  EXPECT_EQ(
      r.find("randint").schema.text,
      "randint(int low, int high, int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor");
  EXPECT_EQ(r.find("randperm").schema.text,
            "randperm(int n, *, ScalarType? dtype=None, Device? device=None) -> Tensor");
  EXPECT_EQ(r.find("normal").schema.text, "normal(Tensor mean, Tensor std) -> Tensor");
  EXPECT_EQ(r.find("bernoulli").schema.text, "bernoulli(Tensor self, float? p=None) -> Tensor");
  EXPECT_EQ(r.find("multinomial").schema.text,
            "multinomial(Tensor self, int num_samples, bool replacement=False) -> Tensor");
  EXPECT_EQ(r.find("poisson").schema.text, "poisson(Tensor self) -> Tensor");
  for (const char* op :
       {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "poisson"}) {
    EXPECT_EQ(r.find(op).autograd, AutogradKind::kNone) << op;
  }
  // The binder checks kinds before any sampling: randint's bounds are ints.
  Error e = error_of([] { call_op("randint", {Scalar(0.5), Scalar(3), int_list({2})}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(e.what(), "[randint] argument 'low' must be int, not float");
}

// ---- errors ----

void expect_error(const std::function<void()>& fn, const std::string& message,
                  ErrorCode code = ErrorCode::kInvalidArgument) {
  Error e = error_of(fn);
  EXPECT_EQ(e.code(), code) << message;
  EXPECT_EQ(std::string(e.what()), message);
}

TEST(RandomTest, CreationErrors) {
  Generator gen(24);
  expect_error(
      [&] {
        random::rand({2, -1}, gen);
      },
      "[rand] Trying to create tensor with negative dimension -1: [2, -1]");
  expect_error([&] { random::rand({2}, gen, {DType::kInt64}); }, "[rand] not implemented for 'int64'");
  expect_error([&] { random::rand({2}, gen, {DType::kComplex64}); }, "[rand] not implemented for 'complex64'");
  expect_error([&] { random::randn({-3}, gen); },
               "[randn] Trying to create tensor with negative dimension -3: [-3]");
  expect_error([&] { random::randn({2}, gen, {DType::kBool}); }, "[randn] not implemented for 'bool'");
  expect_error([&] { random::randint(5, 5, {3}, gen); },
               "[randint] random_ expects 'from' to be less than 'to', but got from=5 >= to=5");
  expect_error([&] { random::randint(5, 3, {3}, gen); },
               "[randint] random_ expects 'from' to be less than 'to', but got from=5 >= to=3");
  expect_error([&] { random::randint(0, 3, {-1}, gen); },
               "[randint] Trying to create tensor with negative dimension -1: [-1]");
  expect_error([&] { random::randint(-1, 3, {3}, gen, {DType::kUInt8}); },
               "[randint] from is out of bounds for unsigned char");
  expect_error([&] { random::randint(0, 129, {3}, gen, {DType::kInt8}); },
               "[randint] to - 1 is out of bounds for signed char");
  expect_error([&] { random::randint(0, 3, {3}, gen, {DType::kBool}); },
               "[randint] to - 1 is out of bounds for bool");
  expect_error([&] { random::randint(-(int64_t{1} << 40), 0, {3}, gen, {DType::kInt32}); },
               "[randint] from is out of bounds for int");
  expect_error([&] { random::randint(0, 3, {3}, gen, {DType::kComplex64}); },
               "[randint] not implemented for 'complex64'");
  expect_error([&] { random::randperm(-1, gen); }, "[randperm] n must be non-negative, got -1");
  expect_error([&] { random::randperm(3, gen, {DType::kBool}); }, "[randperm] not implemented for 'bool'");
  expect_error([&] { random::randperm(129, gen, {DType::kInt8}); },
               "[randperm] value cannot be converted to type int8 without overflow: n - 1 = 128");
  expect_error([&] { random::randperm((int64_t{1} << 24) + 2, gen, {DType::kFloat32}); },
               "[randperm] n cannot be greater than 2^24+1 for Float type.");
  expect_error([&] { random::normal(0.0, -1.0, {3}, gen); },
               "[normal] normal expects std >= 0.0, but found std -1");
  expect_error([&] { random::normal(0.0, 1.0, {3}, gen, {DType::kInt64}); },
               "[normal] not implemented for 'int64'");
  // Nothing was drawn by the failed calls.
  EXPECT_EQ(gen.state().offset, 0u);
}

TEST(RandomTest, DistributionErrors) {
  Generator gen(25);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor f = tensor<float>({0.5f, 0.5f}, {2});
  expect_error(
      [&] {
        random::normal(f, tensor<float>({1, -1}, {2}), gen);
      },
      "[normal] normal expects all elements of std >= 0.0");
  expect_error(
      [&] {
        random::normal(f, tensor<double>({1, nan}, {2}), gen);
      },
      "[normal] normal expects all elements of std >= 0.0");
  expect_error([&] { random::normal(f, -0.5); }, "[normal] normal expects std >= 0.0, but found std -0.5");
  expect_error(
      [&] {
        random::normal(tensor<int64_t>({0, 1}, {2}), f, gen);
      },
      "[normal] not implemented for 'int64'");
  expect_error(
      [&] { random::normal(f, ones({3}), gen); },
      "[normal] The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0 "
      "(shapes [2] and [3])");
  expect_error(
      [&] {
        random::bernoulli(tensor<float>({0.5f, 1.5f}, {2}), gen);
      },
      "[bernoulli] expects all probabilities to be in [0, 1], but found p=1.5 at flat index 1");
  expect_error([&] { random::bernoulli(tensor<float>({-0.5f}, {1}), gen); },
               "[bernoulli] expects all probabilities to be in [0, 1], but found p=-0.5 at flat index 0");
  expect_error([&] { random::bernoulli(tensor<double>({nan}, {1}), gen); },
               "[bernoulli] expects all probabilities to be in [0, 1], but found p=nan at flat index 0");
  expect_error(
      [&] {
        random::bernoulli(tensor<int64_t>({1, 0}, {2}), gen);
      },
      "[bernoulli] not implemented for 'int64'");
  expect_error([&] { random::bernoulli(f, 1.5, gen); },
               "[bernoulli] bernoulli_ expects p to be in [0, 1], but got p=1.5");
  expect_error([&] { random::bernoulli(f, -0.1, gen); },
               "[bernoulli] bernoulli_ expects p to be in [0, 1], but got p=-0.1");
  expect_error([&] { random::bernoulli(f, nan, gen); },
               "[bernoulli] bernoulli_ expects p to be in [0, 1], but got p=nan");
  expect_error(
      [&] {
        random::poisson(tensor<float>({1, -1}, {2}), gen);
      },
      "[poisson] invalid Poisson rate, expected rate to be non-negative, but got -1");
  expect_error([&] { random::poisson(tensor<double>({nan}, {1}), gen); },
               "[poisson] invalid Poisson rate, expected rate to be non-negative, but got nan");
  expect_error(
      [&] {
        random::poisson(tensor<int64_t>({1, 2}, {2}), gen);
      },
      "[poisson] not implemented for 'int64'");
  EXPECT_EQ(gen.state().offset, 0u);
}

TEST(RandomTest, MultinomialErrors) {
  Generator gen(26);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  expect_error([&] { random::multinomial(scalar_tensor(0.5), 1, false, gen); },
               "[multinomial] prob_dist must be 1 or 2 dim");
  expect_error(
      [&] {
        random::multinomial(ones({1, 1, 2}), 1, false, gen);
      },
      "[multinomial] prob_dist must be 1 or 2 dim");
  expect_error(
      [&] {
        random::multinomial(tensor<int64_t>({1, 2}, {2}), 1, false, gen);
      },
      "[multinomial] multinomial only supports floating-point dtypes for input, got: int64");
  expect_error([&] { random::multinomial(ones({2}), 0, false, gen); },
               "[multinomial] cannot sample n_sample <= 0 samples");
  expect_error([&] { random::multinomial(ones({2}), -1, true, gen); },
               "[multinomial] cannot sample n_sample <= 0 samples");
  expect_error([&] { random::multinomial(ones({2}), 3, false, gen); },
               "[multinomial] cannot sample n_sample > prob_dist.size(-1) samples without replacement");
  expect_error(
      [&] {
        random::multinomial(zeros({2, 0}), 1, false, gen);
      },
      "[multinomial] cannot sample n_sample > prob_dist.size(-1) samples without replacement");
  expect_error([&] { random::multinomial(empty({(int64_t{1} << 24) + 1}), 1, true, gen); },
               "[multinomial] number of categories cannot exceed 2^24");
  for (float bad : {-0.1f, nan, inf}) {
    expect_error(
        [&] {
          random::multinomial(tensor<float>({0.5f, bad}, {2}), 1, true, gen);
        },
        "[multinomial] probability tensor contains either `inf`, `nan` or element < 0");
  }
  expect_error(
      [&] {
        random::multinomial(tensor<float>({0, 0}, {2}), 1, true, gen);
      },
      "[multinomial] invalid multinomial distribution (sum of probabilities <= 0)");
  expect_error(
      [&] {
        random::multinomial(tensor<float>({0.5f, 0.5f, 0, 0}, {2, 2}), 1, false, gen);
      },
      "[multinomial] invalid multinomial distribution (sum of probabilities <= 0)");
  expect_error(
      [&] {
        random::multinomial(zeros({2, 0}), 1, true, gen);
      },
      "[multinomial] invalid multinomial distribution (sum of probabilities <= 0)");
  EXPECT_EQ(gen.state().offset, 0u);
}

TEST(RandomTest, InPlaceFillErrors) {
  Generator gen(27);
  Tensor f = zeros({3});
  expect_error([&] { random::uniform_(f, 1, 0, gen); },
               "[uniform_] uniform_ expects to return a [from, to) range, but found from=1 > to=0");
  expect_error([&] { random::uniform_(f, std::numeric_limits<double>::quiet_NaN(), 0, gen); },
               "[uniform_] from is out of bounds for float");
  expect_error([&] { random::uniform_(f, 0, 1e300, gen); }, "[uniform_] to is out of bounds for float");
  expect_error(
      [&] { random::uniform_(f, -3e38, 3e38, gen); },
      "[uniform_] uniform_ expects to-from <= std::numeric_limits<Float>::max(), but found to=3e+38 and "
      "from=-3e+38 which result in to-from to exceed the limit");
  expect_error([&] { random::uniform_(zeros({3}, {DType::kInt64}), 0, 1, gen); },
               "[uniform_] not implemented for 'int64'");
  expect_error(
      [&] {
        random::uniform_(zeros({3}).expand({2, 3}), 0, 1, gen);
      },
      "[uniform_] unsupported operation: more than one element of the written-to tensor refers to a single "
      "memory location. Please clone() the tensor before performing the operation.");
  expect_error([&] { random::uniform_(Tensor(), 0, 1, gen); },
               "[uniform_] argument 'self' must be Tensor, not Tensor (an undefined tensor)");
  expect_error([&] { random::normal_(f, 0, -1, gen); },
               "[normal_] normal expects std >= 0.0, but found std -1");
  expect_error([&] { random::normal_(zeros({3}, {DType::kInt32}), 0, 1, gen); },
               "[normal_] not implemented for 'int32'");
  expect_error([&] { random::exponential_(f, -1, gen); },
               "[exponential_] exponential_ expects lambda >= 0.0, but found lambda=-1");
  expect_error([&] { random::exponential_(f, std::numeric_limits<double>::quiet_NaN(), gen); },
               "[exponential_] exponential_ expects lambda >= 0.0, but found lambda=nan");
  expect_error([&] { random::exponential_(zeros({3}, {DType::kInt64}), 1, gen); },
               "[exponential_] not implemented for 'int64'");
  EXPECT_THAT(f.to_vector<float>(), ElementsAre(0, 0, 0));
  EXPECT_EQ(f.version(), 0u);
  EXPECT_EQ(gen.state().offset, 0u);
}

TEST(GeneratorTest, SetStateErrors) {
  Generator gen(28);
  expect_error([&] { gen.set_state(zeros({16})); },
               "[set_state] RNG state must be a torch.ByteTensor, got float32");
  expect_error([&] { gen.set_state(Tensor()); },
               "[set_state] RNG state must be a torch.ByteTensor, got an undefined tensor");
  expect_error([&] { gen.set_state(zeros({3}, {DType::kUInt8})); },
               "[set_state] RNG state is wrong size: expected 16 bytes (seed and offset), got 3");
  EXPECT_EQ(gen.state(), (GeneratorState{28, 0}));
}

}  // namespace
}  // namespace td
