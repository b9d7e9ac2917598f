// The Generator (state, seeding, counter reservation), the default generator and the
// per-thread generator guard.
#include "core/random/generator.h"

#include <cstring>
#include <random>
#include <utility>

#include "core/error.h"

namespace td::random {

namespace {
thread_local Generator* t_current = nullptr;
}  // namespace

Generator& Generator::manual_seed(uint64_t seed) {
  std::lock_guard lock(mutex_);
  state_ = {seed, 0};
  return *this;
}

uint64_t Generator::seed() {
  std::random_device device;
  uint64_t s = static_cast<uint64_t>(device()) << 32 | device();
  manual_seed(s);
  return s;
}

uint64_t Generator::initial_seed() const {
  std::lock_guard lock(mutex_);
  return state_.seed;
}

GeneratorState Generator::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void Generator::set_state(const GeneratorState& state) {
  std::lock_guard lock(mutex_);
  state_ = state;
}

Tensor Generator::get_state() const {
  GeneratorState s = state();
  std::vector<uint8_t> bytes(16);
  for (int b = 0; b < 8; ++b) {
    bytes[b] = static_cast<uint8_t>(s.seed >> (8 * b));
    bytes[8 + b] = static_cast<uint8_t>(s.offset >> (8 * b));
  }
  return tensor(bytes, {16});
}

void Generator::set_state(const Tensor& state) {
  TD_CHECK_ARG(
      state.defined() && state.dtype() == DType::kUInt8, "[set_state] RNG state must be a torch.ByteTensor",
      state.defined() ? str(", got ", dtype_name(state.dtype())) : std::string(", got an undefined tensor"));
  TD_CHECK_ARG(state.numel() == 16,
               "[set_state] RNG state is wrong size: expected 16 bytes (seed and offset), got ",
               state.numel());
  std::vector<uint8_t> bytes = state.to_vector<uint8_t>();
  GeneratorState s{0, 0};
  for (int b = 0; b < 8; ++b) {
    s.seed |= static_cast<uint64_t>(bytes[b]) << (8 * b);
    s.offset |= static_cast<uint64_t>(bytes[8 + b]) << (8 * b);
  }
  set_state(s);
}

GeneratorState Generator::reserve(uint64_t groups) {
  std::lock_guard lock(mutex_);
  const GeneratorState start = state_;
  state_.offset += groups;
  return start;
}

Generator& default_generator() {
  static Generator* gen = new Generator();  // never destroyed: ops may run during static destruction
  return *gen;
}

GeneratorGuard::GeneratorGuard(Generator& gen) : prev_(std::exchange(t_current, &gen)) {}
GeneratorGuard::~GeneratorGuard() {
  t_current = prev_;
}

Generator& current_generator() {
  return t_current ? *t_current : default_generator();
}

}  // namespace td::random

namespace td {
random::Generator& manual_seed(uint64_t seed) {
  return random::default_generator().manual_seed(seed);
}
}  // namespace td
