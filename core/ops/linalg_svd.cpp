// torch.linalg's SVD, QR and triangular solves, and what is built on them (svdvals, pinv, matrix_rank,
// vector/matrix norms, norm, cond, matrix_power, multi_dot), with PyTorch 1.13's names, arguments, errors and
// backward formulas (FunctionsManual.cpp: svd_backward, linalg_qr_backward, pinv_backward, the triangular
// solve's), written in public ops so they differentiate again.
//
// A gradient that reaches a backward formula as zeros because nothing flowed to that output (GradContext)
// is treated as absent where PyTorch's formula branches on it (the SVD's singular vectors: svdvals needs
// no division by the singular values, so a rank-deficient matrix keeps a finite gradient).
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/linalg_common.h"
#include "core/ops/registry.h"

namespace td::linalg_detail {

namespace {

// Whether a gradient carries anything: not all zeros (one host read).
bool flows(const Tensor& g) { return g.defined() && g.numel() > 0 && g.ne(0).any().item<bool>(); }

void check_matrix_float(std::string_view name, const Tensor& a) {
  TD_CHECK_ARG(a.dim() >= 2, "[", name, "] The input tensor A must have at least 2 dimensions.");
  check_linalg_dtype(name, a);
}

// The first `cols` columns of an identity of order m, in each of batch's matrices (an empty SVD's U or Vh).
Tensor eye_columns(const Tensor& a, const Shape& batch, int64_t m, int64_t cols) {
  Tensor eye = call_op("eye", {Scalar(m), Scalar(cols), real_of(a.dtype()), a.device().str()})[0].to(a.dtype());
  Shape shape = batch;
  shape.insert(shape.end(), {m, cols});
  return eye.expand(shape).contiguous();
}

std::vector<Tensor> svd_forward(const Tensor& a, bool full, bool vectors) {
  check_matrix_float("linalg_svd", a);
  const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
  const int64_t ucols = full ? m : k, vrows = full ? n : k;
  const Shape batch = batch_shape(a);
  Shape s_shape = batch;
  s_shape.push_back(k);
  Tensor s = empty(s_shape, {real_of(a.dtype()), a.device()});
  if (a.numel() == 0) {
    if (!vectors) return {Tensor(), s, Tensor()};
    return {eye_columns(a, batch, m, ucols), s, eye_columns(a, batch, vrows, n)};
  }
  Tensor buffer = column_major_copy(a);
  Shape u_shape = batch, vh_shape = batch;
  u_shape.insert(u_shape.end(), {ucols, m});    // U column by column
  vh_shape.insert(vh_shape.end(), {n, vrows});  // Vh column by column
  Tensor u = vectors ? empty(u_shape, {a.dtype(), a.device()}) : Tensor();
  Tensor vh = vectors ? empty(vh_shape, {a.dtype(), a.device()}) : Tensor();
  Tensor info = zeros(batch, {DType::kInt32, a.device()});
  linalg_kernels(a.device().type)
      .svd(buffer.data_ptr(), vectors ? u.data_ptr() : nullptr, s.data_ptr(), vectors ? vh.data_ptr() : nullptr,
           a.dtype(), batch_of(a), m, n, full, vectors, static_cast<int32_t*>(info.data_ptr()), a.device().index);
  if (auto [index, code] = first_failure(info); index >= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                str("[linalg_svd] linalg.svd: ", batch_prefix(info, index),
                    "The algorithm failed to converge because the input matrix is ill-conditioned or has too many "
                    "repeated singular values (error code: ", code, ")."));
  }
  if (!vectors) return {Tensor(), s, Tensor()};
  return {mT(u), s, mT(vh)};
}

Tensor zeros_like_matrix(const Tensor& x) { return zeros(x.shape(), {x.dtype(), x.device()}); }

// The eigenvalues and (when vectors) eigenvectors of general square matrices, complex.
std::vector<Tensor> eig_forward(const Tensor& a, bool vectors) {
  check_square_float("linalg_eig", a);
  const int64_t n = a.size(-1);
  const DType complex = a.dtype() == DType::kFloat32   ? DType::kComplex64
                        : a.dtype() == DType::kFloat64 ? DType::kComplex128
                                                       : a.dtype();
  const Shape batch = batch_shape(a);
  Shape w_shape = batch, v_shape = batch;
  w_shape.push_back(n);
  v_shape.insert(v_shape.end(), {n, n});
  Tensor w = empty(w_shape, {complex, a.device()});
  Tensor v = vectors ? empty(v_shape, {complex, a.device()}) : Tensor();  // column by column
  if (a.numel() == 0) return {w, vectors ? v : Tensor()};
  Tensor buffer = column_major_copy(a);
  Tensor info = zeros(batch, {DType::kInt32, a.device()});
  linalg_kernels(a.device().type)
      .eig(buffer.data_ptr(), w.data_ptr(), vectors ? v.data_ptr() : nullptr, a.dtype(), batch_of(a), n, vectors,
           static_cast<int32_t*>(info.data_ptr()), a.device().index);
  if (auto [index, code] = first_failure(info); index >= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                str("[linalg_eig] linalg.eig: ", batch_prefix(info, index), "The algorithm failed to converge because "
                    "the input matrix is ill-conditioned or has too many repeated eigenvalues (error code: ", code,
                    ")."));
  }
  return {w, vectors ? mT(v) : Tensor()};
}

