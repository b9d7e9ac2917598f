// Merging of dims that every operand walks contiguously with each other; shared by the CPU and CUDA loops.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/backend.h"

namespace td::kernels {

/// Whether t is row-major contiguous (dims of size 1 may have any stride).
inline bool is_contiguous(const StridedRef& t) {
  int64_t expected = 1;
  for (size_t d = t.sizes.size(); d-- > 0;) {
    if (t.sizes[d] != 1 && t.strides[d] != expected) return false;
    expected *= t.sizes[d];
  }
  return true;
}

/// A list of dims held inline up to kInline entries (every op's loop coalesces its operands' dims, and a
/// heap allocation per call showed in small ops' profiles), on the heap beyond.
class DimVec {
 public:
  static constexpr size_t kInline = 8;
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t* data() { return heap_.empty() ? inline_.data() : heap_.data(); }
  const int64_t* data() const { return heap_.empty() ? inline_.data() : heap_.data(); }
  int64_t& operator[](size_t i) { return data()[i]; }
  int64_t operator[](size_t i) const { return data()[i]; }
  int64_t& back() { return data()[n_ - 1]; }
  int64_t back() const { return data()[n_ - 1]; }
  const int64_t* begin() const { return data(); }
  const int64_t* end() const { return data() + n_; }
  void push_back(int64_t v) {
    if (heap_.empty() && n_ < kInline) {
      inline_[n_++] = v;
      return;
    }
    if (heap_.empty()) heap_.assign(inline_.begin(), inline_.end());
    heap_.push_back(v);
    ++n_;
  }

 private:
  std::array<int64_t, kInline> inline_;
  std::vector<int64_t> heap_;  // all entries, once there are more than kInline
  size_t n_ = 0;
};

/// Sizes and per-operand strides with mergeable dims merged (row-major, innermost last).
template <size_t N>
struct Coalesced {
  DimVec sizes;
  std::array<DimVec, N> strides;
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
