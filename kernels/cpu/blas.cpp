// Batched GEMM on the CPU through OpenBLAS (float32/float64); integer types use a plain loop, as PyTorch does.
#include <cblas.h>

#include "kernels/cpu/loops.h"

namespace td::kernels {

namespace {
struct Mat {
  MatrixLayout layout;
  int64_t batch_stride;
};

Mat mat(const StridedRef& r) {
  return {gemm_layout(r.sizes[1], r.sizes[2], r.strides[1], r.strides[2]), r.strides[0]};
}

template <class T>
void blas_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  const int64_t batch = out.sizes[0], m = out.sizes[1], n = out.sizes[2], k = a.sizes[2];
  Mat ma = mat(a), mb = mat(b);
  auto ta = ma.layout.transposed ? CblasTrans : CblasNoTrans;
  auto tb = mb.layout.transposed ? CblasTrans : CblasNoTrans;
  for (int64_t i = 0; i < batch; ++i) {
    const T* pa = static_cast<const T*>(a.data) + i * ma.batch_stride;
    const T* pb = static_cast<const T*>(b.data) + i * mb.batch_stride;
    T* po = static_cast<T*>(out.data) + i * m * n;
    if constexpr (std::is_same_v<T, float>) {
      cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, pa, ma.layout.ld, pb, mb.layout.ld, 0.0f, po, n);
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, pa, ma.layout.ld, pb, mb.layout.ld, 0.0, po, n);
    }
  }
}

template <class T>
void loop_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  const int64_t batch = out.sizes[0], m = out.sizes[1], n = out.sizes[2], k = a.sizes[2];
  auto* po = static_cast<T*>(out.data);
  auto* pa = static_cast<const T*>(a.data);
  auto* pb = static_cast<const T*>(b.data);
#pragma omp parallel for collapse(2) schedule(static) if (batch * m * n * k >= kParallelGrain)
  for (int64_t bi = 0; bi < batch; ++bi) {
    for (int64_t i = 0; i < m; ++i) {
      T* row = po + (bi * m + i) * n;
      for (int64_t j = 0; j < n; ++j) row[j] = T{};
      for (int64_t p = 0; p < k; ++p) {
        const T av = pa[bi * a.strides[0] + i * a.strides[1] + p * a.strides[2]];
        const T* brow = pb + bi * b.strides[0] + p * b.strides[1];
        for (int64_t j = 0; j < n; ++j) row[j] += av * brow[j * b.strides[2]];
      }
    }
  }
}
}  // namespace

void cpu_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b) {
  switch (out.dtype) {
    case DType::kFloat32: return blas_gemm<float>(out, a, b);
    case DType::kFloat64: return blas_gemm<double>(out, a, b);
    default:
      dispatch(out.dtype, "matmul", [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, bool>) {
          throw Error(ErrorCode::kUnimplemented, "[matmul] has no CPU kernel for dtype bool");
        } else {
          loop_gemm<T>(out, a, b);
        }
      });
  }
}

}  // namespace td::kernels
