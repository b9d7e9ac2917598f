// Strided loops for CPU kernels: dims are coalesced, the innermost dim runs as a plain loop (contiguous
// when every operand has unit stride, so the compiler vectorises it) and rows are split across OpenMP threads.
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "kernels/coalesce.h"
#include "kernels/dispatch.h"

namespace td::kernels {

/// Below this many elements a kernel runs on one thread: the fork costs more than it saves.
inline constexpr int64_t kParallelGrain = 32768;

/// The element offset of row-major position o in a tensor whose (leading) dims are (sizes, strides).
inline int64_t offset_of(int64_t o, std::span<const int64_t> sizes, std::span<const int64_t> strides) {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    off += (o % sizes[d]) * strides[d];
    o /= sizes[d];
  }
  return off;
}

/// Calls inner(offsets, count, inner_strides) for each innermost row, offsets in elements per operand; rows
/// run on several threads above kParallelGrain elements unless `serial` (for kernels whose writes may
/// collide, such as scatter).
template <size_t N, class Inner>
void for_each_row(std::span<const int64_t> sizes, const std::array<std::span<const int64_t>, N>& strides, Inner inner,
                  bool serial = false) {
  Coalesced<N> c = coalesce<N>(sizes, strides);
  const int64_t nd = static_cast<int64_t>(c.sizes.size());
  const int64_t inner_n = c.sizes.back();
  std::array<int64_t, N> inner_s;
  for (size_t k = 0; k < N; ++k) inner_s[k] = c.strides[k].back();
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) rows *= c.sizes[d];
  auto row_offsets = [&](int64_t row) {
    std::array<int64_t, N> off{};
    for (int64_t d = nd - 2; d >= 0; --d) {
      int64_t i = row % c.sizes[d];
      row /= c.sizes[d];
      for (size_t k = 0; k < N; ++k) off[k] += i * c.strides[k][d];
    }
    return off;
  };
  if (rows == 1) {
    // One long row (every contiguous operand coalesces to one): cut into a chunk per thread, each a
    // multiple of 16 elements so that no two threads write one cache line.
    const bool split = !serial && inner_n >= 2 * kParallelGrain && omp_get_max_threads() > 1;
    if (!split) return inner(row_offsets(0), inner_n, inner_s);
    const std::array<int64_t, N> base = row_offsets(0);
#pragma omp parallel
    {
      const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t per = ((inner_n + threads - 1) / threads + 15) / 16 * 16;
      const int64_t begin = std::min(inner_n, t * per), end = std::min(inner_n, begin + per);
      if (begin < end) {
        std::array<int64_t, N> off = base;
        for (size_t k = 0; k < N; ++k) off[k] += begin * inner_s[k];
        inner(off, end - begin, inner_s);
      }
    }
    return;
  }
  // Rows [begin, end): the offsets of the first by division, the rest by stepping an odometer over the
  // outer dims (short rows, as index_select's, would otherwise pay a division per dim per row).
  auto run = [&](int64_t begin, int64_t end) {
    if (begin >= end) return;
    std::array<int64_t, N> off = row_offsets(begin);
    std::vector<int64_t> at(static_cast<size_t>(nd - 1));
    for (int64_t d = nd - 2, r = begin; d >= 0; --d) {
      at[static_cast<size_t>(d)] = r % c.sizes[d];
      r /= c.sizes[d];
    }
    for (int64_t row = begin;;) {
      inner(off, inner_n, inner_s);
      if (++row == end) return;
      for (int64_t d = nd - 2; d >= 0; --d) {
        auto& i = at[static_cast<size_t>(d)];
        if (++i < c.sizes[d]) {
          for (size_t k = 0; k < N; ++k) off[k] += c.strides[k][d];
          break;
        }
        for (size_t k = 0; k < N; ++k) off[k] -= (i - 1) * c.strides[k][d];
        i = 0;
      }
    }
  };
  const bool parallel = !serial && rows * inner_n >= kParallelGrain && omp_get_max_threads() > 1;
  if (!parallel) return run(0, rows);
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t per = (rows + threads - 1) / threads;
    run(t * per, std::min(rows, (t + 1) * per));
  }
}

/// dispatch() for the CPU backend.
template <class F>
void dispatch(DType dtype, std::string_view op, F&& f) {
  dispatch(dtype, op, "CPU", std::forward<F>(f));
}
/// dispatch_with_complex() for the CPU backend.
template <class F>
void dispatch_with_complex(DType dtype, std::string_view op, F&& f) {
  dispatch_with_complex(dtype, op, "CPU", std::forward<F>(f));
}

/// Stable sort of every row along the last dim (kernels/cpu/sort.cpp); see Backend::sort.
void cpu_sort(bool descending, const StridedRef& values, const StridedRef& indices, const StridedRef& in);

/// Batched GEMM on the CPU (kernels/cpu/blas.cpp): OpenBLAS for floats, a blocked loop for integers.
void cpu_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b);

/// Backend::im2col and Backend::col2im on the CPU (kernels/cpu/conv.cpp).
void cpu_im2col(const StridedRef& col, const StridedRef& in, const ConvWindow& w);
void cpu_col2im(const StridedRef& out, const StridedRef& col, const ConvWindow& w);

/// The library and kernels behind cpu_gemm's float types, e.g. "OpenBLAS (SkylakeX kernels)".
const std::string& cpu_gemm_library();

}  // namespace td::kernels
