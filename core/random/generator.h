// td::random: counter-based random numbers. Every generator is Philox-4x32-10 (Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3", SC'11; the Random123 reference), the family PyTorch's CUDA generator
// uses: a 64-bit seed is the key and a counter picks the block, so any element can be drawn without drawing
// the ones before it and CPU and GPU can produce the same stream.
//
// How an op draws (the stream layout, relied on by the tests): an op producing n elements reserves n counter
// blocks starting at the generator's offset, which then advances by n. Element i (row-major) reads block j
// (j = 0, 1, ... as it needs more bits) at the 128-bit counter whose low 64 bits are offset + i and whose
// high 64 bits are j, under the key (seed low 32 bits, seed high 32 bits). Values are therefore a function of
// (seed, offset, i) alone, not of threading or device. Numbers do not match PyTorch's streams.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/tensor.h"

namespace td::random {

/// Four 32-bit words: a Philox counter, or one output block.
using PhiloxBlock = std::array<uint32_t, 4>;
/// The two 32-bit words of a Philox key.
using PhiloxKey = std::array<uint32_t, 2>;

/// Philox-4x32 with 10 rounds: the bijection of counter blocks, keyed, behind every generator.
PhiloxBlock philox4x32_10(PhiloxBlock counter, PhiloxKey key);

/// The seed a generator starts from when none is given (PyTorch's default_rng_seed_val).
inline constexpr uint64_t kDefaultSeed = 67280421310721ULL;

/// A generator's whole state: its seed (the Philox key) and how many counter blocks it has handed out.
struct GeneratorState {
  uint64_t seed = kDefaultSeed;
  uint64_t offset = 0;
  bool operator==(const GeneratorState&) const = default;
};

/// The counter blocks one op reserved: blocks of element i, i < count. Cheap to copy; read from any thread.
class PhiloxStream {
 public:
  PhiloxStream(uint64_t seed, uint64_t base)
      : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}, base_(base) {}
  /// Block j of element i: the counter (base + i) in the low 64 bits, j in the high 64 bits.
  PhiloxBlock block(uint64_t i, uint64_t j = 0) const {
    uint64_t lo = base_ + i;
    return philox4x32_10({static_cast<uint32_t>(lo), static_cast<uint32_t>(lo >> 32),
                          static_cast<uint32_t>(j), static_cast<uint32_t>(j >> 32)},
                         key_);
  }

 private:
  PhiloxKey key_;
  uint64_t base_;
};

/// The draws of one element, consumed in order: 32-bit words w0..w3 of block 0, then of block 1, ...
class ElementDraws {
 public:
  ElementDraws(const PhiloxStream& stream, uint64_t element) : stream_(stream), element_(element) {}
  /// The next 32 random bits.
  uint32_t next32() {
    if (word_ == 4) {
      block_ = stream_.block(element_, next_block_++);
      word_ = 0;
    }
    return block_[word_++];
  }
  /// The next 64 random bits (the lower word first).
  uint64_t next64() {
    uint64_t lo = next32();
    return lo | static_cast<uint64_t>(next32()) << 32;
  }
  /// A float64 uniform in [0, 1) from the top 53 of the next 64 bits.
  double uniform64() { return static_cast<double>(next64() >> 11) * 0x1.0p-53; }
  /// A float32 uniform in [0, 1) from the top 24 of the next 32 bits.
  float uniform32() { return static_cast<float>(next32() >> 8) * 0x1.0p-24f; }
  /// A uniform integer in [0, range), range >= 1, without modulo bias: 64-bit multiply-shift with rejection
  /// (Lemire, "Fast random integer generation in an interval", 2019).
  uint64_t below(uint64_t range);

 private:
  const PhiloxStream& stream_;
  uint64_t element_;
  uint64_t next_block_ = 0;
  PhiloxBlock block_{};
  int word_ = 4;
};

/// A Philox-4x32-10 stream with PyTorch's generator API. Thread-safe: each op reserves its counter blocks
/// under the generator's mutex and then draws without it.
class Generator {
 public:
  /// A generator at the start (offset 0) of `seed`'s stream.
  explicit Generator(uint64_t seed = kDefaultSeed) : state_{seed, 0} {}
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  /// Restarts the stream from `seed` at offset 0 (torch.Generator.manual_seed).
  Generator& manual_seed(uint64_t seed);
  /// Seeds from a non-deterministic source and returns the seed chosen (torch.Generator.seed).
  uint64_t seed();
  /// The seed the current stream started from (torch.Generator.initial_seed).
  uint64_t initial_seed() const;
  /// The state as PyTorch's CUDA generator keeps it: a CPU uint8 tensor of 16 bytes, the seed then the
  /// offset, each little-endian (torch.Generator.get_state).
  Tensor get_state() const;
  /// Restores a state from get_state(); the tensor must be uint8 with 16 elements (any device).
  void set_state(const Tensor& state);
  /// The state as a struct.
  GeneratorState state() const;
  /// Restores a state from state().
  void set_state(const GeneratorState& state);
  /// Reserves `blocks` counter blocks for one op and advances the offset past them.
  PhiloxStream reserve(uint64_t blocks);

