// torch.linalg's solvers, determinants, Cholesky and Hermitian eigen decompositions, with aten's names and
// PyTorch 1.13's arguments, errors and backward formulas (FunctionsManual.cpp), written in public ops so they
// differentiate again. The factorizations are LAPACK's (LinalgKernels: LAPACKE on the CPU, cuSOLVER on CUDA),
// on column-major copies of the matrices: for a batch [..., n, n], x.mT().contiguous() holds each matrix
// column by column, LAPACK's layout, and the results come back as .mT() views of the factored buffer.
//
// Primitives: _linalg_solve (A X = B, the left form), linalg_inv, linalg_det, linalg_slogdet,
// linalg_cholesky_ex and linalg_eigh. Composites: linalg_solve (left or right), linalg_cholesky and cholesky
// (raising on a matrix that is not positive-definite), linalg_eigvalsh. The SVD, QR, triangular solves,
// pinv, ranks and norms are in linalg_svd.cpp, the LU family in linalg_lu.cpp.
#include <cmath>
#include <complex>
#include <string>

#include "core/error.h"
#include "core/linalg_kernels.h"
#include "core/ops/helpers.h"
#include "core/ops/linalg_common.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

LinalgKernels& linalg_kernels(DeviceType type) {
  return type == DeviceType::kCPU ? kernels::cpu_linalg() : kernels::cuda_linalg();
}

namespace {

using namespace linalg_detail;  // NOLINT: the shared helpers of core/ops/linalg_common.h

// X = A^-1 B for A [*, n, n] and B [*, n, k], batch dims broadcast.
Tensor solve_matrices(std::string_view name, const Tensor& a, const Tensor& b) {
  Shape batch = ops::broadcast_shapes(name, batch_shape(a), batch_shape(b));
  const int64_t n = a.size(-1), k = b.size(-1);
  Shape a_shape = batch, b_shape = batch;
  a_shape.insert(a_shape.end(), {n, n});
  b_shape.insert(b_shape.end(), {n, k});
  Tensor ab = a.expand(a_shape);
  Tensor x = column_major_copy(b.expand(b_shape));  // [*, k, n]: B column by column, overwritten by X
  if (x.numel() == 0 || n == 0) return mT(x);
  LuFactors f = lu_factor(ab);
  if (auto [index, pivot] = first_failure(f.info); index >= 0) {
    throw Error(ErrorCode::kInvalidArgument, str("[", name, "] torch.linalg.solve: ", batch_prefix(f.info, index),
                                                 "The solver failed because the input matrix is singular."));
  }
  linalg_kernels(a.device().type)
      .lu_solve(f.lu.data_ptr(), static_cast<const int32_t*>(f.pivots.data_ptr()), x.data_ptr(), a.dtype(),
                batch_of(ab), n, k, a.device().index);
  return mT(x);
}

// PyTorch's rule for B of linalg.solve: a vector (or batch of vectors) when B is 1-d or has A's batch shape
// plus n.
bool is_vector_rhs(const Tensor& a, const Tensor& b) {
  if (b.dim() == 1) return true;
  if (b.dim() != a.dim() - 1) return false;
  return std::equal(b.sizes().begin(), b.sizes().end(), a.sizes().begin());
}

void check_solve_args(std::string_view name, const Tensor& a, const Tensor& b) {
  check_square_float(name, a);
  ops::check_same_device(name, std::vector<Tensor>{a, b});
  TD_CHECK_ARG(a.dtype() == b.dtype(), "[", name, "] Expected A and B to have the same dtype, but found A of type ",
               scalar_type_name(a.dtype()), " and B of type ", scalar_type_name(b.dtype()), " instead");
  const bool vector = is_vector_rhs(a, b);
  TD_CHECK_ARG(b.dim() >= 1 && (vector ? b.size(-1) : (b.dim() >= 2 ? b.size(-2) : -1)) == a.size(-1), "[", name,
               "] Incompatible shapes of A and B for the equation AX = B (", shape_str(a.shape()), " and ",
               shape_str(b.shape()), ")");
}

Tensor solve(std::string_view name, const Tensor& a, const Tensor& b) {
  if (is_vector_rhs(a, b)) return solve_matrices(name, a, b.unsqueeze(-1)).squeeze(-1);
  return solve_matrices(name, a, b);
}

// sign(det(A)) and, per matrix, the LU factors' diagonal: det = sign * prod(diag), where sign is the
// permutation's (-1 per pivot that swapped rows).
std::pair<Tensor, Tensor> lu_sign_and_diagonal(const Tensor& a) {
  const int64_t n = a.size(-1);
  LuFactors f = lu_factor(a);
  Tensor diagonal = f.lu.diagonal(0, -2, -1);
  Tensor rows = call_op("arange", {Scalar(int64_t{1}), Scalar(n + 1), Scalar(int64_t{1}), DType::kInt32,
                                   a.device().str()})[0];
  Tensor swaps = f.pivots.ne(rows).sum({-1}, false);
  Tensor sign = swaps.remainder(Scalar(int64_t{2})).mul(Scalar(int64_t{-2})).add(Scalar(int64_t{1})).to(a.dtype());
  return {sign, diagonal};
}

// c * A^-H, the gradient of det and slogdet for the per-matrix complex (or real) factor c.
Tensor times_inverse_adjoint(const Tensor& c, const Tensor& a) {
  return c.unsqueeze(-1).unsqueeze(-1).mul(mH(call_op("linalg_inv", {a})[0]));
}

// The gradient of det through the cofactor matrix, defined for singular A too (PyTorch 2's; PyTorch 1.13 gives 0
// at a singular A): with A = U diag(S) Vh, adj(A)^H = conj(det U det Vh) U diag(prod_{j != i} S_j) Vh, and
// gA = g adj(A)^H. The products leave out each S_i without dividing by it.
Tensor singular_det_backward(const Tensor& g, const Tensor& a) {
  auto usv = call_op("linalg_svd", {a, Scalar(false)});
  const Tensor &u = usv[0], &s = usv[1], &vh = usv[2];
  const int64_t n = s.size(-1);
  Tensor before = s.pad({1, 0}, "constant", 1.0).cumprod(-1).narrow(-1, 0, n);
  Tensor after = s.flip({-1}).pad({1, 0}, "constant", 1.0).cumprod(-1).narrow(-1, 0, n).flip({-1});
  Tensor others = before.mul(after).to(a.dtype());
  Tensor phase = call_op("linalg_det", {u})[0].mul(call_op("linalg_det", {vh})[0]);
  Tensor scale = g.mul(ops::conj_if_complex(phase));
  return u.mul(others.unsqueeze(-2)).matmul(vh).mul(scale.unsqueeze(-1).unsqueeze(-1));
}

}  // namespace

