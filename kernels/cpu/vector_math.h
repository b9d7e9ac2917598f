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

}  // namespace td::kernels
