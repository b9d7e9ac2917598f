#!/usr/bin/python3
"""Writes tests/golden/complex.json: PyTorch 1.13's results for complex64 and complex128 tensors: arithmetic,
elementwise math, matrix products, promotion with the real dtypes and with numbers, real/imag/view_as_real/view_as_complex/complex/polar/angle/conj,
equality, sums and products over dims, copy-like ops (where,
gather, index_select, flip, non-contiguous layouts) and casts both ways.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_complex.py

Complex values are written as [re, im] pairs (generate.encode_tensor). Every case is forward-only ("nograd")
until tensord's autograd handles complex tensors; the gradient cases will use a complex weight w and the real
loss (out * w).sum().real, whose gradient PyTorch defines by its conjugate Wirtinger convention.
"""

import os

import torch

from generate import BOOL, F32, F64, I64, bools, ints, make_case, randn, transposed, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "complex.json")
C64, C128 = torch.complex64, torch.complex128


def crandn(*shape, dtype=C128):
    """Complex values whose parts are randn's two-decimal numbers (exact to read in both precisions' inputs)."""
    return torch.complex(randn(*shape), randn(*shape)).to(dtype)


def cnonzero(*shape, dtype=C128):
    """Complex values of modulus 0.5 or more, safe as divisors."""
    z = crandn(*shape)
    return (z + 0.5 * z.sgn() + (z == 0).to(C128) * 0.5).to(dtype)


def case(name, op, inputs, **kwargs):
    return make_case(name, op, inputs, nograd=True, **kwargs)


