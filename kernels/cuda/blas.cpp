// Matrix products on CUDA through cuBLAS (strided-batched GEMM) on the thread's current stream; integer types
// go to integer_gemm.cu. float32 uses TF32 tensor cores when set_float32_matmul_precision allows
// (core/matmul_precision.h). Half and BFloat16 use cublasGemmStridedBatchedEx with float accumulation
// (CUBLAS_COMPUTE_32F), as PyTorch does.
#include <cublas_v2.h>

#include <array>

#include "core/error.h"
#include "core/matmul_precision.h"
#include "kernels/cuda/blas_handle.h"
#include "kernels/cuda/handle_pool.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/stream.h"

namespace td::kernels::cuda {

namespace {

// One handle per thread and device, returned to a pool when the thread ends (kernels/cuda/handle_pool.h).
cublasHandle_t handle_for(int index) {
  thread_local ThreadHandles<cublasHandle_t> handles;
  TD_CHECK(index >= 0 && index < kMaxDevices, ErrorCode::kInvalidArgument, "[cuda] device index ", index,
           " out of range");
  cublasHandle_t& h = handles.at(index);
  if (!h) {
    TD_CHECK(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS, ErrorCode::kInternal, "[matmul] cublasCreate failed on cuda:",
             index);
    ThreadHandles<cublasHandle_t>::made();
  }
  return h;
}

void check_blas(cublasStatus_t s) {
  TD_CHECK(s == CUBLAS_STATUS_SUCCESS, ErrorCode::kInternal, "[matmul] cuBLAS failed with status ",
           static_cast<int>(s));
}
}  // namespace

int64_t blas_handles_made() {
  return ThreadHandles<cublasHandle_t>::made_count();
}

cublasHandle_t blas_handle(int device) {
  cublasHandle_t h = handle_for(device);
  check_blas(cublasSetStream(h, stream()));
  return h;
}

// Row-major C = A B is column-major C^T = B^T A^T: swap the operands and keep each one's memory layout.
void gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b, int index) {
  const int64_t batch = out.sizes[0], m = out.sizes[1], n = out.sizes[2], k = a.sizes[2];
  MatrixLayout la = gemm_layout(a.sizes[1], a.sizes[2], a.strides[1], a.strides[2]);
  MatrixLayout lb = gemm_layout(b.sizes[1], b.sizes[2], b.strides[1], b.strides[2]);
  cublasOperation_t op_a = la.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_b = lb.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasHandle_t h = handle_for(index);
  check_blas(cublasSetStream(h, stream()));  // the handle is shared: each call names its thread's stream
  if (out.dtype == DType::kFloat32 && float32_matmul_precision() != MatmulPrecision::kHighest) {
    // TF32 tensor cores (torch.set_float32_matmul_precision("high")), float32 in, out and accumulation.
    const float one = 1, zero = 0;
    check_blas(cublasGemmStridedBatchedEx(h, op_b, op_a, n, m, k, &one, b.data, CUDA_R_32F, lb.ld, b.strides[0], a.data,
                                          CUDA_R_32F, la.ld, a.strides[0], &zero, out.data, CUDA_R_32F, n, m * n, batch,
                                          CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
  } else if (out.dtype == DType::kFloat32) {
    const float one = 1, zero = 0;
    check_blas(cublasSgemmStridedBatched(h, op_b, op_a, n, m, k, &one, static_cast<const float*>(b.data), lb.ld,
                                         b.strides[0], static_cast<const float*>(a.data), la.ld, a.strides[0], &zero,
                                         static_cast<float*>(out.data), n, m * n, batch));
  } else if (out.dtype == DType::kFloat64) {
    const double one = 1, zero = 0;
    check_blas(cublasDgemmStridedBatched(h, op_b, op_a, n, m, k, &one, static_cast<const double*>(b.data), lb.ld,
                                         b.strides[0], static_cast<const double*>(a.data), la.ld, a.strides[0],
                                         &zero, static_cast<double*>(out.data), n, m * n, batch));
  } else if (out.dtype == DType::kComplex64) {  // cuComplex has Complex<float>'s layout
    const cuComplex one{1, 0}, zero{0, 0};
    check_blas(cublasCgemmStridedBatched(h, op_b, op_a, n, m, k, &one, static_cast<const cuComplex*>(b.data), lb.ld,
                                         b.strides[0], static_cast<const cuComplex*>(a.data), la.ld, a.strides[0],
                                         &zero, static_cast<cuComplex*>(out.data), n, m * n, batch));
  } else if (out.dtype == DType::kComplex128) {
    const cuDoubleComplex one{1, 0}, zero{0, 0};
    check_blas(cublasZgemmStridedBatched(h, op_b, op_a, n, m, k, &one, static_cast<const cuDoubleComplex*>(b.data),
                                         lb.ld, b.strides[0], static_cast<const cuDoubleComplex*>(a.data), la.ld,
                                         a.strides[0], &zero, static_cast<cuDoubleComplex*>(out.data), n, m * n,
                                         batch));
  } else if (out.dtype == DType::kFloat16 || out.dtype == DType::kBFloat16) {
    const cudaDataType_t type = out.dtype == DType::kFloat16 ? CUDA_R_16F : CUDA_R_16BF;
    const float one = 1, zero = 0;
    check_blas(cublasGemmStridedBatchedEx(h, op_b, op_a, n, m, k, &one, b.data, type, lb.ld, b.strides[0], a.data,
                                          type, la.ld, a.strides[0], &zero, out.data, type, n, m * n, batch,
                                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  } else {
    integer_gemm(out, a, b);
  }
}

}  // namespace td::kernels::cuda
