// The CPU sort kernel: a stable sort of every row along the last dim, giving values and int64 positions.
// Rows run in parallel over OpenMP; a single long row is cut into chunks sorted in parallel and merged.
// When only the first k of a row are wanted (topk, kthvalue), a selection and a sort of those k do, in
// O(n + k log k).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/loops.h"

namespace td::kernels {

namespace {

// Whether a goes strictly before b: PyTorch's order, in which NaN is larger than everything (and equal to
// NaN) and -0.0 equals 0.0. Equal elements keep their order because every sort here is stable.
template <class T>
struct Before {
  bool descending;
  bool operator()(const std::pair<T, int64_t>& x, const std::pair<T, int64_t>& y) const {
    const T a = x.first, b = y.first;
    if constexpr (std::is_floating_point_v<T>) {
      if (descending) return a > b || (std::isnan(a) && !std::isnan(b));
      return a < b || (!std::isnan(a) && std::isnan(b));
    } else {
      return descending ? a > b : a < b;
    }
  }
};

// Before, with ties broken by position: a total order whose sorted sequence is the stable sort's, so an
// unstable selection of the first k gives the stable sort's first k.
template <class T>
struct BeforeOrFirst {
  Before<T> before;
  bool operator()(const std::pair<T, int64_t>& x, const std::pair<T, int64_t>& y) const {
    if (before(x, y)) return true;
    if (before(y, x)) return false;
    return x.second < y.second;
  }
};

// A stable sort of one long row with every thread: chunks sorted in parallel, then merged pairwise
// (std::merge takes equal elements from the left run first, so the result stays stable).
template <class P, class Cmp>
void parallel_stable_sort(std::vector<P>& v, std::vector<P>& scratch, Cmp cmp) {
  const int64_t n = static_cast<int64_t>(v.size());
  const int64_t chunks = std::min<int64_t>(omp_get_max_threads(), n / kParallelGrain);
  if (chunks < 2) {
    std::stable_sort(v.begin(), v.end(), cmp);
    return;
  }
  std::vector<int64_t> bounds(static_cast<size_t>(chunks + 1));
  for (int64_t c = 0; c <= chunks; ++c) bounds[static_cast<size_t>(c)] = n * c / chunks;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c)
    std::stable_sort(v.begin() + bounds[c], v.begin() + bounds[c + 1], cmp);
  scratch.resize(v.size());
  P* src = v.data();
  P* dst = scratch.data();
  for (int64_t width = 1; width < chunks; width *= 2) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c += 2 * width) {
      const int64_t lo = bounds[c], mid = bounds[std::min(c + width, chunks)],
                    hi = bounds[std::min(c + 2 * width, chunks)];
      std::merge(src + lo, src + mid, src + mid, src + hi, dst + lo, cmp);
    }
    std::swap(src, dst);
  }
  if (src != v.data()) std::copy(src, src + n, v.data());
}

// Above this k, topk selects with nth_element instead of a heap.
constexpr int64_t kHeapSelectMaxK = 128;

// The first k of a row of n (stride si) in the total order `before`, in order, into best: a heap whose top is
// the worst of the best k seen so far. Scanning positions upward, an element equal to the top comes later and
// so never displaces it, as the stable sort would order them.
// A contiguous row is scanned in blocks first: a block none of whose elements can beat the top (larger, or
// smaller, than it, or NaN against a number) is skipped with one vectorised test.
template <class T, class K>
void heap_select_row(const T* x, int64_t n, int64_t si, int64_t k, const BeforeOrFirst<K>& before,
                     std::vector<std::pair<K, int64_t>>& best) {
  constexpr int64_t kBlock = 16;
  const bool descending = before.before.descending;
  best.clear();
  for (int64_t j = 0; j < k; ++j) best.emplace_back(K(x[j * si]), j);
  std::make_heap(best.begin(), best.end(), before);
  for (int64_t j = k; j < n;) {
    int64_t end = j + 1;
    if (si == 1 && j + kBlock <= n) {
      const K top = best.front().first;
      bool any = false;
      if (descending) {
        for (int64_t i = 0; i < kBlock; ++i) any |= K(x[j + i]) > top || K(x[j + i]) != K(x[j + i]);
      } else {
        for (int64_t i = 0; i < kBlock; ++i) any |= K(x[j + i]) < top || top != top;
      }
      if (!any) {
        j += kBlock;
        continue;
      }
      end = j + kBlock;
    }
    for (; j < end; ++j) {
      const std::pair<K, int64_t> p{K(x[j * si]), j};
      if (!before(p, best.front())) continue;
      std::pop_heap(best.begin(), best.end(), before);
      best.back() = p;
      std::push_heap(best.begin(), best.end(), before);
    }
  }
  std::sort_heap(best.begin(), best.end(), before);
}

