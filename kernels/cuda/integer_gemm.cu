// Integer matrix products, which cuBLAS does not have: a shared-memory tiled kernel over the batch. Each
// step accumulates in the element type, wrapping on overflow as the CPU loop does.
#include <cuda_runtime.h>

#include "kernels/cuda/loops.cuh"

namespace td::kernels::cuda {

namespace {

constexpr int kTile = 16;

// out[z] (contiguous m x n) = a[z] (m x k) @ b[z] (k x n), every operand read through its strides.
template <class T>
__global__ void integer_gemm_kernel(int64_t batch, int64_t m, int64_t n, int64_t k, T* out, const T* a,
                                    int64_t as0, int64_t as1, int64_t as2, const T* b, int64_t bs0, int64_t bs1,
                                    int64_t bs2) {
  __shared__ T ta[kTile][kTile], tb[kTile][kTile];
  const int ty = threadIdx.y, tx = threadIdx.x;
  const int64_t row = blockIdx.y * static_cast<int64_t>(kTile) + ty;
  const int64_t col = blockIdx.x * static_cast<int64_t>(kTile) + tx;
  for (int64_t z = blockIdx.z; z < batch; z += gridDim.z) {
    T acc = T(0);
    for (int64_t t = 0; t < k; t += kTile) {
      ta[ty][tx] = row < m && t + tx < k ? a[z * as0 + row * as1 + (t + tx) * as2] : T(0);
      tb[ty][tx] = t + ty < k && col < n ? b[z * bs0 + (t + ty) * bs1 + col * bs2] : T(0);
      __syncthreads();
      for (int i = 0; i < kTile; ++i) acc = T(acc + ta[ty][i] * tb[i][tx]);
      __syncthreads();
    }
    if (row < m && col < n) out[(z * m + row) * n + col] = acc;
  }
}

}  // namespace

void integer_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  const int64_t batch = out.sizes[0], m = out.sizes[1], n = out.sizes[2], k = a.sizes[2];
  if (batch == 0 || m == 0 || n == 0) return;
  const dim3 threads(kTile, kTile);
  const dim3 grid(static_cast<unsigned>((n + kTile - 1) / kTile), static_cast<unsigned>((m + kTile - 1) / kTile),
                  static_cast<unsigned>(batch < 65535 ? batch : 65535));
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    integer_gemm_kernel<T><<<grid, threads, 0, stream()>>>(batch, m, n, k, static_cast<T*>(out.data),
                                              static_cast<const T*>(a.data), a.strides[0], a.strides[1],
                                              a.strides[2], static_cast<const T*>(b.data), b.strides[0],
                                              b.strides[1], b.strides[2]);
  };
  switch (out.dtype) {
    case DType::kUInt8: launch(uint8_t{}); break;
    case DType::kInt8: launch(int8_t{}); break;
    case DType::kInt16: launch(int16_t{}); break;
    case DType::kInt32: launch(int32_t{}); break;
    case DType::kInt64: launch(int64_t{}); break;
    default: throw Error(ErrorCode::kUnimplemented, str("[matmul] has no CUDA kernel for dtype ", dtype_name(out.dtype)));
  }
  check(cudaGetLastError(), "integer gemm kernel launch");
}

}  // namespace td::kernels::cuda
