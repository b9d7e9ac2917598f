#!/usr/bin/python3
"""Writes tests/golden/complex_grad.json: PyTorch 1.13's gradients through complex64 and complex128 tensors,
for every op whose backward tensord verifies for complex values (OpDef::complex_autograd): the elementwise
family (arithmetic, pow, the holomorphic unary functions, abs, sgn), the complex family (real, imag,
view_as_real, view_as_complex, complex, polar, angle, conj), mixed real/complex operands (the real input
keeps the real part of its gradient), reductions and scans, matrix products, and the index, join and shape
ops.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_complex_grad.py

Complex values are [re, im] pairs (generate.encode_tensor). generate.make_case weights a complex output with
a complex w and backpropagates the real loss Re(sum(out * w)); the gradient PyTorch stores for a complex leaf
z = x + iy is dL/dx + i dL/dy (the conjugate Wirtinger derivative times 2).
"""

import os

import torch

from generate import F32, F64, bools, expanded, make_case, randn, transposed, write_fixture
from generate_complex import C64, C128, cnonzero, crandn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "complex_grad.json")


def cases():
    c = []
    add = c.append
    for dt in (C64, C128):
        s = {C64: "c64", C128: "c128"}[dt]
        real = F32 if dt == C64 else F64
        # ---- arithmetic, broadcasting, layouts, complex alpha ----
        add(make_case(f"cgrad_add_{s}", "add", [crandn(2, 3, dtype=dt), crandn(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_add_alpha_{s}", "add", [crandn(2, 3, dtype=dt), crandn(3, dtype=dt)], alpha=2 - 1j))
        add(make_case(f"cgrad_sub_broadcast_{s}", "sub", [crandn(3, 1, dtype=dt), crandn(4, dtype=dt)], alpha=0.5))
        add(make_case(f"cgrad_mul_{s}", "mul", [transposed(crandn(3, 4, dtype=dt)), crandn(3, 4, dtype=dt)]))
        add(make_case(f"cgrad_div_{s}", "div", [crandn(2, 3, dtype=dt), cnonzero(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_div_broadcast_{s}", "div", [crandn(3, 1, dtype=dt), cnonzero(4, dtype=dt)]))
        add(make_case(f"cgrad_pow_{s}", "pow", [cnonzero(2, 3, dtype=dt), crandn(2, 3, dtype=dt).mul(0.5)]))
        for e, tag in ((2, "2"), (3, "3"), (-1, "m1"), (0.5, "half"), (2.5, "2_5"), (1 - 0.5j, "complex")):
            add(make_case(f"cgrad_pow_scalar_{tag}_{s}", "pow", [cnonzero(2, 3, dtype=dt)], exponent=e))
        # ---- mixed real and complex operands: the real input keeps the real part of its gradient ----
        add(make_case(f"cgrad_mul_real_complex_{s}", "mul", [randn(2, 3, dtype=real), crandn(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_add_complex_real_{s}", "add", [crandn(3, dtype=dt), randn(2, 3, dtype=real)]))
        add(make_case(f"cgrad_div_real_complex_{s}", "div", [randn(3, dtype=real), cnonzero(3, dtype=dt)]))
        add(make_case(f"cgrad_pow_real_base_{s}", "pow", [randn(3, dtype=real).abs().add(0.5), crandn(3, dtype=dt)]))
        add(make_case(f"cgrad_pow_complex_base_real_exp_{s}", "pow", [cnonzero(3, dtype=dt), randn(3, dtype=real)]))
        # ---- unary functions ----
        for op, make in [("exp", crandn), ("log", cnonzero), ("log2", cnonzero), ("log10", cnonzero),
                         ("sqrt", cnonzero), ("rsqrt", cnonzero), ("sin", crandn), ("cos", crandn), ("tan", crandn),
                         ("asin", crandn), ("acos", crandn), ("atan", crandn), ("sinh", crandn), ("cosh", crandn),
                         ("tanh", crandn), ("asinh", crandn), ("acosh", cnonzero), ("atanh", crandn),
                         ("sigmoid", crandn), ("reciprocal", cnonzero), ("neg", crandn), ("abs", cnonzero),
                         ("sgn", cnonzero), ("square", crandn)]:
            add(make_case(f"cgrad_{op}_{s}", op, [make(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_exp_transposed_{s}", "exp", [transposed(crandn(3, 4, dtype=dt))]))
        add(make_case(f"cgrad_abs_expanded_{s}", "abs", [expanded(cnonzero(3, 1, dtype=dt), [3, 4])]))
        # abs and sgn at 0: a zero gradient, as PyTorch's.
        add(make_case(f"cgrad_abs_zero_{s}", "abs", [torch.tensor([0j, 3 + 4j], dtype=dt)]))
        add(make_case(f"cgrad_sgn_zero_{s}", "sgn", [torch.tensor([0j, 3 + 4j], dtype=dt)]))
        # ---- the complex family ----
        add(make_case(f"cgrad_real_{s}", "real", [crandn(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_imag_{s}", "imag", [crandn(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_view_as_real_{s}", "view_as_real", [crandn(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_view_as_complex_{s}", "view_as_complex", [randn(2, 3, 2, dtype=real)]))
        add(make_case(f"cgrad_complex_{s}", "complex", [randn(2, 3, dtype=real), randn(3, dtype=real)]))
        add(make_case(f"cgrad_polar_{s}", "polar", [randn(2, 3, dtype=real).abs().add(0.1), randn(3, dtype=real)]))
        add(make_case(f"cgrad_angle_{s}", "angle", [cnonzero(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_conj_{s}", "conj", [crandn(2, 3, dtype=dt)]))
        add(make_case(f"cgrad_conj_physical_{s}", "conj_physical", [crandn(2, 3, dtype=dt)]))
        # ---- reductions and scans ----
        add(make_case(f"cgrad_sum_{s}", "sum", [crandn(3, 4, dtype=dt)]))
        add(make_case(f"cgrad_sum_dims_{s}", "sum", [crandn(2, 3, 4, dtype=dt)], dim=[0, 2], keepdim=True))
        add(make_case(f"cgrad_mean_{s}", "mean", [transposed(crandn(3, 5, dtype=dt))], dim=[1]))
        add(make_case(f"cgrad_prod_{s}", "prod", [cnonzero(5, dtype=dt)]))
        add(make_case(f"cgrad_prod_dim_{s}", "prod.dim", [cnonzero(3, 4, dtype=dt)], dim=1))
        zero_slice = cnonzero(3, 4, dtype=dt)
        zero_slice[1, 2] = 0
        add(make_case(f"cgrad_prod_dim_one_zero_{s}", "prod.dim", [zero_slice], dim=1, keepdim=True))
        add(make_case(f"cgrad_cumsum_{s}", "cumsum", [crandn(3, 4, dtype=dt)], dim=1))
        add(make_case(f"cgrad_cumprod_{s}", "cumprod", [cnonzero(3, 4, dtype=dt)], dim=0))
        # ---- matrix products: conjugated operands ----
        add(make_case(f"cgrad_mm_{s}", "mm", [crandn(3, 5, dtype=dt), transposed(crandn(5, 4, dtype=dt))]))
        add(make_case(f"cgrad_bmm_{s}", "bmm", [crandn(2, 3, 4, dtype=dt), crandn(2, 4, 2, dtype=dt)]))
        add(make_case(f"cgrad_matmul_{s}", "matmul", [crandn(2, 3, 4, dtype=dt), crandn(4, 2, dtype=dt)]))
        # Not dot: this PyTorch 1.13 build returns 0 for complex dot products (its BLAS's zdotu/cdotu); tensord's
        # dot is mm of a row and a column, covered by mm here and by complex_autograd_test.cpp's gradcheck.
        add(make_case(f"cgrad_mv_{s}", "mv", [crandn(3, 4, dtype=dt), crandn(4, dtype=dt)]))
        # ---- index, join and shape ops ----
        add(make_case(f"cgrad_where_{s}", "where", [bools(3, 4), crandn(3, 4, dtype=dt), crandn(4, dtype=dt)]))
        add(make_case(f"cgrad_gather_{s}", "gather", [crandn(3, 4, dtype=dt), torch.randint(0, 4, (3, 2))], dim=1))
        add(make_case(f"cgrad_scatter_{s}", "scatter", [crandn(3, 4, dtype=dt), torch.tensor([[2, 0], [1, 3]]),
                                                         crandn(2, 2, dtype=dt)], dim=1))
        add(make_case(f"cgrad_scatter_add_{s}", "scatter_add", [crandn(3, 4, dtype=dt), torch.tensor([[0, 0, 2, 0]]),
                                                                 crandn(1, 4, dtype=dt)], dim=0))
        add(make_case(f"cgrad_index_select_{s}", "index_select", [crandn(4, 3, dtype=dt), torch.tensor([3, 0, 0])],
                      dim=0))
        add(make_case(f"cgrad_flip_{s}", "flip", [crandn(3, 4, dtype=dt)], dims=[0, 1]))
        add(make_case(f"cgrad_reshape_{s}", "reshape", [transposed(crandn(3, 4, dtype=dt))], shape=[2, 6]))
        add(make_case(f"cgrad_permute_{s}", "permute", [crandn(2, 3, 4, dtype=dt)], dims=[2, 0, 1]))
        add(make_case(f"cgrad_narrow_{s}", "narrow", [crandn(4, 3, dtype=dt)], dim=0, start=1, length=2))
        add(make_case(f"cgrad_diagonal_{s}", "diagonal", [crandn(3, 3, dtype=dt)]))
        add(make_case(f"cgrad_squeeze_unsqueeze_{s}", "unsqueeze", [crandn(3, 1, dtype=dt).squeeze(1)], dim=0))
    # casts between complex and real dtypes (_to_copy): PyTorch 1.13's copy keeps the real part (and warns).
    add(make_case("cgrad_to_c128_from_c64", "to", [crandn(3, dtype=C64)], dtype=C128))
    add(make_case("cgrad_to_c128_from_f64", "to", [randn(3, dtype=F64)], dtype=C128))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_complex_grad.py", 20261127, cases)


if __name__ == "__main__":
    main()