void register_linalg_ops(Registry& r) {
  r.def("_linalg_solve(Tensor A, Tensor B) -> Tensor")
      .doc("X with A X = B (B a matrix or, as linalg.solve decides, a vector), by LU with partial pivoting")
      .complex_autograd()
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        check_solve_args("linalg_solve", a.tensor(0), a.tensor(1));
        return {solve("linalg_solve", a.tensor(0), a.tensor(1))};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's linalg_solve backward: gB = A^-H gX, gA = -gB X^H (summed over broadcast dims).
        const Tensor& a = c.input(0);
        const Tensor& b = c.input(1);
        const Tensor x = c.output();
        const bool vector = is_vector_rhs(a, b);
        Tensor gb = call_op("_linalg_solve", {mH(a), c.grad()})[0];
        Tensor ga = vector ? gb.unsqueeze(-1).matmul(ops::conj_if_complex(x.unsqueeze(-2))).neg()
                           : gb.matmul(mH(x)).neg();
        return {ops::sum_to(ga, a.sizes()), ops::sum_to(gb, b.sizes())};
      });

  r.def("linalg_solve(Tensor A, Tensor B, *, bool left=True) -> Tensor")
      .doc("the solution X of A X = B (left) or X A = B, for batches of square A and matrices or vectors B")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &A = a.tensor(0), &B = a.tensor(1);
        if (a.bool_at(2)) return call_op("_linalg_solve", {A, B});
        check_square_float("linalg_solve", A);
        TD_CHECK_ARG(B.dim() >= 2, "[linalg_solve] Vector broadcasting of the left hand side is not supported for "
                     "left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)");
        return {mT(call_op("_linalg_solve", {mT(A), mT(B)})[0])};
      });

  r.def("linalg_inv(Tensor A) -> Tensor")
      .doc("the inverse of each square matrix of A")
      .complex_autograd()
      .saves_inputs({})
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_inv", A);
        Shape shape = A.shape();
        Tensor eye = eye_like(A).expand(shape);
        if (A.numel() == 0) return {empty(shape, {A.dtype(), A.device()})};
        LuFactors f = lu_factor(A);
        if (auto [index, pivot] = first_failure(f.info); index >= 0) {
          throw Error(ErrorCode::kInvalidArgument,
                      str("[linalg_inv] linalg.inv: ", batch_prefix(f.info, index), "The diagonal element ", pivot,
                          " is zero, the inversion could not be completed because the input matrix is singular."));
        }
        Tensor x = column_major_copy(eye);
        const int64_t n = A.size(-1);
        linalg_kernels(A.device().type)
            .lu_solve(f.lu.data_ptr(), static_cast<const int32_t*>(f.pivots.data_ptr()), x.data_ptr(), A.dtype(),
                      batch_of(A), n, n, A.device().index);
        return {mT(x)};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d(A^-1) = -A^-1 dA A^-1, so gA = -A^-H g A^-H.
        Tensor yh = mH(c.output());
        return {yh.matmul(c.grad()).matmul(yh).neg()};
      });

  r.def("linalg_det(Tensor A) -> Tensor")
      .doc("the determinant of each square matrix of A (by LU)")
      .complex_autograd()
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_det", A);
        if (A.size(-1) == 0) return {ones(batch_shape(A), {A.dtype(), A.device()})};
        auto [sign, diagonal] = lu_sign_and_diagonal(A);
        return {diagonal.prod(-1).mul(sign)};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d det = det tr(A^-1 dA): gA = (g conj(det)) A^-H for invertible A. Where a matrix of the batch is
        // singular, the whole batch takes the cofactor route, which holds for every A (one host read decides).
        const Tensor a = c.input(0), det = c.output();
        if (det.numel() == 0 || !det.eq(Scalar(0.0)).any().item<bool>()) {
          return {times_inverse_adjoint(c.grad().mul(ops::conj_if_complex(det)), a)};
        }
        return {singular_det_backward(c.grad(), a)};
      });

  r.def("linalg_slogdet(Tensor A) -> (Tensor sign, Tensor logabsdet)")
      .doc("the sign (or complex phase) and the log of the absolute value of each determinant")
      .complex_autograd()
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_slogdet", A);
        if (A.size(-1) == 0) {
          return {ones(batch_shape(A), {A.dtype(), A.device()}),
                  zeros(batch_shape(A), {real_of(A.dtype()), A.device()})};
        }
        auto [sign, diagonal] = lu_sign_and_diagonal(A);
        Tensor magnitude = diagonal.abs();
        Tensor logabsdet = magnitude.log().sum({-1}, false);
        // Each factor's phase (0 for a zero factor, which makes the sign 0, as PyTorch's).
        Tensor phases = diagonal.div(magnitude.to(diagonal.dtype())).where(magnitude.ne(0), Scalar(0.0));
        return {phases.prod(-1).mul(sign), logabsdet};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d logabsdet = Re tr(A^-1 dA), d sign = i Im tr(A^-1 dA) sign: gA = c A^-H with
        // c = g_logabsdet + i Im(conj(sign) g_sign) (real matrices: c = g_logabsdet).
        const Tensor& A = c.input(0);
        Tensor g_log = c.grad(1);
        Tensor g_sign = c.grad(0);
        if (!g_log.defined()) g_log = zeros(batch_shape(A), {real_of(A.dtype()), A.device()});
        Tensor factor = g_log;
        if (is_complex(A.dtype())) {
          factor = g_log.to(A.dtype());
          if (g_sign.defined()) {
            Tensor im = c.output(0).conj().mul(g_sign).imag();
            factor = factor.add(Tensor::complex(ops::zeros_linked_to(im), im));
          }
        }
        return {times_inverse_adjoint(factor, A)};
      });

  r.def("linalg_cholesky_ex(Tensor self, *, bool upper=False, bool check_errors=False) -> (Tensor L, Tensor info)")
      .doc("the Cholesky factor L (A = L L^H; upper: U = L^H) of each Hermitian positive-definite matrix, read from "
           "its lower triangle, and LAPACK's info (> 0: the leading minor of that order is not positive-definite)")
      .complex_autograd()
      .saves_inputs({})
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_cholesky", A);
        Tensor buffer = column_major_copy(A);
        Tensor info = zeros(batch_shape(A), {DType::kInt32, A.device()});
        if (A.numel() > 0) {
          linalg_kernels(A.device().type)
              .cholesky(buffer.data_ptr(), A.dtype(), batch_of(A), A.size(-1), static_cast<int32_t*>(info.data_ptr()),
                        A.device().index);
        }
        if (a.bool_at(2)) {
          if (auto [index, order] = first_failure(info); index >= 0) {
            throw Error(ErrorCode::kInvalidArgument,
                        str("[linalg_cholesky_ex] linalg.cholesky: ", batch_prefix(info, index),
                            "The factorization could not be completed because the input is not positive-definite (the "
                            "leading minor of order ", order, " is not positive-definite)."));
          }
        }
        Tensor l = mT(buffer).tril();
        return {a.bool_at(1) ? mH(l).contiguous() : l, info};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's cholesky_backward: phi = tril(L^H gL), M = (phi + tril(phi, -1)^H) / 2,
        // gA = L^-H M L^-1 (the triangular solves as general ones).
        const bool upper = c.args().bool_at(1);
        Tensor l = upper ? mH(c.output(0)) : c.output(0);
        Tensor gl = upper ? mH(c.grad(0)) : c.grad(0);
        Tensor phi = mH(l).matmul(gl).tril();
        Tensor m = phi.add(mH(phi.tril(-1))).mul(Scalar(0.5));
        Tensor lh = mH(l);
        Tensor left = call_op("_linalg_solve", {lh, m})[0];             // L^-H M
        return {mH(call_op("_linalg_solve", {lh, mH(left)})[0])};      // (L^-H (L^-H M)^H)^H = L^-H M L^-1
      });

  r.def("linalg_cholesky(Tensor self, *, bool upper=False) -> Tensor")
      .doc("the Cholesky factor of each Hermitian positive-definite matrix; fails on one that is not")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {call_op("linalg_cholesky_ex", {a.tensor(0), Scalar(a.bool_at(1)), Scalar(true)})[0]};
      });
  r.def("cholesky(Tensor self, bool upper=False) -> Tensor")
      .doc("torch.cholesky: linalg.cholesky's factor (lower by default)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {call_op("linalg_cholesky_ex", {a.tensor(0), Scalar(a.bool_at(1)), Scalar(true)})[0]};
      });

  r.def("linalg_eigh(Tensor self, str UPLO=\"L\") -> (Tensor eigenvalues, Tensor eigenvectors)")
      .doc("the eigenvalues (real, ascending) and orthonormal eigenvectors (columns) of each Hermitian matrix, read "
           "from its lower (UPLO=\"L\") or upper (\"U\") triangle")
      .complex_autograd()
      .saves_inputs({})
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_eigh", A);
        const std::string& uplo = a.string_at(1);
        TD_CHECK_ARG(uplo == "L" || uplo == "U" || uplo == "l" || uplo == "u",
                     "[linalg_eigh] Expected UPLO argument to be "
                     "'L' or 'U', but got ",
                     uplo);
        Tensor buffer = column_major_copy(A);
        Shape w_shape = batch_shape(A);
        w_shape.push_back(A.size(-1));
        Tensor w = empty(w_shape, {real_of(A.dtype()), A.device()});
        Tensor info = zeros(batch_shape(A), {DType::kInt32, A.device()});
        if (A.numel() > 0) {
          linalg_kernels(A.device().type)
              .eigh(buffer.data_ptr(), w.data_ptr(), A.dtype(), batch_of(A), A.size(-1), uplo == "U" || uplo == "u",
                    true, static_cast<int32_t*>(info.data_ptr()), A.device().index);
        }
        if (auto [index, code] = first_failure(info); index >= 0) {
          throw Error(ErrorCode::kInvalidArgument,
                      str("[linalg_eigh] linalg.eigh: ", batch_prefix(info, index),
                          "The algorithm failed to converge because the input matrix is ill-conditioned or has too "
                          "many repeated eigenvalues (error code: ", code, ")."));
        }
        return {w, mT(buffer)};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's linalg_eig_backward for Hermitian matrices: gA = V (skew(V^H gV) / E + diag(gL)) V^H with
        // E_ij = L_j - L_i off the diagonal, skew(X) = (X - X^H) / 2.
        Tensor values = c.output(0), vectors = c.output(1);
        Tensor gl = c.grad(0), gv = c.grad(1);
        const DType t = vectors.dtype();
        Tensor inner;
        if (gv.defined()) {
          Tensor vhgv = mH(vectors).matmul(gv);
          if (is_complex(t) && vhgv.numel() > 0) {
            // A loss of complex eigenvectors must not depend on their phases (Im diag(V^H gV) = 0).
            TD_CHECK_ARG(vhgv.diagonal(0, -2, -1).imag().abs().max().item<double>() <= 1e-2,
                         "[linalg_eigh] linalg_eigh_backward: The eigenvectors in the complex case are specified up "
                         "to multiplication by e^{i phi}. The specified loss function depends on this quantity, so it "
                         "is ill-defined.");
          }
          vhgv = vhgv.sub(mH(vhgv)).mul(Scalar(0.5));
          Tensor eye = eye_like(vectors);
          Tensor e = values.unsqueeze(-2).sub(values.unsqueeze(-1)).add(eye.to(values.dtype()));
          inner = vhgv.div(e.to(t)).mul(eye.neg().add(Scalar(1.0)));
          if (gl.defined()) inner = inner.add(diag_embed(gl.to(t)));
        } else if (gl.defined()) {
          inner = diag_embed(gl.to(t));
        } else {
          return {Tensor()};
        }
        return {vectors.matmul(inner).matmul(mH(vectors))};
      });

  r.def("linalg_eigvalsh(Tensor self, str UPLO=\"L\") -> Tensor")
      .doc("the eigenvalues (real, ascending) of each Hermitian matrix")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {call_op("linalg_eigh", {a.tensor(0), a.string_at(1)})[0]};
      });

  register_decompositions(r);
  register_lu(r);
}

}  // namespace td
