// CUDA kernels for copy/cast, fill, reductions (reduce, arg_reduce) and scans. The elementwise math families
// live in unary.cu and binary.cu.
#include <cuda_runtime.h>

#include <algorithm>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_scan.cuh>
#include <type_traits>

#include "core/error.h"
#include "kernels/cuda/block_fold.cuh"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/vectorized.cuh"
#include "kernels/elementwise_ops.h"

namespace td::kernels::cuda {

namespace {

template <class To, class From>
__global__ void copy_kernel(int64_t n, Indexer ix, To* out, const From* in) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const auto o = offsets_of<2>(ix, i);
    out[o.at[0]] = convert<To>(in[o.at[1]]);
  }
}

// Contiguous source and destination, aligned to their packs: vector loads and stores.
template <class To, class From, int V>
__global__ void copy_packed_kernel(int64_t n, To* out, const From* in) {
  map_packs<V>(n, out, in, static_cast<const From*>(nullptr), [](From x, From) { return convert<To>(x); });
}

template <class T>
__global__ void fill_kernel(int64_t n, Indexer ix, T* out, T value) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[offsets_of<1>(ix, i).at[0]] = value;
  }
}

// The element offset of row-major position i over nd dims of (sizes, strides).
__device__ __forceinline__ int64_t dims_offset(int64_t i, int nd, const int64_t* sizes, const int64_t* strides) {
  int64_t off = 0;
  for (int d = nd - 1; d >= 0; --d) {
    off += (i % sizes[d]) * strides[d];
    i /= sizes[d];
  }
  return off;
}
__device__ __forceinline__ int64_t kept_offset(const ReduceIndexer& ix, int64_t o) {
  return dims_offset(o, ix.kept_nd, ix.kept_sizes, ix.kept_strides);
}
__device__ __forceinline__ int64_t reduced_offset(const ReduceIndexer& ix, int64_t r) {
  return dims_offset(r, ix.red_nd, ix.red_sizes, ix.red_strides);
}

// Row reduction, for outputs whose reduced elements are close together: block (o, g) folds the g-th slice
// of output o's elements into out[o * gridDim.y + g]. Reads In, folds in the reducer's accumulator type,
// writes Out (T, or the accumulator for a second pass).
template <ReduceOp Op, class T, class In, class Out>
__global__ void reduce_rows_kernel(ReduceIndexer ix, int64_t slice, Out* out, const In* in) {
  using R = fn::Reducer<Op, T>;
  using A = typename R::A;
  const int64_t o = blockIdx.x, g = blockIdx.y;
  const In* x = in + kept_offset(ix, o);
  const int64_t begin = g * slice, end = min(ix.red_numel, begin + slice);
  A acc = R::identity();
  if (ix.red_nd == 1) {
    // Four loads in flight per thread.
    const int64_t s = ix.red_strides[0], step = blockDim.x;
    A acc1 = R::identity(), acc2 = R::identity(), acc3 = R::identity();
    int64_t r = begin + threadIdx.x;
    for (; r + 3 * step < end; r += 4 * step) {
      acc = R::combine(acc, static_cast<A>(x[r * s]));
      acc1 = R::combine(acc1, static_cast<A>(x[(r + step) * s]));
      acc2 = R::combine(acc2, static_cast<A>(x[(r + 2 * step) * s]));
      acc3 = R::combine(acc3, static_cast<A>(x[(r + 3 * step) * s]));
    }
    for (; r < end; r += step) acc = R::combine(acc, static_cast<A>(x[r * s]));
    acc = R::combine(R::combine(acc, acc1), R::combine(acc2, acc3));
  } else {
    for (int64_t r = begin + threadIdx.x; r < end; r += blockDim.x) {
      acc = R::combine(acc, static_cast<A>(x[reduced_offset(ix, r)]));
    }
  }
  acc = block_reduce<R>(acc);
  if (threadIdx.x == 0) out[o * gridDim.y + g] = convert<Out>(acc);
}

