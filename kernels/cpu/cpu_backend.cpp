// The CPU backend: memory, copy/cast, fill, elementwise, reductions, index ops, sort and GEMM. Half and
// BFloat16 elements are computed in float (opmath_t) and rounded back once per element.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>
#include <new>

#include <unistd.h>

#include "kernels/caching_allocator.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/onednn_conv.h"
#include "kernels/cpu/optimizer_steps.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/fft.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/rnn.h"
#include "kernels/cpu/small_blocks.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/vector_math.h"
#include "kernels/elementwise_ops.h"
#include "kernels/random_fill.h"

namespace td::kernels {

namespace {

constexpr size_t kCheckedAllocation = size_t{64} << 20;
// Below this many counter groups (four elements each) a random fill runs on one thread.
constexpr int64_t kRandomGrainGroups = 4096;

using fn::convert;

// Eight independent accumulators: breaks the dependency chain of the combine step and lets the compiler
// vectorise contiguous rows.
template <class R, class T>
typename R::A row_reduce(const T* x, int64_t n, int64_t stride) {
  using A = typename R::A;
  constexpr int kLanes = 8;
  A lanes[kLanes];
  for (A& l : lanes) l = R::identity();
  int64_t i = 0;
  if (stride == 1) {
    for (; i + kLanes <= n; i += kLanes) {
      for (int k = 0; k < kLanes; ++k) lanes[k] = R::combine(lanes[k], static_cast<A>(x[i + k]));
    }
  }
  for (; i < n; ++i) lanes[0] = R::combine(lanes[0], static_cast<A>(x[i * stride]));
  A total = R::identity();
  for (int k = 0; k < kLanes; ++k) total = R::combine(total, lanes[k]);
  return total;
}

// A float32 sum accumulates in float, blocked and pairwise (vector_sum), as PyTorch's cascade sum does, for
// memory speed; without AVX, and for other types and strides, the lanes of row_reduce.
template <ReduceOp Op, class R, class T>
typename R::A fold_row(const T* x, int64_t n, int64_t stride) {
  if constexpr (Op == ReduceOp::kSum && std::is_same_v<T, float>) {
    if (stride == 1 && vector_math_available()) return static_cast<typename R::A>(vector_sum(x, n));
  }
  return row_reduce<R>(x, n, stride);
}

// A sum over one outer dim of n rows (row stride s) whose kept elements lie contiguous in each row, into a
// contiguous output ([n, K] -> [K]: a bias's gradient, sum(0)): the rows are added into K accumulators one
// after the other, vectorised along the row, where folding each output's strided column would touch a cache
// line per element. The threads split the columns, so every output is added in the same order. False where
// the layout is not that one.
template <class T, class A>
bool outer_sum(const StridedRef& out, const StridedRef& in, size_t kept, int64_t n, int64_t s) {
  Coalesced<1> k = coalesce<1>(in.sizes.first(kept), {in.strides.first(kept)});
  if (k.sizes.size() != 1 || k.strides[0][0] != 1 || !is_contiguous(out)) return false;
  const int64_t cols = k.sizes[0];
  if (cols < 8 || s < cols) return false;
  auto* po = static_cast<T*>(out.data);
  const auto* pi = static_cast<const T*>(in.data);
  constexpr int64_t kBlock = 1024;  // columns a task adds up (its accumulators stay in L1)
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * cols >= kParallelGrain && blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j0 = b * kBlock, width = std::min(kBlock, cols - j0);
    A acc[kBlock];
    for (int64_t j = 0; j < width; ++j) acc[j] = A(0);
    for (int64_t r = 0; r < n; ++r) {
      const T* row = pi + r * s + j0;
      for (int64_t j = 0; j < width; ++j) acc[j] += static_cast<A>(row[j]);
    }
    for (int64_t j = 0; j < width; ++j) po[j0 + j] = static_cast<T>(acc[j]);
  }
  return true;
}

template <ReduceOp Op, class T>
void reduce_kernel(const StridedRef& out, const StridedRef& in, int reduced) {
  using R = fn::Reducer<Op, T>;
  using A = typename R::A;
  const size_t kept = in.sizes.size() - static_cast<size_t>(reduced);
  auto inner_sizes = in.sizes.subspan(kept);
  auto inner_strides = in.strides.subspan(kept);
  auto* po = static_cast<T*>(out.data);
  auto* pi = static_cast<const T*>(in.data);
  // An empty reduced block: every output is the identity. (Its other dims may be huge: [2**40, 0] holds no
  // element, and walking its rows would take forever.)
  if (std::find(inner_sizes.begin(), inner_sizes.end(), 0) != inner_sizes.end()) {
    const T identity = convert<T>(R::identity());
    for (int64_t o = 0, n_out = out.numel(); o < n_out; ++o) po[o] = identity;
    return;
  }
  Coalesced<1> c = coalesce<1>(inner_sizes, {inner_strides});
  const int64_t n = c.sizes.back(), s = c.strides[0].back(), nd = static_cast<int64_t>(c.sizes.size());
  if constexpr (Op == ReduceOp::kSum && std::is_floating_point_v<T>) {
    if (nd == 1 && outer_sum<T, A>(out, in, kept, n, s)) return;
  }
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) rows *= c.sizes[d];
  std::span<const int64_t> row_sizes(c.sizes.data(), static_cast<size_t>(nd - 1));
  std::span<const int64_t> row_strides(c.strides[0].data(), static_cast<size_t>(nd - 1));
  // Reduces one output's block, starting at element offset base. A single long row is cut into chunks so a
  // full reduction still uses every thread.
  auto block = [&](int64_t base, bool parallel) {
    const int64_t chunks = parallel && rows < 64 ? std::clamp<int64_t>(n / kParallelGrain, 1, 64) : 1;
    const int64_t chunk_len = (n + chunks - 1) / chunks;
    const int64_t tasks = rows * chunks;
    if (!(parallel && rows * n >= kParallelGrain) || tasks == 1) {
      A total = R::identity();
      for (int64_t task = 0; task < tasks; ++task) {
        const int64_t begin = (task % chunks) * chunk_len, end = std::min(n, begin + chunk_len);
        int64_t off = base + offset_of(task / chunks, row_sizes, row_strides);
        total = R::combine(total, fold_row<Op, R>(pi + off + begin * s, end - begin, s));
      }
      return total;
    }
    std::vector<A> partial(static_cast<size_t>(tasks), R::identity());
#pragma omp parallel for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t begin = (task % chunks) * chunk_len, end = std::min(n, begin + chunk_len);
      int64_t off = base + offset_of(task / chunks, row_sizes, row_strides);
      partial[static_cast<size_t>(task)] = fold_row<Op, R>(pi + off + begin * s, end - begin, s);
    }
    A total = R::identity();
    for (A p : partial) total = R::combine(total, p);  // in task order: the result does not depend on threads
    return total;
  };
  const int64_t n_out = out.numel();
  if (n_out == 1) {
    po[0] = convert<T>(block(0, true));
    return;
  }
  auto kept_sizes = in.sizes.first(kept);
  auto kept_strides = in.strides.first(kept);
  const bool parallel = n_out * rows * n >= kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t o = 0; o < n_out; ++o) po[o] = convert<T>(block(offset_of(o, kept_sizes, kept_strides), false));
}

