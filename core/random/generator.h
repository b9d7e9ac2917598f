// td::random: counter-based random numbers. Every generator is Philox-4x32-10 (core/random/philox.h, which
// also documents the stream layout), the family PyTorch's CUDA generator uses: a 64-bit seed is the key and
// a counter picks the block, so any element can be drawn without drawing the ones before it, and the CPU and
// CUDA kernels (Backend::random_fill) produce the same stream.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "core/random/philox.h"
#include "core/tensor.h"

namespace td::random {

/// The seed a generator starts from when none is given (PyTorch's default_rng_seed_val).
inline constexpr uint64_t kDefaultSeed = 67280421310721ULL;

/// A generator's whole state: its seed (the Philox key) and how many counter groups it has handed out.
struct GeneratorState {
  uint64_t seed = kDefaultSeed;
  uint64_t offset = 0;
  bool operator==(const GeneratorState&) const = default;
};

/// A Philox-4x32-10 stream with PyTorch's generator API. Thread-safe: each op reserves its counter groups
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
  /// Reserves `groups` counter groups for one op and advances the offset past them; returns the state the
  /// op draws from (its first group is the returned offset).
  GeneratorState reserve(uint64_t groups);

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
// rand, randn, randint, normal, bernoulli and the in-place fills draw on the tensor's device
// (Backend::random_fill); randperm, multinomial and poisson draw on the host and copy. Either way a CUDA
// tensor holds what a CPU tensor drawn from the same state holds (to the last bit of a float64 normal or
// exponential value: philox.h).

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
