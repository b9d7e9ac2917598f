// Backend::random_fill's arithmetic, shared by the CPU (kernels/cpu/cpu_backend.cpp) and CUDA
// (kernels/cuda/random.cu) kernels: one counter group (four elements) at a time, with the blocks every lane
// needs computed once. Both backends run exactly this code, which is what makes their values agree.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

#include "core/backend.h"
#include "core/random/philox.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise_ops.h"

namespace td::kernels {

/// a * b + c rounded twice, as the host computes it: nvcc would fuse it into one fma (one rounding) and
/// make the devices differ in the last bit.
TD_HD double mul_add(double a, double b, double c) { return fn::add_rn(fn::mul_rn(a, b), c); }

/// The random words one element of kind K and type T reads when no rejection happens.
/// (Normal values come in pairs from one block each: random_group_values.)
template <RandomKind K, class T>
inline constexpr int kRandomWords = K == RandomKind::kBernoulli ||
                                            (K == RandomKind::kUniform && !std::is_same_v<T, double>)
                                        ? 1
                                        : 2;

/// A normal value of mean a and standard deviation b from a standard one.
template <class T>
TD_HD T normal_value(const RandomFill& f, double z) {
  return fn::convert<T>(mul_add(f.b, z, f.a));
}

/// Element i's value: its draws `d` turned into T (p: its Bernoulli probability). Not for normal values.
template <RandomKind K, class T>
TD_HD T random_value(const RandomFill& f, random::ElementDraws& d, double p) {
  if constexpr (K == RandomKind::kUniform) {
    const double u = std::is_same_v<T, double> ? d.uniform64() : static_cast<double>(d.uniform32());
    const T v = fn::convert<T>(mul_add(f.b - f.a, u, f.a));
    // Rounding can reach b; PyTorch maps that value back to a, to keep [a, b).
    return f.a < f.b && v >= fn::convert<T>(f.b) ? fn::convert<T>(f.a) : v;
  } else if constexpr (K == RandomKind::kExponential) {
    return fn::convert<T>(f.a == 0 ? std::numeric_limits<double>::infinity() : random::standard_exponential(d) / f.a);
  } else if constexpr (K == RandomKind::kBernoulli) {
    // One 32-bit word (a probability off by at most 2^-32), so one Philox call feeds four elements, as
    // PyTorch's CUDA bernoulli_ draws four floats from one curand_uniform4.
    return fn::convert<T>(static_cast<double>(d.next32()) * 0x1.0p-32 < p ? 1.0 : 0.0);
  } else {
    // low + r fits int64 for every valid range: the sum wraps back exactly.
    return fn::convert<T>(static_cast<int64_t>(static_cast<uint64_t>(f.low) + d.below(f.range)));
  }
}

/// Calls fn(i, draws of element i) for the elements i < n of counter group g (i = 4 g .. 4 g + 3), with the
/// group's first kWords blocks computed once for all four.
template <int kWords, class Fn>
TD_HD void for_each_in_group(const random::PhiloxStream& stream, uint64_t g, uint64_t n, Fn&& fn) {
  random::PhiloxBlock blocks[kWords];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int w = 0; w < kWords; ++w) blocks[w] = stream.block(g, static_cast<uint64_t>(w));
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int lane = 0; lane < static_cast<int>(random::kGroupLanes); ++lane) {
    const uint64_t i = g * random::kGroupLanes + static_cast<uint64_t>(lane);
    if (i < n) {
      random::ElementDraws d(stream, g, lane, blocks, kWords);
      fn(i, d);
    }
  }
}

/// Calls out(i, value) for the elements i < n of counter group g (i = 4 g .. 4 g + 3) of `stream`. Normal
/// values take a Box-Muller pair per block: lanes 2p and 2p + 1 from block (g, p).
template <RandomKind K, class T, class Out>
TD_HD void random_group_values(const RandomFill& f, const random::PhiloxStream& stream, uint64_t g,
                               uint64_t n, const double* probs, Out&& out) {
  if constexpr (K == RandomKind::kNormal) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (uint64_t p = 0; p < random::kGroupLanes / 2; ++p) {
      const uint64_t i = g * random::kGroupLanes + 2 * p;
      if (i >= n) break;
      double z0, z1;
      random::standard_normal_pair(stream.block(g, p), z0, z1);
      out(i, normal_value<T>(f, z0));
      if (i + 1 < n) out(i + 1, normal_value<T>(f, z1));
    }
  } else {
    for_each_in_group<kRandomWords<K, T>>(stream, g, n, [&](uint64_t i, random::ElementDraws& d) {
      out(i, random_value<K, T>(f, d, probs ? probs[i] : f.a));
    });
  }
}

/// Fills out[4 g .. 4 g + 3] (those below n) from group g of `stream`.
template <RandomKind K, class T>
TD_HD void random_fill_group(const RandomFill& f, const random::PhiloxStream& stream, uint64_t g, T* out,
                             uint64_t n, const double* probs) {
  random_group_values<K, T>(f, stream, g, n, probs, [&](uint64_t i, T v) { out[i] = v; });
}

/// Calls fn(std::integral_constant<RandomKind, K>{}, T{}) for the fill's kind and out's dtype T: the floating
/// dtypes for uniform, normal and exponential values, every real dtype for Bernoulli and randint ones.
template <class Fn>
void dispatch_random(RandomKind kind, DType dtype, std::string_view backend, Fn&& fn) {
  auto with = [&](auto k) {
    constexpr RandomKind K = decltype(k)::value;
    auto run = [&](auto tag) { fn(k, tag); };
    if constexpr (K == RandomKind::kBernoulli || K == RandomKind::kRandint) {
      dispatch(dtype, "random_fill", backend, run);
    } else {
      dispatch_floating(dtype, "random_fill", backend, run);
    }
  };
  switch (kind) {
    case RandomKind::kUniform: return with(std::integral_constant<RandomKind, RandomKind::kUniform>{});
    case RandomKind::kNormal: return with(std::integral_constant<RandomKind, RandomKind::kNormal>{});
    case RandomKind::kExponential: return with(std::integral_constant<RandomKind, RandomKind::kExponential>{});
    case RandomKind::kBernoulli: return with(std::integral_constant<RandomKind, RandomKind::kBernoulli>{});
    case RandomKind::kRandint: return with(std::integral_constant<RandomKind, RandomKind::kRandint>{});
  }
}

}  // namespace td::kernels