// A copy whose destination rows are contiguous but whose source walks them with a large stride (a
// materialised transpose): done in square tiles so both sides stay in cache. Returns false when the layout is
// not that shape.
template <class To, class From>
bool transpose_copy(const StridedRef& dst, const StridedRef& src) {
  Coalesced<2> c = coalesce<2>(dst.sizes, {dst.strides, src.strides});
  const size_t nd = c.sizes.size();
  if (nd < 2) return false;
  const int64_t rows = c.sizes[nd - 2], cols = c.sizes[nd - 1];
  const int64_t d_row = c.strides[0][nd - 2], s_row = c.strides[1][nd - 2], s_col = c.strides[1][nd - 1];
  if (c.strides[0][nd - 1] != 1 || s_row != 1 || s_col == 1 || rows < 16 || cols < 16) return false;
  constexpr int64_t kTile = 32;
  int64_t outer = 1;
  for (size_t d = 0; d + 2 < nd; ++d) outer *= c.sizes[d];
  std::span<const int64_t> outer_sizes(c.sizes.data(), nd - 2);
  std::span<const int64_t> d_outer(c.strides[0].data(), nd - 2), s_outer(c.strides[1].data(), nd - 2);
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  auto* pd = static_cast<To*>(dst.data);
  auto* ps = static_cast<const From*>(src.data);
#pragma omp parallel for schedule(static) if (outer * rows * cols >= kParallelGrain)
  for (int64_t task = 0; task < outer * row_tiles; ++task) {
    const int64_t o = task / row_tiles, r0 = (task % row_tiles) * kTile, r1 = std::min(rows, r0 + kTile);
    To* d = pd + offset_of(o, outer_sizes, d_outer);
    const From* x = ps + offset_of(o, outer_sizes, s_outer);
    for (int64_t ct = 0; ct < col_tiles; ++ct) {
      const int64_t c0 = ct * kTile, c1 = std::min(cols, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t col = c0; col < c1; ++col) d[r * d_row + col] = convert<To>(x[r + col * s_col]);
      }
    }
  }
  return true;
}

// T is the element type, M = opmath_t<T> the one the functor computes in (float for Half and BFloat16).
template <class T, class F>
void rows_of(const StridedRef& out, const StridedRef& a, const StridedRef& b, F f);
template <class T, class F, class Run>
void rows_of(const StridedRef& out, const StridedRef& a, const StridedRef& b, F f, Run run);

template <class T, BinaryOp Op>
void binary_loop(const StridedRef& out, const StridedRef& a, const StridedRef& b, opmath_t<T> alpha) {
  using M = opmath_t<T>;
  if constexpr ((std::is_same_v<T, float> || std::is_same_v<T, double>) &&
                (Op == BinaryOp::kAdd || Op == BinaryOp::kSub || Op == BinaryOp::kMul || Op == BinaryOp::kDiv)) {
    // Contiguous runs (b whole or one broadcast value) through AVX lanes: the compiler's own vectorisation
    // is SSE2 only, and gives up when out is a (in place).
    if (vector_math_available()) {
      return rows_of<T>(
          out, a, b, [alpha](T x, T y) { return T(fn::binary<Op>(M(x), M(y), alpha)); },
          [alpha](T* o, const T* x, const T* y, int64_t n, bool y_scalar) {
            vector_binary(Op, x, y, o, n, alpha, y_scalar);
          });
    }
  }
  if constexpr ((Op == BinaryOp::kAdd || Op == BinaryOp::kSub) && !std::is_same_v<T, bool>) {
    // The common alpha == 1: no multiply in the loop.
    if (alpha == M(1)) {
      return rows_of<T>(out, a, b, [](T x, T y) { return T(Op == BinaryOp::kAdd ? M(x) + M(y) : M(x) - M(y)); });
    }
  }
  rows_of<T>(out, a, b, [alpha](T x, T y) { return T(fn::binary<Op>(M(x), M(y), alpha)); });
}

// out = f(a, b) over rows, with plain loops for the contiguous and broadcast-scalar cases so the compiler
// vectorises them.
template <class T, class F>
void rows_of(const StridedRef& out, const StridedRef& a, const StridedRef& b, F f) {
  rows_of<T>(out, a, b, f, [&f](T* o, const T* x, const T* y, int64_t n, bool y_scalar) {
    if (y_scalar) {
      const T yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    }
  });
}

