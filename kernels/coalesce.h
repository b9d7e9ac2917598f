// Merging of dims that every operand walks contiguously with each other; shared by the CPU and CUDA loops.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace td::kernels {

/// Sizes and per-operand strides with mergeable dims merged (row-major, innermost last).
template <size_t N>
struct Coalesced {
  std::vector<int64_t> sizes;
  std::array<std::vector<int64_t>, N> strides;
};

template <size_t N>
Coalesced<N> coalesce(std::span<const int64_t> sizes, const std::array<std::span<const int64_t>, N>& strides) {
  Coalesced<N> c;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    bool merge = !c.sizes.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = c.strides[k].back() == strides[k][d] * sizes[d];
    if (merge) {
      c.sizes.back() *= sizes[d];
      for (size_t k = 0; k < N; ++k) c.strides[k].back() = strides[k][d];
    } else {
      c.sizes.push_back(sizes[d]);
      for (size_t k = 0; k < N; ++k) c.strides[k].push_back(strides[k][d]);
    }
  }
  if (c.sizes.empty()) {
    c.sizes.push_back(1);
    for (size_t k = 0; k < N; ++k) c.strides[k].push_back(1);
  }
  return c;
}

}  // namespace td::kernels
