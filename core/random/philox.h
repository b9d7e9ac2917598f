// Philox-4x32-10 and the draws of one element, in host and device code: the CPU and CUDA kernels of the
// random ops (kernels/random_fill.h) and the host-drawn ops (core/ops/random.cpp) all read their numbers
// through these functions, so a CUDA tensor holds what a CPU tensor drawn from the same state holds.
//
// The stream layout (relied on by the tests): an op producing n elements reserves ceil(n / 4) counter
// groups starting at the generator's offset, which then advances by that many. Element i belongs to group
// g = i / 4 and lane l = i % 4; its w-th 32-bit random word (w = 0, 1, ...) is word l of the Philox block at
// the 128-bit counter whose low 64 bits are offset + g and whose high 64 bits are w, under the key (seed low
// 32 bits, seed high 32 bits). So the four elements of a group share every block (one Philox call feeds four
// float32 uniforms, as PyTorch's curand_uniform4 does), each element still has a sequence of words of its own
// (a rejection loop in one element does not shift the others), and values are a function of (seed, offset,
// i) alone, not of threading or device. Normal values are the one exception to "words of its own": they come
// in Box-Muller pairs, lanes 2p and 2p + 1 of a group sharing block (g, p) (standard_normal_pair). Numbers do
// not match PyTorch's streams.
#pragma once

#include <math.h>  // NOLINT: ::log, ::cos, ::sqrt and ::log1p have device overloads in CUDA, std:: ones do not

#include <array>
#include <cstdint>

#include "core/half.h"  // TD_HD

namespace td::random {

/// Four 32-bit words: a Philox counter, or one output block.
using PhiloxBlock = std::array<uint32_t, 4>;
/// The two 32-bit words of a Philox key.
using PhiloxKey = std::array<uint32_t, 2>;

/// Elements per counter group: the lanes of a Philox block.
inline constexpr uint64_t kGroupLanes = 4;

/// The counter groups an op of n elements reserves.
TD_HD uint64_t groups_for(uint64_t n) { return (n + kGroupLanes - 1) / kGroupLanes; }

/// Philox-4x32 with 10 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11, with the
/// Random123 constants): the bijection of counter blocks, keyed, behind every generator.
TD_HD PhiloxBlock philox4x32_10(PhiloxBlock ctr, PhiloxKey key) {
  // Round multipliers, and the Weyl key increments (golden ratio, sqrt(3) - 1).
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      key[0] += kW0;
      key[1] += kW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kM0) * ctr[0], p1 = static_cast<uint64_t>(kM1) * ctr[2];
    ctr = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<uint32_t>(p0)};
  }
  return ctr;
}

/// The counter groups one op reserved. Cheap to copy; read from any thread or device.
class PhiloxStream {
 public:
  TD_HD PhiloxStream(uint64_t seed, uint64_t base)
      : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}, base_(base) {}
  /// Block w of group g: the counter (base + g) in the low 64 bits, w in the high 64 bits.
  TD_HD PhiloxBlock block(uint64_t g, uint64_t w) const {
    const uint64_t lo = base_ + g;
    return philox4x32_10({static_cast<uint32_t>(lo), static_cast<uint32_t>(lo >> 32), static_cast<uint32_t>(w),
                          static_cast<uint32_t>(w >> 32)},
                         key_);
  }

 private:
  PhiloxKey key_;
  uint64_t base_;
};

/// The random words of one element, consumed in order. A group's kernel computes the blocks every lane needs
/// once and lends them (`shared`); words past them are computed on demand, one block per word.
class ElementDraws {
 public:
  /// Element `element` of the op, with no blocks computed ahead.
  TD_HD ElementDraws(const PhiloxStream& stream, uint64_t element)
      : ElementDraws(stream, element / kGroupLanes, static_cast<int>(element % kGroupLanes), nullptr, 0) {}
  /// Lane `lane` of group `group`, whose first `n_shared` blocks are `shared`.
  TD_HD ElementDraws(const PhiloxStream& stream, uint64_t group, int lane, const PhiloxBlock* shared, int n_shared)
      : stream_(stream), group_(group), lane_(lane), shared_(shared), n_shared_(n_shared) {}

