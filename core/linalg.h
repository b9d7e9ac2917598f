// torch.linalg for C++: free functions with PyTorch's names, argument order and defaults, each a call of one
// registry op (core/ops/linalg.cpp). They are templates over the tensor type, so the same call runs in-process
// on a td::Tensor and on the server for a td::remote::Tensor. Several results come back as a pair, in
// PyTorch's order.
//
//   td::Tensor x = td::linalg::solve(A, b);           // torch.linalg.solve(A, b)
//   auto [eigenvalues, eigenvectors] = td::linalg::eigh(S);
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

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
/// {inverse, info}: info > 0 where A is singular (and the inverse not finite), instead of an error unless
/// check_errors (torch.linalg.inv_ex).
template <class T>
std::pair<T, T> inv_ex(const T& A, bool check_errors = false) {
  auto r = A.invoke_op_n("linalg_inv_ex", {A, Scalar(check_errors)}, 2);
  return {r[0], r[1]};
}
/// {X, info} of linalg.solve, info > 0 where A is singular (torch.linalg.solve_ex).
template <class T>
std::pair<T, T> solve_ex(const T& A, const T& B, bool left = true, bool check_errors = false) {
  auto r = A.invoke_op_n("linalg_solve_ex", {A, B, Scalar(left), Scalar(check_errors)}, 2);
  return {r[0], r[1]};
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

/// {U, S, Vh} with A = U diag(S) Vh: S real and descending; U m x m and Vh n x n when full_matrices, else
/// m x k and k x n (torch.linalg.svd).
template <class T>
std::tuple<T, T, T> svd(const T& A, bool full_matrices = true) {
  auto r = A.invoke_op_n("linalg_svd", {A, Scalar(full_matrices)}, 3);
  return {r[0], r[1], r[2]};
}
/// {eigenvalues, eigenvectors} of each general square matrix, complex (torch.linalg.eig).
template <class T>
std::pair<T, T> eig(const T& A) {
  auto r = A.invoke_op_n("linalg_eig", {A}, 2);
  return {r[0], r[1]};
}
/// The eigenvalues of each general square matrix, complex (torch.linalg.eigvals).
template <class T>
T eigvals(const T& A) {
  return A.invoke_op("linalg_eigvals", {A});
}
/// The singular values, real and descending (torch.linalg.svdvals).
template <class T>
T svdvals(const T& A) {
  return A.invoke_op("linalg_svdvals", {A});
}
/// {Q, R} with A = Q R: mode "reduced", "complete" or "r" (Q empty) (torch.linalg.qr).
template <class T>
std::pair<T, T> qr(const T& A, const std::string& mode = "reduced") {
  auto r = A.invoke_op_n("linalg_qr", {A, mode}, 2);
  return {r[0], r[1]};
}
/// X with A X = B (left) or X A = B for triangular A (torch.linalg.solve_triangular).
template <class T>
T solve_triangular(const T& A, const T& B, bool upper, bool left = true, bool unitriangular = false) {
  return A.invoke_op("linalg_solve_triangular", {A, B, Scalar(upper), Scalar(left), Scalar(unitriangular)});
}
/// The Moore-Penrose pseudo-inverse (torch.linalg.pinv); singular values at most max(atol, rtol * the
/// largest) count as zero.
template <class T>
T pinv(const T& A, std::optional<double> atol = std::nullopt, std::optional<double> rtol = std::nullopt,
       bool hermitian = false) {
  using V = BasicValue<T>;
  return A.invoke_op("linalg_pinv", {A, atol ? V(Scalar(*atol)) : V(None{}), rtol ? V(Scalar(*rtol)) : V(None{}),
                                     Scalar(hermitian)});
}
/// The least-squares solution of A X = B and its by-products {solution, residuals, rank, singular_values}
/// (torch.linalg.lstsq; driver "gelsy" by default, "gels", "gelsd" or "gelss" choose which by-products are
/// computed).
template <class T>
std::tuple<T, T, T, T> lstsq(const T& A, const T& B, std::optional<double> rcond = std::nullopt,
                             std::optional<std::string> driver = std::nullopt) {
  using V = BasicValue<T>;
  auto r = A.invoke_op_n("linalg_lstsq", {A, B, rcond ? V(Scalar(*rcond)) : V(None{}), driver ? V(*driver) : V(None{})},
                         4);
  return {r[0], r[1], r[2], r[3]};
}
/// {LU, pivots}: the packed LU factors with partial pivoting and the 1-based row interchanges (int32)
/// (torch.linalg.lu_factor). Fails where U has a zero on its diagonal.
template <class T>
std::pair<T, T> lu_factor(const T& A) {
  auto r = A.invoke_op_n("linalg_lu_factor", {A, Scalar(true)}, 2);
  return {r[0], r[1]};
}
/// {LU, pivots, info}, info > 0 where U has a zero on its diagonal (torch.linalg.lu_factor_ex).
template <class T>
std::tuple<T, T, T> lu_factor_ex(const T& A, bool check_errors = false) {
  auto r = A.invoke_op_n("linalg_lu_factor_ex", {A, Scalar(true), Scalar(check_errors)}, 3);
  return {r[0], r[1], r[2]};
}
/// {P, L, U} with A = P L U (torch.linalg.lu).
template <class T>
std::tuple<T, T, T> lu(const T& A) {
  auto r = A.invoke_op_n("linalg_lu", {A, Scalar(true)}, 3);
  return {r[0], r[1], r[2]};
}
/// {P, L, U} of lu_factor's output (torch.lu_unpack).
template <class T>
std::tuple<T, T, T> lu_unpack(const T& LU, const T& pivots) {
  auto r = LU.invoke_op_n("lu_unpack", {LU, pivots, Scalar(true), Scalar(true)}, 3);
  return {r[0], r[1], r[2]};
}
/// {LD, pivots}: the compact Bunch-Kaufman LDL^T (LDL^H when hermitian) factorization of each symmetric
/// matrix (torch.linalg.ldl_factor); not differentiable, as in PyTorch 1.13.
template <class T>
std::pair<T, T> ldl_factor(const T& A, bool hermitian = false) {
  auto r = A.invoke_op_n("linalg_ldl_factor", {A, Scalar(hermitian)}, 2);
  return {r[0], r[1]};
}
/// X with A X = B from ldl_factor's output (torch.linalg.ldl_solve).
template <class T>
T ldl_solve(const T& LD, const T& pivots, const T& B, bool hermitian = false) {
  return LD.invoke_op("linalg_ldl_solve", {LD, pivots, B, Scalar(hermitian)});
}
/// X with A X = B (left) or X A = B, A^H for adjoint, from lu_factor's output (torch.linalg.lu_solve).
template <class T>
T lu_solve(const T& LU, const T& pivots, const T& B, bool left = true, bool adjoint = false) {
  return LU.invoke_op("linalg_lu_solve", {LU, pivots, B, Scalar(left), Scalar(adjoint)});
}
/// The numerical rank, int64 (torch.linalg.matrix_rank).
template <class T>
T matrix_rank(const T& A, std::optional<double> atol = std::nullopt, std::optional<double> rtol = std::nullopt,
              bool hermitian = false) {
  using V = BasicValue<T>;
  return A.invoke_op("linalg_matrix_rank", {A, atol ? V(Scalar(*atol)) : V(None{}),
                                            rtol ? V(Scalar(*rtol)) : V(None{}), Scalar(hermitian)});
}
/// The ord-norm of the elements over dim, all by default (torch.linalg.vector_norm).
template <class T>
T vector_norm(const T& x, Scalar ord = 2, std::optional<std::vector<int64_t>> dim = std::nullopt,
              bool keepdim = false) {
  return x.invoke_op("linalg_vector_norm", {x, ord, optional_dims<T>(dim), Scalar(keepdim)});
}
/// The "fro" or "nuc" norm of each matrix over dim (torch.linalg.matrix_norm).
template <class T>
T matrix_norm(const T& A, const std::string& ord = "fro", std::vector<int64_t> dim = {-2, -1}, bool keepdim = false) {
  return A.invoke_op("linalg_matrix_norm", {A, ord, std::move(dim), Scalar(keepdim)});
}
/// (A string literal is a string here, not a number.)
template <class T>
T matrix_norm(const T& A, const char* ord, std::vector<int64_t> dim = {-2, -1}, bool keepdim = false) {
  return matrix_norm(A, std::string(ord), std::move(dim), keepdim);
}
/// The 1, -1, inf, -inf, 2 or -2 norm of each matrix over dim (torch.linalg.matrix_norm).
template <class T>
T matrix_norm(const T& A, Scalar ord, std::vector<int64_t> dim = {-2, -1}, bool keepdim = false) {
  return A.invoke_op("linalg_matrix_norm.ord", {A, ord, std::move(dim), Scalar(keepdim)});
}
/// torch.linalg.norm: the 2-norm of all elements by default; with dim, a vector (one dim) or matrix (two)
/// norm.
template <class T>
T norm(const T& x, std::optional<Scalar> ord = std::nullopt, std::optional<std::vector<int64_t>> dim = std::nullopt,
       bool keepdim = false) {
  using V = BasicValue<T>;
  return x.invoke_op("linalg_norm", {x, ord ? V(*ord) : V(None{}), optional_dims<T>(dim), Scalar(keepdim)});
}
/// The condition number in the p norm, 2 by default (torch.linalg.cond).
template <class T>
T cond(const T& A, std::optional<Scalar> p = std::nullopt) {
  using V = BasicValue<T>;
  return A.invoke_op("linalg_cond", {A, p ? V(*p) : V(None{})});
}
/// The matrix exponential of each square matrix (torch.linalg.matrix_exp).
template <class T>
T matrix_exp(const T& A) {
  return A.invoke_op("linalg_matrix_exp", {A});
}
/// A to the integer power n (torch.linalg.matrix_power).
template <class T>
T matrix_power(const T& A, int64_t n) {
  return A.invoke_op("linalg_matrix_power", {A, Scalar(n)});
}
/// X with tensordot(A, X, X.dim()) = B (torch.linalg.tensorsolve); dims of A moved last first when given.
template <class T>
T tensorsolve(const T& A, const T& B, std::optional<std::vector<int64_t>> dims = std::nullopt) {
  return A.invoke_op("linalg_tensorsolve", {A, B, optional_dims<T>(dims)});
}
/// The inverse of A for tensordot over ind dims (torch.linalg.tensorinv).
template <class T>
T tensorinv(const T& A, int64_t ind = 2) {
  return A.invoke_op("linalg_tensorinv", {A, Scalar(ind)});
}
/// sum(conj(x) * y) along dim, broadcast (torch.linalg.vecdot).
template <class T>
T vecdot(const T& x, const T& y, int64_t dim = -1) {
  return x.invoke_op("linalg_vecdot", {x, y, Scalar(dim)});
}
/// The cross product of 3-vectors along dim (torch.linalg.cross).
template <class T>
T cross(const T& a, const T& b, int64_t dim = -1) {
  return a.invoke_op("linalg_cross", {a, b, Scalar(dim)});
}
/// The offset-th diagonal of each matrix over dim1 and dim2 (torch.linalg.diagonal).
template <class T>
T diagonal(const T& A, int64_t offset = 0, int64_t dim1 = -2, int64_t dim2 = -1) {
  return A.invoke_op("linalg_diagonal", {A, Scalar(offset), Scalar(dim1), Scalar(dim2)});
}
/// The product of a chain of matrices, in the cheapest order (torch.linalg.multi_dot).
template <class T>
T multi_dot(const std::vector<T>& tensors) {
  return tensors.at(0).invoke_op("linalg_multi_dot", {tensors});
}

}  // namespace td::linalg