// The same, with run(o, x, y, n, y_scalar) for each contiguous row (y whole, or one value when y_scalar) and
// f for the strided ones.
template <class T, class F, class Run>
void rows_of(const StridedRef& out, const StridedRef& a, const StridedRef& b, F f, Run run) {
  auto* po = static_cast<T*>(out.data);
  auto* pa = static_cast<const T*>(a.data);
  auto* pb = static_cast<const T*>(b.data);
  for_each_row<3>(out.sizes, {out.strides, a.strides, b.strides}, [&](auto off, int64_t n, auto s) {
    T* o = po + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    if (s[0] == 1 && s[1] == 1 && (s[2] == 1 || s[2] == 0)) {
      run(o, x, y, n, s[2] == 0);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * s[0]] = f(x[i * s[1]], y[i * s[2]]);
    }
  });
}

// out[i] = f(in[i]), with a plain loop when both are contiguous so the compiler can vectorise it.
template <class O, class I, class F>
void map_loop(const StridedRef& out, const StridedRef& in, F f) {
  auto* po = static_cast<O*>(out.data);
  auto* pi = static_cast<const I*>(in.data);
  for_each_row<2>(out.sizes, {out.strides, in.strides}, [&](auto off, int64_t n, auto s) {
    O* o = po + off[0];
    const I* x = pi + off[1];
    if (s[0] == 1 && s[1] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * s[0]] = f(x[i * s[1]]);
    }
  });
}

// Contiguous runs go through SLEEF's vector functions when the CPU has AVX; the rest, and ops SLEEF lacks,
// through the scalar functor.
template <class T, class F>
void float_unary_loop(UnaryOp op, const StridedRef& out, const StridedRef& in) {
  auto* po = static_cast<T*>(out.data);
  auto* pi = static_cast<const T*>(in.data);
  const bool vector = vector_math_available();
  for_each_row<2>(out.sizes, {out.strides, in.strides}, [&](auto off, int64_t n, auto s) {
    T* o = po + off[0];
    const T* x = pi + off[1];
    if (s[0] == 1 && s[1] == 1) {
      if (vector && vector_unary(op, x, o, n)) return;
      for (int64_t i = 0; i < n; ++i) o[i] = F{}(x[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * s[0]] = F{}(x[i * s[1]]);
    }
  });
}

// Half and BFloat16: contiguous runs are widened to float in blocks, computed by the float path (SLEEF
// where it applies) and rounded back, so a 16-bit op costs about what the float32 op does.
template <class T, class F>
void reduced_float_unary_loop(UnaryOp op, const StridedRef& out, const StridedRef& in) {
  auto* po = static_cast<T*>(out.data);
  auto* pi = static_cast<const T*>(in.data);
  const bool vector = vector_math_available();
  for_each_row<2>(out.sizes, {out.strides, in.strides}, [&](auto off, int64_t n, auto s) {
    T* o = po + off[0];
    const T* x = pi + off[1];
    constexpr int64_t kBlock = 256;
    float buf[kBlock], res[kBlock];
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
      const int64_t m = std::min(kBlock, n - i0);
      for (int64_t i = 0; i < m; ++i) buf[i] = float(x[(i0 + i) * s[1]]);
      if (!(vector && vector_unary(op, buf, res, m))) {
        for (int64_t i = 0; i < m; ++i) res[i] = F{}(buf[i]);
      }
      for (int64_t i = 0; i < m; ++i) o[(i0 + i) * s[0]] = T(res[i]);
    }
  });
}

template <class F>
void float_unary(UnaryOp op, const StridedRef& out, const StridedRef& in) {
  if constexpr (fn::kComplexUnary<F>) {
    if (in.dtype == DType::kComplex64) return map_loop<Complex<float>, Complex<float>>(out, in, F{});
    if (in.dtype == DType::kComplex128) return map_loop<Complex<double>, Complex<double>>(out, in, F{});
  }
  if (in.dtype == DType::kFloat32) return float_unary_loop<float, F>(op, out, in);
  if (in.dtype == DType::kFloat64) return float_unary_loop<double, F>(op, out, in);
  if (in.dtype == DType::kFloat16) return reduced_float_unary_loop<Half, F>(op, out, in);
  if (in.dtype == DType::kBFloat16) return reduced_float_unary_loop<BFloat16, F>(op, out, in);
  throw Error(ErrorCode::kUnimplemented,
              str("[", unary_op_name(op), "] has no CPU kernel for dtype ", dtype_name(in.dtype)));
}

template <class F>
void any_unary(UnaryOp op, const StridedRef& out, const StridedRef& in) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    map_loop<T, T>(out, in, fn::InOpMath<F>{});
  };
  if constexpr (fn::kComplexAny<F>) {
    dispatch_with_complex(in.dtype, unary_op_name(op), run);
  } else {
    dispatch(in.dtype, unary_op_name(op), run);
  }
}

template <class F>
void predicate_unary(UnaryOp op, const StridedRef& out, const StridedRef& in) {
  dispatch_with_complex(in.dtype, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    map_loop<bool, T>(out, in, fn::InOpMath<F>{});
  });
}

template <class T, CompareOp Op>
void compare_loop(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  using M = opmath_t<T>;
  auto* po = static_cast<bool*>(out.data);
  auto* pa = static_cast<const T*>(a.data);
  auto* pb = static_cast<const T*>(b.data);
  for_each_row<3>(out.sizes, {out.strides, a.strides, b.strides}, [&](auto off, int64_t n, auto s) {
    for (int64_t i = 0; i < n; ++i) {
      po[off[0] + i * s[0]] = fn::compare<Op>(M(pa[off[1] + i * s[1]]), M(pb[off[2] + i * s[2]]));
    }
  });
}

