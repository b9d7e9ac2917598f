#!/usr/bin/python3
"""Writes tests/golden/linalg.json: PyTorch 1.13's torch.linalg solvers and decompositions, values and
gradients (and forward-mode tangents where PyTorch's agree with a central difference), in float32, float64,
complex64 and complex128: linalg.solve (matrix and vector right-hand sides, broadcast batches, left=False),
linalg.inv, linalg.det, linalg.slogdet, linalg.cholesky(_ex) (lower and upper), torch.cholesky, linalg.eigh
(both triangles), linalg.eigvalsh, linalg.svd/svdvals, linalg.qr (tall, wide, complete), solve_triangular,
pinv (and hermitian), matrix_norm (every ord), vector_norm, norm, cond and matrix_power, on single matrices,
batches and transposed inputs.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_linalg.py

Every output that requires grad is weighted (a complex weight for a complex output) and the real loss
sum_i Re(sum(out_i * w_i)) backpropagated; the first output is "expected", the others "extra_outputs".
PyTorch's LAPACK here is OpenBLAS's, as tensord's, so eigenvectors come out with the same signs.
"""

import os

import torch

from generate import (F32, F64, apply, encode_kwargs, encode_tensor, forward_mode, make_case, randn, transposed,
                      write_fixture)
from generate_complex import C64, C128, crandn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "linalg.json")


def weight_for(out):
    if out.is_complex():
        return torch.complex(randn(*out.shape), randn(*out.shape)).to(out.dtype)
    return randn(*out.shape, dtype=out.dtype)