// Column reduction, for outputs that are neighbours in memory while their reduced elements are far apart
// (a sum over dim 0): each thread folds one output, so a warp reads 32 adjacent elements at each step.
// Thread o of slice g writes out[g * n_out + o].
template <ReduceOp Op, class T, class In, class Out>
__global__ void reduce_cols_kernel(ReduceIndexer ix, int64_t n_out, int64_t slice, Out* out, const In* in) {
  using R = fn::Reducer<Op, T>;
  using A = typename R::A;
  const int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x, g = blockIdx.y;
  if (o >= n_out) return;
  const In* x = in + kept_offset(ix, o);
  const int64_t begin = g * slice, end = min(ix.red_numel, begin + slice);
  A acc = R::identity();
  if (ix.red_nd == 1) {
    const int64_t s = ix.red_strides[0];
    for (int64_t r = begin; r < end; ++r) acc = R::combine(acc, static_cast<A>(x[r * s]));
  } else {
    for (int64_t r = begin; r < end; ++r) acc = R::combine(acc, static_cast<A>(x[reduced_offset(ix, r)]));
  }
  out[g * n_out + o] = convert<Out>(acc);
}

// Rows at least this long get a block each for arg_reduce and scan; shorter ones a thread each.
constexpr int64_t kBlockRowMin = 256;
// A single packed row at least this long is scanned by CUB's device-wide scan.
constexpr int64_t kDeviceScanMin = int64_t{1} << 16;
// A block per row, up to blocks_for's cap: the row kernels loop over the rest.
unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::clamp<int64_t>(rows, 1, 65535 * 8)); }

// One thread per row, for short rows.
template <class T>
__global__ void arg_reduce_kernel(bool is_max, int64_t n_out, ReduceIndexer ix, T* values, int64_t* indices,
                                  const T* in) {
  TD_GRID_STRIDE_LOOP(o, n_out) {
    fn::arg_best(in + kept_offset(ix, o), ix.red_numel, ix.red_strides[0], is_max, values[o], indices[o]);
  }
}

// A candidate of an arg reduction: a value (in float for the 16-bit floats) and its index, -1 for none.
template <class M>
struct ArgCandidate {
  M v;
  int64_t i;
};

// Whether a should replace b: fn::arg_best's order, where a NaN beats any number, and the first index wins
// among equals (NaNs included).
template <class M>
__device__ __forceinline__ bool beats(const ArgCandidate<M>& a, const ArgCandidate<M>& b, bool is_max) {
  if (a.i < 0) return false;
  if (b.i < 0) return true;
  const bool a_nan = a.v != a.v, b_nan = b.v != b.v;
  if (a_nan || b_nan) return a_nan && (!b_nan || a.i < b.i);
  if (a.v == b.v) return a.i < b.i;
  return is_max ? a.v > b.v : a.v < b.v;
}

// Folds one candidate per thread of the block; the result is valid in thread 0 (block_fold's contract).
template <class M>
__device__ ArgCandidate<M> block_arg_fold(ArgCandidate<M> best, bool is_max) {
  using C = ArgCandidate<M>;
  return block_fold(best, C{M{}, -1}, [is_max](const C& mine, const C& other) {
    return beats(other, mine, is_max) ? other : mine;
  });
}

// Block (o, g) folds slice g (elements [g slice, (g + 1) slice)) of row o. With one slice per row it writes
// the row's result; otherwise its candidate goes to partial[o * gridDim.y + g] for arg_reduce_partials_kernel.
template <class T>
__global__ void arg_reduce_rows_kernel(bool is_max, int64_t n_out, int64_t slice, ReduceIndexer ix, T* values,
                                       int64_t* indices, ArgCandidate<opmath_t<T>>* partial, const T* in) {
  using M = opmath_t<T>;
  using C = ArgCandidate<M>;
  const int64_t n = ix.red_numel, s = ix.red_strides[0], g = blockIdx.y;
  const int64_t begin = g * slice, end = min(n, begin + slice);
  for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
    const T* x = in + kept_offset(ix, o);
    C best{M{}, -1};
    for (int64_t r = begin + threadIdx.x; r < end; r += blockDim.x) {
      const C c{static_cast<M>(x[r * s]), r};
      if (beats(c, best, is_max)) best = c;
    }
    best = block_arg_fold(best, is_max);
    if (threadIdx.x != 0) continue;
    if (gridDim.y == 1) {
      values[o] = convert<T>(best.v);
      indices[o] = best.i;
    } else {
      partial[o * gridDim.y + g] = best;
    }
  }
}

