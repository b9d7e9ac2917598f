// torch.linalg's LU family: linalg_lu_factor_ex (the primitive, getrf with partial pivoting, PyTorch 1.13's
// lu_factor_ex_backward), and the composites linalg_lu_factor, lu_unpack, linalg_lu, linalg_lu_solve,
// linalg_inv_ex and linalg_solve_ex, whose gradients come from the ops they are written in (tril/triu of the
// packed factors, triangular solves, products with the permutation). And LDL (sytrf/sytrs), which PyTorch 1.13
// does not differentiate either.
#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/linalg_common.h"
#include "core/ops/registry.h"

namespace td::linalg_detail {

namespace {

// P with A = P L U from LAPACK's 1-based row interchanges ([*, k] int32): row i was swapped with pivots[i] - 1
// in turn, so P's column i is the unit vector of the row that ended in place i. Read on the host.
Tensor permutation_from_pivots(const Tensor& pivots, int64_t m, DType dtype, Device device) {
  const int64_t k = pivots.size(-1);
  Shape batch(pivots.sizes().begin(), pivots.sizes().end() - 1);
  const int64_t count = shape_numel(batch);
  auto piv = pivots.to("cpu").contiguous().to_vector<int32_t>();
  std::vector<double> p(static_cast<size_t>(count * m * m), 0.0);
  std::vector<int64_t> perm(static_cast<size_t>(m));
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t i = 0; i < m; ++i) perm[static_cast<size_t>(i)] = i;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t j = piv[static_cast<size_t>(b * k + i)] - 1;
      TD_CHECK_ARG(j >= 0 && j < m, "[lu_unpack] pivot ", j + 1, " of row ", i + 1, " is outside [1, ", m, "]");
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
    }
    for (int64_t i = 0; i < m; ++i) p[static_cast<size_t>(b * m * m + perm[static_cast<size_t>(i)] * m + i)] = 1.0;
  }
  Shape shape = batch;
  shape.insert(shape.end(), {m, m});
  return tensor(p, shape).to(real_of(dtype)).to(dtype).to(device.str());
}

// L (m x k, unit lower) and U (k x n) of packed factors, differentiable.
std::pair<Tensor, Tensor> unpack_factors(const Tensor& lu) {
  const int64_t m = lu.size(-2), n = lu.size(-1), k = std::min(m, n);
  Tensor eye = call_op("eye", {Scalar(m), Scalar(k), real_of(lu.dtype()), lu.device().str()})[0].to(lu.dtype());
  Tensor l = lu.narrow(-1, 0, k).tril(-1).add(eye);
  Tensor u = lu.narrow(-2, 0, k).triu();
  return {l, u};
}

Tensor solve_tri(const Tensor& a, const Tensor& b, bool upper, bool left, bool unit = false) {
  return call_op("linalg_solve_triangular", {a, b, Scalar(upper), Scalar(left), Scalar(unit)})[0];
}