def cases():
    c = []
    add = c.append
    short = {C64: "c64", C128: "c128"}

    for dt in (C64, C128):
        s = short[dt]
        # ---- arithmetic ----
        add(case(f"complex_add_{s}", "add", [crandn(2, 3, dtype=dt), crandn(2, 3, dtype=dt)]))
        add(case(f"complex_add_alpha_{s}", "add", [crandn(2, 3, dtype=dt), crandn(2, 3, dtype=dt)], alpha=2.5))
        add(case(f"complex_sub_broadcast_{s}", "sub", [crandn(3, 1, dtype=dt), crandn(4, dtype=dt)]))
        add(case(f"complex_mul_transposed_{s}", "mul", [transposed(crandn(3, 4, dtype=dt)), crandn(3, 4, dtype=dt)]))
        add(case(f"complex_div_{s}", "div", [crandn(2, 3, dtype=dt), cnonzero(2, 3, dtype=dt)]))
        add(case(f"complex_pow_{s}", "pow", [cnonzero(2, 3, dtype=dt), crandn(2, 3, dtype=dt).mul(0.5)]))
        add(case(f"complex_neg_{s}", "neg", [crandn(5, dtype=dt)]))
        # ---- elementwise math (abs gives the real modulus) ----
        for op, make in [("exp", crandn), ("log", cnonzero), ("sqrt", crandn), ("sin", crandn), ("cos", crandn),
                         ("tanh", crandn), ("sigmoid", crandn), ("reciprocal", cnonzero), ("abs", crandn)]:
            add(case(f"complex_{op}_{s}", op, [make(2, 3, dtype=dt)]))
        add(case(f"complex_exp_transposed_{s}", "exp", [transposed(crandn(3, 4, dtype=dt))]))
        # ---- matrix products (cgemm/zgemm) ----
        add(case(f"complex_mm_{s}", "mm", [crandn(3, 5, dtype=dt), crandn(5, 4, dtype=dt)]))
        add(case(f"complex_matmul_transposed_{s}", "matmul", [transposed(crandn(3, 4, dtype=dt)), crandn(4, 2, dtype=dt)]))
        add(case(f"complex_bmm_{s}", "bmm", [crandn(2, 3, 4, dtype=dt), crandn(2, 4, 2, dtype=dt)]))
        # ---- equality (complex numbers have no order) ----
        x, y = crandn(3, 4, dtype=dt), crandn(3, 4, dtype=dt)
        y[1, :] = x[1, :]
        y[2, 0] = torch.complex(x[2, 0].real, -x[2, 0].imag)  # same real part, other imaginary part
        add(case(f"complex_eq_{s}", "eq", [x, y]))
        add(case(f"complex_ne_{s}", "ne", [x, y]))
        # ---- reductions ----
        add(case(f"complex_sum_{s}", "sum", [crandn(3, 4, dtype=dt)]))
        add(case(f"complex_sum_dim_keepdim_{s}", "sum", [crandn(3, 4, dtype=dt)], dim=[0], keepdim=True))
        add(case(f"complex_sum_dims_{s}", "sum", [crandn(2, 3, 4, dtype=dt)], dim=[0, 2]))
        add(case(f"complex_mean_dim_{s}", "mean", [crandn(3, 4, dtype=dt)], dim=[1]))
        add(case(f"complex_prod_{s}", "prod", [crandn(5, dtype=dt)]))
        add(case(f"complex_prod_dim_{s}", "prod.dim", [crandn(3, 4, dtype=dt)], dim=1))
        # ---- copy-like ops ----
        add(case(f"complex_where_{s}", "where", [bools(3, 4), crandn(3, 4, dtype=dt), crandn(4, dtype=dt)]))
        add(case(f"complex_gather_{s}", "gather", [crandn(3, 4, dtype=dt), torch.randint(0, 4, (3, 2))], dim=1))
        add(case(f"complex_index_select_{s}", "index_select", [crandn(4, 3, dtype=dt), torch.tensor([3, 0, 0])], dim=0))
        add(case(f"complex_flip_{s}", "flip", [crandn(3, 4, dtype=dt)], dims=[0, 1]))
        add(case(f"complex_contiguous_transposed_{s}", "contiguous", [transposed(crandn(17, 33, dtype=dt))]))

    # ---- parts, views and constructors ----
    for dt in (C64, C128):
        s = short[dt]
        add(case(f"complex_view_as_real_{s}", "view_as_real", [crandn(2, 3, dtype=dt)]))
        add(case(f"complex_real_{s}", "real", [crandn(2, 3, dtype=dt)]))
        add(case(f"complex_imag_transposed_{s}", "imag", [transposed(crandn(3, 4, dtype=dt))]))
        add(case(f"complex_angle_{s}", "angle", [crandn(2, 3, dtype=dt)]))
        add(case(f"complex_conj_{s}", "conj", [crandn(2, 3, dtype=dt)]))
        add(case(f"complex_conj_physical_{s}", "conj_physical", [crandn(2, 3, dtype=dt)]))
    for ft, s in ((F32, "f32"), (F64, "f64")):
        add(case(f"complex_view_as_complex_{s}", "view_as_complex", [randn(3, 2, dtype=ft)]))
        add(case(f"complex_complex_broadcast_{s}", "complex", [randn(2, 1, dtype=ft), randn(3, dtype=ft)]))
        add(case(f"complex_polar_{s}", "polar", [randn(2, 3, dtype=ft).abs(), randn(2, 3, dtype=ft)]))
        add(case(f"complex_angle_real_{s}", "angle", [torch.tensor([1.0, -2.0, 0.0, -0.0, 3.5], dtype=ft)]))
        add(case(f"complex_real_of_real_{s}", "real", [randn(4, dtype=ft)]))
        add(case(f"complex_conj_of_real_{s}", "conj", [randn(4, dtype=ft)]))

    # ---- casts, both directions ----
    add(case("complex_to_c64_from_f64", "to", [randn(2, 3)], dtype=C64))
    add(case("complex_to_c128_from_i64", "to", [ints(5)], dtype=C128))
    add(case("complex_to_c64_from_bool", "to", [bools(4)], dtype=C64))
    add(case("complex_to_c64_from_c128", "to", [crandn(2, 3)], dtype=C64))
    add(case("complex_to_c128_from_c64", "to", [crandn(2, 3, dtype=C64)], dtype=C128))
    # complex -> real keeps the real part (PyTorch warns that the imaginary part is discarded); to bool too.
    add(case("complex_to_f32_from_c64", "to", [crandn(2, 3, dtype=C64)], dtype=F32))
    add(case("complex_to_i64_from_c128", "to", [crandn(6).mul(5)], dtype=I64))
    add(case("complex_to_bool_from_c64", "to",
             [torch.tensor([0j, 1j, 1 + 0j, 0.5 - 2j, -0.0 + 0j], dtype=C64)], dtype=BOOL))

    # ---- promotion with the real dtypes, 0-dim tensors and numbers ----
    add(case("complex_promote_c64_f64_gives_c128", "add", [crandn(3, dtype=C64), randn(3)]))
    add(case("complex_promote_c64_f32_gives_c64", "mul", [crandn(3, dtype=C64), randn(3, dtype=F32)]))
    add(case("complex_promote_i64_c64_gives_c64", "sub", [ints(3), crandn(3, dtype=C64)]))
    add(case("complex_promote_bool_c128_gives_c128", "mul", [bools(4), crandn(4)]))
    add(case("complex_promote_f32_0dim_c128_gives_c64", "add", [randn(3, dtype=F32), crandn(dtype=C128)]))
    add(case("complex_promote_f64_0dim_c64_gives_c128", "add", [randn(3), crandn(dtype=C64)]))
    add(case("complex_promote_c64_0dim_f64_gives_c64", "mul", [crandn(3, dtype=C64), randn(dtype=F64)]))
    add(case("complex_promote_c64_div_i64", "div", [ints(4), cnonzero(4, dtype=C64)]))
    add(case("complex_eq_c64_f32", "eq", [torch.tensor([1 + 0j, 1 + 2j, -3 + 0j], dtype=C64),
                                          torch.tensor([1.0, 1.0, -3.0])]))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_complex.py", 20261204, cases)


if __name__ == "__main__":
    main()