  /// The next 32 random bits.
  TD_HD uint32_t next32() {
    const uint64_t w = next_++;
    return w < static_cast<uint64_t>(n_shared_) ? shared_[w][lane_] : stream_.block(group_, w)[lane_];
  }
  /// The next 64 random bits (the lower word first).
  TD_HD uint64_t next64() {
    const uint64_t lo = next32();
    return lo | static_cast<uint64_t>(next32()) << 32;
  }
  /// A float64 uniform in [0, 1) from the top 53 of the next 64 bits.
  TD_HD double uniform64() { return static_cast<double>(next64() >> 11) * 0x1.0p-53; }
  /// A float32 uniform in [0, 1) from the top 24 of the next 32 bits.
  TD_HD float uniform32() { return static_cast<float>(next32() >> 8) * 0x1.0p-24f; }
  /// A uniform integer in [0, range), range >= 1, without modulo bias: x * range / 2^64 maps 64 random bits
  /// onto the range, and the (2^64 mod range) low products that would be over-represented are drawn again
  /// (Lemire, "Fast random integer generation in an interval", 2019). Rare unless range is near 2^63.
  TD_HD uint64_t below(uint64_t range) {
    uint64_t x = next64();
    uint64_t low = x * range;
    if (low < range) {
      const uint64_t threshold = (0 - range) % range;  // 2^64 mod range
      while (low < threshold) {
        x = next64();
        low = x * range;
      }
    }
    return mul_high(x, range);
  }

 private:
  TD_HD static uint64_t mul_high(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
    return __umul64hi(a, b);
#else
    return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
#endif
  }

  const PhiloxStream& stream_;
  uint64_t group_;
  int lane_;
  const PhiloxBlock* shared_;
  int n_shared_;
  uint64_t next_ = 0;
};

/// 2 pi, the factor of Box-Muller's angle.
inline constexpr double kTwoPi = 2.0 * 3.141592653589793238;

/// Box-Muller's two uniforms from one Philox block: u1 in (0, 1] from words 0-1, u2 in [0, 1) from words 2-3,
/// 53 bits each.
TD_HD void box_muller_uniforms(const PhiloxBlock& b, double& u1, double& u2) {
  u1 = 1.0 - static_cast<double>((b[0] | static_cast<uint64_t>(b[1]) << 32) >> 11) * 0x1.0p-53;
  u2 = static_cast<double>((b[2] | static_cast<uint64_t>(b[3]) << 32) >> 11) * 0x1.0p-53;
}

/// Two independent standard normals from one block by Box-Muller: r = sqrt(-2 ln u1), z0 = r cos(2 pi u2), z1
/// = r sin(2 pi u2), as PyTorch's CPU normal fill uses both halves. A normal fill gives lanes 2p and 2p + 1
/// of group g the pair of block (g, p): one Philox call and one logarithm per two values. CUDA's log, cos and
/// sin and the CPU's (glibc's here, SLEEF's in the CPU's vector fill) are each within 1-2 ulp of the truth,
/// so devices can differ in the last bits of a float64 (float32 results, rounded from the double, almost
/// always agree).
TD_HD void standard_normal_pair(const PhiloxBlock& b, double& z0, double& z1) {
  double u1, u2;
  box_muller_uniforms(b, u1, u2);
  const double r = ::sqrt(-2.0 * ::log(u1)), angle = kTwoPi * u2;
#if defined(__CUDA_ARCH__)
  double s, c;
  ::sincos(angle, &s, &c);  // one range reduction for both (the values are sin's and cos's)
#else
  const double s = ::sin(angle), c = ::cos(angle);
#endif
  z0 = r * c;
  z1 = r * s;
}

/// Exponential(1): -log(1 - u), u in [0, 1) (words 0-1).
TD_HD double standard_exponential(ElementDraws& d) { return -::log1p(-d.uniform64()); }

}  // namespace td::random