 private:
  mutable std::mutex mutex_;
  GeneratorState state_;
};

/// The process-wide generator ops use by default (torch.default_generator).
Generator& default_generator();

/// Makes the random ops called on this thread draw from `gen` for the guard's lifetime, instead of the
/// default generator; the Generator& overloads below use it, and a session can use it for its commands.
class GeneratorGuard {
 public:
  explicit GeneratorGuard(Generator& gen);
  ~GeneratorGuard();
  GeneratorGuard(const GeneratorGuard&) = delete;
  GeneratorGuard& operator=(const GeneratorGuard&) = delete;

 private:
  Generator* prev_;
};

/// The generator random ops on this thread draw from: the innermost GeneratorGuard's, else the default.
Generator& current_generator();

// ---- sampling (core/ops/random.cpp). Each runs its registry op; the Generator& forms draw from `gen`. ----
// Values are computed on the host in element order and then copied to the tensor's device, so a CUDA tensor
// holds exactly what a CPU tensor drawn from the same state holds; an in-kernel CUDA Philox is later work.

/// Uniform floats in [0, 1): 24 random bits for float32, 53 for float64 (torch.rand).
Tensor rand(std::vector<int64_t> size, TensorOptions options = {});
Tensor rand(std::vector<int64_t> size, Generator& gen, TensorOptions options = {});
/// Standard normal floats by Box-Muller, one value per element (torch.randn).
Tensor randn(std::vector<int64_t> size, TensorOptions options = {});
Tensor randn(std::vector<int64_t> size, Generator& gen, TensorOptions options = {});
/// Uniform integers in [low, high), int64 unless the options say otherwise (torch.randint).
Tensor randint(int64_t low, int64_t high, std::vector<int64_t> size, TensorOptions options = {DType::kInt64});
Tensor randint(int64_t low, int64_t high, std::vector<int64_t> size, Generator& gen,
               TensorOptions options = {DType::kInt64});
/// A random permutation of 0..n-1 by Fisher-Yates, int64 unless the options say otherwise (torch.randperm).
Tensor randperm(int64_t n, TensorOptions options = {DType::kInt64});
Tensor randperm(int64_t n, Generator& gen, TensorOptions options = {DType::kInt64});
/// Normal samples with per-element mean and std (broadcast); the dtype is mean's (torch.normal).
Tensor normal(const Tensor& mean, const Tensor& std_dev);
Tensor normal(const Tensor& mean, const Tensor& std_dev, Generator& gen);
/// torch.normal(mean, std: float) and torch.normal(mean: float, std): the number becomes a 0-dim tensor.
Tensor normal(const Tensor& mean, double std_dev);
Tensor normal(double mean, const Tensor& std_dev);
/// torch.normal(mean, std, size): randn scaled and shifted.
Tensor normal(double mean, double std_dev, std::vector<int64_t> size, TensorOptions options = {});
Tensor normal(double mean, double std_dev, std::vector<int64_t> size, Generator& gen,
              TensorOptions options = {});
/// 1 with probability p[i], else 0, in p's dtype (torch.bernoulli(p)).
Tensor bernoulli(const Tensor& p);
Tensor bernoulli(const Tensor& p, Generator& gen);
/// 1 with probability p, else 0, in self's shape and dtype (torch.bernoulli(self, p)).
Tensor bernoulli(const Tensor& self, double p);
Tensor bernoulli(const Tensor& self, double p, Generator& gen);
/// num_samples category indices per row of a 1-d or 2-d tensor of non-negative weights (torch.multinomial).
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement = false);
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator& gen);
/// Poisson samples with the given rates, in the rates' dtype (torch.poisson).
Tensor poisson(const Tensor& rates);
Tensor poisson(const Tensor& rates, Generator& gen);

// In-place fills (Tensor.uniform_ and friends), the registry ops of the same names. Each writes self's
// storage (any strides) and bumps its version counter; under grad mode a leaf that requires grad is refused,
// as in PyTorch (wrap init code in NoGradGuard), and a non-leaf passes zero gradients to what it was.

/// Fills with uniform values in [from, to).
Tensor uniform_(const Tensor& self, double from = 0, double to = 1);
Tensor uniform_(const Tensor& self, double from, double to, Generator& gen);
/// Fills with normal values.
Tensor normal_(const Tensor& self, double mean = 0, double std_dev = 1);
Tensor normal_(const Tensor& self, double mean, double std_dev, Generator& gen);
/// Fills with exponential values of rate lambd: -log(1 - u) / lambd.
Tensor exponential_(const Tensor& self, double lambd = 1);
Tensor exponential_(const Tensor& self, double lambd, Generator& gen);

}  // namespace td::random

namespace td {
/// Seeds the default generator (torch.manual_seed).
random::Generator& manual_seed(uint64_t seed);
}  // namespace td