// Half and BFloat16 rows are sorted as floats (exact), and written back in their own type.
template <class T>
void sort_rows(bool descending, const StridedRef& values, const StridedRef& indices, const StridedRef& in) {
  using K = opmath_t<T>;
  const size_t kept = in.sizes.size() - 1;
  const int64_t n = in.sizes.back(), k = values.sizes.back();
  const int64_t rows = StridedRef{nullptr, in.dtype, in.sizes.first(kept), {}}.numel();
  const int64_t si = in.strides.back(), sv = values.strides.back(), sx = indices.strides.back();
  auto* pi = static_cast<const T*>(in.data);
  auto* pv = static_cast<T*>(values.data);
  auto* px = static_cast<int64_t*>(indices.data);
  const Before<K> before{descending};
  const BeforeOrFirst<K> total{before};
  // A selection pays off when k is a small part of the row; otherwise the whole row is sorted. For a few out
  // of many (topk's usual k), a heap of the k best seen so far: most elements cost one comparison with the
  // heap's worst, and the row is not copied.
  const bool select = k < n / 4;
  const bool heap_select = k > 0 && k <= kHeapSelectMaxK && k * 16 <= n;
  using P = std::pair<K, int64_t>;
  // One row at a time per thread; rows split across threads, or, with fewer rows than threads, each long
  // row split across them.
  const bool across_rows = rows >= omp_get_max_threads() || n < 2 * kParallelGrain;
#pragma omp parallel if (across_rows && rows > 1 && rows * n >= kParallelGrain)
  {
    std::vector<P> row, scratch;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const T* x = pi + offset_of(r, in.sizes.first(kept), in.strides.first(kept));
      if (heap_select) {
        heap_select_row(x, n, si, k, total, row);
      } else {
        row.resize(static_cast<size_t>(n));
        for (int64_t j = 0; j < n; ++j) row[static_cast<size_t>(j)] = {K(x[j * si]), j};
      }
      if (heap_select) {
        // row holds the first k, in order.
      } else if (select) {
        if (k > 0) std::nth_element(row.begin(), row.begin() + (k - 1), row.end(), total);
        std::sort(row.begin(), row.begin() + k, total);
      } else if (across_rows) {
        std::stable_sort(row.begin(), row.end(), before);
      } else {
        parallel_stable_sort(row, scratch, before);
      }
      T* v = pv + offset_of(r, values.sizes.first(kept), values.strides.first(kept));
      int64_t* ix = px + offset_of(r, indices.sizes.first(kept), indices.strides.first(kept));
      for (int64_t j = 0; j < k; ++j) {
        v[j * sv] = T(row[static_cast<size_t>(j)].first);
        ix[j * sx] = row[static_cast<size_t>(j)].second;
      }
    }
  }
}

}  // namespace

void cpu_sort(bool descending, const StridedRef& values, const StridedRef& indices, const StridedRef& in) {
  dispatch(in.dtype, "sort", [&](auto tag) { sort_rows<decltype(tag)>(descending, values, indices, in); });
}

}  // namespace td::kernels