// Half and BFloat16 GEMM: both operands widened to contiguous float32, one float32 GEMM, the result
// rounded back once per element (float accumulation, as PyTorch's CUDA half GEMM).
void reduced_float_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  auto widen = [](const StridedRef& r, std::vector<float>& buf, std::vector<int64_t>& strides) {
    buf.resize(static_cast<size_t>(r.numel()));
    strides = {r.sizes[1] * r.sizes[2], r.sizes[2], 1};
    StridedRef dst{buf.data(), DType::kFloat32, r.sizes, strides};
    cpu_backend().copy(dst, r, 0);
    return dst;
  };
  std::vector<float> fa, fb, fo(static_cast<size_t>(out.numel()));
  std::vector<int64_t> sa, sb;
  StridedRef wa = widen(a, fa, sa), wb = widen(b, fb, sb);
  std::vector<int64_t> so = {out.sizes[1] * out.sizes[2], out.sizes[2], 1};
  StridedRef wo{fo.data(), DType::kFloat32, out.sizes, so};
  cpu_gemm(wo, wa, wb);
  cpu_backend().copy(out, wo, 0);
}

// 64-byte aligned host memory, or nullptr when physical memory cannot hold it. With overcommit, a huge
// allocation "succeeds" and the OOM killer takes the whole server later when the pages are touched: big
// blocks are checked against the free memory now.
void* raw_allocate(size_t nbytes) {
  if (nbytes >= kCheckedAllocation) {
    const size_t available = static_cast<size_t>(sysconf(_SC_AVPHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
    if (nbytes > available) return nullptr;
  }
  // 64-byte alignment: whole cache lines and AVX-512 vectors.
  return std::aligned_alloc(64, (nbytes + 63) / 64 * 64);
}

// Idle cached host memory above this goes back to the system.
constexpr size_t kMaxIdleHostCache = size_t{1} << 30;

// The index check of gather and scatter, done by the kernels as they read the index (one pass over it, not a
// min/max reduction before): a row with an index outside [0, size) is skipped and the first bad value seen is
// kept; the kernel throws after its (possibly parallel) loop, since an exception must not leave an OpenMP region.
class IndexBounds {
 public:
  /// True if the count indices at ix (stride st) all lie in [0, size); otherwise records one that does not.
  bool check(const int64_t* ix, int64_t count, int64_t st, uint64_t size) {
    bool bad = false;
    for (int64_t j = 0; j < count; ++j) bad |= static_cast<uint64_t>(ix[j * st]) >= size;
    if (!bad) return true;
    for (int64_t j = 0; j < count; ++j) {
      if (static_cast<uint64_t>(ix[j * st]) >= size) {
        if (!seen_.exchange(true)) value_ = ix[j * st];
        break;
      }
    }
    return false;
  }
  /// Called after the loop (its threads have joined, so value_ is settled).
  void throw_if_bad(std::string_view op, int dim, uint64_t size) const {
    if (!seen_.load()) return;
    throw Error(ErrorCode::kOutOfRange,
                str("[", op, "] index ", value_, " is out of bounds for dimension ", dim, " with size ", size));
  }

 private:
  std::atomic<bool> seen_{false};
  int64_t value_ = 0;
};

// Serial: several positions may hit one output element, and the order must not depend on threads.
template <class T, ScatterMode Mode>
void scatter_loop(const StridedRef& out, const StridedRef& index, const StridedRef& src, int dim) {
  auto* po = static_cast<T*>(out.data);
  auto* ps = static_cast<const T*>(src.data);
  auto* px = static_cast<const int64_t*>(index.data);
  const int64_t dim_stride = out.strides[static_cast<size_t>(dim)];
  // Every other dim indexes out as it indexes index, so out's strides with dim's zeroed walk the rest.
  std::vector<int64_t> out_strides(out.strides.begin(), out.strides.end());
  out_strides[static_cast<size_t>(dim)] = 0;
  const uint64_t size = static_cast<uint64_t>(out.sizes[static_cast<size_t>(dim)]);
  IndexBounds bounds;
  for_each_row<3>(
      index.sizes, {out_strides, index.strides, src.strides},
      [&](const std::array<int64_t, 3>& off, int64_t count, const std::array<int64_t, 3>& st) {
        T* o = po + off[0];
        const int64_t* ix = px + off[1];
        const T* x = ps + off[2];
        if (!bounds.check(ix, count, st[1], size)) return;
        for (int64_t j = 0; j < count; ++j) {
          T& dst = o[j * st[0] + ix[j * st[1]] * dim_stride];
          dst = fn::scatter_combine<Mode>(dst, x[j * st[2]]);
        }
      },
      /*serial=*/true);
  bounds.throw_if_bad(scatter_mode_name(Mode), dim, size);
}

// Backend::random_fill's normal values, 1024 at a time: the Box-Muller uniforms of each pair as
// random_group_values draws them (eight groups' Philox blocks at once in AVX2 lanes where the CPU has them),
// then Box-Muller through SLEEF's vector log, sin and cos, then a + b z rounded twice.
template <class T>
void normal_fill_vector(const RandomFill& f, T* out, int64_t n) {
  constexpr int64_t kChunk = 1024;  // a multiple of the four lanes of a counter group
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const random::PhiloxStream stream(f.seed, f.offset);
  const bool vector_philox = vector_philox_available();
#pragma omp parallel for schedule(static) if (chunks >= 16)
  for (int64_t c = 0; c < chunks; ++c) {
    double u1[kChunk / 2], u2[kChunk / 2], z[kChunk];
    const int64_t begin = c * kChunk, end = std::min(n, begin + kChunk), pairs = (end - begin + 1) / 2;
    const auto g0 = static_cast<uint64_t>(begin / 4);
    if (vector_philox) {
      vector_normal_uniforms(f.seed, f.offset, g0, pairs, u1, u2);
    } else {
      for (int64_t k = 0; k < pairs; ++k) {
        random::box_muller_uniforms(
            stream.block(g0 + static_cast<uint64_t>(k / 2), static_cast<uint64_t>(k % 2)), u1[k], u2[k]);
      }
    }
    vector_box_muller(u1, u2, z, end - begin);
    for (int64_t i = begin; i < end; ++i) out[i] = normal_value<T>(f, z[i - begin]);
  }
}

// Backend::random_fill's Bernoulli values of one probability p, 1024 at a time: each element's first word
// (random_value's draw) from eight groups' Philox blocks at once in AVX2 lanes, then the same comparison.
template <class T>
void bernoulli_fill_vector(const RandomFill& f, T* out, int64_t n) {
  constexpr int64_t kChunk = 1024;  // a multiple of the four lanes of a counter group
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks >= 16)
  for (int64_t c = 0; c < chunks; ++c) {
    alignas(32) uint32_t words[kChunk];
    const int64_t begin = c * kChunk, end = std::min(n, begin + kChunk);
    vector_philox_words(f.seed, f.offset, static_cast<uint64_t>(begin / 4), (end - begin + 3) / 4, words);
    for (int64_t i = begin; i < end; ++i) {
      out[i] = fn::convert<T>(static_cast<double>(words[i - begin]) * 0x1.0p-32 < f.a ? 1.0 : 0.0);
    }
  }
}

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "CPU"; }

  // Blocks of 1 MiB and more come from a caching allocator: glibc returns them to the kernel on free, and a
  // fresh block costs a page fault per 4 KiB when first written (most of the time of `a + b` on 16M floats).
  // Blocks up to 512 KiB come from a per-thread cache of freed ones (small_blocks.h); the rest from malloc.
  void* allocate(size_t nbytes, int) override {
    if (nbytes >= CachingAllocator::kSmallSize) return cache_.allocate(nbytes);
    void* p = nbytes <= SmallBlocks::kMaxBlock ? SmallBlocks::allocate(nbytes) : raw_allocate(nbytes);
    TD_CHECK(p, ErrorCode::kResourceExhausted, "[allocate] CPU out of memory: tried to allocate ", nbytes, " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t nbytes, int) override {
    if (nbytes >= CachingAllocator::kSmallSize) return cache_.deallocate(ptr);
    if (nbytes <= SmallBlocks::kMaxBlock) return SmallBlocks::deallocate(ptr, nbytes);
    std::free(ptr);
  }
  MemoryStats memory_stats(int) const override { return cache_.stats(); }
  void empty_cache(int) override {
    cache_.empty_cache();
    SmallBlocks::release_cached();
  }
  void reset_peak_memory_stats(int) override { cache_.reset_peak_stats(); }
  void set_memory_limit(size_t bytes, int) override { cache_.set_limit(bytes); }
  void copy_to_host(void* dst, const void* src, size_t n, int) override { std::memcpy(dst, src, n); }
  void copy_from_host(void* dst, const void* src, size_t n, int) override { std::memcpy(dst, src, n); }

  void copy(const StridedRef& dst, const StridedRef& src, int) override {
    dispatch_with_complex(dst.dtype, "copy", [&](auto to_tag) {
      using To = decltype(to_tag);
      dispatch_with_complex(src.dtype, "copy", [&](auto from_tag) {
        using From = decltype(from_tag);
        auto* pd = static_cast<To*>(dst.data);
        auto* ps = static_cast<const From*>(src.data);
        if (transpose_copy<To, From>(dst, src)) return;
        for_each_row<2>(dst.sizes, {dst.strides, src.strides}, [&](auto off, int64_t n, auto s) {
          To* d = pd + off[0];
          const From* x = ps + off[1];
          if (s[0] == 1 && s[1] == 1) {
            for (int64_t i = 0; i < n; ++i) d[i] = convert<To>(x[i]);
          } else {
            for (int64_t i = 0; i < n; ++i) d[i * s[0]] = convert<To>(x[i * s[1]]);
          }
        });
      });
    });
  }

  void fill(const StridedRef& dst, const Scalar& value, int) override {
    dispatch_with_complex(dst.dtype, "fill", [&](auto tag) {
      using T = decltype(tag);
      const T v = value.to<T>();
      auto* pd = static_cast<T*>(dst.data);
      for_each_row<1>(dst.sizes, {dst.strides}, [&](auto off, int64_t n, auto s) {
        T* d = pd + off[0];
        for (int64_t i = 0; i < n; ++i) d[i * s[0]] = v;
      });
    });
  }

  void random_fill(const RandomFill& f, const StridedRef& out, const double* probs, int) override {
    dispatch_random(f.kind, out.dtype, "CPU", [&](auto kind, auto tag) {
      using T = decltype(tag);
      constexpr RandomKind K = decltype(kind)::value;
      if constexpr (K == RandomKind::kNormal) {
        if (vector_math_available()) return normal_fill_vector(f, static_cast<T*>(out.data), out.numel());
      }
      if constexpr (K == RandomKind::kBernoulli) {
        if (!probs && vector_philox_available()) {
          return bernoulli_fill_vector(f, static_cast<T*>(out.data), out.numel());
        }
      }
      const auto n = static_cast<uint64_t>(out.numel());
      const auto groups = static_cast<int64_t>(random::groups_for(n));
      const random::PhiloxStream stream(f.seed, f.offset);
      T* o = static_cast<T*>(out.data);
#pragma omp parallel for schedule(static) if (groups >= kRandomGrainGroups)
      for (int64_t g = 0; g < groups; ++g) random_fill_group<K, T>(f, stream, static_cast<uint64_t>(g), o, n, probs);
    });
  }

  void binary(BinaryOp op, const StridedRef& out, const StridedRef& a, const StridedRef& b, const Scalar& alpha,
              int) override {
    dispatch_with_complex(out.dtype, binary_op_name(op), [&](auto tag) {
      using T = decltype(tag);
      const opmath_t<T> al = alpha.to<opmath_t<T>>();
      if constexpr (is_complex_v<T>) {
        switch (op) {
          case BinaryOp::kAdd: return binary_loop<T, BinaryOp::kAdd>(out, a, b, al);
          case BinaryOp::kSub: return binary_loop<T, BinaryOp::kSub>(out, a, b, al);
          case BinaryOp::kMul: return binary_loop<T, BinaryOp::kMul>(out, a, b, al);
          case BinaryOp::kDiv: return binary_loop<T, BinaryOp::kDiv>(out, a, b, al);
          case BinaryOp::kPow: return binary_loop<T, BinaryOp::kPow>(out, a, b, al);
          default:
            throw Error(ErrorCode::kUnimplemented,
                        str("[", binary_op_name(op), "] has no CPU kernel for dtype ", dtype_name(out.dtype)));
        }
      } else switch (op) {
#define TD_BINARY_CASE(Name) \
  case BinaryOp::Name: return binary_loop<T, BinaryOp::Name>(out, a, b, al);
        TD_FOR_EACH_BINARY_OP(TD_BINARY_CASE)
#undef TD_BINARY_CASE
      }
    });
  }

  void unary(UnaryOp op, const StridedRef& out, const StridedRef& in, int) override {
    if (op == UnaryOp::kAbs && in.dtype == DType::kComplex64) return map_loop<float, Complex<float>>(out, in, fn::ComplexAbs{});
    if (op == UnaryOp::kAbs && in.dtype == DType::kComplex128) {
      return map_loop<double, Complex<double>>(out, in, fn::ComplexAbs{});
    }
    switch (op) {
#define TD_UNARY_CASE(Name, name) \
  case UnaryOp::k##Name: return float_unary<fn::Name>(op, out, in);
      TD_FLOAT_UNARY_OPS(TD_UNARY_CASE)
#undef TD_UNARY_CASE
#define TD_UNARY_CASE(Name, name) \
  case UnaryOp::k##Name: return any_unary<fn::Name>(op, out, in);
      TD_ANY_UNARY_OPS(TD_UNARY_CASE)
#undef TD_UNARY_CASE
#define TD_UNARY_CASE(Name, name) \
  case UnaryOp::k##Name: return predicate_unary<fn::Name>(op, out, in);
      TD_PREDICATE_UNARY_OPS(TD_UNARY_CASE)
#undef TD_UNARY_CASE
    }
  }

  void compare(CompareOp op, const StridedRef& out, const StridedRef& a, const StridedRef& b, int) override {
    dispatch_with_complex(a.dtype, compare_op_name(op), [&](auto tag) {
      using T = decltype(tag);
      switch (op) {
#define TD_COMPARE_CASE(Name) \
  case CompareOp::Name: return compare_loop<T, CompareOp::Name>(out, a, b);
        TD_FOR_EACH_COMPARE_OP(TD_COMPARE_CASE)
#undef TD_COMPARE_CASE
      }
    });
  }

  void where(const StridedRef& out, const StridedRef& cond, const StridedRef& a, const StridedRef& b, int) override {
    dispatch_with_complex(out.dtype, "where", [&](auto tag) {
      using T = decltype(tag);
      auto* po = static_cast<T*>(out.data);
      auto* pc = static_cast<const bool*>(cond.data);
      auto* pa = static_cast<const T*>(a.data);
      auto* pb = static_cast<const T*>(b.data);
      for_each_row<4>(out.sizes, {out.strides, cond.strides, a.strides, b.strides}, [&](auto off, int64_t n, auto s) {
        for (int64_t i = 0; i < n; ++i) {
          po[off[0] + i * s[0]] = pc[off[1] + i * s[1]] ? pa[off[2] + i * s[2]] : pb[off[3] + i * s[3]];
        }
      });
    });
  }

  void reduce(ReduceOp op, const StridedRef& out, const StridedRef& in, int reduced, int) override {
    dispatch_with_complex(in.dtype, reduce_op_name(op), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_complex_v<T>) {
        TD_CHECK(op == ReduceOp::kSum || op == ReduceOp::kProd, ErrorCode::kUnimplemented, "[",
                 reduce_op_name(op), "] has no CPU kernel for dtype ", dtype_name(in.dtype));
        if (op == ReduceOp::kSum) return reduce_kernel<ReduceOp::kSum, T>(out, in, reduced);
        return reduce_kernel<ReduceOp::kProd, T>(out, in, reduced);
      } else switch (op) {
        case ReduceOp::kSum: return reduce_kernel<ReduceOp::kSum, T>(out, in, reduced);
        case ReduceOp::kProd: return reduce_kernel<ReduceOp::kProd, T>(out, in, reduced);
        case ReduceOp::kMax: return reduce_kernel<ReduceOp::kMax, T>(out, in, reduced);
        case ReduceOp::kMin: return reduce_kernel<ReduceOp::kMin, T>(out, in, reduced);
      }
    });
  }

  void softmax(bool is_log, const StridedRef& out, const StridedRef& in, int) override {
    if (!kernels::softmax(is_log, out, in)) missing(is_log ? "log_softmax" : "softmax");
  }

  void arg_reduce(bool is_max, const StridedRef& values, const StridedRef& indices, const StridedRef& in,
                  int) override {
    dispatch(in.dtype, is_max ? "argmax" : "argmin", [&](auto tag) {
      using T = decltype(tag);
      const size_t kept = in.sizes.size() - 1;
      const int64_t n = in.sizes.back(), s = in.strides.back(), n_out = values.numel();
      auto* pv = static_cast<T*>(values.data);
      auto* pidx = static_cast<int64_t*>(indices.data);
      auto* pi = static_cast<const T*>(in.data);
#pragma omp parallel for schedule(static) if (n_out * n >= kParallelGrain)
      for (int64_t o = 0; o < n_out; ++o) {
        fn::arg_best(pi + offset_of(o, in.sizes.first(kept), in.strides.first(kept)), n, s, is_max, pv[o], pidx[o]);
      }
    });
  }

  void scan(ReduceOp op, const StridedRef& out, const StridedRef& in, int) override {
    dispatch_with_complex(in.dtype, op == ReduceOp::kSum ? "cumsum" : "cumprod", [&](auto tag) {
      using T = decltype(tag);
      auto run = [&](auto reducer) {
        using R = decltype(reducer);
        const size_t kept = in.sizes.size() - 1;
        const int64_t n = in.sizes.back(), si = in.strides.back(), so = out.strides.back();
        const int64_t rows = StridedRef{nullptr, in.dtype, in.sizes.first(kept), {}}.numel();
        auto* po = static_cast<T*>(out.data);
        auto* pi = static_cast<const T*>(in.data);
#pragma omp parallel for schedule(static) if (rows * n >= kParallelGrain)
        for (int64_t r = 0; r < rows; ++r) {
          const T* x = pi + offset_of(r, in.sizes.first(kept), in.strides.first(kept));
          T* y = po + offset_of(r, out.sizes.first(kept), out.strides.first(kept));
          typename R::A acc = R::identity();
          for (int64_t i = 0; i < n; ++i) {
            acc = R::combine(acc, static_cast<typename R::A>(x[i * si]));
            y[i * so] = convert<T>(acc);
          }
        }
      };
      if (op == ReduceOp::kSum) {
        run(fn::Reducer<ReduceOp::kSum, T>{});
      } else {
        run(fn::Reducer<ReduceOp::kProd, T>{});
      }
    });
  }

  void gather(const StridedRef& out, const StridedRef& in, const StridedRef& index, int dim, int) override {
    dispatch_with_complex(out.dtype, "gather", [&](auto tag) {
      using T = decltype(tag);
      auto* po = static_cast<T*>(out.data);
      auto* pi = static_cast<const T*>(in.data);
      auto* px = static_cast<const int64_t*>(index.data);
      const int64_t dim_stride = in.strides[static_cast<size_t>(dim)];
      const uint64_t size = static_cast<uint64_t>(in.sizes[static_cast<size_t>(dim)]);
      IndexBounds bounds;
      // Every other dim indexes `in` as it indexes out, so in's strides with dim's zeroed walk the rest.
      std::vector<int64_t> in_strides(in.strides.begin(), in.strides.end());
      in_strides[static_cast<size_t>(dim)] = 0;
      for_each_row<3>(out.sizes, {out.strides, in_strides, index.strides},
                      [&](const std::array<int64_t, 3>& off, int64_t count, const std::array<int64_t, 3>& st) {
                        T* o = po + off[0];
                        const T* x = pi + off[1];
                        const int64_t* ix = px + off[2];
                        if (st[2] == 0) {
                          // One index for the whole row (index_select, embedding lookups): copy a slice.
                          if (!bounds.check(ix, 1, 0, size)) return;
                          const T* row = x + ix[0] * dim_stride;
                          if (st[0] == 1 && st[1] == 1) {
                            std::memcpy(o, row, static_cast<size_t>(count) * sizeof(T));
                          } else {
                            for (int64_t j = 0; j < count; ++j) o[j * st[0]] = row[j * st[1]];
                          }
                          return;
                        }
                        if (st[0] == 1 && st[1] == 0 && st[2] == 1 && dim_stride == 1) {
                          // Along the innermost dim (x is the row's base): one pass that reads each index
                          // clamped into range (so a bad one reads nothing outside) and notes whether any was
                          // out; the compiler turns it into vector gathers.
                          uint64_t out_of_range = 0;
                          for (int64_t j = 0; j < count; ++j) {
                            const uint64_t i = static_cast<uint64_t>(ix[j]);
                            out_of_range |= i >= size;
                            o[j] = x[std::min(i, size - 1)];
                          }
                          if (out_of_range) bounds.check(ix, count, 1, size);
                          return;
                        }
                        if (!bounds.check(ix, count, st[2], size)) return;
                        for (int64_t j = 0; j < count; ++j) o[j * st[0]] = x[j * st[1] + ix[j * st[2]] * dim_stride];
                      });
      bounds.throw_if_bad("gather", dim, size);
    });
  }

  void scatter(ScatterMode mode, const StridedRef& out, const StridedRef& index, const StridedRef& src, int dim,
               int) override {
    dispatch_with_complex(out.dtype, scatter_mode_name(mode), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_complex_v<T>) {  // complex numbers have no max or min; the front end refuses them
        if (mode == ScatterMode::kAssign) return scatter_loop<T, ScatterMode::kAssign>(out, index, src, dim);
        if (mode == ScatterMode::kAdd) return scatter_loop<T, ScatterMode::kAdd>(out, index, src, dim);
        if (mode == ScatterMode::kMul) return scatter_loop<T, ScatterMode::kMul>(out, index, src, dim);
        throw Error(ErrorCode::kUnimplemented,
                    str("[", scatter_mode_name(mode), "] has no CPU kernel for dtype ", dtype_name(out.dtype)));
      } else {
        switch (mode) {
#define TD_SCATTER_CASE(Name) \
  case ScatterMode::Name: return scatter_loop<T, ScatterMode::Name>(out, index, src, dim);
          TD_FOR_EACH_SCATTER_MODE(TD_SCATTER_CASE)
#undef TD_SCATTER_CASE
        }
      }
    });
  }

  void sort(bool descending, const StridedRef& values, const StridedRef& indices, const StridedRef& in,
            int) override {
    cpu_sort(descending, values, indices, in);
  }

  void max_pool(const StridedRef& out, const StridedRef& indices, const StridedRef& in, const PoolGeometry& g,
                int) override {
    cpu_max_pool(out, indices, in, g);
  }
  void max_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const StridedRef& indices,
                         int) override {
    cpu_max_pool_backward(grad_in, grad_out, indices);
  }
  void avg_pool(const StridedRef& out, const StridedRef& in, const PoolGeometry& g, int) override {
    cpu_avg_pool(out, in, g);
  }
  void avg_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const PoolGeometry& g,
                         int) override {
    cpu_avg_pool_backward(grad_in, grad_out, g);
  }

  void fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim,
           int) override {
    cpu_fft(kind, forward, out, in, signal_ndim);
  }

  void gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b, int) override {
    if (out.dtype == DType::kFloat16 || out.dtype == DType::kBFloat16) return reduced_float_gemm(out, a, b);
    cpu_gemm(out, a, b);
  }

  void im2col(const StridedRef& col, const StridedRef& in, const ConvWindow& w, int) override {
    cpu_im2col(col, in, w);
  }
  void col2im(const StridedRef& out, const StridedRef& col, const ConvWindow& w, int) override {
    cpu_col2im(out, col, w);
  }
  bool threshold_backward(const StridedRef& out, const StridedRef& grad, const StridedRef& y, double threshold,
                          int) override {
    if (!threshold_backward_covered(out, grad, y)) return false;
    auto run = [&]<class T>(T) {
      auto* po = static_cast<T*>(out.data);
      auto* pg = static_cast<const T*>(grad.data);
      auto* py = static_cast<const T*>(y.data);
      const T th = static_cast<T>(threshold);
      for_each_row<3>(out.sizes, {out.strides, grad.strides, y.strides}, [&](auto off, int64_t n, auto st) {
        T* o = po + off[0];
        const T* g = pg + off[1];
        const T* v = py + off[2];
        const T t = th;  // a local: through the closure's reference, every store could change it
        if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
          // Both loads unconditional and the threshold in a register: a compare and a mask per lane, which
          // GCC vectorises (a branch per element mispredicts on real activations, half of them zero).
          for (int64_t i = 0; i < n; ++i) {
            const T gv = g[i];
            o[i] = v[i] > t ? gv : T(0);
          }
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = v[i * st[2]] > t ? g[i * st[1]] : T(0);
        }
      });
    };
    if (out.dtype == DType::kFloat32) {
      run(float{});
    } else {
      run(double{});
    }
    return true;
  }
  bool channel_sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
                    const StridedRef& center, int) override {
    return kernels::channel_sums(sum1, sum2, a, b, center);
  }
  bool batch_norm_channels(const BatchNormChannels& p, int) override { return kernels::batch_norm_channels(p); }
  bool lstm_cell(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace,
                 const StridedRef& input_gates, const StridedRef& hidden_gates, const StridedRef& input_bias,
                 const StridedRef& hidden_bias, const StridedRef& cx, int) override {
    return kernels::lstm_cell(hy, cy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, cx);
  }
  bool lstm_cell_backward(const StridedRef& grad_gates, const StridedRef& grad_cx, const StridedRef& grad_hy,
                          const StridedRef& grad_cy, const StridedRef& grad_workspace, const StridedRef& cx,
                          const StridedRef& cy, const StridedRef& workspace, int) override {
    return kernels::lstm_cell_backward(grad_gates, grad_cx, grad_hy, grad_cy, grad_workspace, cx, cy, workspace);
  }
  bool gru_cell(const StridedRef& hy, const StridedRef& workspace, const StridedRef& input_gates,
                const StridedRef& hidden_gates, const StridedRef& input_bias, const StridedRef& hidden_bias,
                const StridedRef& hx, int) override {
    return kernels::gru_cell(hy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, hx);
  }
  bool gru_cell_backward(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                         const StridedRef& grad_hx, const StridedRef& grad_hy, const StridedRef& workspace,
                         int) override {
    return kernels::gru_cell_backward(grad_input_gates, grad_hidden_gates, grad_hx, grad_hy, workspace);
  }
  bool channel_affine(const StridedRef& out, const StridedRef& g, const StridedRef& x, const StridedRef& a,
                      const StridedRef& b, const StridedRef& d, int) override {
    return kernels::channel_affine(out, g, x, a, b, d);
  }
  bool library_conv(const StridedRef& y, const StridedRef& x, const StridedRef& w, const StridedRef& bias,
                    const ConvWindow& win, int64_t groups, int) override {
    return onednn_conv_forward(y, x, w, bias, win, groups);
  }
  bool library_conv_backward_input(const StridedRef& gx, const StridedRef& gy, const StridedRef& w,
                                   const ConvWindow& win, int64_t groups, int) override {
    return onednn_conv_backward_input(gx, gy, w, win, groups);
  }
  bool library_conv_backward_weight(const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                                    const StridedRef& gy, const ConvWindow& win, int64_t groups, int) override {
    return onednn_conv_backward_weight(gw, gb, x, gy, win, groups);
  }
  bool library_conv_backward(const StridedRef& gx, const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                             const StridedRef& gy, const StridedRef& w, const ConvWindow& win, int64_t groups,
                             int) override {
    return onednn_conv_backward(gx, gw, gb, x, gy, w, win, groups);
  }
  bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step,
                         int) override {
    return kernels::sgd_momentum_step(param, grad, buf, step);
  }
  bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg,
                 const StridedRef& exp_avg_sq, const StridedRef& max_exp_avg_sq, const AdamStep& step, int) override {
    return kernels::adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step);
  }

 private:
  CachingAllocator cache_{"cpu", {raw_allocate, [](void* p, size_t) { std::free(p); }}, kMaxIdleHostCache};
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace td::kernels