def case(name, op, inputs, first_only=False, torch_op=None, torch_call=None, **kwargs):
    """make_case for ops with one or several differentiable outputs (only the first weighted when first_only:
    complex eigenvectors, whose phase a loss must not depend on). torch_op: PyTorch's op where tensord's is
    internal (_linalg_solve is linalg.solve's left form). torch_call(args): PyTorch's call where the op takes a
    list (multi_dot); such cases have no forward-mode part."""
    torch_op = torch_op or op
    leaves, layouts = [], []
    for x in inputs:
        leaf, layout = x if isinstance(x, tuple) else (x, None)
        leaves.append(leaf.clone().requires_grad_(leaf.is_floating_point() or leaf.is_complex()))
        layouts.append(layout)
    args = [apply(lay["op"], [leaf], lay["kwargs"]) if lay else leaf for leaf, lay in zip(leaves, layouts)]
    out = torch_call(args) if torch_call else apply(torch_op, args, kwargs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    weights = [weight_for(o) if o.requires_grad and (i == 0 or not first_only) else None for i, o in enumerate(outs)]
    assert any(w is not None for w in weights), name
    c = {
        "name": name,
        "op": op,
        "inputs": [dict(encode_tensor(leaf), layout=lay) for leaf, lay in zip(leaves, layouts)],
        "kwargs": encode_kwargs(kwargs),
        "expected": encode_tensor(outs[0]),
        "grad_weight": encode_tensor(weights[0]) if weights[0] is not None else None,
        "grads": [None] * len(leaves),
    }
    if len(outs) > 1:
        c["extra_outputs"] = [encode_tensor(o) for o in outs[1:]]
        c["extra_grad_weights"] = [encode_tensor(w) if w is not None else None for w in weights[1:]]
    loss = sum((o * w).sum() for o, w in zip(outs, weights) if w is not None)
    (loss.real if loss.is_complex() else loss).backward()
    c["grads"] = [encode_tensor(leaf.grad) if leaf.grad is not None else None for leaf in leaves]
    if torch_call:
        return c
    try:
        forward_mode(c, name, torch_op, leaves, layouts, kwargs)
    except RuntimeError:  # a zero tangent PyTorch leaves unallocated (slogdet's real sign): no forward case
        c.pop("tangents", None)
        c.pop("jvp", None)
    return c


def matrix(*shape, dtype):
    """randn's values, complex for the complex dtypes."""
    return crandn(*shape, dtype=dtype) if dtype.is_complex else randn(*shape, dtype=dtype)


def well_conditioned(*shape, dtype):
    """A + n I: far from singular."""
    n = shape[-1]
    return matrix(*shape, dtype=dtype) + n * torch.eye(n, dtype=dtype)


def positive_definite(*shape, dtype):
    """X X^H + n I, Hermitian positive-definite."""
    x = matrix(*shape, dtype=dtype)
    return x @ x.mH + shape[-1] * torch.eye(shape[-1], dtype=dtype)


def hermitian(*shape, dtype):
    """(X + X^H) / 2 plus a spread diagonal (well-separated eigenvalues)."""
    x = matrix(*shape, dtype=dtype)
    n = shape[-1]
    return (x + x.mH) / 2 + torch.diag(torch.arange(n, dtype=torch.float64) * 3).to(dtype)


def cases():
    c = []
    add = c.append
    for dt, s in ((F32, "f32"), (F64, "f64"), (C64, "c64"), (C128, "c128")):
        add(case(f"solve_{s}", "linalg_solve", [well_conditioned(3, 3, dtype=dt), matrix(3, 2, dtype=dt)]))
        add(case(f"_linalg_solve_{s}", "_linalg_solve", [well_conditioned(2, 3, 3, dtype=dt), matrix(3, 2, dtype=dt)],
                 torch_op="linalg_solve"))
        add(case(f"solve_vector_{s}", "linalg_solve", [well_conditioned(3, 3, dtype=dt), matrix(3, dtype=dt)]))
        add(case(f"solve_batch_vectors_{s}", "linalg_solve", [well_conditioned(2, 3, 3, dtype=dt),
                                                               matrix(2, 3, dtype=dt)]))
        add(case(f"solve_broadcast_{s}", "linalg_solve", [well_conditioned(2, 3, 3, dtype=dt), matrix(3, 1, dtype=dt)]))
        add(case(f"solve_right_{s}", "linalg_solve", [well_conditioned(3, 3, dtype=dt), matrix(2, 3, dtype=dt)],
                 left=False))
        add(case(f"solve_transposed_{s}", "linalg_solve", [transposed(well_conditioned(4, 4, dtype=dt)),
                                                           matrix(4, 2, dtype=dt)]))
        add(case(f"inv_{s}", "linalg_inv", [well_conditioned(3, 3, dtype=dt)]))
        add(case(f"inv_batch_{s}", "linalg_inv", [well_conditioned(2, 4, 4, dtype=dt)]))
        add(case(f"inv_transposed_{s}", "linalg_inv", [transposed(well_conditioned(3, 3, dtype=dt))]))
        add(case(f"det_{s}", "linalg_det", [well_conditioned(3, 3, dtype=dt)]))
        add(case(f"det_batch_{s}", "linalg_det", [matrix(2, 4, 4, dtype=dt)]))
        add(case(f"det_1x1_{s}", "linalg_det", [matrix(1, 1, dtype=dt)]))
        add(case(f"slogdet_{s}", "linalg_slogdet", [matrix(3, 3, dtype=dt)]))
        add(case(f"slogdet_batch_{s}", "linalg_slogdet", [well_conditioned(2, 3, 3, dtype=dt) * -1]))
        add(case(f"cholesky_{s}", "linalg_cholesky", [positive_definite(3, 3, dtype=dt)]))
        add(case(f"cholesky_upper_batch_{s}", "linalg_cholesky", [positive_definite(2, 4, 4, dtype=dt)], upper=True))
        add(case(f"cholesky_ex_{s}", "linalg_cholesky_ex", [positive_definite(3, 3, dtype=dt)]))
        add(case(f"torch_cholesky_{s}", "cholesky", [positive_definite(3, 3, dtype=dt)]))
        # A complex loss of the eigenvectors depends on their phases: only the eigenvalues are weighted there.
        add(case(f"eigh_{s}", "linalg_eigh", [hermitian(4, 4, dtype=dt)], first_only=dt.is_complex))
        add(case(f"eigh_upper_batch_{s}", "linalg_eigh", [hermitian(2, 3, 3, dtype=dt)], first_only=dt.is_complex,
                 UPLO="U"))
        add(case(f"eigvalsh_{s}", "linalg_eigvalsh", [hermitian(4, 4, dtype=dt)]))
    for dt, s in ((F32, "f32"), (F64, "f64"), (C64, "c64"), (C128, "c128")):
        # Complex singular vectors have free phases: only S carries the loss there.
        cx = dt.is_complex
        add(case(f"svd_{s}", "linalg_svd", [matrix(4, 3, dtype=dt)], first_only=cx, full_matrices=False)
            if not cx else case(f"svd_values_{s}", "linalg_svdvals", [matrix(4, 3, dtype=dt)]))
        add(case(f"svdvals_wide_batch_{s}", "linalg_svdvals", [matrix(2, 3, 5, dtype=dt)]))
        add(case(f"qr_tall_{s}", "linalg_qr", [matrix(5, 3, dtype=dt)]))
        add(case(f"qr_wide_{s}", "linalg_qr", [matrix(3, 5, dtype=dt)]))
        add(case(f"qr_square_complete_batch_{s}", "linalg_qr", [matrix(2, 3, 3, dtype=dt)], mode="complete"))
        add(case(f"solve_triangular_upper_{s}", "linalg_solve_triangular",
                 [well_conditioned(3, 3, dtype=dt), matrix(3, 2, dtype=dt)], upper=True))
        add(case(f"solve_triangular_lower_right_unit_{s}", "linalg_solve_triangular",
                 [well_conditioned(3, 3, dtype=dt), matrix(2, 3, dtype=dt)], upper=False, left=False, unitriangular=True))
        add(case(f"solve_triangular_broadcast_{s}", "linalg_solve_triangular",
                 [well_conditioned(2, 3, 3, dtype=dt), matrix(3, 1, dtype=dt)], upper=False))
        add(case(f"pinv_tall_{s}", "linalg_pinv", [matrix(4, 3, dtype=dt)]))
        add(case(f"pinv_wide_batch_{s}", "linalg_pinv", [matrix(2, 2, 4, dtype=dt)]))
        add(case(f"pinv_hermitian_{s}", "linalg_pinv", [hermitian(3, 3, dtype=dt)], hermitian=True))
        add(case(f"matrix_norm_fro_{s}", "linalg_matrix_norm", [matrix(2, 3, 4, dtype=dt)]))
        add(case(f"matrix_norm_nuc_{s}", "linalg_matrix_norm", [matrix(3, 4, dtype=dt)], ord="nuc"))
        for p, tag in ((1, "1"), (-1, "m1"), (2, "2"), (-2, "m2")):  # JSON has no inf: the unit tests cover it
            add(case(f"matrix_norm_{tag}_{s}", "linalg_matrix_norm.ord", [matrix(3, 4, dtype=dt)], ord=p,
                     dim=[-1, -2]))
        add(case(f"vector_norm_{s}", "linalg_vector_norm", [matrix(3, 4, dtype=dt)], ord=3, dim=[1]))
        add(case(f"norm_default_{s}", "linalg_norm", [matrix(3, 4, dtype=dt)]))
        add(case(f"cond_{s}", "linalg_cond", [well_conditioned(3, 3, dtype=dt)]))
        add(case(f"matrix_power_{s}", "linalg_matrix_power", [matrix(3, 3, dtype=dt)], n=3))
        add(case(f"multi_dot_vectors_{s}", "linalg_multi_dot", [matrix(3, dtype=dt), matrix(3, 4, dtype=dt),
                                                                matrix(4, 2, dtype=dt), matrix(2, dtype=dt)],
                 torch_call=torch.linalg.multi_dot))
        add(case(f"lstsq_{s}", "linalg_lstsq", [matrix(5, 3, dtype=dt), matrix(5, 2, dtype=dt)]))
        # (PyTorch 1.13's backward fails for vector right-hand sides: the unit tests cover those.)
        add(case(f"lstsq_gelsd_batch_{s}", "linalg_lstsq", [matrix(2, 4, 3, dtype=dt), matrix(2, 4, 2, dtype=dt)],
                 driver="gelsd"))
        add(case(f"lstsq_gelss_{s}", "linalg_lstsq", [matrix(4, 3, dtype=dt), matrix(4, 1, dtype=dt)], driver="gelss"))
        add(case(f"lstsq_wide_gels_{s}", "linalg_lstsq", [matrix(2, 4, dtype=dt), matrix(2, 1, dtype=dt)], driver="gels"))
        add(case(f"matrix_power_negative_{s}", "linalg_matrix_power", [well_conditioned(3, 3, dtype=dt)], n=-2))
    for dt, s in ((F32, "f32"), (F64, "f64"), (C64, "c64"), (C128, "c128")):
        # Eigenvectors of a general matrix have free phases: eig weighs its eigenvalues only.
        add(case(f"eig_{s}", "linalg_eig", [matrix(4, 4, dtype=dt)], first_only=True))
        add(case(f"eigvals_batch_{s}", "linalg_eigvals", [matrix(2, 3, 3, dtype=dt)]))
        add(case(f"multi_dot_chain_{s}", "linalg_multi_dot", [matrix(2, 5, dtype=dt), matrix(5, 1, dtype=dt),
                                                              matrix(1, 4, dtype=dt), matrix(4, 3, dtype=dt)],
                 torch_call=torch.linalg.multi_dot))
        add(case(f"tensorsolve_{s}", "linalg_tensorsolve",
                 [well_conditioned(6, 6, dtype=dt).reshape(2, 3, 6), matrix(2, 3, dtype=dt)]))
        add(case(f"tensorsolve_dims_{s}", "linalg_tensorsolve",
                 [well_conditioned(6, 6, dtype=dt).reshape(6, 2, 3), matrix(2, 3, dtype=dt)], dims=[0]))
        add(case(f"tensorinv_{s}", "linalg_tensorinv", [well_conditioned(6, 6, dtype=dt).reshape(2, 3, 6)], ind=2))
        add(case(f"vecdot_{s}", "linalg_vecdot", [matrix(3, 4, dtype=dt), matrix(4, dtype=dt)],
                 torch_call=lambda a: torch.linalg.vecdot(a[0], a[1])))
        add(case(f"cross_{s}", "linalg_cross", [matrix(2, 3, dtype=dt), matrix(2, 3, dtype=dt)]))
        add(case(f"diagonal_{s}", "linalg_diagonal", [matrix(2, 3, 4, dtype=dt)], offset=1))
        add(case(f"matrix_exp_{s}", "linalg_matrix_exp", [matrix(3, 3, dtype=dt)]))
        add(case(f"matrix_exp_large_norm_batch_{s}", "linalg_matrix_exp", [matrix(2, 3, 3, dtype=dt) * 2]))
        add(case(f"torch_matrix_exp_{s}", "matrix_exp", [matrix(2, 2, dtype=dt)]))
        add(case(f"inv_ex_{s}", "linalg_inv_ex", [well_conditioned(2, 3, 3, dtype=dt)]))
        add(case(f"solve_ex_{s}", "linalg_solve_ex", [well_conditioned(3, 3, dtype=dt), matrix(3, 2, dtype=dt)]))
        add(case(f"solve_ex_right_{s}", "linalg_solve_ex", [well_conditioned(3, 3, dtype=dt),
                                                                   matrix(2, 3, dtype=dt)], left=False))
        # LDL: no derivative in PyTorch 1.13 (nor in tensord): values only.
        sym = hermitian(4, 4, dtype=dt)
        add(make_case(f"ldl_factor_ex_{s}", "linalg_ldl_factor_ex", [sym], nograd=True))
        add(make_case(f"ldl_factor_{s}", "linalg_ldl_factor", [matrix(2, 3, 3, dtype=dt)], nograd=True,
                      hermitian=dt.is_complex))
        ld, piv = torch.linalg.ldl_factor(sym, hermitian=dt.is_complex)
        add(make_case(f"ldl_solve_{s}", "linalg_ldl_solve", [ld, piv, matrix(4, 2, dtype=dt)], nograd=True,
                      hermitian=dt.is_complex))
        add(case(f"lu_factor_{s}", "linalg_lu_factor", [matrix(4, 4, dtype=dt)]))
        add(case(f"lu_factor_ex_batch_{s}", "linalg_lu_factor_ex", [matrix(2, 3, 3, dtype=dt)]))
        for shape, tag in (((4, 4), "square"), ((5, 3), "tall"), ((3, 5), "wide")):
            add(case(f"lu_{tag}_{s}", "linalg_lu", [matrix(*shape, dtype=dt)]))
        lu, piv = torch.linalg.lu_factor(well_conditioned(3, 3, dtype=dt))
        for left in (True, False):
            for adjoint in (False, True):
                b = matrix(3, 2, dtype=dt) if left else matrix(2, 3, dtype=dt)
                add(case(f"lu_solve_{'left' if left else 'right'}{'_adjoint' if adjoint else ''}_{s}", "linalg_lu_solve",
                         [lu.detach(), piv, b], left=left, adjoint=adjoint,
                         torch_call=lambda a, left=left, adjoint=adjoint: torch.linalg.lu_solve(
                             a[0], a[1], a[2], left=left, adjoint=adjoint)))
        add(case(f"lu_unpack_{s}", "lu_unpack", [lu.detach(), piv], torch_call=lambda a: torch.lu_unpack(a[0], a[1])))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_linalg.py", 20261128, cases)


if __name__ == "__main__":
    main()