// Folds each row's slice candidates: block o reads partial[o * parts .. o * parts + parts - 1].
template <class T>
__global__ void arg_reduce_partials_kernel(bool is_max, int64_t n_out, int64_t parts,
                                           const ArgCandidate<opmath_t<T>>* partial, T* values, int64_t* indices) {
  using M = opmath_t<T>;
  using C = ArgCandidate<M>;
  for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
    C best{M{}, -1};
    for (int64_t g = threadIdx.x; g < parts; g += blockDim.x) {
      const C c = partial[o * parts + g];
      if (beats(c, best, is_max)) best = c;
    }
    best = block_arg_fold(best, is_max);
    if (threadIdx.x == 0) {
      values[o] = convert<T>(best.v);
      indices[o] = best.i;
    }
  }
}

// One thread per row, for short rows.
template <ReduceOp Op, class T>
__global__ void scan_kernel(int64_t rows, ReduceIndexer in_ix, ReduceIndexer out_ix, T* out, const T* in) {
  using R = fn::Reducer<Op, T>;
  TD_GRID_STRIDE_LOOP(r, rows) {
    const T* x = in + kept_offset(in_ix, r);
    T* y = out + kept_offset(out_ix, r);
    typename R::A acc = R::identity();
    for (int64_t i = 0; i < in_ix.red_numel; ++i) {
      acc = R::combine(acc, static_cast<typename R::A>(x[i * in_ix.red_strides[0]]));
      y[i * out_ix.red_strides[0]] = convert<T>(acc);
    }
  }
}

template <class R>
struct ScanCombine {
  __device__ __forceinline__ typename R::A operator()(const typename R::A& a, const typename R::A& b) const {
    return R::combine(a, b);
  }
};

// One block per row, for long rows: tiles of kThreads x kScanItems elements, each scanned by CUB's BlockScan
// (thread t holds the tile's elements 4t..4t+3) and offset by the running total of the tiles before it.
constexpr int kScanItems = 4;
template <ReduceOp Op, class T>
__global__ void scan_rows_kernel(int64_t rows, ReduceIndexer in_ix, ReduceIndexer out_ix, T* out, const T* in) {
  using R = fn::Reducer<Op, T>;
  using A = typename R::A;
  using Scan = cub::BlockScan<A, kThreads>;
  __shared__ typename Scan::TempStorage temp;
  const int64_t n = in_ix.red_numel, si = in_ix.red_strides[0], so = out_ix.red_strides[0];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* x = in + kept_offset(in_ix, r);
    T* y = out + kept_offset(out_ix, r);
    A carry = R::identity();
    for (int64_t base = 0; base < n; base += kThreads * kScanItems) {
      const int64_t first = base + static_cast<int64_t>(threadIdx.x) * kScanItems;
      A items[kScanItems];
#pragma unroll
      for (int k = 0; k < kScanItems; ++k) {
        items[k] = first + k < n ? static_cast<A>(x[(first + k) * si]) : R::identity();
      }
      A tile_total;
      Scan(temp).InclusiveScan(items, items, ScanCombine<R>{}, tile_total);
#pragma unroll
      for (int k = 0; k < kScanItems; ++k) {
        if (first + k < n) y[(first + k) * so] = convert<T>(R::combine(carry, items[k]));
      }
      carry = R::combine(carry, tile_total);
      __syncthreads();  // temp is reused by the next tile
    }
  }
}

}  // namespace

void check(int err, const char* what) {
  if (err != cudaSuccess) {
    // Clear the thread's last error (a sticky one stays), or the next launch check would report it again.
    cudaGetLastError();
    throw Error(ErrorCode::kInternal,
                str("[cuda] ", what, " failed: ", cudaGetErrorString(static_cast<cudaError_t>(err))));
  }
}

void copy(DType dst_dtype, DType src_dtype, int64_t n, const Indexer& ix, void* dst, const void* src) {
  dispatch_with_complex(dst_dtype, "copy", [&](auto to_tag) {
    using To = decltype(to_tag);
    dispatch_with_complex(src_dtype, "copy", [&](auto from_tag) {
      using From = decltype(from_tag);
      constexpr int V = kPackFor<To, From>;
      auto* o = static_cast<To*>(dst);
      auto* i = static_cast<const From*>(src);
      if (ix.contiguous && pack_aligned<To, V>(o) && pack_aligned<From, V>(i)) {
        copy_packed_kernel<To, From, V><<<blocks_for_packs(n, V), kThreads, 0, stream()>>>(n, o, i);
      } else {
        copy_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, o, i);
      }
    });
  });
  check(cudaGetLastError(), "copy kernel launch");
}

