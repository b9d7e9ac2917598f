// LAPACK's factorizations behind torch.linalg (core/ops/linalg.cpp), one implementation per device type:
// kernels/cpu/linalg.cpp (LAPACKE over OpenBLAS) and kernels/cuda/linalg.cpp (cuSOLVER). Each works on a batch
// of matrices stored one after another, each contiguous in LAPACK's column-major order (element (i, j) of an
// m x n matrix at i + j m), of float32, float64, complex64 or complex128; pivots and info are int32 arrays
// on the matrices' device. info[b] > 0 reports what LAPACK reports for matrix b (a zero pivot, a leading
// minor that is not positive-definite, no convergence); the front end turns it into PyTorch's error.
#pragma once

#include <cstdint>

#include "core/device.h"
#include "core/dtype.h"

namespace td {

class LinalgKernels {
 public:
  virtual ~LinalgKernels() = default;
  /// LU with partial pivoting of each m x n matrix, in place (getrf): pivots [batch, min(m, n)], 1-based rows;
  /// info > 0 where U has an exact zero on its diagonal (the factors are still complete).
  virtual void lu_factor(void* a, DType dtype, int64_t batch, int64_t m, int64_t n, int32_t* pivots, int32_t* info,
                         int device) = 0;
  /// b (each n x k) = A^-1 b for lu_factor's factors of A (getrs).
  virtual void lu_solve(const void* lu, const int32_t* pivots, void* b, DType dtype, int64_t batch, int64_t n,
                        int64_t k, int device) = 0;
  /// The lower Cholesky factor of each n x n Hermitian matrix, in place, read from its lower triangle
  /// (potrf); the strictly upper triangle is left as it was.
  virtual void cholesky(void* a, DType dtype, int64_t batch, int64_t n, int32_t* info, int device) = 0;
  /// The eigenvalues (ascending, real: w is [batch, n] of the real dtype) of each n x n Hermitian matrix read
  /// from its lower (upper: its upper) triangle, and, when vectors, its orthonormal eigenvectors in place of
  /// it, as columns (syevd/heevd).
  virtual void eigh(void* a, void* w, DType dtype, int64_t batch, int64_t n, bool upper, bool vectors,
                    int32_t* info, int device) = 0;
  /// The singular values (real, descending: s [batch, k], k = min(m, n)) of each m x n matrix, which is
  /// overwritten, and, when vectors, its singular vectors: u (each m x (full ? m : k)) and vh (each
  /// (full ? n : k) x n) (gesdd).
  virtual void svd(void* a, void* u, void* s, void* vh, DType dtype, int64_t batch, int64_t m, int64_t n, bool full,
                   bool vectors, int32_t* info, int device) = 0;
  /// The Householder QR of each m x n matrix, in place (geqrf): R on and above the diagonal, the reflectors
  /// below it, their scales in tau [batch, min(m, n)].
  virtual void geqrf(void* a, void* tau, DType dtype, int64_t batch, int64_t m, int64_t n, int device) = 0;
  /// The first `cols` columns of Q, each m x cols, from the first k reflectors stored in them (orgqr/ungqr).
  virtual void orgqr(void* q, const void* tau, DType dtype, int64_t batch, int64_t m, int64_t cols, int64_t k,
                     int device) = 0;
  /// The eigenvalues (w: [batch, n], complex) and, when vectors, the right eigenvectors (v: each n x n,
  /// complex, columns of unit norm with their largest component real, LAPACK's normalization) of each general
  /// n x n matrix, which is overwritten (geev). w and v are of the complex dtype of a's precision.
  virtual void eig(void* a, void* w, void* v, DType dtype, int64_t batch, int64_t n, bool vectors, int32_t* info,
                   int device) = 0;
  /// The Bunch-Kaufman LDL^T (LDL^H when hermitian) factorization of each symmetric n x n matrix read from its
  /// lower triangle, in place (sytrf/hetrf): pivots [batch, n] in LAPACK's form (negative for 2 x 2 blocks).
  virtual void ldl_factor(void* a, int32_t* pivots, DType dtype, int64_t batch, int64_t n, bool hermitian,
                          int32_t* info, int device) = 0;
  /// b (each n x k) = A^-1 b from ldl_factor's factors of A (sytrs/hetrs).
  virtual void ldl_solve(const void* ld, const int32_t* pivots, void* b, DType dtype, int64_t batch, int64_t n,
                         int64_t k, bool hermitian, int device) = 0;
  /// b (each n x k) = A^-1 b for triangular A (each n x n, the other triangle not read; unit: its diagonal
  /// taken as ones) (trsm).
  virtual void triangular_solve(const void* a, void* b, DType dtype, int64_t batch, int64_t n, int64_t k, bool upper,
                                bool unit, int device) = 0;
};

/// The kernels of a device type (CUDA's fail with a named error in a build without CUDA).
LinalgKernels& linalg_kernels(DeviceType type);

}  // namespace td

namespace td::kernels {
/// Defined by kernels/cpu.
LinalgKernels& cpu_linalg();
/// Defined by kernels/cuda, or by kernels/cuda_stub.
LinalgKernels& cuda_linalg();
}  // namespace td::kernels