// PyTorch 1.13's linalg_lu_backward: gA from the gradients of L (m x k) and U (k x n), with A = P L U.
Tensor lu_backward(const Tensor& gl, const Tensor& gu, const Tensor& p, const Tensor& l, const Tensor& u) {
  const int64_t m = l.size(-2), n = u.size(-1), k = std::min(m, n);
  Tensor ga;
  if (m == n) {
    // P L^-H [tril(L^H gL, -1) + triu(gU U^H)] U^-H
    ga = mH(l).matmul(gl).tril(-1).add(gu.matmul(mH(u)).triu());
    ga = solve_tri(mH(u), ga, false, false);
    ga = solve_tri(mH(l), ga, true, true, true);
  } else if (m < n) {
    // A1: P L^-H [gU1 + tril(L^H gL - gU U^H, -1) U1^-H], A2: P L^-H gU2
    Tensor u1 = u.narrow(-1, 0, k), gu1 = gu.narrow(-1, 0, k), gu2 = gu.narrow(-1, k, n - k);
    ga = mH(l).matmul(gl).sub(gu.triu().matmul(mH(u)));
    ga = solve_tri(mH(u1), ga.tril(-1), false, false);
    ga = Tensor::cat({ga.add(gu1.triu()), gu2}, -1);
    ga = solve_tri(mH(l), ga, true, true, true);
  } else {
    // A1: P [gL1 + L1^-H triu(gU U^H - L^H gL)] U^-H, A2: P gL2 U^-H
    Tensor l1 = l.narrow(-2, 0, k), gl1 = gl.narrow(-2, 0, k), gl2 = gl.narrow(-2, k, m - k);
    ga = gu.matmul(mH(u)).sub(mH(l).matmul(gl.tril(-1)));
    ga = solve_tri(mH(l1), ga.triu(), true, true, true);
    ga = Tensor::cat({ga.add(gl1.tril(-1)), gl2}, -2);
    ga = solve_tri(mH(u), ga, false, false);
  }
  return p.matmul(ga);
}

void check_lu_input(std::string_view name, const Tensor& a, bool pivot) {
  TD_CHECK_ARG(a.dim() >= 2, "[", name,
               "] torch.linalg.lu_factor: Expected tensor with 2 or more dimensions. Got size: ",
               shape_str(a.shape()), " instead");
  check_linalg_dtype(name, a);
  TD_CHECK_ARG(pivot, "[", name, "] linalg.lu_factor: LU without pivoting is not implemented on the CPU");
}

// PyTorch's error for LU factors with a zero on U's diagonal (info > 0).
void check_zero_pivots(std::string_view op, std::string_view torch_name, const Tensor& info) {
  if (auto [index, zero] = first_failure(info); index >= 0) {
    throw Error(
        ErrorCode::kInvalidArgument,
        str("[", op, "] ", torch_name, ": ", batch_prefix(info, index), "U[", zero, ",", zero,
            "] is zero and using it on lu_solve would result in a division by zero. If you still want to "
            "perform the factorization, consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, "
            "pivot)"));
  }
}

// The error for LDL factors whose D has an exactly zero diagonal element (info > 0).
void check_singular_d(std::string_view op, std::string_view torch_name, const Tensor& info) {
  if (auto [index, zero] = first_failure(info); index >= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                str("[", op, "] ", torch_name, ": ", batch_prefix(info, index), "D[", zero, ",", zero,
                    "] is exactly zero: the input is singular, and using the factors in ldl_solve would divide by "
                    "zero. To factor it anyway, call linalg.ldl_factor_ex"));
  }
}

std::vector<Tensor> lu_unpack(const Tensor& lu, const Tensor& pivots, bool data, bool perm) {
  auto [l, u] = data ? unpack_factors(lu) : std::pair<Tensor, Tensor>{empty({0}, {lu.dtype(), lu.device()}),
                                                                       empty({0}, {lu.dtype(), lu.device()})};
  Tensor p = perm ? permutation_from_pivots(pivots, lu.size(-2), lu.dtype(), lu.device())
                  : empty({0}, {lu.dtype(), lu.device()});
  return {p, l, u};
}

}  // namespace