void fill(DType dtype, int64_t n, const Indexer& ix, void* dst, const Scalar& value) {
  dispatch_with_complex(dtype, "fill", [&](auto tag) {
    using T = decltype(tag);
    fill_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(n, ix, static_cast<T*>(dst), value.to<T>());
  });
  check(cudaGetLastError(), "fill kernel launch");
}

namespace {

// A contiguous [outer, inner] buffer seen as outer outputs folding `inner` elements, or the transpose.
ReduceIndexer partial_indexer(int64_t n_out, int64_t parts, bool rows) {
  ReduceIndexer ix;
  ix.kept_nd = ix.red_nd = 1;
  ix.kept_sizes[0] = n_out;
  ix.red_sizes[0] = ix.red_numel = parts;
  ix.kept_strides[0] = rows ? parts : 1;
  ix.red_strides[0] = rows ? 1 : n_out;
  return ix;
}

// One or two passes: a large reduction is cut into slices whose partial results (in the accumulator type)
// a second launch folds, so a full sum of 16M elements uses the whole GPU instead of one block.
template <ReduceOp Op, class T>
void reduce_launch(int64_t n_out, const ReduceIndexer& ix, T* out, const T* in, int device) {
  using A = typename fn::Reducer<Op, T>::A;
  const int64_t red = std::max<int64_t>(ix.red_numel, 1);  // an empty reduction still writes the identity
  const bool outputs_adjacent = ix.kept_nd > 0 && ix.kept_strides[ix.kept_nd - 1] == 1;
  const bool reduced_adjacent = ix.red_nd > 0 && ix.red_strides[ix.red_nd - 1] == 1;
  const bool cols = n_out > 1 && ((outputs_adjacent && !reduced_adjacent) || red <= 16);
  if (cols) {
    const int64_t blocks = ceil_div(n_out, kThreads);
    const auto [slice, used] = slicing(blocks, red, 64);
    const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(used));
    if (used == 1) {
      reduce_cols_kernel<Op, T, T, T><<<grid, kThreads, 0, stream()>>>(ix, n_out, slice, out, in);
      return;
    }
    Workspace partial(static_cast<size_t>(used * n_out) * sizeof(A), device);
    auto* p = static_cast<A*>(partial.data);
    reduce_cols_kernel<Op, T, T, A><<<grid, kThreads, 0, stream()>>>(ix, n_out, slice, p, in);
    reduce_cols_kernel<Op, T, A, T><<<dim3(static_cast<unsigned>(blocks), 1), kThreads, 0, stream()>>>(
        partial_indexer(n_out, used, false), n_out, used, out, p);
    return;
  }
  const auto [slice, used] = slicing(n_out, red, 16 * kThreads);
  const dim3 grid(static_cast<unsigned>(n_out), static_cast<unsigned>(used));
  if (used == 1) {
    reduce_rows_kernel<Op, T, T, T><<<grid, kThreads, 0, stream()>>>(ix, slice, out, in);
    return;
  }
  Workspace partial(static_cast<size_t>(used * n_out) * sizeof(A), device);
  auto* p = static_cast<A*>(partial.data);
  reduce_rows_kernel<Op, T, T, A><<<grid, kThreads, 0, stream()>>>(ix, slice, p, in);
  reduce_rows_kernel<Op, T, A, T><<<dim3(static_cast<unsigned>(n_out), 1), kThreads, 0, stream()>>>(
      partial_indexer(n_out, used, true), used, out, p);
}

}  // namespace

void reduce(ReduceOp op, DType dtype, int64_t n_out, const ReduceIndexer& ix, void* out, const void* in, int device) {
  if (n_out == 0) return;
  dispatch_with_complex(dtype, reduce_op_name(op).data(), [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out);
    auto* x = static_cast<const T*>(in);
    if constexpr (is_complex_v<T>) {  // sums and products only: complex numbers have no max or min
      if (op == ReduceOp::kSum) {
        reduce_launch<ReduceOp::kSum>(n_out, ix, o, x, device);
      } else if (op == ReduceOp::kProd) {
        reduce_launch<ReduceOp::kProd>(n_out, ix, o, x, device);
      } else {
        throw Error(ErrorCode::kUnimplemented,
                    str("[", reduce_op_name(op), "] has no CUDA kernel for dtype ", dtype_name(dtype)));
      }
    } else {
      switch (op) {
        case ReduceOp::kSum: reduce_launch<ReduceOp::kSum>(n_out, ix, o, x, device); break;
        case ReduceOp::kProd: reduce_launch<ReduceOp::kProd>(n_out, ix, o, x, device); break;
        case ReduceOp::kMax: reduce_launch<ReduceOp::kMax>(n_out, ix, o, x, device); break;
        case ReduceOp::kMin: reduce_launch<ReduceOp::kMin>(n_out, ix, o, x, device); break;
      }
    }
  });
  check(cudaGetLastError(), "reduce kernel launch");
}

