// The CUDA sort kernel: each element becomes an unsigned radix key whose unsigned order is PyTorch's order
// (NaN above +inf, -0.0 equal to 0.0, descending as the complemented key), and CUB's radix sorts, which are
// stable, sort (key, position) pairs; a last pass reads the values at the sorted positions and writes the
// first k of each row (k: the outputs' last size) through their strides. One row: a device-wide radix sort.
// Long rows: one device-wide sort per row. Many rows: a segmented sort over all of them at once. Rows of up
// to 4096 elements (sort's and topk's common case) are sorted one block per row in shared memory by CUB's
// block radix sort, in one launch (PyTorch sorts such rows the same way): the keys made, sorted and the first
// k written without leaving the block.
#include <cuda_runtime.h>

#include <cstdint>
#include <cub/block/block_radix_sort.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_sort.cuh>
#include <type_traits>

#include "core/error.h"
#include "kernels/cuda/loops.cuh"

namespace td::kernels::cuda {

namespace {

// Rows at least this long are sorted one at a time with the device-wide sort, which uses the whole GPU
// for each; shorter rows share one segmented sort.
constexpr int64_t kLongRow = int64_t{1} << 18;

template <class T>
struct KeyOf {
  using type = std::make_unsigned_t<T>;
};
template <>
struct KeyOf<bool> {
  using type = uint8_t;
};
template <>
struct KeyOf<Half> {
  using type = uint16_t;
};
template <>
struct KeyOf<BFloat16> {
  using type = uint16_t;
};
template <>
struct KeyOf<float> {
  using type = uint32_t;
};
template <>
struct KeyOf<double> {
  using type = uint64_t;
};

template <class K>
__device__ __forceinline__ K float_key(K bits) {
  constexpr K sign = K(1) << (sizeof(K) * 8 - 1);
  return (bits & sign) ? K(~bits) : K(bits | sign);  // negatives reversed below the positives
}

// The radix key of x: unsigned order of keys is the sort order.
template <class T, class K = typename KeyOf<T>::type>
__device__ __forceinline__ K sort_key(T x, bool descending) {
  K k;
  if constexpr (std::is_same_v<T, bool>) {
    k = x ? 1 : 0;
  } else if constexpr (is_reduced_float_v<T>) {
    // Sign-magnitude 16-bit floats order like float32 does, by the same key transform.
    k = x != x ? ~K(0) : float_key<K>(float(x) == 0.0f ? K(0) : K(x.bits));
  } else if constexpr (std::is_same_v<T, float>) {
    k = x != x ? ~K(0) : float_key<K>(__float_as_uint(x == 0.0f ? 0.0f : x));
  } else if constexpr (std::is_same_v<T, double>) {
    k = x != x ? ~K(0) : float_key<K>(static_cast<K>(__double_as_longlong(x == 0.0 ? 0.0 : x)));
  } else if constexpr (std::is_signed_v<T>) {
    k = static_cast<K>(x) ^ (K(1) << (sizeof(K) * 8 - 1));
  } else {
    k = static_cast<K>(x);
  }
  return descending ? K(~k) : k;
}

__device__ __forceinline__ int64_t row_offset(const ReduceIndexer& ix, int64_t r) {
  int64_t off = 0;
  for (int d = ix.kept_nd - 1; d >= 0; --d) {
    off += (r % ix.kept_sizes[d]) * ix.kept_strides[d];
    r /= ix.kept_sizes[d];
  }
  return off;
}

template <class T, class K>
__global__ void keys_kernel(int64_t total, int64_t n, ReduceIndexer in_ix, const T* in, bool descending,
                            K* keys, int64_t* positions) {
  TD_GRID_STRIDE_LOOP(i, total) {
    const int64_t r = i / n, j = i % n;
    keys[i] = sort_key<T>(in[row_offset(in_ix, r) + j * in_ix.red_strides[0]], descending);
    positions[i] = j;
  }
}

__global__ void offsets_kernel(int64_t rows, int64_t n, int64_t* offsets) {
  TD_GRID_STRIDE_LOOP(i, rows + 1) offsets[i] = i * n;
}

template <class T>
__global__ void write_kernel(int64_t total, int64_t n, int64_t k, ReduceIndexer in_ix,
                             ReduceIndexer values_ix, ReduceIndexer indices_ix, const T* in,
                             const int64_t* order, T* values, int64_t* indices) {
  TD_GRID_STRIDE_LOOP(i, total) {
    const int64_t r = i / k, j = i % k, src = order[r * n + j];
    values[row_offset(values_ix, r) + j * values_ix.red_strides[0]] =
        in[row_offset(in_ix, r) + src * in_ix.red_strides[0]];
    indices[row_offset(indices_ix, r) + j * indices_ix.red_strides[0]] = src;
  }
}

// One row per block: thread t holds the row's elements t * kItems ... (t + 1) * kItems - 1 (CUB's blocked
// arrangement, whose order its stable sort keeps among equal keys), padding past n with the largest key so it
// sorts after every element (after NaN too: equal keys keep their order, and padding comes last).
template <class T, int kBlock, int kItems>
__global__ void __launch_bounds__(kBlock)
    block_sort_kernel(int64_t n, int64_t k, ReduceIndexer in_ix, ReduceIndexer values_ix,
                      ReduceIndexer indices_ix, const T* in, bool descending, T* values, int64_t* indices) {
  using K = typename KeyOf<T>::type;
  using Sort = cub::BlockRadixSort<K, kBlock, kItems, int>;
  __shared__ typename Sort::TempStorage temp;
  const int64_t r = blockIdx.x;
  const T* row = in + row_offset(in_ix, r);
  const int64_t stride = in_ix.red_strides[0];
  K keys[kItems];
  int pos[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int j = static_cast<int>(threadIdx.x) * kItems + i;
    pos[i] = j;
    keys[i] = j < n ? sort_key<T>(row[j * stride], descending) : K(~K(0));
  }
  // Sorted into the striped arrangement (rank i * kBlock + thread), so a warp's stores are consecutive; the
  // keys went in blocked (rank order is index order), which keeps equal keys in index order.
  Sort(temp).SortBlockedToStriped(keys, pos);
  T* out_values = values + row_offset(values_ix, r);
  int64_t* out_indices = indices + row_offset(indices_ix, r);
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int j = i * kBlock + static_cast<int>(threadIdx.x);
    if (j < k) {
      out_values[j * values_ix.red_strides[0]] = row[pos[i] * stride];
      out_indices[j * indices_ix.red_strides[0]] = pos[i];
    }
  }
}

// The longest row the block sort takes.
constexpr int64_t kBlockSortMax = 4096;

template <class T>
void block_sort(bool descending, int64_t rows, int64_t n, int64_t k, const ReduceIndexer& in_ix,
                const ReduceIndexer& values_ix, const ReduceIndexer& indices_ix, T* values, int64_t* indices,
                const T* in) {
  const auto grid = static_cast<unsigned>(rows);
  if (n <= 128) {
    block_sort_kernel<T, 32, 4>
        <<<grid, 32, 0, stream()>>>(n, k, in_ix, values_ix, indices_ix, in, descending, values, indices);
  } else if (n <= 1024) {
    block_sort_kernel<T, 128, 8>
        <<<grid, 128, 0, stream()>>>(n, k, in_ix, values_ix, indices_ix, in, descending, values, indices);
  } else {
    block_sort_kernel<T, 256, 16>
        <<<grid, 256, 0, stream()>>>(n, k, in_ix, values_ix, indices_ix, in, descending, values, indices);
  }
  check(cudaGetLastError(), "sort block kernel launch");
}

// Device scratch memory from the backend's allocator, handed back when it goes out of scope.
class Scratch {
 public:
  Scratch(Backend& backend, int device, size_t nbytes)
      : backend_(backend), device_(device), nbytes_(nbytes), data_(backend.allocate(nbytes, device)) {}
  ~Scratch() { backend_.deallocate(data_, nbytes_, device_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  char* data() const { return static_cast<char*>(data_); }

 private:
  Backend& backend_;
  int device_;
  size_t nbytes_;
  void* data_;
};

size_t aligned(size_t nbytes) {
  return (nbytes + 255) / 256 * 256;
}

template <class T>
void sort_rows(bool descending, int64_t rows, int64_t n, int64_t k, const ReduceIndexer& in_ix,
               const ReduceIndexer& values_ix, const ReduceIndexer& indices_ix, T* values, int64_t* indices,
               const T* in, Backend& backend, int device) {
  using K = typename KeyOf<T>::type;
  if (n <= kBlockSortMax && rows <= INT32_MAX) {  // a grid's x dimension takes 2^31 - 1 blocks
    block_sort<T>(descending, rows, n, k, in_ix, values_ix, indices_ix, values, indices, in);
    return;
  }
  const int64_t total = rows * n;
  const bool per_row = rows == 1 || n >= kLongRow;
  // Ask CUB how much temporary memory the chosen sort needs (a call with no storage only sizes it).
  size_t temp_bytes = 0;
  if (per_row) {
    check(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, static_cast<const K*>(nullptr),
                                          static_cast<K*>(nullptr), static_cast<const int64_t*>(nullptr),
                                          static_cast<int64_t*>(nullptr), n),
          "cub::DeviceRadixSort::SortPairs");
  } else {
    check(cub::DeviceSegmentedSort::StableSortPairs(
              nullptr, temp_bytes, static_cast<const K*>(nullptr), static_cast<K*>(nullptr),
              static_cast<const int64_t*>(nullptr), static_cast<int64_t*>(nullptr), total, rows,
              static_cast<const int64_t*>(nullptr), static_cast<const int64_t*>(nullptr)),
          "cub::DeviceSegmentedSort::StableSortPairs");
  }
  const size_t keys_bytes = aligned(sizeof(K) * static_cast<size_t>(total));
  const size_t pos_bytes = aligned(sizeof(int64_t) * static_cast<size_t>(total));
  const size_t offsets_bytes = per_row ? 0 : aligned(sizeof(int64_t) * static_cast<size_t>(rows + 1));
  Scratch scratch(backend, device, 2 * keys_bytes + 2 * pos_bytes + offsets_bytes + aligned(temp_bytes));
  char* p = scratch.data();
  auto* keys_in = reinterpret_cast<K*>(p);
  auto* keys_out = reinterpret_cast<K*>(p + keys_bytes);
  auto* pos_in = reinterpret_cast<int64_t*>(p + 2 * keys_bytes);
  auto* pos_out = reinterpret_cast<int64_t*>(p + 2 * keys_bytes + pos_bytes);
  auto* offsets = reinterpret_cast<int64_t*>(p + 2 * keys_bytes + 2 * pos_bytes);
  void* temp = p + 2 * keys_bytes + 2 * pos_bytes + offsets_bytes;

  keys_kernel<T, K><<<blocks_for(total), kThreads, 0, stream()>>>(total, n, in_ix, in, descending, keys_in, pos_in);
  check(cudaGetLastError(), "sort keys kernel launch");
  if (per_row) {
    for (int64_t r = 0; r < rows; ++r) {
      size_t bytes = temp_bytes;
      check(cub::DeviceRadixSort::SortPairs(temp, bytes, keys_in + r * n, keys_out + r * n, pos_in + r * n,
                                            pos_out + r * n, n, 0, static_cast<int>(sizeof(K) * 8), stream()),
            "cub::DeviceRadixSort::SortPairs");
    }
  } else {
    offsets_kernel<<<blocks_for(rows + 1), kThreads, 0, stream()>>>(rows, n, offsets);
    check(cudaGetLastError(), "sort offsets kernel launch");
    size_t bytes = temp_bytes;
    check(cub::DeviceSegmentedSort::StableSortPairs(temp, bytes, keys_in, keys_out, pos_in, pos_out, total,
                                                    rows, offsets, offsets + 1, stream()),
          "cub::DeviceSegmentedSort::StableSortPairs");
  }
  write_kernel<T><<<blocks_for(rows * k), kThreads, 0, stream()>>>(rows * k, n, k, in_ix, values_ix, indices_ix, in,
                                                      pos_out, values, indices);
  check(cudaGetLastError(), "sort write kernel launch");
}

}  // namespace

void sort(bool descending, DType dtype, int64_t rows, int64_t n, int64_t k, const ReduceIndexer& in_ix,
          const ReduceIndexer& values_ix, const ReduceIndexer& indices_ix, void* values, int64_t* indices,
          const void* in, Backend& backend, int device) {
  dispatch(dtype, "sort", [&](auto tag) {
    using T = decltype(tag);
    sort_rows<T>(descending, rows, n, k, in_ix, values_ix, indices_ix, static_cast<T*>(values), indices,
                 static_cast<const T*>(in), backend, device);
  });
}

}  // namespace td::kernels::cuda
