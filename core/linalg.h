// torch.linalg for C++: free functions with PyTorch's names, argument order and defaults, each a call of one
// registry op (core/ops/linalg.cpp). They are templates over the tensor type, so the same call runs in-process
// on a td::Tensor and on the server for a td::remote::Tensor. Several results come back as a pair, in
// PyTorch's order.
//
//   td::Tensor x = td::linalg::solve(A, b);           // torch.linalg.solve(A, b)
//   auto [eigenvalues, eigenvectors] = td::linalg::eigh(S);
#pragma once

#include <string>
#include <utility>

#include "core/value.h"

namespace td::linalg {

/// The solution X of A X = B (left) or X A = B, for batches of square A; B is a matrix, or a vector when it
/// is 1-d or has A's shape without its last dim (torch.linalg.solve). Fails on a singular A.
template <class T>
T solve(const T& A, const T& B, bool left = true) {
  return A.invoke_op("linalg_solve", {A, B, Scalar(left)});
}
/// The inverse of each square matrix (torch.linalg.inv). Fails on a singular one.
template <class T>
T inv(const T& A) {
  return A.invoke_op("linalg_inv", {A});
}
/// The determinant of each square matrix (torch.linalg.det).
template <class T>
T det(const T& A) {
  return A.invoke_op("linalg_det", {A});
}
/// {sign (complex: the phase), log |det|} of each square matrix (torch.linalg.slogdet).
template <class T>
std::pair<T, T> slogdet(const T& A) {
  auto r = A.invoke_op_n("linalg_slogdet", {A}, 2);
  return {r[0], r[1]};
}
/// The Cholesky factor L of each Hermitian positive-definite matrix (A = L L^H), or U = L^H when upper
/// (torch.linalg.cholesky). Fails on a matrix that is not positive-definite.
template <class T>
T cholesky(const T& A, bool upper = false) {
  return A.invoke_op("linalg_cholesky", {A, Scalar(upper)});
}
/// {L, info}: info > 0 where a leading minor is not positive-definite, instead of an error unless
/// check_errors (torch.linalg.cholesky_ex).
template <class T>
std::pair<T, T> cholesky_ex(const T& A, bool upper = false, bool check_errors = false) {
  auto r = A.invoke_op_n("linalg_cholesky_ex", {A, Scalar(upper), Scalar(check_errors)}, 2);
  return {r[0], r[1]};
}
/// {eigenvalues (real, ascending), eigenvectors (columns)} of each Hermitian matrix, read from its lower
/// ("L") or upper ("U") triangle (torch.linalg.eigh).
template <class T>
std::pair<T, T> eigh(const T& A, const std::string& UPLO = "L") {
  auto r = A.invoke_op_n("linalg_eigh", {A, UPLO}, 2);
  return {r[0], r[1]};
}
/// The eigenvalues of each Hermitian matrix (torch.linalg.eigvalsh).
template <class T>
T eigvalsh(const T& A, const std::string& UPLO = "L") {
  return A.invoke_op("linalg_eigvalsh", {A, UPLO});
}

}  // namespace td::linalg