void arg_reduce(bool is_max, DType dtype, int64_t n_out, const ReduceIndexer& ix, void* values, int64_t* indices,
                const void* in, int device) {
  dispatch(dtype, is_max ? "argmax" : "argmin", [&](auto tag) {
    using T = decltype(tag);
    using C = ArgCandidate<opmath_t<T>>;
    auto* v = static_cast<T*>(values);
    auto* x = static_cast<const T*>(in);
    const int64_t n = ix.red_numel;
    if (n_out == 0) return;
    if (n < kBlockRowMin) {
      arg_reduce_kernel<T><<<blocks_for(n_out), kThreads, 0, stream()>>>(is_max, n_out, ix, v, indices, x);
      return;
    }
    // Few long rows are cut into slices of at least 16 elements a thread, spread over ~1024 blocks (slicing),
    // and folded again: a whole-tensor argmax uses the whole GPU, not one block.
    const auto [slice, used] = slicing(n_out, n, 16 * kThreads);
    const dim3 grid(used == 1 ? row_blocks(n_out) : static_cast<unsigned>(n_out), static_cast<unsigned>(used));
    if (used == 1) {
      arg_reduce_rows_kernel<T><<<grid, kThreads, 0, stream()>>>(is_max, n_out, slice, ix, v, indices, nullptr, x);
      return;
    }
    Workspace partial(static_cast<size_t>(used * n_out) * sizeof(C), device);
    auto* p = static_cast<C*>(partial.data);
    arg_reduce_rows_kernel<T><<<grid, kThreads, 0, stream()>>>(is_max, n_out, slice, ix, v, indices, p, x);
    arg_reduce_partials_kernel<T><<<row_blocks(n_out), kThreads, 0, stream()>>>(is_max, n_out, used, p, v, indices);
  });
  check(cudaGetLastError(), "arg_reduce kernel launch");
}

void scan(ReduceOp op, DType dtype, int64_t rows, const ReduceIndexer& in_ix, const ReduceIndexer& out_ix, void* out,
          const void* in, int device) {
  dispatch_with_complex(dtype, op == ReduceOp::kSum ? "cumsum" : "cumprod", [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out);
    auto* x = static_cast<const T*>(in);
    auto launch = [&](auto op_tag) {
      constexpr ReduceOp Op = decltype(op_tag)::value;
      using R = fn::Reducer<Op, T>;
      if constexpr (std::is_arithmetic_v<T>) {
        // One long packed row: CUB's device-wide scan (decoupled look-back) spreads it over the whole GPU.
        if (rows == 1 && in_ix.red_numel >= kDeviceScanMin && in_ix.red_strides[0] == 1 &&
            out_ix.red_strides[0] == 1) {
          size_t bytes = 0;
          check(cub::DeviceScan::InclusiveScan(nullptr, bytes, x, o, ScanCombine<R>{}, in_ix.red_numel, stream()),
                "cub::DeviceScan::InclusiveScan");
          Workspace temp(std::max<size_t>(bytes, 1), device);
          check(cub::DeviceScan::InclusiveScan(temp.data, bytes, x, o, ScanCombine<R>{}, in_ix.red_numel, stream()),
                "cub::DeviceScan::InclusiveScan");
          return;
        }
      }
      if (in_ix.red_numel >= kBlockRowMin) {
        scan_rows_kernel<Op, T><<<row_blocks(rows), kThreads, 0, stream()>>>(rows, in_ix, out_ix, o, x);
      } else {
        scan_kernel<Op, T><<<blocks_for(rows), kThreads, 0, stream()>>>(rows, in_ix, out_ix, o, x);
      }
    };
    if (op == ReduceOp::kSum) {
      launch(std::integral_constant<ReduceOp, ReduceOp::kSum>{});
    } else {
      launch(std::integral_constant<ReduceOp, ReduceOp::kProd>{});
    }
  });
  check(cudaGetLastError(), "scan kernel launch");
}

}  // namespace td::kernels::cuda
