// Philox-4x32-10, the Generator (state, seeding, counter reservation), the default generator and the
// per-thread generator guard.
#include "core/random/generator.h"

#include <cstring>
#include <random>
#include <utility>

#include "core/error.h"

namespace td::random {

namespace {
// The Random123 constants: round multipliers and the Weyl key increments (golden ratio, sqrt(3) - 1).
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

inline PhiloxBlock philox_round(const PhiloxBlock& c, const PhiloxKey& k) {
  uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c[0], p1 = static_cast<uint64_t>(kPhiloxM1) * c[2];
  auto hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  auto hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  return {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
}

thread_local Generator* t_current = nullptr;
}  // namespace

PhiloxBlock philox4x32_10(PhiloxBlock ctr, PhiloxKey key) {
  ctr = philox_round(ctr, key);
  for (int r = 1; r < 10; ++r) {
    key[0] += kPhiloxW0;
    key[1] += kPhiloxW1;
    ctr = philox_round(ctr, key);
  }
  return ctr;
}

uint64_t ElementDraws::below(uint64_t range) {
  // x * range / 2^64 maps 64 random bits onto [0, range); rejecting the (2^64 mod range) low products that
  // would be over-represented removes the bias. Rejection is rare unless range is near 2^63.
  using u128 = unsigned __int128;
  u128 m = static_cast<u128>(next64()) * range;
  if (static_cast<uint64_t>(m) < range) {
    const uint64_t threshold = (0 - range) % range;  // 2^64 mod range
    while (static_cast<uint64_t>(m) < threshold) m = static_cast<u128>(next64()) * range;
  }
  return static_cast<uint64_t>(m >> 64);
}

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

PhiloxStream Generator::reserve(uint64_t blocks) {
  std::lock_guard lock(mutex_);
  PhiloxStream stream(state_.seed, state_.offset);
  state_.offset += blocks;
  return stream;
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