void register_lu(Registry& r) {
  r.def("linalg_lu_factor_ex(Tensor A, *, bool pivot=True, bool check_errors=False) -> (Tensor LU, Tensor pivots, "
        "Tensor info)")
      .doc("the LU factorization with partial pivoting of each matrix, packed (L's strict lower part under U), the "
           "1-based row interchanges (int32) and LAPACK's info (> 0: U has a zero on its diagonal)")
      .complex_autograd()
      .saves_inputs({})
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_lu_input("linalg_lu_factor_ex", A, a.bool_at(1));
        LuFactors f = lu_factor(A);
        if (a.bool_at(2)) check_zero_pivots("linalg_lu_factor_ex", "torch.linalg.lu_factor_ex", f.info);
        return {mT(f.lu), f.pivots, f.info};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's lu_factor_ex_backward: the packed gradient split into L's and U's, then linalg_lu_backward.
        Tensor lu = c.output(0), g = c.grad(0);
        const int64_t m = lu.size(-2), n = lu.size(-1), k = std::min(m, n);
        auto [l, u] = unpack_factors(lu);
        Tensor p = permutation_from_pivots(c.output(1), m, lu.dtype(), lu.device());
        return {lu_backward(g.narrow(-1, 0, k).tril(-1), g.narrow(-2, 0, k).triu(), p, l, u)};
      });

  r.def("linalg_lu_factor(Tensor A, *, bool pivot=True) -> (Tensor LU, Tensor pivots)")
      .doc("the packed LU factors and row interchanges of each matrix; fails where U has a zero on its diagonal")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        auto out = call_op("linalg_lu_factor_ex", {a.tensor(0), Scalar(a.bool_at(1)), Scalar(false)});
        check_zero_pivots("linalg_lu_factor", "torch.linalg.lu_factor", out[2]);
        return {out[0], out[1]};
      });

  r.def("lu_unpack(Tensor LU_data, Tensor LU_pivots, bool unpack_data=True, bool unpack_pivots=True) -> (Tensor P, "
        "Tensor L, Tensor U)")
      .doc("P, L (unit lower) and U of packed LU factors (torch.lu_unpack); the parts not asked for are empty")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &lu = a.tensor(0), &pivots = a.tensor(1);
        TD_CHECK_ARG(lu.dim() >= 2, "[lu_unpack] LU_data must have at least 2 dimensions, got ", shape_str(lu.shape()));
        TD_CHECK_ARG(pivots.dtype() == DType::kInt32, "[lu_unpack] LU_pivots is expected to be a contiguous tensor of "
                     "torch.int32 dtype, but got ", scalar_type_name(pivots.dtype()));
        return lu_unpack(lu, pivots, a.bool_at(2), a.bool_at(3));
      });

  r.def("linalg_lu(Tensor A, *, bool pivot=True) -> (Tensor P, Tensor L, Tensor U)")
      .doc("the LU decomposition A = P L U with partial pivoting: P a permutation, L unit lower (m x k), U upper (k x "
           "n)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        auto f = call_op("linalg_lu_factor_ex", {a.tensor(0), Scalar(a.bool_at(1)), Scalar(false)});
        return lu_unpack(f[0], f[1], true, true);
      });

  // The _ex forms: the result from the LU factors whatever they hold (inf or NaN past a zero pivot, as LAPACK
  // leaves them) and LAPACK's info, or PyTorch's error with check_errors.
  r.def("linalg_inv_ex(Tensor A, *, bool check_errors=False) -> (Tensor inverse, Tensor info)")
      .doc("the inverse of each square matrix and LAPACK's info (> 0: that diagonal element of U is zero, and the "
           "inverse is not finite)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_inv_ex", A);
        auto f = call_op("linalg_lu_factor_ex", {A, Scalar(true), Scalar(false)});
        if (a.bool_at(1)) {
          if (auto [index, zero] = first_failure(f[2]); index >= 0) {
            throw Error(ErrorCode::kInvalidArgument,
                        str("[linalg_inv_ex] linalg.inv_ex: ", batch_prefix(f[2], index), "The diagonal element ", zero,
                            " is zero, the inversion could not be completed because the input matrix is singular."));
          }
        }
        Tensor eye = eye_like(A).expand(A.shape());
        return {call_op("linalg_lu_solve", {f[0], f[1], eye, Scalar(true), Scalar(false)})[0], f[2]};
      });
  r.def("linalg_solve_ex(Tensor A, Tensor B, *, bool left=True, bool check_errors=False) -> (Tensor result, Tensor "
        "info)")
      .doc("linalg.solve's X and LAPACK's info (> 0: A is singular and X is not finite)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &A = a.tensor(0), &B = a.tensor(1);
        check_square_float("linalg_solve_ex", A);
        auto f = call_op("linalg_lu_factor_ex", {A, Scalar(true), Scalar(false)});
        if (a.bool_at(3)) {
          if (auto [index, zero] = first_failure(f[2]); index >= 0) {
            throw Error(ErrorCode::kInvalidArgument,
                        str("[linalg_solve_ex] torch.linalg.solve_ex: ", batch_prefix(f[2], index),
                            "The solver failed because the input matrix is singular."));
          }
        }
        // B as linalg.solve reads it: a vector when 1-d or of A's batch shape plus n.
        const bool vector = B.dim() == 1 || (B.dim() == A.dim() - 1 &&
                                             std::equal(B.sizes().begin(), B.sizes().end(), A.sizes().begin()));
        TD_CHECK_ARG(!vector || a.bool_at(2), "[linalg_solve_ex] Vector broadcasting of the left hand side is not "
                     "supported for left=False");
        Tensor b = vector ? B.unsqueeze(-1) : B;
        Tensor x = call_op("linalg_lu_solve", {f[0], f[1], b, Scalar(a.bool_at(2)), Scalar(false)})[0];
        return {vector ? x.squeeze(-1) : x, f[2]};
      });

  // LDL: Bunch-Kaufman, no derivative (PyTorch 1.13 has none either: its backward fails, as here).
  r.def("linalg_ldl_factor_ex(Tensor self, *, bool hermitian=False, bool check_errors=False) -> (Tensor LD, Tensor "
        "pivots, Tensor info)")
      .doc("the compact LDL^T (LDL^H when hermitian) factorization of each symmetric matrix, read from its lower "
           "triangle: L's strict lower part and D's blocks in LD, LAPACK's pivots (negative for 2 x 2 blocks) and info "
           "(> 0: that diagonal element of D is exactly zero)")
      .complex_autograd()
      .saves_inputs({})
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_ldl_factor_ex", A);
        const int64_t n = A.size(-1);
        Tensor buffer = column_major_copy(A);
        Shape shape = batch_shape(A);
        Tensor info = zeros(shape, {DType::kInt32, A.device()});
        shape.push_back(n);
        Tensor pivots = zeros(shape, {DType::kInt32, A.device()});
        if (A.numel() > 0) {
          linalg_kernels(A.device().type)
              .ldl_factor(buffer.data_ptr(), static_cast<int32_t*>(pivots.data_ptr()), A.dtype(), batch_of(A), n,
                          a.bool_at(1), static_cast<int32_t*>(info.data_ptr()), A.device().index);
        }
        if (a.bool_at(2)) check_singular_d("linalg_ldl_factor_ex", "torch.linalg.ldl_factor_ex", info);
        return {mT(buffer).tril(), pivots, info};
      })
      .backward([](GradContext&) -> std::vector<Tensor> {
        throw Error(ErrorCode::kUnimplemented, "[linalg_ldl_factor_ex] the derivative of linalg.ldl_factor_ex is not "
                                               "implemented (nor is it in PyTorch 1.13)");
      });
  r.def("linalg_ldl_factor(Tensor self, *, bool hermitian=False) -> (Tensor LD, Tensor pivots)")
      .doc("the compact LDL factorization and pivots of each symmetric matrix; fails where D is singular")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        auto f = call_op("linalg_ldl_factor_ex", {a.tensor(0), Scalar(a.bool_at(1)), Scalar(false)});
        check_singular_d("linalg_ldl_factor", "torch.linalg.ldl_factor", f[2]);
        return {f[0], f[1]};
      });
  r.def("linalg_ldl_solve(Tensor LD, Tensor pivots, Tensor B, *, bool hermitian=False) -> Tensor")
      .doc("X with A X = B from ldl_factor's factors of A (sytrs/hetrs); not differentiable, as in PyTorch 1.13")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &ld = a.tensor(0), &pivots = a.tensor(1), &b = a.tensor(2);
        check_square_float("linalg_ldl_solve", ld, "LD");
        TD_CHECK_ARG(pivots.dtype() == DType::kInt32, "[linalg_ldl_solve] pivots must be int32, got ",
                     scalar_type_name(pivots.dtype()));
        TD_CHECK_ARG(b.dim() >= 2 && b.size(-2) == ld.size(-1),
                     "[linalg_ldl_solve] torch.linalg.ldl_solve: Incompatible "
                     "shapes of LD and B for the equation LD X = B (",
                     shape_str(ld.shape()), " and ", shape_str(b.shape()), ")");
        TD_CHECK_ARG(b.dtype() == ld.dtype(),
                     "[linalg_ldl_solve] Expected LD and B to have the same dtype, but found LD "
                     "of type ",
                     scalar_type_name(ld.dtype()), " and B of type ", scalar_type_name(b.dtype()));
        Shape batch = ops::broadcast_shapes("linalg_ldl_solve", batch_shape(ld), batch_shape(b));
        const int64_t n = ld.size(-1), k = b.size(-1);
        Shape ld_shape = batch, b_shape = batch, p_shape = batch;
        ld_shape.insert(ld_shape.end(), {n, n});
        b_shape.insert(b_shape.end(), {n, k});
        p_shape.push_back(n);
        Tensor factors = column_major_copy(ld.expand(ld_shape));
        Tensor piv = pivots.expand(p_shape).contiguous();
        Tensor x = column_major_copy(b.expand(b_shape));
        if (x.numel() > 0) {
          linalg_kernels(ld.device().type)
              .ldl_solve(factors.data_ptr(), static_cast<const int32_t*>(piv.data_ptr()), x.data_ptr(), ld.dtype(),
                         shape_numel(batch), n, k, a.bool_at(3), ld.device().index);
        }
        return {mT(x)};
      });

  r.def("linalg_lu_solve(Tensor LU, Tensor pivots, Tensor B, *, bool left=True, bool adjoint=False) -> Tensor")
      .doc("X with A X = B (left) or X A = B, or with A^H for adjoint, from lu_factor's factors of A")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &lu = a.tensor(0), &pivots = a.tensor(1), &b = a.tensor(2);
        TD_CHECK_ARG(lu.dim() >= 2 && lu.size(-1) == lu.size(-2), "[linalg_lu_solve] torch.linalg.lu_solve: LU must be "
                     "batches of square matrices, got ", shape_str(lu.shape()));
        TD_CHECK_ARG(b.dim() >= 2, "[linalg_lu_solve] torch.linalg.lu_solve: B must have at least 2 dimensions, got ",
                     shape_str(b.shape()));
        const bool left = a.bool_at(3), adjoint = a.bool_at(4);
        TD_CHECK_ARG((left ? b.size(-2) : b.size(-1)) == lu.size(-1), "[linalg_lu_solve] torch.linalg.lu_solve: "
                     "Incompatible shapes of A and B for the equation ", left ? "AX = B" : "XA = B", " (",
                     shape_str(lu.shape()), " and ", shape_str(b.shape()), ")");
        auto [l, u] = unpack_factors(lu);
        Tensor p = permutation_from_pivots(pivots, lu.size(-2), lu.dtype(), lu.device());
        if (left && !adjoint) return {solve_tri(u, solve_tri(l, mT(p).matmul(b), false, true, true), true, true)};
        if (left) return {p.matmul(solve_tri(mH(l), solve_tri(mH(u), b, false, true), true, true, true))};
        if (!adjoint) return {solve_tri(l, solve_tri(u, b, true, false), false, false, true).matmul(mT(p))};
        return {solve_tri(mH(u), solve_tri(mH(l), b.matmul(p), true, false, true), false, false)};
      });
}

}  // namespace td::linalg_detail
