// td::random's generator: Philox against the Random123 known answers, the documented stream layout (and the
// CPU's eight-lane Philox paths drawing exactly it), seeding and state, thread safety, and equal values on
// every device from the same state.
#include "core/random/generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <thread>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/ops/registry.h"
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
        static_cast<unsigned __int128>(uint64_t{word_of(seed, 11, i, 1)} << 32 | word_of(seed, 11, i, 0)) *
        10;
    EXPECT_EQ(ints[i], -3 + static_cast<int64_t>(wide >> 64)) << i;
  }
  // Four float32 values are the four words of one block, as curand_uniform4 uses them.
  gen.set_state(GeneratorState{seed, 0});
  PhiloxBlock b =
      philox4x32_10({0, 0, 0, 0}, {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
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
  check(random::exponential_(t64, 0.5, dev), random::exponential_(h64, 0.5, cpu), "exponential_ float64",
        kFewUlp);
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

}  // namespace
}  // namespace td
