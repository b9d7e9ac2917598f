// td::random: Philox against the Random123 known answers, the documented stream layout, seeding and state,
// thread safety, equal values on every device, statistics of every sampler (fixed seeds, bounds of six
// standard errors computed from the sample size), autograd behaviour, and every error with code and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <numeric>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/registry.h"
#include "core/random/generator.h"
#include "core/tensor.h"
#include "kernels/cpu/vector_math.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using random::Generator;
using random::GeneratorState;
using random::philox4x32_10;
using random::PhiloxBlock;
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

// Word w of element i of an op that started at `offset` under `seed`, straight from Philox (the layout
// core/random/philox.h documents): word i % 4 of the block at counter (offset + i / 4, w).
uint32_t word_of(uint64_t seed, uint64_t offset, uint64_t i, uint64_t w = 0) {
  uint64_t c = offset + i / 4;
  return philox4x32_10({static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), static_cast<uint32_t>(w),
                        static_cast<uint32_t>(w >> 32)},
                       {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)})[i % 4];
}
double u53(uint32_t lo, uint32_t hi) {
  return static_cast<double>((uint64_t{hi} << 32 | lo) >> 11) * 0x1.0p-53;
}

// ---- Philox ----

// Random123's published known-answer vectors for philox4x32 with 10 rounds (its kat_vectors file):
// counter, key -> output.
TEST(PhiloxTest, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (PhiloxBlock{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (PhiloxBlock{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (PhiloxBlock{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

// ---- the generator ----

TEST(GeneratorTest, StreamLayoutIsFourElementsPerCounterGroup) {
  // Element i of an op starting at offset o reads word i % 4 of the blocks at counters (o + i / 4, w), w = 0,
  // 1, ...; an op of n elements advances the offset by ceil(n / 4). float32 takes the top 24 bits of word 0,
  // float64 the top 53 bits of words 1:0, randint maps words 1:0 onto the range by a 64-bit multiply
  // (rejection is ~1e-18 likely for range 10). randn takes Box-Muller pairs: lanes 2p and 2p + 1 of a group
  // are the cosine and sine halves over words 1:0 and 3:2 of its block p.
  const uint64_t seed = 0x0123456789abcdefULL;
  Generator gen;
  gen.set_state(GeneratorState{seed, 5});
  auto f32 = random::rand({7}, gen).to_vector<float>();
  EXPECT_EQ(gen.state().offset, 7u);
  auto f64 = random::rand({7}, gen, {DType::kFloat64}).to_vector<double>();
  auto n32 = random::randn({7}, gen).to_vector<float>();
  auto ints = random::randint(-3, 7, {7}, gen).to_vector<int64_t>();
  EXPECT_EQ(gen.state(), (GeneratorState{seed, 13}));
  for (uint64_t i = 0; i < 7; ++i) {
    EXPECT_EQ(f32[i], static_cast<float>(word_of(seed, 5, i) >> 8) * 0x1.0p-24f) << i;
    EXPECT_EQ(f64[i], u53(word_of(seed, 7, i, 0), word_of(seed, 7, i, 1))) << i;
    const uint64_t lane0 = i / 4 * 4, p = i % 4 / 2;  // the group's first element; the pair's block
    auto word = [&](uint64_t k) { return word_of(seed, 9, lane0 + k, p); };
    const double r = std::sqrt(-2 * std::log(1 - u53(word(0), word(1)))),
                 angle = 2 * std::numbers::pi * u53(word(2), word(3));
    const double z = i % 2 == 0 ? r * std::cos(angle) : r * std::sin(angle);
    EXPECT_FLOAT_EQ(n32[i], static_cast<float>(z)) << i;
    auto wide =
        static_cast<unsigned __int128>(uint64_t{word_of(seed, 11, i, 1)} << 32 | word_of(seed, 11, i, 0)) * 10;
    EXPECT_EQ(ints[i], -3 + static_cast<int64_t>(wide >> 64)) << i;
  }
  // Four float32 values are the four words of one block, as curand_uniform4 uses them.
  gen.set_state(GeneratorState{seed, 0});
  PhiloxBlock b = philox4x32_10({0, 0, 0, 0}, {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  auto four = random::rand({4}, gen).to_vector<float>();
  for (int l = 0; l < 4; ++l) EXPECT_EQ(four[l], static_cast<float>(b[l] >> 8) * 0x1.0p-24f) << l;
  EXPECT_EQ(gen.state().offset, 1u);
  // A prefix of a longer draw is the shorter draw.
  gen.set_state(GeneratorState{seed, 5});
  auto longer = random::rand({20}, gen).to_vector<float>();
  EXPECT_TRUE(std::equal(f32.begin(), f32.end(), longer.begin()));
}

// The CPU's normal fill computes eight groups' Philox blocks at once in AVX2 lanes: Box-Muller's uniforms
// must be the scalar ones bit for bit, across a carry of the counter's low word, at any group and for counts
// that end inside a batch of eight groups or inside a group.
TEST(GeneratorTest, VectorPhiloxUniformsAreTheScalarOnes) {
  if (!kernels::vector_philox_available()) GTEST_SKIP() << "no AVX2";
  struct Case {
    uint64_t seed, base, g0;
    int64_t pairs;
  };
  for (const Case& c : {Case{0x0123456789abcdefULL, 0, 0, 1000}, Case{42, 0xfffffffdULL, 3, 37},
                        Case{0xffffffffffffffffULL, 0xffffffffffffff00ULL, 250, 1}, Case{7, 12345, 0, 16},
                        Case{7, 12345, 1, 5}}) {
    SCOPED_TRACE(::testing::Message() << "seed " << c.seed << ", base " << c.base << ", group " << c.g0);
    std::vector<double> u1(static_cast<size_t>(c.pairs)), u2(static_cast<size_t>(c.pairs));
    kernels::vector_normal_uniforms(c.seed, c.base, c.g0, c.pairs, u1.data(), u2.data());
    const random::PhiloxStream stream(c.seed, c.base);
    for (int64_t k = 0; k < c.pairs; ++k) {
      double a = 0, b = 0;
      random::box_muller_uniforms(
          stream.block(c.g0 + static_cast<uint64_t>(k / 2), static_cast<uint64_t>(k % 2)), a, b);
      ASSERT_EQ(u1[static_cast<size_t>(k)], a) << "pair " << k;
      ASSERT_EQ(u2[static_cast<size_t>(k)], b) << "pair " << k;
    }
  }
}

// The vector Box-Muller (SLEEF) against the scalar pair (libm), for every count up to three batches: the
// cosine and sine halves in element order, an odd count's last sine left out, within SLEEF's 1 ulp.
TEST(GeneratorTest, VectorBoxMullerIsThePairInElementOrder) {
  if (!kernels::vector_math_available()) GTEST_SKIP() << "no AVX";
  const random::PhiloxStream stream(99, 7);
  std::vector<double> u1(12), u2(12);
  for (size_t k = 0; k < u1.size(); ++k)
    random::box_muller_uniforms(stream.block(k / 2, k % 2), u1[k], u2[k]);
  for (int64_t n = 0; n <= 24; ++n) {
    std::vector<double> z(static_cast<size_t>(n) + 1, -99.0);  // one more: nothing is written past n
    kernels::vector_box_muller(u1.data(), u2.data(), z.data(), n);
    for (int64_t e = 0; e < n; ++e) {
      double z0 = 0, z1 = 0;
      random::standard_normal_pair(
          stream.block(static_cast<uint64_t>(e / 4), static_cast<uint64_t>(e / 2 % 2)), z0, z1);
      const double want = e % 2 == 0 ? z0 : z1;
      EXPECT_NEAR(z[static_cast<size_t>(e)], want, 1e-15 * std::fabs(want) + 1e-300)
          << "n " << n << ", element " << e;
    }
    EXPECT_EQ(z[static_cast<size_t>(n)], -99.0) << "n " << n;
  }
}

// A normal fill past one 1024-value chunk and into the threaded path (16 chunks and more), of an odd size:
// every value is the layout's Box-Muller pair (the scalar libm form here; the fill's SLEEF within 1 ulp or
// so), the generator advanced by ceil(n / 4) groups.
TEST(GeneratorTest, LongNormalFillsFollowThePairLayout) {
  constexpr int64_t kN = 20001;
  Generator gen;
  gen.set_state(GeneratorState{77, 3});
  const auto z = random::normal(0.5, 2.0, {kN}, gen, {DType::kFloat64}).to_vector<double>();
  EXPECT_EQ(gen.state(), (GeneratorState{77, 3 + (kN + 3) / 4}));
  const random::PhiloxStream stream(77, 3);
  for (int64_t e = 0; e < kN; ++e) {
    double z0 = 0, z1 = 0;
    random::standard_normal_pair(stream.block(static_cast<uint64_t>(e / 4), static_cast<uint64_t>(e / 2 % 2)),
                                 z0, z1);
    const double want = 0.5 + 2.0 * (e % 2 == 0 ? z0 : z1);
    ASSERT_NEAR(z[static_cast<size_t>(e)], want, 1e-14 * (1 + std::fabs(want))) << "element " << e;
  }
}

// The CPU's Bernoulli fill of one probability computes the Philox blocks eight groups at a time in AVX2
// lanes: the words are the scalar blocks', at any group and across a carry of the counter's low word; and a
// fill past one chunk, into the threaded path, of a size that ends inside a group, is the layout's: element
// i is 1 where word i % 4 of block (offset + i / 4, 0), as a fraction of 2^32, is below p.
TEST(GeneratorTest, VectorBernoulliFollowsTheLayout) {
  if (!kernels::vector_philox_available()) GTEST_SKIP() << "no AVX2";
  for (const auto& [seed, base, g0, groups] :
       {std::tuple<uint64_t, uint64_t, uint64_t, int64_t>{0x0123456789abcdefULL, 0, 0, 300},
        {42, 0xfffffffdULL, 3, 13},
        {7, 12345, 1, 1}}) {
    std::vector<uint32_t> words(static_cast<size_t>(4 * groups));
    kernels::vector_philox_words(seed, base, g0, groups, words.data());
    const random::PhiloxStream stream(seed, base);
    for (int64_t j = 0; j < groups; ++j) {
      const random::PhiloxBlock b = stream.block(g0 + static_cast<uint64_t>(j), 0);
      for (int k = 0; k < 4; ++k)
        ASSERT_EQ(words[static_cast<size_t>(4 * j + k)], b[static_cast<size_t>(k)]) << j;
    }
  }
  constexpr int64_t kN = 20001;
  Generator gen;
  gen.set_state(GeneratorState{91, 5});
  const auto v = random::bernoulli(zeros({kN}), 0.3, gen).to_vector<float>();
  EXPECT_EQ(gen.state(), (GeneratorState{91, 5 + (kN + 3) / 4}));
  for (uint64_t i = 0; i < static_cast<uint64_t>(kN); ++i) {
    ASSERT_EQ(v[i], static_cast<double>(word_of(91, 5, i)) * 0x1.0p-32 < 0.3 ? 1.0f : 0.0f)
        << "element " << i;
  }
}

TEST(GeneratorTest, SameSeedSameValuesOtherSeedsDiffer) {
  Generator gen;
  EXPECT_EQ(gen.initial_seed(), random::kDefaultSeed);
  gen.manual_seed(42);
  EXPECT_EQ(gen.initial_seed(), 42u);
  auto a = random::rand({1000}, gen).to_vector<float>();
  auto b = random::rand({1000}, gen).to_vector<float>();
  EXPECT_NE(a, b);  // the stream moved on
  EXPECT_EQ(gen.state(), (GeneratorState{42, 500}));
  gen.manual_seed(42);
  EXPECT_EQ(gen.state(), (GeneratorState{42, 0}));
  EXPECT_EQ(random::rand({1000}, gen).to_vector<float>(), a);
  Generator other(43);
  auto c = random::rand({1000}, other).to_vector<float>();
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == c[i];
  EXPECT_LT(same, 5u);
  // Two generators with one seed are one stream.
  Generator twin(42);
  EXPECT_EQ(random::rand({1000}, twin).to_vector<float>(), a);
}

TEST(GeneratorTest, SeedChoosesAFreshSeed) {
  Generator gen(1);
  random::rand({3}, gen);
  uint64_t s = gen.seed();
  EXPECT_EQ(gen.initial_seed(), s);
  EXPECT_EQ(gen.state(), (GeneratorState{s, 0}));
  EXPECT_NE(gen.seed(), s);  // 64 bits from std::random_device: equal with odds 2^-64
}

TEST(GeneratorTest, GetStateSetStateReplaysTheStream) {
  Generator gen(0x1122334455667788ULL);
  random::rand({12}, gen);  // three counter groups
  Tensor state = gen.get_state();
  EXPECT_EQ(state.dtype(), DType::kUInt8);
  EXPECT_EQ(state.device(), kCPU);
  // Seed then offset (3), little-endian: PyTorch's CUDA generator layout.
  EXPECT_THAT(state.to_vector<uint8_t>(),
              ElementsAre(0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 3, 0, 0, 0, 0, 0, 0, 0));
  auto a = random::randn({50}, gen).to_vector<float>();
  auto a2 = random::randint(0, 1000, {50}, gen).to_vector<int64_t>();
  gen.manual_seed(9);
  gen.set_state(state);
  EXPECT_EQ(gen.state(), (GeneratorState{0x1122334455667788ULL, 3}));
  EXPECT_EQ(random::randn({50}, gen).to_vector<float>(), a);
  EXPECT_EQ(random::randint(0, 1000, {50}, gen).to_vector<int64_t>(), a2);
  // The struct form round-trips too, and the tensor of a state is the state.
  GeneratorState s = gen.state();
  auto b = random::rand({10}, gen).to_vector<float>();
  gen.set_state(s);
  EXPECT_EQ(random::rand({10}, gen).to_vector<float>(), b);
  Generator copy;
  copy.set_state(gen.get_state());
  EXPECT_EQ(copy.state(), gen.state());
}

TEST(GeneratorTest, ManualSeedSeedsTheDefaultGenerator) {
  Generator& def = manual_seed(1234);
  EXPECT_EQ(&def, &random::default_generator());
  EXPECT_EQ(def.state(), (GeneratorState{1234, 0}));
  auto a = random::rand({100}).to_vector<float>();
  EXPECT_EQ(def.state().offset, 25u);
  Generator local(1234);
  EXPECT_EQ(random::rand({100}, local).to_vector<float>(), a);
  // Ops by name draw from the default generator too.
  manual_seed(1234);
  EXPECT_EQ(call_op("rand", {int_list({100})})[0].to_vector<float>(), a);
}

TEST(GeneratorTest, GuardRoutesOpsToAnotherGenerator) {
  manual_seed(5);
  Generator gen(5);
  {
    random::GeneratorGuard guard(gen);
    EXPECT_EQ(&random::current_generator(), &gen);
    call_op("randn", {int_list({10})});
  }
  EXPECT_EQ(&random::current_generator(), &random::default_generator());
  EXPECT_EQ(gen.state().offset, 3u);
  EXPECT_EQ(random::default_generator().state().offset, 0u);
  // The guard is restored when the op throws.
  EXPECT_EQ(error_of([&] { random::rand({-1}, gen); }).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(&random::current_generator(), &random::default_generator());
}

TEST(GeneratorTest, ConcurrentDrawsGetDisjointGroups) {
  // Each op reserves its counter groups under the generator's lock, so four threads drawing 25 x 1000 values
  // hand out exactly the 100 group ranges a single thread would, in some order.
  constexpr int kThreads = 4, kDraws = 25, kN = 1000;
  Generator gen(77);
  std::vector<std::vector<double>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int d = 0; d < kDraws; ++d) {
        auto v = random::rand({kN}, gen, {DType::kFloat64}).to_vector<double>();
        got[t].insert(got[t].end(), v.begin(), v.end());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(gen.state().offset, uint64_t{kThreads * kDraws * kN / 4});
  std::vector<double> all;
  for (auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  Generator serial(77);
  auto expected = random::rand({kThreads * kDraws * kN}, serial, {DType::kFloat64}).to_vector<double>();
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);
}

// ---- the same values on every device ----

class RandomDeviceTest : public testing::DeviceTest {};

TD_DEVICE_TEST(RandomDeviceTest, SameStateSameValuesOnEveryDevice) {
  // Draws on the test's device equal draws on the CPU from the same state, op by op; and the CPU values are
  // the documented Philox blocks, so this is not a comparison of a device with itself.
  const uint64_t seed = 2024;
  Generator dev(seed), cpu(seed);
  const std::string d = device_.str();
  auto on = [&](TensorOptions o) {
    o.device = device_;
    return o;
  };
  // Bit for bit, except float64 normal and exponential values: CUDA's log and cos and the CPU's (SLEEF's or
  // glibc's) are each within 1-2 ulp of the truth, not equal (philox.h), so those get a few ulp.
  auto check = [&](const Tensor& a, const Tensor& b, const char* what, double rel = 0) {
    EXPECT_EQ(a.device(), device_) << what;
    EXPECT_EQ(b.device(), kCPU) << what;
    EXPECT_EQ(a.dtype(), b.dtype()) << what;
    EXPECT_EQ(a.shape(), b.shape()) << what;
    auto va = a.to_vector<double>(), vb = b.to_vector<double>();
    ASSERT_EQ(va.size(), vb.size()) << what;
    for (size_t i = 0; i < va.size(); ++i) {
      if (rel == 0) {
        EXPECT_EQ(va[i], vb[i]) << what << " " << i;
      } else {
        EXPECT_NEAR(va[i], vb[i], rel * std::fabs(vb[i])) << what << " " << i;
      }
    }
  };
  constexpr double kFewUlp = 16 * std::numeric_limits<double>::epsilon();
  Tensor r = random::rand({64}, dev, on({}));
  check(r, random::rand({64}, cpu), "rand");
  auto rv = r.to_vector<float>();
  for (uint64_t i = 0; i < rv.size(); ++i) {
    EXPECT_EQ(rv[i], static_cast<float>(word_of(seed, 0, i) >> 8) * 0x1.0p-24f) << i;
  }
  check(random::randn({3, 5}, dev, on({DType::kFloat64})), random::randn({3, 5}, cpu, {DType::kFloat64}),
        "randn", kFewUlp);
  check(random::randn({9}, dev, on({})), random::randn({9}, cpu), "randn float32");
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    check(random::rand({9}, dev, on({dt})), random::rand({9}, cpu, {dt}), "rand 16-bit");
  }
  // Every real dtype takes integers and Bernoulli values.
  for (DType dt : {DType::kBool, DType::kUInt8, DType::kInt8, DType::kInt16, DType::kInt32, DType::kFloat16,
                   DType::kFloat32}) {
    check(random::randint(0, 2, {9}, dev, on({dt})), random::randint(0, 2, {9}, cpu, {dt}), "randint");
    check(random::bernoulli(zeros({9}, on({dt})), 0.4, dev), random::bernoulli(zeros({9}, {dt}), 0.4, cpu),
          "bernoulli(p)");
  }
  check(random::randint(-50, 50, {40}, dev, on({DType::kInt64})), random::randint(-50, 50, {40}, cpu),
        "randint");
  check(random::randperm(30, dev, on({DType::kInt32})), random::randperm(30, cpu, {DType::kInt32}),
        "randperm");
  Tensor mean = make({0, 10, -10}, {3}), sd = make({1, 2, 3}, {3});
  check(random::normal(mean, sd, dev), random::normal(mean.to("cpu"), sd.to("cpu"), cpu), "normal");
  Tensor p = make({0.1f, 0.5f, 0.9f, 0.3f}, {4});
  check(random::bernoulli(p, dev), random::bernoulli(p.to("cpu"), cpu), "bernoulli");
  Tensor w = make({1, 2, 3, 4, 0, 1}, {2, 3});
  check(random::multinomial(w, 5, true, dev), random::multinomial(w.to("cpu"), 5, true, cpu), "multinomial");
  check(random::multinomial(w, 2, false, dev), random::multinomial(w.to("cpu"), 2, false, cpu),
        "multinomial");
  Tensor rates = make({0.5f, 3, 40}, {3});
  check(random::poisson(rates, dev), random::poisson(rates.to("cpu"), cpu), "poisson");
  // In-place fills, into a transposed (strided) view on the device.
  Tensor t = zeros({3, 4}, {DType::kFloat32, device_}).t(), h = zeros({4, 3});
  check(random::uniform_(t, -1, 1, dev).contiguous(), random::uniform_(h, -1, 1, cpu), "uniform_");
  check(random::normal_(t, 1, 2, dev).contiguous(), random::normal_(h, 1, 2, cpu), "normal_");
  check(random::exponential_(t, 3, dev).contiguous(), random::exponential_(h, 3, cpu), "exponential_");
  Tensor t64 = zeros({5}, {DType::kFloat64, device_}), h64 = zeros({5}, {DType::kFloat64});
  check(random::exponential_(t64, 0.5, dev), random::exponential_(h64, 0.5, cpu), "exponential_ float64", kFewUlp);
  check(random::uniform_(t64, -2, 3, dev), random::uniform_(h64, -2, 3, cpu), "uniform_ float64");
  EXPECT_EQ(dev.state(), cpu.state());
}

TD_DEVICE_TEST(RandomDeviceTest, OpsByNameTakeDtypeAndDevice) {
  manual_seed(3);
  Tensor a = call_op("rand", {int_list({2, 3}), std::string("float64"), device_.str()})[0];
  EXPECT_EQ(a.dtype(), DType::kFloat64);
  EXPECT_EQ(a.device(), device_);
  EXPECT_THAT(a.shape(), ElementsAre(2, 3));
  Tensor i = call_op("randint", {Scalar(0), Scalar(10), int_list({4}), None{}, device_.str()})[0];
  EXPECT_EQ(i.dtype(), DType::kInt64);  // randint's default dtype
  EXPECT_EQ(i.device(), device_);
  Tensor p = call_op("randperm", {Scalar(int64_t{6})})[0];
  EXPECT_EQ(p.dtype(), DType::kInt64);
  EXPECT_EQ(p.device(), kCPU);
  Tensor n = call_op("randn", {int_list({5}), DType::kFloat32, device_.str()})[0];
  EXPECT_EQ(n.device(), device_);
  Tensor m = call_op("multinomial", {make({1, 1, 1}, {3}), Scalar(int64_t{2})})[0];
  EXPECT_EQ(m.device(), device_);
  EXPECT_EQ(m.dtype(), DType::kInt64);
  Tensor b = call_op("bernoulli", {make({0.5f, 0.5f}, {2}), Scalar(0.25)})[0];
  EXPECT_EQ(b.device(), device_);
  Tensor q = call_op("poisson", {make({1, 2}, {2})})[0];
  EXPECT_EQ(q.device(), device_);
  Tensor nm = call_op("normal", {make({1, 2}, {2}), make({1, 1}, {2})})[0];
  EXPECT_EQ(nm.device(), device_);
}

TD_INSTANTIATE_DEVICES(RandomDeviceTest);

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