// PyTorch's svd_backward for U [m, k], S [k], Vh [k, n] (the reduced factors).
Tensor svd_backward(const Tensor& gu_in, const Tensor& gs, const Tensor& gvh_in, const Tensor& u, const Tensor& s,
                    const Tensor& vh) {
  const int64_t m = u.size(-2), n = vh.size(-1);
  const bool has_gu = flows(gu_in), has_gvh = flows(gvh_in);
  const bool complex = is_complex(u.dtype());
  const DType t = u.dtype();
  if (!has_gu && !has_gvh) {  // svdvals: U diag(gS) Vh
    return u.mul(gs.to(t).unsqueeze(-2)).matmul(vh);
  }
  auto skew = [](const Tensor& x) { return x.sub(mH(x)); };
  Tensor uhgu = has_gu ? skew(mH(u).matmul(gu_in)) : Tensor();
  Tensor vhgv = has_gvh ? skew(vh.matmul(mH(gvh_in))) : Tensor();
  if (complex) {
    Tensor im_u = has_gu ? uhgu.diagonal(0, -2, -1).imag() : zeros(s.shape(), {s.dtype(), s.device()});
    Tensor im_v = has_gvh ? vhgv.diagonal(0, -2, -1).imag() : zeros(s.shape(), {s.dtype(), s.device()});
    TD_CHECK_ARG(im_u.add(im_v).abs().max().item<double>() <= 1e-2,
                 "[linalg_svd] svd_backward: The singular vectors in the complex case are specified up to "
                 "multiplication by e^{i phi}. The specified loss function depends on this phase term, making it "
                 "ill-defined.");
  }
  Tensor s2 = s.mul(s);
  Tensor eye = eye_like(diag_embed(s)).to(s.dtype());
  Tensor e = s2.unsqueeze(-2).sub(s2.unsqueeze(-1)).add(eye);
  Tensor st = s.to(t);
  Tensor ret;
  if (has_gu && has_gvh) {
    ret = uhgu.mul(st.unsqueeze(-2)).add(st.unsqueeze(-1).mul(vhgv)).div(e.to(t));
  } else if (has_gu) {
    ret = uhgu.mul(st.unsqueeze(-2).div(e.to(t)));
  } else {
    ret = st.unsqueeze(-1).mul(vhgv.div(e.to(t)));
  }
  ret = ret.add(diag_embed(gs.to(t)));
  if (complex && has_gu) {
    Tensor im = uhgu.diagonal(0, -2, -1).imag().div(s.mul(Scalar(2.0)));
    ret = ret.add(diag_embed(Tensor::complex(ops::zeros_linked_to(im), im)));
  }
  if (m > n && has_gu) {
    Tensor ga = u.matmul(ret);
    Tensor gus = gu_in.div(st.unsqueeze(-2));
    ga = ga.add(gus).sub(u.matmul(mH(u).matmul(gus)));
    return ga.matmul(vh);
  }
  if (m < n && has_gvh) {
    Tensor ga = ret.matmul(vh);
    Tensor sgvh = gvh_in.div(st.unsqueeze(-1));
    ga = ga.add(sgvh).sub(sgvh.matmul(mH(vh)).matmul(vh));
    return u.matmul(ga);
  }
  return u.matmul(ret).matmul(vh);
}

// X = A^-1 B for triangular A [*, n, n] and B [*, n, k] (left), batch dims broadcast.
Tensor triangular_solve_left(const Tensor& a, const Tensor& b, bool upper, bool unit) {
  Shape batch = ops::broadcast_shapes("linalg_solve_triangular", batch_shape(a), batch_shape(b));
  const int64_t n = a.size(-1), k = b.size(-1);
  Shape a_shape = batch, b_shape = batch;
  a_shape.insert(a_shape.end(), {n, n});
  b_shape.insert(b_shape.end(), {n, k});
  Tensor factors = column_major_copy(a.expand(a_shape));
  Tensor x = column_major_copy(b.expand(b_shape));
  if (x.numel() > 0 && n > 0) {
    linalg_kernels(a.device().type)
        .triangular_solve(factors.data_ptr(), x.data_ptr(), a.dtype(), shape_numel(batch), n, k, upper, unit,
                          a.device().index);
  }
  return mT(x);
}

// The triangle a triangular solve reads (its strict part when unitriangular).
Tensor triangle(const Tensor& x, bool upper, bool unit) {
  return upper ? x.triu(unit ? 1 : 0) : x.tril(unit ? -1 : 0);
}

// QR's gradient for m >= n (or a square factor of a wide matrix): (gQ + Q copyltu(M)) R^-H with
// M = R gR^H - gQ^H Q, copyltu(M) = tril(M, -1) + tril(M, -1)^H + Re(diag(M)).
Tensor qr_backward_tall(const Tensor& gq, const Tensor& gr, const Tensor& q, const Tensor& r) {
  Tensor m = r.matmul(mH(gr)).sub(mH(gq).matmul(q));
  Tensor low = m.tril(-1);
  Tensor diagonal = m.diagonal(0, -2, -1);
  if (is_complex(m.dtype())) diagonal = diagonal.real().to(m.dtype());
  Tensor copyltu = low.add(mH(low)).add(diag_embed(diagonal));
  Tensor y = gq.add(q.matmul(copyltu));
  // Y R^-H: R X^H = Y^H.
  return mH(call_op("linalg_solve_triangular", {r, mH(y), Scalar(true), Scalar(true), Scalar(false)})[0]);
}

