// SLEEF's vectorised elementary functions for the CPU's float unary ops, on contiguous runs.
#pragma once

#include <cstdint>

#include "core/backend.h"

namespace td::kernels {

/// Whether this CPU can run the 8-lane (AVX) SLEEF path; checked once.
bool vector_math_available();
/// out[i] = op(in[i]) for n contiguous floats through SLEEF (1-ULP functions, as PyTorch uses). Returns false
/// when op has no SLEEF form; then nothing was written. Call only when vector_math_available().
bool vector_unary(UnaryOp op, const float* in, float* out, int64_t n);
bool vector_unary(UnaryOp op, const double* in, double* out, int64_t n);

/// One contiguous row of n > 0 elements: out = softmax(in), or log_softmax(in) when is_log, in three vector
/// passes (max; exp and its sum; normalise). Call only when vector_math_available().
void vector_softmax_row(bool is_log, const float* in, float* out, int64_t n);
void vector_softmax_row(bool is_log, const double* in, double* out, int64_t n);

/// out[i] = a[i] (op) b[i] over n contiguous elements, or with b[0] for every i when b_scalar, for add and
/// sub (b scaled by alpha) and mul and div, rounding exactly as the scalar loop does (no fused multiply-add).
/// out may be a itself (an in-place op), not otherwise overlap. Returns false for other ops (nothing
/// written). Call only when vector_math_available().
bool vector_binary(BinaryOp op, const float* a, const float* b, float* out, int64_t n, float alpha, bool b_scalar);
bool vector_binary(BinaryOp op, const double* a, const double* b, double* out, int64_t n, double alpha,
                   bool b_scalar);

/// Box-Muller in pairs, as random::standard_normal_pair computes it, through SLEEF's 1-ULP log, sin and cos:
/// z[2 k] = r cos(2 pi u2[k]) and z[2 k + 1] = r sin(2 pi u2[k]), r = sqrt(-2 log(u1[k])), for n >= 0 values
/// (ceil(n / 2) pairs; an odd n leaves out the last sine). Call only when vector_math_available().
void vector_box_muller(const double* u1, const double* u2, double* z, int64_t n);

/// Whether this CPU has AVX2 (eight-lane 32-bit integer arithmetic) for vector_normal_uniforms; checked once.
bool vector_philox_available();
/// Box-Muller's uniforms of `pairs` pairs of a normal fill of (seed, base) (core/random/philox.h's layout),
/// starting at counter group g0: pair k is block (g0 + k / 2, k % 2), and u1[k], u2[k] are what
/// random::box_muller_uniforms takes from it, with eight groups' blocks computed at once in AVX2 lanes. Call
/// only when vector_philox_available().
void vector_normal_uniforms(uint64_t seed, uint64_t base, uint64_t g0, int64_t pairs, double* u1, double* u2);
/// The first Philox block of `groups` counter groups of (seed, base) from group g0 (core/random/philox.h's
/// layout): words[4 j + k] = word k of block (g0 + j, 0), the word element 4 (g0 + j) + k draws first; eight
/// groups at once in AVX2 lanes. Call only when vector_philox_available().
void vector_philox_words(uint64_t seed, uint64_t base, uint64_t g0, int64_t groups, uint32_t* words);

/// The sum of n contiguous floats: per 128-element block, 8 float lanes add their 16 elements pairwise (the
/// fast, memory-bound part; PyTorch's cascade sum also accumulates float32 in float32), and the block lanes
/// are added in double, so only 16-element pairwise sums round in float. Call only when
/// vector_math_available().
double vector_sum(const float* x, int64_t n);

}  // namespace td::kernels