// The tolerance of pinv and matrix_rank: max(atol, rtol * the largest singular value), PyTorch 1.13's
// defaults (rtol = eps * max(m, n) when neither is given).
Tensor rank_tolerance(const Tensor& a, const Tensor& largest, const Args& args, size_t atol_slot, size_t rtol_slot) {
  const bool no_atol = args.is_none(atol_slot), no_rtol = args.is_none(rtol_slot);
  const double eps = real_of(a.dtype()) == DType::kFloat32 ? std::numeric_limits<float>::epsilon()
                                                           : std::numeric_limits<double>::epsilon();
  const double atol = no_atol ? 0.0 : args.float_at(atol_slot);
  const double rtol = !no_rtol ? args.float_at(rtol_slot)
                      : no_atol ? eps * static_cast<double>(std::max(a.size(-1), a.size(-2)))
                                : 0.0;
  return largest.mul(Scalar(rtol)).clamp(Scalar(atol));
}

// The singular values (or, hermitian, the absolute eigenvalues), descending where it matters for max.
Tensor spectrum(const Tensor& a, bool hermitian) {
  if (hermitian) return call_op("linalg_eigvalsh", {a, std::string("L")})[0].abs();
  return call_op("linalg_svdvals", {a})[0];
}

Tensor matrix_norm(std::string_view name, const Tensor& a, const Value& ord, Shape dims, bool keepdim) {
  TD_CHECK_ARG(a.dim() >= 2, "[", name, "] The input tensor A must have at least 2 dimensions.");
  TD_CHECK_ARG(dims.size() == 2, "[", name, "] dim must be a 2-tuple. Got ", shape_str(dims));
  const int64_t d0 = wrap_dim(name, dims[0], a.dim()), d1 = wrap_dim(name, dims[1], a.dim());
  TD_CHECK_ARG(d0 != d1, "[", name, "] dims must be different. Got (", dims[0], ", ", dims[1], ")");
  auto reduce_pair = [&](Tensor t, bool max, int64_t sum_dim, int64_t other) {
    Tensor sums = t.abs().sum({sum_dim}, true);
    Tensor r = max ? sums.amax({other}, true) : sums.amin({other}, true);
    if (!keepdim) r = r.squeeze(std::max(d0, d1)).squeeze(std::min(d0, d1));
    return r;
  };
  if (const auto* s = std::get_if<std::string>(&ord)) {
    if (*s == "fro") return a.norm(Scalar(2), Shape{d0, d1}, keepdim);
    TD_CHECK_ARG(*s == "nuc", "[", name, "] Order ", *s, " not supported.");
    Tensor moved = a.movedim({d0, d1}, {-2, -1});
    Tensor r = call_op("linalg_svdvals", {moved})[0].sum({-1}, false);
    if (keepdim) r = r.unsqueeze(std::min(d0, d1)).unsqueeze(std::max(d0, d1));
    return r;
  }
  const double p = std::get<Scalar>(ord).to<double>();
  if (p == 1 || p == -1) return reduce_pair(a, p > 0, d0, d1);
  if (std::isinf(p)) return reduce_pair(a, p > 0, d1, d0);
  TD_CHECK_ARG(p == 2 || p == -2, "[", name, "] Order ", p, " not supported.");
  Tensor moved = a.movedim({d0, d1}, {-2, -1});
  Tensor values = call_op("linalg_svdvals", {moved})[0];
  Tensor r = p > 0 ? values.amax({-1}, false) : values.amin({-1}, false);
  if (keepdim) r = r.unsqueeze(std::min(d0, d1)).unsqueeze(std::max(d0, d1));
  return r;
}

// The product of matrices m[0] ... m[n-1] in the order that costs the fewest scalar multiplications (the
// matrix-chain dynamic programme PyTorch's multi_dot runs; ties keep the earliest split).
Tensor chain_product(const std::vector<Tensor>& m) {
  const size_t n = m.size();
  std::vector<int64_t> p(n + 1);
  for (size_t i = 0; i < n; ++i) p[i] = m[i].size(0);
  p[n] = m.back().size(1);
  std::vector<std::vector<int64_t>> cost(n, std::vector<int64_t>(n, 0));
  std::vector<std::vector<size_t>> split(n, std::vector<size_t>(n, 0));
  for (size_t len = 1; len < n; ++len) {
    for (size_t i = 0; i + len < n; ++i) {
      const size_t j = i + len;
      cost[i][j] = std::numeric_limits<int64_t>::max();
      for (size_t k = i; k < j; ++k) {
        const int64_t c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1];
        if (c < cost[i][j]) {
          cost[i][j] = c;
          split[i][j] = k;
        }
      }
    }
  }
  std::function<Tensor(size_t, size_t)> product = [&](size_t i, size_t j) -> Tensor {
    if (i == j) return m[i];
    return product(i, split[i][j]).matmul(product(split[i][j] + 1, j));
  };
  return product(0, n - 1);
}

Tensor cast_input(const Tensor& a, const Args& args, size_t dtype_slot) {
  auto dtype = args.optional_dtype(dtype_slot);
  return dtype && *dtype != a.dtype() ? a.to(*dtype) : a;
}

}  // namespace

void register_decompositions(Registry& r) {
  r.def("linalg_svd(Tensor A, bool full_matrices=True) -> (Tensor U, Tensor S, Tensor Vh)")
      .doc("the singular value decomposition A = U diag(S) Vh of each matrix, S real and descending (gesdd)")
      .complex_autograd()
      .saves_inputs({})
      .saves_outputs()
      .forward([](const Args& a) { return svd_forward(a.tensor(0), a.bool_at(1), true); })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // With full_matrices, only the first k columns of U and rows of Vh enter the formula.
        Tensor u = c.output(0), s = c.output(1), vh = c.output(2);
        Tensor gu = c.grad(0), gvh = c.grad(2);
        const int64_t k = s.size(-1);
        if (c.args().bool_at(1)) {
          u = u.narrow(-1, 0, k);
          vh = vh.narrow(-2, 0, k);
          gu = gu.narrow(-1, 0, k);
          gvh = gvh.narrow(-2, 0, k);
        }
        return {svd_backward(gu, c.grad(1), gvh, u, s, vh)};
      });
  r.def("linalg_svdvals(Tensor A) -> Tensor")
      .doc("the singular values of each matrix, real and descending")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        if (!ops::needs_derivative(a.tensor(0))) return {svd_forward(a.tensor(0), false, false)[1]};
        return {call_op("linalg_svd", {a.tensor(0), Scalar(false)})[1]};
      });

  r.def("linalg_eig(Tensor self) -> (Tensor eigenvalues, Tensor eigenvectors)")
      .doc("the eigenvalues and right eigenvectors (columns of unit norm) of each square matrix, complex (geev)")
      .complex_autograd()
      .saves_inputs({})
      .saves_outputs()
      .forward([](const Args& a) { return eig_forward(a.tensor(0), true); })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's linalg_eig_backward: gA = V^-H (diag(gL) + (V^H gV - V^H V Re(diag(V^H gV))) / conj(E)) V^H,
        // E_ij = L_j - L_i off the diagonal; a real input keeps the real part.
        Tensor values = c.output(0), vectors = c.output(1), gl = c.grad(0), gv = c.grad(1);
        const DType t = vectors.dtype();
        Tensor vh = mH(vectors);
        Tensor vhgv = vh.matmul(gv);
        Tensor diagonal = vhgv.diagonal(0, -2, -1);
        if (vhgv.numel() > 0) {
          TD_CHECK_ARG(diagonal.imag().abs().max().item<double>() <= 1e-2,
                       "[linalg_eig] linalg_eig_backward: The eigenvectors in the complex case are specified up to "
                       "multiplication by e^{i phi}. The specified loss function depends on this quantity, so it is "
                       "ill-defined.");
        }
        vhgv = vhgv.sub(vh.matmul(vectors.mul(diagonal.real().to(t).unsqueeze(-2))));
        Tensor conj_values = values.conj();
        Tensor eye = eye_like(vhgv);
        Tensor e = conj_values.unsqueeze(-2).sub(conj_values.unsqueeze(-1)).add(eye);
        Tensor inner = vhgv.div(e).mul(eye.neg().add(Scalar(1.0))).add(diag_embed(gl.to(t)));
        Tensor ga = call_op("_linalg_solve", {vh, inner.matmul(vh)})[0];
        return {is_complex(c.input_meta(0).dtype) ? ga : ga.real()};
      });
  r.def("linalg_eigvals(Tensor self) -> Tensor")
      .doc("the eigenvalues of each square matrix, complex (geev)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        if (!ops::needs_derivative(a.tensor(0))) return {eig_forward(a.tensor(0), false)[0]};
        return {call_op("linalg_eig", {a.tensor(0)})[0]};
      });

  r.def("linalg_qr(Tensor A, str mode=\"reduced\") -> (Tensor Q, Tensor R)")
      .doc("the QR decomposition of each matrix (Householder, geqrf): mode \"reduced\" (Q m x k, R k x n), "
           "\"complete\" (Q m x m, R m x n) or \"r\" (R only, Q empty)")
      .complex_autograd()
      .saves_inputs({})
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_matrix_float("linalg_qr", A);
        const std::string& mode = a.string_at(1);
        TD_CHECK_ARG(mode == "reduced" || mode == "complete" || mode == "r", "[linalg_qr] qr received unrecognized "
                     "mode '", mode, "' but expected one of 'reduced' (default), 'r', or 'complete'");
        const int64_t m = A.size(-2), n = A.size(-1), k = std::min(m, n);
        const bool complete = mode == "complete";
        const Shape batch = batch_shape(A);
        Tensor buffer = column_major_copy(A);  // [*, n, m]
        Shape tau_shape = batch;
        tau_shape.push_back(k);
        Tensor tau = zeros(tau_shape, {A.dtype(), A.device()});
        auto& kernels = linalg_kernels(A.device().type);
        if (A.numel() > 0) {
          kernels.geqrf(buffer.data_ptr(), tau.data_ptr(), A.dtype(), batch_of(A), m, n, A.device().index);
        }
        const int64_t r_rows = complete ? m : k;
        Tensor R = mT(buffer).narrow(-2, 0, r_rows).triu();
        if (mode == "r") return {empty({0}, {A.dtype(), A.device()}), R.contiguous()};
        const int64_t cols = complete ? m : k;
        Shape q_shape = batch;
        q_shape.insert(q_shape.end(), {cols, m});  // Q column by column
        Tensor q = zeros(q_shape, {A.dtype(), A.device()});
        q.narrow(-2, 0, std::min(cols, n)).copy_(buffer.narrow(-2, 0, std::min(cols, n)));
        if (q.numel() > 0 && k > 0) {
          kernels.orgqr(q.data_ptr(), tau.data_ptr(), A.dtype(), batch_of(A), m, cols, k, A.device().index);
        } else if (q.numel() > 0) {
          q = eye_columns(A, batch, m, cols).transpose(-2, -1).contiguous();
        }
        return {mT(q), R.contiguous()};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const std::string& mode = c.args().string_at(1);
        TD_CHECK_ARG(mode != "r", "[linalg_qr] The derivative of linalg.qr depends on Q, which is not computed when "
                     "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                     "linalg.qr.");
        Tensor q = c.output(0), rr = c.output(1), gq = c.grad(0), gr = c.grad(1);
        const int64_t m = q.size(-2), n = rr.size(-1);
        TD_CHECK_ARG(mode == "reduced" || m <= n, "[linalg_qr] The QR decomposition is not differentiable when "
                     "mode='complete' and nrows > ncols.");
        if (m >= n) return {qr_backward_tall(gq, gr, q, rr)};
        // A = [X | Y] with X = Q U square and Y = Q V: gY = Q gV, and X's gradient with gQ + Y gV^H.
        Tensor a = q.matmul(rr);
        Tensor y = a.narrow(-1, m, n - m);
        Tensor gu = gr.narrow(-1, 0, m), gv = gr.narrow(-1, m, n - m);
        Tensor gx = qr_backward_tall(gq.add(y.matmul(mH(gv))), gu, q, rr.narrow(-1, 0, m));
        return {Tensor::cat({gx, q.matmul(gv)}, -1)};
      });

  r.def("linalg_solve_triangular(Tensor self, Tensor B, *, bool upper, bool left=True, bool unitriangular=False) -> "
        "Tensor")
      .doc("X with A X = B (left) or X A = B for triangular A (its other triangle not read; unitriangular: ones on its "
           "diagonal), batches broadcast (trsm)")
      .complex_autograd()
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &A = a.tensor(0), &B = a.tensor(1);
        check_square_float("linalg_solve_triangular", A);
        ops::check_same_device("linalg_solve_triangular", std::vector<Tensor>{A, B});
        TD_CHECK_ARG(A.dtype() == B.dtype(), "[linalg_solve_triangular] Expected A and B to have the same dtype, but "
                     "found A of type ", scalar_type_name(A.dtype()), " and B of type ", scalar_type_name(B.dtype()));
        TD_CHECK_ARG(B.dim() >= 2, "[linalg_solve_triangular] B must have at least 2 dimensions, but got shape ",
                     shape_str(B.shape()));
        const bool upper = a.bool_at(2), left = a.bool_at(3), unit = a.bool_at(4);
        const int64_t inner = left ? B.size(-2) : B.size(-1);
        TD_CHECK_ARG(inner == A.size(-1), "[linalg_solve_triangular] Incompatible shapes of A and B for the equation ",
                     left ? "AX = B" : "XA = B", " (", shape_str(A.shape()), " and ", shape_str(B.shape()), ")");
        if (left) return {triangular_solve_left(A, B, upper, unit)};
        return {mT(triangular_solve_left(mT(A), mT(B), !upper, unit))};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // gB = A^-H gX (the opposite triangle); gA = -gB X^H (left) or -X^H gB, kept to A's triangle.
        const Tensor a = c.input(0), b = c.input(1), x = c.output();
        const bool upper = c.args().bool_at(2), left = c.args().bool_at(3), unit = c.args().bool_at(4);
        Tensor gb = call_op("linalg_solve_triangular",
                            {mH(a), c.grad(), Scalar(!upper), Scalar(left), Scalar(unit)})[0];
        Tensor ga = left ? gb.matmul(mH(x)).neg() : mH(x).matmul(gb).neg();
        return {ops::sum_to(triangle(ga, upper, unit), a.sizes()), ops::sum_to(gb, b.sizes())};
      });

  r.def("linalg_pinv(Tensor self, *, float? atol=None, float? rtol=None, bool hermitian=False) -> Tensor")
      .doc("the Moore-Penrose pseudo-inverse of each matrix, singular values up to max(atol, rtol * the largest) "
           "treated as zero (by the SVD, or eigh when hermitian)")
      .complex_autograd()
      .saves_outputs()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_matrix_float("linalg_pinv", A);
        if (a.bool_at(3)) {
          check_square_float("linalg_pinv", A);
          auto ev = call_op("linalg_eigh", {A, std::string("L")});
          Tensor w = ev[0], v = ev[1];
          Tensor tol = rank_tolerance(A, w.abs().amax({-1}, true), a, 1, 2);
          Tensor inv_w = w.reciprocal().where(w.abs().gt(tol), Scalar(0.0));
          return {v.mul(inv_w.to(v.dtype()).unsqueeze(-2)).matmul(mH(v))};
        }
        auto usv = svd_forward(A, false, true);
        Tensor s = usv[1];
        if (s.numel() == 0) return {zeros(mT(A).shape(), {A.dtype(), A.device()})};
        Tensor tol = rank_tolerance(A, s.narrow(-1, 0, 1), a, 1, 2);
        Tensor inv_s = s.reciprocal().where(s.gt(tol), Scalar(0.0));
        return {mH(usv[2]).mul(inv_s.to(A.dtype()).unsqueeze(-2)).matmul(mH(usv[0]))};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's pinv_backward, arranged for the smaller of the two products.
        const Tensor a = c.input(0), p = c.output(), g = c.grad();
        const Tensor ph = mH(p), gh = mH(g);
        if (a.size(-2) <= a.size(-1)) {
          Tensor k = gh.matmul(p);
          Tensor kph = k.matmul(ph);
          return {mH(p.matmul(k))
                      .neg()
                      .add(kph)
                      .sub(a.matmul(p).matmul(kph))
                      .add(ph.matmul(p).matmul(gh.sub(k.matmul(a))))};
        }
        Tensor k = p.matmul(gh);
        Tensor phk = ph.matmul(k);
        return {mH(k.matmul(p))
                    .neg()
                    .add(gh.sub(a.matmul(k)).matmul(p).matmul(ph))
                    .add(phk)
                    .sub(phk.matmul(p).matmul(a))};
      });

  r.def("linalg_lstsq(Tensor self, Tensor b, float? rcond=None, *, str? driver=None) -> (Tensor solution, Tensor "
        "residuals, Tensor rank, Tensor singular_values)")
      .doc("the least-squares solution X minimising ||A X - B|| (the minimum-norm one for a rank-deficient A, singular "
           "values up to rcond times the largest treated as zero), with the squared residuals (drivers gels, gelsd, "
           "gelss, when m > n and A has full rank), the ranks (gelsy, gelsd, gelss) and the singular values (gelsd, "
           "gelss)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &A = a.tensor(0), &B = a.tensor(1);
        check_matrix_float("linalg_lstsq", A);
        const std::string driver = a.is_none(3) ? "gelsy" : a.string_at(3);
        TD_CHECK_ARG(driver == "gels" || driver == "gelsy" || driver == "gelsd" || driver == "gelss",
                     "[linalg_lstsq] torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, "
                     "gelss)");
        TD_CHECK_ARG(A.dtype() == B.dtype(), "[linalg_lstsq] Expected self and b to have the same dtype, but found "
                     "self of type ", scalar_type_name(A.dtype()), " and b of type ", scalar_type_name(B.dtype()));
        TD_CHECK_ARG(B.dim() >= 1 && A.dim() >= B.dim() && A.dim() - B.dim() <= 1, "[linalg_lstsq] torch.linalg.lstsq: "
                     "input.dim() must be greater or equal to other.dim() and (input.dim() - other.dim()) <= 1");
        const bool vector = B.dim() == A.dim() - 1;
        const Tensor b = vector ? B.unsqueeze(-1) : B;
        const int64_t m = A.size(-2), n = A.size(-1);
        TD_CHECK_ARG(b.size(-2) == m, "[linalg_lstsq] torch.linalg.lstsq: input.size(-2) should match other.size(-2), "
                     "got ", shape_str(A.shape()), " and ", shape_str(B.shape()));
        const double eps = real_of(A.dtype()) == DType::kFloat32 ? std::numeric_limits<float>::epsilon()
                                                                 : std::numeric_limits<double>::epsilon();
        const double rcond =
            a.is_none(2) || a.float_at(2) < 0 ? eps * static_cast<double>(std::max(m, n)) : a.float_at(2);
        Tensor pinv = call_op("linalg_pinv", {A, None{}, Scalar(rcond), Scalar(false)})[0];
        Tensor x = pinv.matmul(b);
        const DType real = real_of(A.dtype());
        // One set of singular values serves the ranks, the full-rank test and the gelsd/gelss by-product (which
        // alone is differentiated, so the others read detached values).
        const bool with_values = driver == "gelsd" || driver == "gelss";
        Tensor s = call_op("linalg_svdvals", {with_values ? A : A.detach()})[0];
        Tensor sd = s.detach();
        Tensor ranks = sd.size(-1) == 0 ? zeros(batch_shape(A), {DType::kInt64, A.device()})
                                        : sd.gt(sd.amax({-1}, true).mul(Scalar(rcond))).sum({-1}, false, DType::kInt64);
        Tensor rank = driver == "gels" ? empty({0}, {DType::kInt64, A.device()}) : ranks;
        Tensor residuals = empty({0}, {real, A.device()});
        if (driver != "gelsy" && m > n && ranks.eq(Scalar(n)).all().item<bool>()) {
          Tensor diff = A.matmul(x).sub(b).abs();
          residuals = diff.mul(diff).sum({-2}, false);
          if (vector) residuals = residuals.squeeze(-1);
        }
        Tensor values = with_values ? s : empty({0}, {real, A.device()});
        return {vector ? x.squeeze(-1) : x, residuals, rank, values};
      });

  r.def("linalg_matrix_rank(Tensor self, *, float? atol=None, float? rtol=None, bool hermitian=False) -> Tensor")
      .doc("the number of singular values (hermitian: absolute eigenvalues) above max(atol, rtol * the largest), int64")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_matrix_float("linalg_matrix_rank", A);
        Tensor values = spectrum(A, a.bool_at(3));
        if (values.size(-1) == 0) return {zeros(batch_shape(A), {DType::kInt64, A.device()})};
        Tensor tol = rank_tolerance(A, values.amax({-1}, true), a, 1, 2);
        return {values.gt(tol).sum({-1}, false, DType::kInt64)};
      });

  r.def("linalg_vector_norm(Tensor self, Scalar ord=2, int[1]? dim=None, bool keepdim=False, *, ScalarType? "
        "dtype=None) -> Tensor")
      .doc("the ord-norm of self's elements over dim (all by default): sum(|x|^ord)^(1/ord), max |x| for inf")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Tensor x = cast_input(a.tensor(0), a, 4);
        return {x.norm(a.scalar(1), a.optional_ints(2), a.bool_at(3))};
      });
  r.def(
       "linalg_matrix_norm(Tensor self, str ord=\"fro\", int[] dim=[-2,-1], bool keepdim=False, *, "
       "ScalarType? "
       "dtype=None) -> Tensor")
      .doc("the Frobenius (\"fro\") or nuclear (\"nuc\") norm of each matrix over dim")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {matrix_norm("linalg_matrix_norm", cast_input(a.tensor(0), a, 4), a.string_at(1), a.ints(2),
                            a.bool_at(3))};
      });
  r.def("linalg_matrix_norm.ord(Tensor self, Scalar ord, int[] dim=[-2,-1], bool keepdim=False, *, ScalarType? "
        "dtype=None) -> Tensor")
      .doc("the ord norm of each matrix: 1/-1 the max/min column sum of |a|, inf/-inf the max/min row sum, 2/-2 the "
           "largest/smallest singular value")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {matrix_norm("linalg_matrix_norm", cast_input(a.tensor(0), a, 4), a.scalar(1), a.ints(2), a.bool_at(3))};
      });
  r.def("linalg_norm(Tensor self, Scalar? ord=None, int[1]? dim=None, bool keepdim=False, *, ScalarType? dtype=None) "
        "-> Tensor")
      .doc("torch.linalg.norm: a vector norm over one dim (or all, flattened, when ord and dim are None), a matrix "
           "norm over two")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Tensor x = cast_input(a.tensor(0), a, 4);
        auto dim = a.optional_ints(2);
        const bool keepdim = a.bool_at(3);
        const size_t nd = dim ? dim->size() : static_cast<size_t>(x.dim());
        if (a.is_none(1) && !dim) return {x.norm(Scalar(2), std::nullopt, keepdim)};
        TD_CHECK_ARG(dim || nd == 1 || nd == 2, "[linalg_norm] linalg.norm: If dim is not specified but ord is, the "
                     "input must be 1D or 2D. Got ", nd, "D.");
        if (nd == 1) return {x.norm(a.is_none(1) ? Scalar(2) : a.scalar(1), dim, keepdim)};
        TD_CHECK_ARG(nd == 2, "[linalg_norm] linalg.norm: dim must be a 1- or 2-tuple. Got ", nd, " dims");
        const Shape dims = dim ? *dim : Shape{0, 1};
        return {matrix_norm("linalg_norm", x, a.is_none(1) ? Value(std::string("fro")) : Value(a.scalar(1)), dims,
                            keepdim)};
      });
  r.def("linalg_cond(Tensor self, Scalar? p=None) -> Tensor")
      .doc("the condition number of each matrix in the p norm: the ratio of its extreme singular values for p = 2 "
           "(the default) or -2, else norm(A) norm(A^-1)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_matrix_float("linalg_cond", A);
        const double p = a.is_none(1) ? 2.0 : a.scalar(1).to<double>();
        if (p == 2 || p == -2) {
          Tensor s = call_op("linalg_svdvals", {A})[0];
          Tensor big = s.amax({-1}, false), small = s.amin({-1}, false);
          return {p > 0 ? big.div(small) : small.div(big)};
        }
        check_square_float("linalg_cond", A);
        const Value ord = a.scalar(1);
        return {matrix_norm("linalg_cond", A, ord, {-2, -1}, false)
                    .mul(matrix_norm("linalg_cond", call_op("linalg_inv", {A})[0], ord, {-2, -1}, false))};
      });
  r.def("linalg_matrix_exp(Tensor self) -> Tensor")
      .doc("the matrix exponential of each square matrix: a Taylor polynomial of degree 18 after scaling by 2^-s "
           "(to a 1-norm at most 1), then s squarings")
      .complex_autograd()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_matrix_exp", A);
        if (A.numel() == 0) return {A.clone()};
        // One scaling for the batch: its largest 1-norm (the max column sum of |a|).
        const double norm = A.abs().sum({-2}, false).amax().item<double>();
        // A NaN or infinity spreads through the products: PyTorch's result is then NaN throughout.
        if (!std::isfinite(norm)) {
          return {full(A.shape(), Scalar(std::numeric_limits<double>::quiet_NaN()), {A.dtype(), A.device()})};
        }
        const int s = norm > 1 ? static_cast<int>(std::ceil(std::log2(norm))) : 0;
        Tensor x = s > 0 ? A.mul(Scalar(std::ldexp(1.0, -s))) : A;
        // Horner: I + x (I + x/2 (I + x/3 (... (I + x/18)))).
        Tensor eye = eye_like(A);
        Tensor result = eye.add(x.div(Scalar(18.0)));
        for (int k = 17; k >= 1; --k) result = eye.add(x.matmul(result).div(Scalar(static_cast<double>(k))));
        for (int i = 0; i < s; ++i) result = result.matmul(result);
        return {result.contiguous()};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's matrix_exp_backward: the Frechet derivative at A^H in the direction G, the upper-right block of
        // exp([[A^H, G], [0, A^H]]).
        const Tensor a = c.input(0), g = c.grad();
        const int64_t n = a.size(-1);
        Tensor ah = mH(a);
        Tensor top = Tensor::cat({ah, g}, -1), bottom = Tensor::cat({zeros_like_matrix(ah), ah}, -1);
        Tensor block = call_op("linalg_matrix_exp", {Tensor::cat({top, bottom}, -2)})[0];
        return {block.narrow(-2, 0, n).narrow(-1, n, n)};
      });
  r.def("matrix_exp(Tensor self) -> Tensor")
      .doc("torch.matrix_exp: linalg.matrix_exp")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> { return call_op("linalg_matrix_exp", {a.tensor(0)}); });
  r.def("linalg_matrix_power(Tensor self, int n) -> Tensor")
      .doc("self to the integer power n by repeated squaring (n < 0: of its inverse; n = 0: the identity)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        check_square_float("linalg_matrix_power", A);
        int64_t n = a.int_at(1);
        if (n == 0) return {eye_like(A).expand(A.shape()).contiguous()};
        Tensor base = n < 0 ? call_op("linalg_inv", {A})[0] : A;
        n = n < 0 ? -n : n;
        Tensor result;
        while (n > 0) {
          if (n & 1) result = result.defined() ? result.matmul(base) : base;
          n >>= 1;
          if (n > 0) base = base.matmul(base);
        }
        return {result};
      });
  r.def("linalg_tensorsolve(Tensor self, Tensor other, int[]? dims=None) -> Tensor")
      .doc("X with tensordot(self, X, X.dim()) = other: self's dims (dims moved last first) reshaped to a square "
           "system")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Tensor A = a.tensor(0);
        const Tensor& B = a.tensor(1);
        if (auto dims = a.optional_ints(2)) {
          Shape to;
          for (size_t i = 0; i < dims->size(); ++i) to.push_back(A.dim() - static_cast<int64_t>(dims->size() - i));
          A = A.movedim(*dims, to);
        }
        TD_CHECK_ARG(A.dim() >= B.dim(), "[linalg_tensorsolve] Expected self to have at least other.dim() = ", B.dim(),
                     " dims, but got ", A.dim());
        const Shape result_shape(A.sizes().begin() + B.dim(), A.sizes().end());
        const int64_t result_product = shape_numel(result_shape), other_product = B.numel();
        TD_CHECK_ARG(shape_numel(A.sizes().subspan(0, static_cast<size_t>(B.dim()))) == other_product &&
                         result_product == other_product,
                     "[linalg_tensorsolve] Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                     "prod(self.shape[:other.ndim]), but got ", result_product, " != ", other_product);
        Tensor x = call_op("linalg_solve", {A.reshape({other_product, result_product}), B.reshape({other_product}),
                                            Scalar(true)})[0];
        return {x.reshape(result_shape)};
      });
  r.def("linalg_tensorinv(Tensor self, int ind=2) -> Tensor")
      .doc(
          "the inverse of self for tensordot over ind dims: self's first ind and last dims reshaped to a "
          "square matrix")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& A = a.tensor(0);
        const int64_t ind = a.int_at(1);
        TD_CHECK_ARG(ind > 0, "[linalg_tensorinv] Expected a strictly positive integer for 'ind', but got ", ind);
        TD_CHECK_ARG(ind <= A.dim(), "[linalg_tensorinv] ind ", ind, " is more than self's ", A.dim(), " dims");
        const Shape front(A.sizes().begin(), A.sizes().begin() + ind), back(A.sizes().begin() + ind, A.sizes().end());
        const int64_t rows = shape_numel(front), cols = shape_numel(back);
        TD_CHECK_ARG(rows == cols, "[linalg_tensorinv] Expected self to satisfy the requirement "
                     "prod(self.shape[ind:]) == prod(self.shape[:ind]), but got ", cols, " != ", rows);
        Shape out = back;
        out.insert(out.end(), front.begin(), front.end());
        return {call_op("linalg_inv", {A.reshape({rows, cols})})[0].reshape(out)};
      });
  r.def("linalg_vecdot(Tensor x, Tensor y, *, int dim=-1) -> Tensor")
      .doc("the dot products of x and y along dim, broadcast, conjugating x: sum(conj(x) * y)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {ops::conj_if_complex(a.tensor(0)).mul(a.tensor(1)).sum({a.int_at(2)}, false)};
      });
  r.def("linalg_cross(Tensor self, Tensor other, *, int dim=-1) -> Tensor")
      .doc("the cross product of 3-vectors along dim (-1 by default, unlike torch.cross), broadcast")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {a.tensor(0).cross(a.tensor(1), a.int_at(2))};
      });
  r.def("linalg_diagonal(Tensor A, *, int offset=0, int dim1=-2, int dim2=-1) -> Tensor")
      .doc("the offset-th diagonal of each matrix over dim1 and dim2, as a view")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {a.tensor(0).diagonal(a.int_at(1), a.int_at(2), a.int_at(3))};
      });

  r.def("linalg_multi_dot(Tensor[] tensors) -> Tensor")
      .doc("the product of a chain of matrices, the first may be a row vector and the last a column vector")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const auto& ts = a.tensors(0);
        TD_CHECK_ARG(ts.size() >= 2, "[linalg_multi_dot] multi_dot(): expected at least 2 tensors but got ", ts.size());
        for (size_t i = 0; i < ts.size(); ++i) {
          const bool end = i == 0 || i + 1 == ts.size();
          TD_CHECK_ARG(ts[i].dim() == 2 || (end && ts[i].dim() == 1), "[linalg_multi_dot] multi_dot(): tensor ", i,
                       " must be 2D", end ? " or 1D" : "", " but got ", ts[i].dim(), "D");
        }
        std::vector<Tensor> m;
        for (size_t i = 0; i < ts.size(); ++i) {
          m.push_back(ts[i].dim() == 2 ? ts[i] : i == 0 ? ts[i].unsqueeze(0) : ts[i].unsqueeze(1));
          if (i > 0) {
            TD_CHECK_ARG(m[i - 1].size(-1) == m[i].size(0), "[linalg_multi_dot] multi_dot(): tensors ", i - 1, " and ",
                         i, " with shapes ", shape_str(ts[i - 1].shape()), " and ", shape_str(ts[i].shape()),
                         " cannot be multiplied");
          }
        }
        Tensor result = chain_product(m);
        if (ts.back().dim() == 1) result = result.squeeze(-1);
        if (ts.front().dim() == 1) result = result.squeeze(0);
        return {result};
      });
}

}  // namespace td::linalg_detail
